import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { consoleChannel, type Channel } from "../../src/index.ts";
import { eventually, PUBLIC_URL, recordingChannel, useTestBed } from "../support/test-bed.ts";

const recording = recordingChannel();
const broken: Channel = {
  name: "broken",
  async send() {
    throw new Error("smtp relay refused the connection");
  },
};
const printed: string[] = [];
const bed = useTestBed("delivery", {
  channels: [broken, recording, consoleChannel({ write: (text) => printed.push(text) })],
  delivery: { maxAttempts: 1 },
});
beforeAll(() => bed.approvals.start());

describe("notification delivery", () => {
  it("a failing channel never holds up the others, and its failure is audited", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Rotate the prod keys",
      requestedBy: "agent://ops",
      reviewers: ["sec@x.com"],
      reminders: [],
    });
    await eventually(() => recording.sent.some((n) => n.approval.id === id));
    const failed = await eventually(async () =>
      (await bed.approvals.events(id)).find((e) => e.type === "notify_failed"),
    );
    expect(failed).toMatchObject({
      channel: "broken",
      data: {
        kind: "request",
        reviewer: "sec@x.com",
        attempt: 1,
        final: true,
        error: "smtp relay refused the connection",
      },
    });
    await eventually(() => printed.some((text) => text.includes("Rotate the prod keys")));
    const block = printed.find((text) => text.includes("Rotate the prod keys")) ?? "";
    expect(block).toContain("[countersign] Approval requested: Rotate the prod keys (t.v1)");
    expect(block).toContain("for:       sec@x.com");
    expect(block).toMatch(/review: {4}https:\/\/app\.example\.test\/approvals\/r\/[A-Za-z0-9_-]{43}\n/);
  });

  it("links carry a per-reviewer token of which the database keeps only the SHA-256 digest", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Two reviewers",
      requestedBy: "agent://ops",
      reviewers: ["a@x.com", "b@x.com"],
      reminders: [],
    });
    const [first, second] = await eventually(() => {
      const sent = recording.sent.filter((n) => n.approval.id === id);
      return sent.length === 2 && sent.sort((x, y) => x.reviewer.localeCompare(y.reviewer));
    });
    const tokenOf = (url: string) => new URL(url).pathname.split("/").pop() ?? "";
    const tokenA = tokenOf(first!.links.view);
    expect(first!.links.view).toBe(`${PUBLIC_URL}/r/${tokenA}`);
    expect(first!.links.approve).toBe(`${PUBLIC_URL}/r/${tokenA}?decision=approve`);
    expect(first!.links.reject).toBe(`${PUBLIC_URL}/r/${tokenA}?decision=reject`);
    expect(tokenA).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenOf(second!.links.view)).not.toBe(tokenA);
    const { rows } = await bed.pool.query(
      `select reviewer, token_hash from "${bed.schema}".token where approval_id = $1 order by reviewer`,
      [id],
    );
    expect(rows[0].token_hash).toEqual(createHash("sha256").update(tokenA).digest());
    // The token itself appears nowhere in the database.
    const dump = await bed.pool.query(
      `select count(*)::int as n from (
         select row_to_json(t)::text as line from "${bed.schema}".token t
         union all select row_to_json(e)::text from "${bed.schema}".event e
         union all select row_to_json(a)::text from "${bed.schema}".approval a
         union all select row_to_json(j)::text from "${bed.workerSchema}"._private_jobs j
       ) rows where line like '%' || $1 || '%'`,
      [tokenA],
    );
    expect(dump.rows[0].n).toBe(0);
  });

  it("tells every reviewer who was asked how it ended", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "t.v1",
      title: "Outcome",
      requestedBy: "agent://ops",
      reviewers: ["a@x.com", "b@x.com"],
      reminders: [],
    });
    await eventually(() => recording.sent.filter((n) => n.approval.id === id).length === 2);
    await bed.approvals.decide(id, { reviewer: "b@x.com", outcome: "reject", comment: "wrong key" });
    const outcomes = await eventually(() => {
      const sent = recording.sent.filter((n) => n.approval.id === id && n.kind === "decided");
      return sent.length === 2 && sent;
    });
    expect(outcomes.map((n) => n.reviewer).sort()).toEqual(["a@x.com", "b@x.com"]);
    expect(outcomes[0]?.decision).toMatchObject({ status: "rejected", decidedBy: "b@x.com", comment: "wrong key" });
  });
});
