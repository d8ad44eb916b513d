/** Deadlines: the `expiring` warning, moving the deadline, and a chain whose second step times out. */
import { beforeAll, describe, expect, it } from "vitest";
import { type ApprovalError, ERROR_CODES } from "../../src/index.ts";
import { eventually, recordingChannel, sleep, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("deadlines", { channels: [channel] });
beforeAll(() => bed.approvals.start());

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );
const base = { type: "deploy.v1", title: "Deploy", requestedBy: "agent://ci", reminders: [] };
const sent = (id: string, kind: string) => channel.sent.filter((n) => n.approval.id === id && n.kind === kind);

async function jobRunAt(id: string, task: string): Promise<Date | undefined> {
  const { rows } = await bed.pool.query(`select run_at from "${bed.workerSchema}"._private_jobs where key = $1`, [
    `countersign:${id}:${task}`,
  ]);
  return rows[0]?.run_at;
}

describe("deadlines", () => {
  it("warnBefore sends an expiring notice to the current step's undecided reviewers", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      steps: [{ name: "pair", reviewers: ["a@x.com", "b@x.com"], quorum: 2 }],
      timeout: { after: "4s" },
      warnBefore: "3s",
    });
    await bed.approvals.decide(req.id, { reviewer: "a@x.com", outcome: "approve" });
    const warned = await eventually(() => sent(req.id, "expiring").length > 0 && sent(req.id, "expiring"));
    await sleep(200);
    expect(sent(req.id, "expiring").map((n) => n.reviewer)).toEqual(["b@x.com"]);
    expect(warned[0]?.approval.deadline).toEqual(req.deadline);
    const event = (await bed.approvals.events(req.id)).find((e) => e.type === "warned");
    expect(event?.data).toEqual({ deadline: req.deadline.toISOString(), recipients: ["b@x.com"] });
    // About a second after the request: four seconds of timeout, warned three before.
    const at = (event?.at.getTime() ?? 0) - req.createdAt.getTime();
    expect(at).toBeGreaterThanOrEqual(1000);
    expect(at).toBeLessThan(3500);
  });

  it("refuses a warning that would come before the request", async () => {
    const error = await refusal(
      bed.approvals.requestApproval({ ...base, reviewers: ["a@x.com"], timeout: { after: "1h" }, warnBefore: "2h" }),
    );
    expect(error?.data.issues).toEqual([
      { path: "warnBefore", message: "must be shorter than the timeout, or the warning would come before the request" },
    ]);
  });

  it("extend moves the deadline, the timeout and the warning in one change, tells the reviewers, and is audited", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      reviewers: ["a@x.com"],
      timeout: { after: "2s" },
      warnBefore: "1s",
    });
    const waiting = bed.approvals.waitForDecision(req.id);
    const moved = await bed.approvals.extend(req.id, { by: "4h", reason: "waiting on the bank", actor: "ops@co.com" });
    const deadline = new Date(req.deadline.getTime() + 4 * 3_600_000);
    expect(moved.deadline).toEqual(deadline);
    expect(await jobRunAt(req.id, "timeout")).toEqual(deadline);
    expect(await jobRunAt(req.id, "warning")).toEqual(new Date(deadline.getTime() - 1000));
    const { rows: tokens } = await bed.pool.query(
      `select min(expires_at) as expires from "${bed.schema}".token where approval_id = $1`,
      [req.id],
    );
    expect(tokens[0].expires.getTime()).toBe(deadline.getTime() + 7 * 24 * 3_600_000);
    const extended = (await bed.approvals.events(req.id)).find((e) => e.type === "extended");
    expect(extended).toMatchObject({
      actor: "ops@co.com",
      comment: "waiting on the bank",
      data: { from: req.deadline.toISOString(), to: deadline.toISOString() },
    });
    const told = await eventually(() => sent(req.id, "extended")[0]);
    expect(told.reviewer).toBe("a@x.com");
    expect(told.approval.deadline).toEqual(deadline);
    // The old deadline passes and nothing happens: neither the timeout nor the waiter's own timer ends it.
    await sleep(2500);
    expect((await bed.approvals.get(req.id)).status).toBe("pending");
    expect(sent(req.id, "expiring")).toEqual([]);

    const later = await bed.approvals.extend(req.id, { until: new Date(deadline.getTime() + 60_000) });
    expect(later.deadline).toEqual(new Date(deadline.getTime() + 60_000));
    const back = await refusal(bed.approvals.extend(req.id, { until: req.deadline }));
    expect(back?.code).toBe(ERROR_CODES.VALIDATION);
    expect(back?.message).toContain("must be later than the current deadline");
    const both = await refusal(bed.approvals.extend(req.id, { by: "1h", until: new Date() } as never));
    expect(both?.data.issues).toEqual([{ path: "by", message: "give either by or until (exactly one)" }]);

    await bed.approvals.decide(req.id, { reviewer: "a@x.com", outcome: "approve" });
    expect((await waiting).status).toBe("approved");
    const final = await refusal(bed.approvals.extend(req.id, { by: "1h" }));
    expect(final?.code).toBe(ERROR_CODES.ALREADY_DECIDED);
  });

  it("a chain whose second step times out: the timeout action decides, the step-2 reviewers are told", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      steps: [
        { name: "finance", reviewers: ["controller@x.com"] },
        { name: "exec", reviewers: ["cfo@x.com"] },
      ],
      timeout: { after: "2s", action: "reject" },
    });
    await bed.approvals.decide(req.id, { reviewer: "controller@x.com", outcome: "approve" });
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision).toMatchObject({ status: "timed_out", approved: false, via: "timeout" });
    const approval = await bed.approvals.get(req.id);
    expect(approval.currentStep).toBe(1);
    expect(approval.steps.map((s) => s.status)).toEqual(["passed", "closed"]);
    const told = await eventually(
      () =>
        sent(req.id, "timed_out").length === 2 &&
        sent(req.id, "timed_out")
          .map((n) => n.reviewer)
          .sort(),
    );
    expect(told).toEqual(["cfo@x.com", "controller@x.com"]);
  });
});
