import { beforeAll, describe, expect, it } from "vitest";
import type { Channel } from "../../src/index.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

let failNext = 1;
const flaky: Channel = {
  name: "flaky",
  async send() {
    if (failNext-- > 0) throw new Error("chat service answered 503");
  },
};
const bed = useTestBed("audit", { channels: [flaky], delivery: { maxAttempts: 3 } });
beforeAll(() => bed.approvals.start());

describe("the audit trail", () => {
  it("records who did what, when, through which channel, oldest first", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "report.v1",
      title: "Audit me",
      requestedBy: "agent://reporter",
      reviewers: ["cfo@x.com"],
      reminders: [],
    });
    // One failed delivery, retried with backoff, then delivered.
    await eventually(async () => (await bed.approvals.events(id)).some((e) => e.type === "notified"), 20_000);
    await bed.approvals.decide(id, {
      reviewer: "cfo@x.com",
      outcome: "approve",
      comment: "numbers check out",
      via: "slack",
    });
    const events = await bed.approvals.events(id);
    expect(events.slice(0, 4).map((e) => [e.type, e.actor, e.channel])).toEqual([
      ["requested", "agent://reporter", null],
      ["notify_failed", "system", "flaky"],
      ["notified", "system", "flaky"],
      ["approved", "cfo@x.com", "slack"],
    ]);
    expect(events[1]?.data).toMatchObject({
      kind: "request",
      reviewer: "cfo@x.com",
      attempt: 1,
      final: false,
      error: "chat service answered 503",
    });
    expect(events[2]?.data).toMatchObject({ kind: "request", reviewer: "cfo@x.com", attempt: 2 });
    expect(events[3]).toMatchObject({ comment: "numbers check out", step: 0, data: { final: true } });
    const times = events.map((e) => e.at.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it("is refused UPDATE, DELETE and TRUNCATE by the database itself", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "t",
      title: "t",
      requestedBy: "a",
      reviewers: ["r@x.com"],
    });
    const before = await bed.approvals.events(id);
    const table = `"${bed.schema}".event`;
    await expect(bed.pool.query(`update ${table} set actor = 'mallory' where approval_id = $1`, [id])).rejects.toThrow(
      /audit trail is append-only; UPDATE/,
    );
    await expect(bed.pool.query(`delete from ${table} where approval_id = $1`, [id])).rejects.toThrow(
      /append-only; DELETE/,
    );
    await expect(bed.pool.query(`truncate ${table} cascade`)).rejects.toThrow(/append-only; TRUNCATE/);
    const after = await bed.approvals.events(id);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.some((e) => e.actor === "mallory")).toBe(false);
  });
});
