import { describe, expect, it } from "vitest";
import { AlreadyDecidedError, NotAReviewerError, NotFoundError } from "../../src/index.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("lifecycle");

const request = (overrides = {}) => ({
  type: "report.review_approval.v1",
  title: "Q1 Financial Summary",
  payload: { report: "Q1 Financial Summary", pii_detected: false },
  requestedBy: "agent://myorg/production/report-generator",
  reviewers: ["cfo@company.com"],
  ...overrides,
});

describe("a single-step approval", () => {
  it("is pending with its step, reviewers and deadline after requestApproval", async () => {
    const approval = await bed.approvals.requestApproval(request({ timeout: { after: "2h" } }));
    expect(approval.status).toBe("pending");
    expect(approval.steps).toHaveLength(1);
    expect(approval.steps[0]?.reviewers.map((r) => r.reviewer)).toEqual(["cfo@company.com"]);
    expect(approval.deadline.getTime() - approval.createdAt.getTime()).toBe(2 * 3_600_000);
    expect(approval.timeoutAction).toBe("reject");
  });

  it("is approved by a listed reviewer and the decision carries who, how and the payload", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const after = await bed.approvals.decide(id, {
      reviewer: "cfo@company.com",
      outcome: "approve",
      comment: "fine",
      via: "cli",
    });
    expect(after.status).toBe("approved");
    const decision = await bed.approvals.waitForDecision(id);
    expect(decision).toMatchObject({
      id,
      status: "approved",
      approved: true,
      decidedBy: "cfo@company.com",
      comment: "fine",
      via: "cli",
      payload: { report: "Q1 Financial Summary", pii_detected: false },
    });
    expect(decision.decidedAt).toBeInstanceOf(Date);
  });

  it("refuses a second decision with AlreadyDecidedError carrying the first", async () => {
    const { id } = await bed.approvals.requestApproval(request({ reviewers: ["a@x.com", "b@x.com"] }));
    await bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "reject", comment: "no" });
    const error = await bed.approvals.decide(id, { reviewer: "b@x.com", outcome: "approve" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlreadyDecidedError);
    expect((error as AlreadyDecidedError).code).toBe("ALREADY_DECIDED");
    expect((error as AlreadyDecidedError).data).toMatchObject({
      status: "rejected",
      decision: { decidedBy: "a@x.com" },
    });
    expect((await bed.approvals.get(id)).decision?.status).toBe("rejected");
  });

  it("refuses a reviewer who is not on the approval with NotAReviewerError and records nothing", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    await expect(
      bed.approvals.decide(id, { reviewer: "intern@company.com", outcome: "approve" }),
    ).rejects.toBeInstanceOf(NotAReviewerError);
    const events = await bed.approvals.events(id);
    expect(events.map((e) => e.type)).toEqual(["requested"]);
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("answers unknown ids with NotFoundError", async () => {
    const unknown = "00000000-0000-4000-8000-000000000000";
    await expect(bed.approvals.get(unknown)).rejects.toBeInstanceOf(NotFoundError);
    await expect(bed.approvals.decide(unknown, { reviewer: "a", outcome: "approve" })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(bed.approvals.waitForDecision(unknown)).rejects.toBeInstanceOf(NotFoundError);
    await expect(bed.approvals.events(unknown)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("cancels with a reason, and the cancellation is final", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const cancelled = await bed.approvals.cancel(id, { reason: "report withdrawn", by: "agent://x", via: "slack" });
    expect(cancelled.decision).toMatchObject({
      status: "cancelled",
      approved: false,
      decidedBy: "agent://x",
      via: "slack",
      comment: "report withdrawn",
    });
    expect((await bed.approvals.events(id)).find((event) => event.type === "cancelled")).toMatchObject({
      actor: "agent://x",
      channel: "slack",
    });
    await expect(bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" })).rejects.toBeInstanceOf(
      AlreadyDecidedError,
    );
    await expect(bed.approvals.cancel(id, { reason: "again" })).rejects.toBeInstanceOf(AlreadyDecidedError);
  });

  it("returns the same approval for the same idempotency key", async () => {
    const first = await bed.approvals.requestApproval(request({ idempotencyKey: "q1-2026-board-report" }));
    const again = await bed.approvals.requestApproval(
      request({
        idempotencyKey: "q1-2026-board-report",
        payload: { pii_detected: false, report: "Q1 Financial Summary" },
      }),
    );
    expect(again.id).toBe(first.id);
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.schema}".approval where idempotency_key = $1`,
      ["q1-2026-board-report"],
    );
    expect(rows[0].n).toBe(1);
    // The repeat wrote nothing else either: no jobs for an approval that does not exist.
    const orphans = await bed.pool.query(
      `select count(*)::int as n from "${bed.workerSchema}"._private_jobs j
       where not exists (select 1 from "${bed.schema}".approval a where a.id::text = j.payload->>'approvalId')`,
    );
    expect(orphans.rows[0].n).toBe(0);
    const events = await bed.pool.query(`select count(*)::int as n from "${bed.schema}".event where approval_id = $1`, [
      first.id,
    ]);
    expect(events.rows[0].n).toBe(1);
  });

  it("refuses an idempotency key reused for a different request", async () => {
    await bed.approvals.requestApproval(request({ idempotencyKey: "key-2" }));
    await expect(
      bed.approvals.requestApproval(request({ idempotencyKey: "key-2", title: "Other" })),
    ).rejects.toMatchObject({
      code: "IDEMPOTENCY_CONFLICT",
    });
  });
});

