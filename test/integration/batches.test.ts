/** Batches: one review, a decision per action, under the same steps, quorum, edits and timeouts. */
import { describe, expect, it } from "vitest";
import {
  type ActionRequest,
  type ApprovalError,
  type ApprovalRequest,
  ERROR_CODES,
  ValidationError,
} from "../../src/index.ts";
import { supportBatch, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("batches");

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );

const actions: ActionRequest[] = [
  { id: "call_1", name: "refundOrder", input: { orderId: "A-1042", amount: 129 }, editable: ["amount"] },
  { id: "call_2", name: "sendEmail", input: { to: "customer@x.com", body: "Your refund is on its way" } },
];
const batch = (extra: Partial<ApprovalRequest> = {}) =>
  bed.approvals.requestApproval(supportBatch(actions, "billing-lead@company.com", extra));

describe("a batch of actions", () => {
  it("is decided per action in one vote: approve one with edits, reject another with a reason", async () => {
    const req = await batch();
    expect(req.actions?.map((a) => [a.id, a.name, a.outcome, a.editable])).toEqual([
      ["call_1", "refundOrder", "pending", ["amount"]],
      ["call_2", "sendEmail", "pending", []],
    ]);
    const after = await bed.approvals.decide(req.id, {
      reviewer: "billing-lead@company.com",
      actions: {
        call_1: { outcome: "approve", edits: { amount: 100 } },
        call_2: { outcome: "reject", comment: "we do not e-mail customers about refunds" },
      },
    });
    expect(after.status).toBe("approved");
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision).toMatchObject({ status: "approved", approved: true, revision: 2 });
    expect(decision.actions).toEqual([
      {
        id: "call_1",
        name: "refundOrder",
        outcome: "approve",
        input: { orderId: "A-1042", amount: 100 },
        edits: [{ action: "call_1", field: "amount", from: 129, to: 100, by: "billing-lead@company.com", revision: 2 }],
        comment: null,
      },
      {
        id: "call_2",
        name: "sendEmail",
        outcome: "reject",
        input: { to: "customer@x.com", body: "Your refund is on its way" },
        edits: [],
        comment: "we do not e-mail customers about refunds",
      },
    ]);
    const revisions = await bed.approvals.revisions(req.id);
    expect(revisions.map((r) => r.revision)).toEqual([1, 2]);
    const vote = (await bed.approvals.events(req.id)).find((e) => e.type === "approved");
    expect(vote?.data).toMatchObject({
      newRevision: 2,
      actions: { call_1: { outcome: "approve" }, call_2: { outcome: "reject" } },
    });
  });

  it("ends rejected when no action may run, with each reason", async () => {
    const req = await batch();
    await bed.approvals.decide(req.id, {
      reviewer: "billing-lead@company.com",
      actions: {
        call_1: { outcome: "reject", comment: "order already refunded" },
        call_2: { outcome: "reject" },
      },
    });
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision).toMatchObject({ status: "rejected", approved: false, comment: "call_1: order already refunded" });
    expect(decision.actions?.map((a) => [a.id, a.outcome, a.comment])).toEqual([
      ["call_1", "reject", "order already refunded"],
      ["call_2", "reject", null],
    ]);
  });

  it("with quorum 2, an action passes only when two reviewers approved it; one rejection rejects it", async () => {
    const req = await batch({
      reviewers: undefined,
      steps: [{ name: "leads", reviewers: ["a@company.com", "b@company.com", "c@company.com"], quorum: 2 }],
    });
    const first = await bed.approvals.decide(req.id, {
      reviewer: "a@company.com",
      actions: { call_1: { outcome: "approve" }, call_2: { outcome: "reject", comment: "no e-mail" } },
    });
    expect(first.status).toBe("pending");
    expect(first.actions?.map((a) => a.outcome)).toEqual(["pending", "reject"]);
    // call_2 is closed: the next reviewer decides what is still open, and may leave it out.
    const stale = await refusal(
      bed.approvals.decide(req.id, { reviewer: "b@company.com", actions: { call_2: { outcome: "approve" } } }),
    );
    expect(stale).toBeInstanceOf(ValidationError);
    expect((stale as ValidationError).issues).toEqual([
      { path: "actions", message: "decide every open action in one vote; missing: call_1" },
    ]);
    await bed.approvals.decide(req.id, { reviewer: "b@company.com", actions: { call_1: { outcome: "approve" } } });
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision.status).toBe("approved");
    expect(decision.actions?.map((a) => [a.id, a.outcome, a.comment])).toEqual([
      ["call_1", "approve", null],
      ["call_2", "reject", "no e-mail"],
    ]);
  });

  it("carries what a step rejected to the next step, whose reviewers decide only what is left", async () => {
    const req = await batch({
      reviewers: undefined,
      steps: [
        { name: "billing", reviewers: ["billing-lead@company.com"] },
        { name: "support", reviewers: ["support-lead@company.com"] },
      ],
    });
    await bed.approvals.decide(req.id, {
      reviewer: "billing-lead@company.com",
      actions: { call_1: { outcome: "approve" }, call_2: { outcome: "reject", comment: "not this one" } },
    });
    // "approve" for the whole batch approves every action still open: call_1 only.
    await bed.approvals.decide(req.id, { reviewer: "support-lead@company.com", outcome: "approve" });
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision.actions?.map((a) => a.outcome)).toEqual(["approve", "reject"]);
  });

  it("refuses a vote that leaves an action out, names one that is not in the batch, or edits what may not change, writing nothing", async () => {
    const req = await batch();
    const cases = [
      [{ call_1: { outcome: "approve" } }, "actions", "decide every open action in one vote; missing: call_2"],
      [
        { call_1: { outcome: "approve" }, call_2: { outcome: "approve" }, call_9: { outcome: "approve" } },
        "actions.call_9",
        "is not an action of this batch (call_1, call_2)",
      ],
      [
        { call_1: { outcome: "approve" }, call_2: { outcome: "approve", edits: { to: "ceo@x.com" } } },
        "actions.call_2.edits.to",
        "may not be changed: the request made no field of call_2 editable",
      ],
      [
        { call_1: { outcome: "reject", edits: { amount: 1 } }, call_2: { outcome: "approve" } },
        "actions.call_1.edits",
        "only an approved action can carry edits",
      ],
    ] as const;
    for (const [decisions, path, message] of cases) {
      const error = await refusal(
        bed.approvals.decide(req.id, { reviewer: "billing-lead@company.com", actions: decisions }),
      );
      expect((error as ValidationError).issues, path).toEqual([{ path, message }]);
    }
    const topLevel = await refusal(
      bed.approvals.decide(req.id, { reviewer: "billing-lead@company.com", outcome: "approve", edits: { amount: 1 } }),
    );
    expect((topLevel as ValidationError).issues).toEqual([
      { path: "edits", message: "edit a batch per action: actions.<id>.edits" },
    ]);
    const untouched = await bed.approvals.get(req.id);
    expect(untouched).toMatchObject({ status: "pending", revision: 1 });
    expect(untouched.steps[0]?.reviewers[0]?.vote).toBeNull();

    const single = await bed.approvals.requestApproval({
      type: "t",
      title: "Not a batch",
      requestedBy: "agent://x",
      reviewers: ["billing-lead@company.com"],
    });
    const notBatch = await refusal(
      bed.approvals.decide(single.id, {
        reviewer: "billing-lead@company.com",
        actions: { call_1: { outcome: "approve" } },
      }),
    );
    expect((notBatch as ValidationError).issues).toEqual([
      { path: "actions", message: "this approval is not a batch: give an outcome" },
    ]);
  });

  it("validates the batch when it is requested", async () => {
    const attempt = (extra: Partial<ApprovalRequest>) => refusal(batch(extra));
    const duplicate = await attempt({ actions: [actions[0]!, { ...actions[1]!, id: "call_1" }] });
    expect((duplicate as ValidationError).issues).toEqual([
      { path: "actions.1.id", message: '"call_1" is used by two actions' },
    ]);
    const many = await attempt({
      actions: Array.from({ length: 51 }, (_, i) => ({ id: `c${i}`, name: "t", input: {} })),
    });
    expect((many as ValidationError).issues).toEqual([{ path: "actions", message: "at most 50 actions" }]);
    const withPayload = await attempt({ payload: { x: 1 } });
    expect((withPayload as ValidationError).issues[0]?.path).toBe("payload");
    const notObject = await attempt({ actions: [{ id: "a", name: "t", input: "text", editable: ["x"] }] });
    expect((notObject as ValidationError).issues).toEqual([
      { path: "actions.0.editable", message: "needs an input that is an object" },
    ]);
    const nul = await attempt({ actions: [{ id: "a", name: "t", input: { note: "a\u0000b" } }] });
    expect((nul as ValidationError).issues[0]?.path).toBe("actions.0.input.note");
  });

  it("refuses hostile batches and batch decisions with typed errors naming the field, writing nothing", async () => {
    const attempt = async (extra: Partial<ApprovalRequest>) =>
      ((await refusal(batch(extra))) as ValidationError).issues;
    expect(await attempt({ actions: [] })).toEqual([{ path: "actions", message: "must have at least one action" }]);
    expect((await attempt({ actions: [{ id: "a\u0000b", name: "t", input: {} }] }))[0]?.path).toBe("actions.0.id");
    expect((await attempt({ actions: [{ id: "a", name: "bad\ud800", input: {} }] }))[0]?.path).toBe("actions.0.name");
    expect((await attempt({ actions: [{ id: "x".repeat(201), name: "t", input: {} }] }))[0]?.path).toBe("actions.0.id");
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = deep.next = {};
    expect((await attempt({ actions: [{ id: "a", name: "t", input: root as never }] }))[0]?.path).toMatch(
      /^actions\.0\.input/,
    );
    expect((await attempt({ metadata: { big: "x".repeat(1024 * 1024 + 10) } }))[0]?.path).toMatch(/^metadata/);

    const req = await batch();
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`c${i}`, { outcome: "approve" as const }]));
    const tooMany = await refusal(
      bed.approvals.decide(req.id, { reviewer: "billing-lead@company.com", actions: many }),
    );
    expect((tooMany as ValidationError).issues[0]?.path).toBe("actions");
    const nul = await refusal(
      bed.approvals.decide(req.id, {
        reviewer: "billing-lead@company.com",
        actions: { call_1: { outcome: "approve", comment: "a\u0000b" }, call_2: { outcome: "approve" } },
      }),
    );
    expect((nul as ValidationError).issues[0]?.path).toBe("actions.call_1.comment");
    expect((await bed.approvals.get(req.id)).steps[0]?.reviewers[0]?.vote).toBeNull();
  });

  it("settles every open action by the timeout action, and keeps the host's metadata", async () => {
    const approving = await batch({ timeout: { after: "1s", action: "approve" }, metadata: { threadId: "t-1" } });
    const rejecting = await batch({ timeout: { after: "1s", action: "reject" } });
    const [approved, rejected] = await Promise.all([
      bed.approvals.waitForDecision(approving.id),
      bed.approvals.waitForDecision(rejecting.id),
    ]);
    expect(approved.actions?.map((a) => a.outcome)).toEqual(["approve", "approve"]);
    expect(rejected.actions?.map((a) => a.outcome)).toEqual(["reject", "reject"]);
    expect((await bed.approvals.get(approving.id)).metadata).toEqual({ threadId: "t-1" });
  });

  it("is idempotent on its key, and refuses the key for a different batch", async () => {
    const first = await batch({ idempotencyKey: "batch-key-1", metadata: { state: "v1" } });
    const again = await batch({ idempotencyKey: "batch-key-1", metadata: { state: "v2" } });
    expect(again.id).toBe(first.id);
    const different = await refusal(
      batch({ idempotencyKey: "batch-key-1", actions: [{ ...actions[0]!, editable: [] }, actions[1]!] }),
    );
    expect(different?.code).toBe(ERROR_CODES.IDEMPOTENCY_CONFLICT);
  });
});
