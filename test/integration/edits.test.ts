/** Approve with edits: editable fields only, payload schema kept, every revision stored, stale decisions refused. */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ApprovalError,
  ERROR_CODES,
  type JsonValue,
  StaleRevisionError,
  type ValidationError,
} from "../../src/index.ts";
import { eventually, recordingChannel, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("edits", { channels: [channel] });
beforeAll(() => bed.approvals.start());

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );

/** SHA-256 of JSON with keys sorted, computed here independently of the library. */
function digest(value: JsonValue): string {
  const canonical = (v: JsonValue): string =>
    Array.isArray(v)
      ? `[${v.map(canonical).join(",")}]`
      : v !== null && typeof v === "object"
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical(v[k] as JsonValue)}`)
            .join(",")}}`
        : JSON.stringify(v);
  return createHash("sha256").update(canonical(value)).digest("hex");
}

const payment = {
  type: "payment.release.v1",
  title: "Wire $48,000 to ACME GmbH",
  payload: { amount: 48000, currency: "USD", recipient: "ACME GmbH", memo: "Q1 invoice" },
  requestedBy: "alice@co.com",
  editable: ["amount", "memo"],
  payloadSchema: z.object({
    amount: z.number().positive().max(50000),
    currency: z.enum(["USD", "EUR"]),
    recipient: z.string(),
    memo: z.string().max(100),
  }),
  reminders: [],
};

async function rowCounts(id: string) {
  const { rows } = await bed.pool.query(
    `select (select count(*)::int from "${bed.schema}".event where approval_id = $1 and type not in ('notified', 'notify_failed')) as events,
            (select count(*)::int from "${bed.schema}".vote where approval_id = $1) as votes,
            (select count(*)::int from "${bed.schema}".payload_revision where approval_id = $1) as revisions,
            (select revision from "${bed.schema}".approval where id = $1) as revision`,
    [id],
  );
  return rows[0];
}