describe("approval chains", () => {
  const chain = () =>
    request({
      reviewers: undefined,
      steps: [
        { name: "finance", reviewers: ["fin1@x.com", "fin2@x.com"], quorum: 1 },
        { name: "exec", reviewers: ["ceo@x.com", "coo@x.com", "cto@x.com"], quorum: 2 },
      ],
    });

  it("runs steps in order and passes a step at its quorum of distinct reviewers", async () => {
    const { id } = await bed.approvals.requestApproval(chain());
    await expect(bed.approvals.decide(id, { reviewer: "ceo@x.com", outcome: "approve" })).rejects.toBeInstanceOf(
      NotAReviewerError,
    );
    let approval = await bed.approvals.decide(id, { reviewer: "fin2@x.com", outcome: "approve" });
    expect(approval.status).toBe("pending");
    expect(approval.currentStep).toBe(1);
    expect(approval.steps.map((s) => s.status)).toEqual(["passed", "active"]);
    await expect(bed.approvals.decide(id, { reviewer: "fin1@x.com", outcome: "approve" })).rejects.toBeInstanceOf(
      NotAReviewerError,
    );
    approval = await bed.approvals.decide(id, { reviewer: "ceo@x.com", outcome: "approve" });
    expect(approval.status).toBe("pending");
    await expect(bed.approvals.decide(id, { reviewer: "ceo@x.com", outcome: "approve" })).rejects.toBeInstanceOf(
      AlreadyDecidedError,
    );
    approval = await bed.approvals.decide(id, { reviewer: "cto@x.com", outcome: "approve", comment: "ship it" });
    expect(approval.status).toBe("approved");
    expect(approval.decision).toMatchObject({ decidedBy: "cto@x.com", comment: "ship it", approved: true });
    const types = (await bed.approvals.events(id)).map((e) => e.type);
    expect(types).toEqual(["requested", "approved", "step_passed", "approved", "approved"]);
  });

  it("is rejected as a whole by any single rejection", async () => {
    const { id } = await bed.approvals.requestApproval(chain());
    await bed.approvals.decide(id, { reviewer: "fin1@x.com", outcome: "approve" });
    await bed.approvals.decide(id, { reviewer: "coo@x.com", outcome: "approve" });
    const approval = await bed.approvals.decide(id, { reviewer: "ceo@x.com", outcome: "reject", comment: "not now" });
    expect(approval.decision).toMatchObject({ status: "rejected", approved: false, decidedBy: "ceo@x.com" });
    expect(approval.steps.map((s) => s.status)).toEqual(["passed", "rejected"]);
  });
});
