/** Four-eyes across a chain: one person counts once per approval; a step left short escalates at once or ends. */
import { beforeAll, describe, expect, it } from "vitest";
import { type ApprovalError, ERROR_CODES } from "../../src/index.ts";
import { eventually, recordingChannel, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("four_eyes", { channels: [channel] });
beforeAll(() => bed.approvals.start());

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );
const base = { type: "payment.release.v1", title: "Wire", requestedBy: "alice@co.com", reminders: [] };

describe("four-eyes across a chain", () => {
  it("refuses a reviewer of step 1 on step 2; another reviewer of step 2 decides", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      steps: [
        { name: "finance", reviewers: ["controller@co.com"] },
        { name: "exec", reviewers: ["controller@co.com", "cfo@co.com"] },
      ],
    });
    await bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve" });
    const error = await refusal(bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve" }));
    expect(error?.code).toBe(ERROR_CODES.ALREADY_DECIDED);
    expect(error?.message).toContain('already voted on step "finance"');
    expect(error?.data).toMatchObject({ earlier: "finance" });
    const done = await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve" });
    expect(done.status).toBe("approved");
  });

  it("distinctAcrossSteps: false lets one person approve on several steps, still once per step", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      distinctAcrossSteps: false,
      steps: [
        { name: "finance", reviewers: ["controller@co.com"] },
        { name: "exec", reviewers: ["controller@co.com", "cfo@co.com"], quorum: 1 },
      ],
    });
    await bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve" });
    const done = await bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve" });
    expect(done.status).toBe("approved");
  });

  it("a database constraint, not only the code, keeps one person to one vote per approval", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      steps: [
        { name: "one", reviewers: ["a@co.com"] },
        { name: "two", reviewers: ["b@co.com"] },
      ],
    });
    await bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve" });
    await expect(
      bed.pool.query(
        `insert into "${bed.schema}".vote (approval_id, position, reviewer, voter, outcome, via, once_key) values ($1, 1, 'b@co.com', 'a@co.com', 'approve', 'sql', 'a@co.com')`,
        [req.id],
      ),
    ).rejects.toThrow(/vote_once_idx/);
  });

  it("a step that four-eyes leaves short of its quorum escalates at once", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      escalateAfter: "1h",
      steps: [
        { name: "finance", reviewers: ["controller@co.com"] },
        { name: "exec", reviewers: ["controller@co.com"], escalation: [["board@co.com"]] },
      ],
    });
    const passed = await bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve" });
    expect(passed.currentStep).toBe(1);
    expect(passed.steps[1]?.escalationLevel).toBe(1);
    const escalated = (await bed.approvals.events(req.id)).find((e) => e.type === "escalated");
    expect(escalated?.data).toEqual({ level: 1, reviewers: ["board@co.com"], reason: "quorum" });
    await eventually(() =>
      channel.sent.some((n) => n.approval.id === req.id && n.reviewer === "board@co.com" && n.kind === "escalation"),
    );
    const done = await bed.approvals.decide(req.id, { reviewer: "board@co.com", outcome: "approve" });
    expect(done.status).toBe("approved");
  });

  it("with no escalation level left, the approval is rejected (quorum_unreachable) instead of hanging", async () => {
    const req = await bed.approvals.requestApproval({
      ...base,
      steps: [
        { name: "pair", reviewers: ["a@co.com", "b@co.com"], quorum: 2 },
        { name: "exec", reviewers: ["a@co.com", "b@co.com", "ceo@co.com"], quorum: 2 },
      ],
    });
    const waiting = bed.approvals.waitForDecision(req.id);
    await bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve" });
    const ended = await bed.approvals.decide(req.id, { reviewer: "b@co.com", outcome: "approve" });
    expect(ended.status).toBe("rejected");
    const decision = await waiting;
    expect(decision).toMatchObject({ status: "rejected", approved: false, decidedBy: null, via: "quorum" });
    expect(decision.comment).toContain('Step "exec" can no longer reach its quorum of 2');
    const types = (await bed.approvals.events(req.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["step_passed", "quorum_unreachable"]));
    expect(types).not.toContain("timed_out");
    // Nothing of the ended step is left to run.
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.workerSchema}"._private_jobs j join "${bed.workerSchema}"._private_tasks t on t.id = j.task_id
       where j.key like $1 and t.identifier in ('countersign:reminder', 'countersign:escalation', 'countersign:timeout')`,
      [`countersign:${req.id}:%`],
    );
    expect(rows[0].n).toBe(0);
  });
});