describe("approve with edits", () => {
  it("makes a new revision: the final payload, the diff by whom, every revision with its SHA-256", async () => {
    const req = await bed.approvals.requestApproval({
      ...payment,
      steps: [
        { name: "finance", reviewers: ["controller@co.com", "alice@co.com"] },
        { name: "exec", reviewers: ["cfo@co.com", "ceo@co.com"], quorum: 1 },
      ],
    });
    const waiting = bed.approvals.waitForDecision(req.id);
    await eventually(() => channel.sent.some((n) => n.approval.id === req.id));
    const after = await bed.approvals.decide(req.id, {
      reviewer: "controller@co.com",
      outcome: "approve",
      edits: { amount: 45000 },
      revision: 1,
    });
    expect(after.revision).toBe(2);
    expect(after.payload).toEqual({ ...payment.payload, amount: 45000 });
    expect(after.edits).toEqual([{ field: "amount", from: 48000, to: 45000, by: "controller@co.com", revision: 2 }]);
    expect(after.steps[0]?.reviewers[0]?.vote).toMatchObject({ outcome: "approve", revision: 1 });

    // The next step's reviewers are shown the current revision and what changed.
    const ask = await eventually(() =>
      channel.sent.find((n) => n.approval.id === req.id && n.reviewer === "cfo@co.com" && n.kind === "request"),
    );
    expect(ask.approval.payload).toEqual({ ...payment.payload, amount: 45000 });
    expect(ask.approval.revision).toBe(2);
    expect(ask.approval.edits).toHaveLength(1);

    await bed.approvals.decide(req.id, {
      reviewer: "cfo@co.com",
      outcome: "approve",
      edits: { memo: "Q1 invoice, net" },
    });
    const decision = await waiting;
    expect(decision.payload).toEqual({ ...payment.payload, amount: 45000, memo: "Q1 invoice, net" });
    expect(decision.revision).toBe(3);
    expect(decision.edits.map((e) => [e.field, e.by, e.revision])).toEqual([
      ["amount", "controller@co.com", 2],
      ["memo", "cfo@co.com", 3],
    ]);

    const revisions = await bed.approvals.revisions(req.id);
    expect(revisions.map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(revisions[0]?.payload).toEqual(payment.payload);
    for (const r of revisions) expect(r.digest).toBe(digest(r.payload));
    expect(revisions[2]?.edits).toEqual([
      { field: "memo", from: "Q1 invoice", to: "Q1 invoice, net", by: "cfo@co.com", revision: 3 },
    ]);

    const approved = (await bed.approvals.events(req.id)).filter((e) => e.type === "approved");
    expect(approved[0]?.data).toMatchObject({
      revision: 1,
      newRevision: 2,
      digest: digest({ ...payment.payload, amount: 45000 }),
      edits: [{ field: "amount", from: 48000, to: 45000 }],
    });
  });

  it("an approval without edits stays revision 1 and stores no revision rows", async () => {
    const req = await bed.approvals.requestApproval({ ...payment, reviewers: ["controller@co.com"] });
    await bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve", edits: { amount: 48000 } });
    expect(await rowCounts(req.id)).toMatchObject({ revisions: 0, revision: 1 });
    expect(await bed.approvals.revisions(req.id)).toEqual([
      expect.objectContaining({ revision: 1, digest: digest(payment.payload), edits: [] }),
    ]);
  });

  it("refuses a field outside editable, one that breaks the schema, and edits on a reject, writing nothing", async () => {
    const req = await bed.approvals.requestApproval({ ...payment, reviewers: ["controller@co.com"] });
    const before = await rowCounts(req.id);
    const outside = await refusal(
      bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve", edits: { currency: "EUR" } }),
    );
    expect(outside?.code).toBe(ERROR_CODES.VALIDATION);
    expect(outside?.data.issues).toEqual([
      { path: "edits.currency", message: "may not be changed; editable fields: amount, memo" },
    ]);
    const tooBig = await refusal(
      bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "approve", edits: { amount: 60000 } }),
    );
    expect(tooBig?.code).toBe(ERROR_CODES.VALIDATION);
    expect((tooBig?.data.issues as { path: string }[] | undefined)?.map((i) => i.path)).toEqual(["amount"]);
    const onReject = await refusal(
      bed.approvals.decide(req.id, { reviewer: "controller@co.com", outcome: "reject", edits: { amount: 1 } }),
    );
    expect(onReject?.code).toBe(ERROR_CODES.VALIDATION);
    expect(await rowCounts(req.id)).toEqual(before);
    expect((await bed.approvals.get(req.id)).status).toBe("pending");
  });

  it("refuses a request whose payload breaks its own schema, or editable fields on a non-object payload", async () => {
    const broken = await refusal(
      bed.approvals.requestApproval({
        ...payment,
        payload: { ...payment.payload, amount: -1 },
        reviewers: ["c@co.com"],
      }),
    );
    expect(broken?.code).toBe(ERROR_CODES.VALIDATION);
    const scalar = await refusal(
      bed.approvals.requestApproval({ ...payment, payloadSchema: undefined, payload: 5, reviewers: ["c@co.com"] }),
    );
    expect(scalar?.data.issues).toEqual([{ path: "editable", message: "needs a payload that is an object" }]);
    const refined = await refusal(
      bed.approvals.requestApproval({
        ...payment,
        payloadSchema: z.object({ amount: z.number().transform((n) => n * 2) }),
        reviewers: ["c@co.com"],
      }),
    );
    expect(refined?.message).toContain("cannot be stored as JSON Schema (it has a transform)");
    const custom = await refusal(
      bed.approvals.requestApproval({
        ...payment,
        payloadSchema: z.object({ amount: z.number().refine((n) => n % 100 === 0) }),
        reviewers: ["c@co.com"],
      }),
    );
    expect(custom?.message).toContain("it has a refinement");
    // Stored as jsonb: a NUL is refused with its path before the database would refuse it.
    const nul = await refusal(
      bed.approvals.requestApproval({
        ...payment,
        payloadSchema: { type: "object", title: "a\u0000b" },
        reviewers: ["c@co.com"],
      }),
    );
    expect((nul as ValidationError | undefined)?.issues[0]?.path).toBe("payloadSchema.title");
    // A schema that only refers to itself overflowed the stack on its first check: refused as a schema.
    const loop = await refusal(
      bed.approvals.requestApproval({ ...payment, payloadSchema: { $ref: "#" }, reviewers: ["c@co.com"] }),
    );
    expect((loop as ValidationError | undefined)?.issues[0]?.path).toBe("payloadSchema");
    // A JSON Schema is taken as it is.
    const json = await bed.approvals.requestApproval({
      ...payment,
      payloadSchema: { type: "object", properties: { amount: { type: "number", maximum: 50000 } } },
      reviewers: ["c@co.com"],
    });
    expect(json.payloadSchema).toMatchObject({ properties: { amount: { maximum: 50000 } } });
  });

  it("refuses a decision made on a stale revision with STALE_REVISION", async () => {
    const req = await bed.approvals.requestApproval({
      ...payment,
      steps: [{ name: "pair", reviewers: ["a@co.com", "b@co.com", "c@co.com"], quorum: 3 }],
    });
    await bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve", edits: { memo: "x" }, revision: 1 });
    const stale = await refusal(
      bed.approvals.decide(req.id, { reviewer: "b@co.com", outcome: "approve", revision: 1 }),
    );
    expect(stale).toBeInstanceOf(StaleRevisionError);
    expect(stale?.code).toBe(ERROR_CODES.STALE_REVISION);
    expect(stale?.data).toMatchObject({ revision: 2, seen: 1 });
    // On the current revision it is recorded.
    const ok = await bed.approvals.decide(req.id, { reviewer: "b@co.com", outcome: "approve", revision: 2 });
    expect(ok.steps[0]?.reviewers.find((r) => r.reviewer === "b@co.com")?.vote?.revision).toBe(2);
  });

  it("two reviewers approving with edits at the same instant end in one consistent state", async () => {
    for (let round = 0; round < 8; round++) {
      const req = await bed.approvals.requestApproval({
        ...payment,
        steps: [{ name: "pair", reviewers: ["a@co.com", "b@co.com"], quorum: 2 }],
      });
      // Both looked at revision 1: one wins, the other is told the payload changed.
      const results = await Promise.allSettled([
        bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve", edits: { amount: 100 }, revision: 1 }),
        bed.approvals.decide(req.id, { reviewer: "b@co.com", outcome: "approve", edits: { amount: 200 }, revision: 1 }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect((lost[0]?.reason as ApprovalError | undefined)?.code).toBe(ERROR_CODES.STALE_REVISION);
      const state = await bed.approvals.get(req.id);
      expect(state.revision).toBe(2);
      expect(state.edits).toHaveLength(1);
      expect(state.payload).toMatchObject({ amount: state.edits[0]?.to });
      expect(await rowCounts(req.id)).toMatchObject({ votes: 1, revisions: 2 });

      // Without a revision (an API caller that does not care), both count, one on top of the other.
      const open = await bed.approvals.requestApproval({
        ...payment,
        steps: [{ name: "pair", reviewers: ["a@co.com", "b@co.com"], quorum: 2 }],
      });
      await Promise.all([
        bed.approvals.decide(open.id, { reviewer: "a@co.com", outcome: "approve", edits: { amount: 100 } }),
        bed.approvals.decide(open.id, { reviewer: "b@co.com", outcome: "approve", edits: { memo: "b" } }),
      ]);
      const both = await bed.approvals.get(open.id);
      expect(both.status).toBe("approved");
      expect(both.revision).toBe(3);
      expect(both.payload).toMatchObject({ amount: 100, memo: "b" });
      expect((await bed.approvals.revisions(open.id)).map((r) => r.revision)).toEqual([1, 2, 3]);
    }
  });
});
