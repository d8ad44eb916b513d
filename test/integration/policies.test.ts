/** Policies (issue 15): enforced answers decide at once, shadow answers are recorded, failures fail closed. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Approvals, Decision, Policy, PolicyRequest } from "../../src/index.ts";
import { eventually, recordingChannel, sleep, useTestBed } from "../support/test-bed.ts";

const amount = (r: PolicyRequest) => Number((r.payload as { amount?: number }).amount ?? Number.NaN);
const smallRefunds: Policy = {
  name: "small-refunds",
  version: "2026-11-01",
  decide: (r) =>
    r.type === "refund.v1" && amount(r) <= 50 ? { outcome: "approve", reason: "refund under 50 USD" } : undefined,
};
const noHugeRefunds: Policy = {
  name: "no-huge-refunds",
  version: "1",
  decide: (r) =>
    r.type === "refund.v1" && amount(r) > 10_000 ? { outcome: "reject", reason: "over 10,000 USD" } : undefined,
};
const shadowGuess: Policy = {
  name: "guess",
  version: "0.1",
  mode: "shadow",
  decide: (r) =>
    r.type === "refund.v1" ? { outcome: amount(r) < 500 ? "approve" : "reject", reason: "a guess" } : undefined,
};
const broken: Policy = {
  name: "broken",
  version: "1",
  decide: (r) => {
    if (r.type === "broken.v1") throw new Error("rules service unreachable");
    return undefined;
  },
};
const approveEverything: Policy = { name: "yes", version: "1", decide: () => ({ outcome: "approve", reason: "yes" }) };

const channel = recordingChannel();
const bed = useTestBed("policies", () => ({
  channels: [channel],
  policies: [smallRefunds, noHugeRefunds, shadowGuess],
}));
const resumed: Decision[] = [];
let worker: Approvals;
beforeAll(async () => {
  worker = bed.create();
  worker.onDecision("*", (decision) => void resumed.push(decision));
  await worker.start();
});
afterAll(() => worker.stop());

const refund = (value: number, extra = {}) =>
  bed.approvals.requestApproval({
    type: "refund.v1",
    title: `Refund ${value} USD`,
    payload: { amount: value },
    requestedBy: "agent://support",
    reviewers: ["billing@co.com"],
    reminders: [],
    ...extra,
  });

describe("policies", () => {
  it("an enforced approve makes the approval final at once: no human asked, decided by the policy, handlers run", async () => {
    const req = await refund(20);
    expect(req.status).toBe("approved");
    expect(req.decision).toMatchObject({
      status: "approved",
      approved: true,
      decidedBy: "policy:small-refunds@2026-11-01",
      via: "policy",
      comment: "refund under 50 USD",
    });
    expect((await bed.approvals.events(req.id)).map((e) => [e.type, e.actor])).toEqual([
      ["requested", "agent://support"],
      ["policy_evaluated", "policy:small-refunds@2026-11-01"],
      ["approved", "policy:small-refunds@2026-11-01"],
    ]);
    await eventually(() => resumed.find((d) => d.id === req.id));
    expect(await bed.approvals.waitForDecision(req.id)).toMatchObject({ status: "approved" });
    await sleep(300);
    expect(channel.sent.filter((n) => n.approval.id === req.id)).toEqual([]);
    expect(await bed.approvals.verifyAudit({ id: req.id })).toMatchObject({ ok: true });
  });

  it("an enforced reject ends it rejected; a shadow answer is only recorded and humans are asked as usual", async () => {
    const rejected = await refund(20_000);
    expect(rejected.decision).toMatchObject({ status: "rejected", decidedBy: "policy:no-huge-refunds@1" });

    const asked = await refund(300);
    expect(asked.status).toBe("pending");
    const shadow = (await bed.approvals.events(asked.id)).find((e) => e.type === "policy_evaluated");
    expect(shadow).toMatchObject({
      actor: "policy:guess@0.1",
      comment: "a guess",
      data: { policy: "guess", version: "0.1", mode: "shadow", outcome: "approve" },
    });
    await eventually(() => channel.sent.find((n) => n.approval.id === asked.id && n.kind === "request"));
  });

  it("fails closed: a policy that throws is audited and humans are asked, even when a later policy would approve", async () => {
    const req = await bed.approvals.requestApproval({
      type: "broken.v1",
      title: "Anything",
      requestedBy: "agent://x",
      reviewers: ["billing@co.com"],
      reminders: [],
      policies: [broken, approveEverything],
    });
    expect(req.status).toBe("pending");
    const events = (await bed.approvals.events(req.id)).filter((e) => e.type === "policy_evaluated");
    expect(events.map((e) => e.data)).toEqual([
      { policy: "broken", version: "1", mode: "enforce", error: "rules service unreachable" },
    ]);
  });

  it("fails closed on a policy that does not answer within its timeout, and refuses a timeout over a minute", async () => {
    const hanging = { name: "slow", version: "1", timeout: "50ms", decide: () => new Promise<never>(() => {}) };
    const req = await refund(10, { policies: [hanging, approveEverything] });
    expect(req.status).toBe("pending");
    const events = (await bed.approvals.events(req.id)).filter((e) => e.type === "policy_evaluated");
    expect(events.map((e) => e.data)).toEqual([
      { policy: "slow", version: "1", mode: "enforce", error: "no answer within 50 ms" },
    ]);
    await expect(refund(10, { policies: [{ ...hanging, timeout: "2m" }] })).rejects.toMatchObject({
      issues: [{ path: "policies.0.timeout", message: "must be at most a minute" }],
    });
  });

  it("policy: false skips them, and a request's own policies come first", async () => {
    const skipped = await refund(10, { policy: false });
    expect(skipped.status).toBe("pending");
    expect((await bed.approvals.events(skipped.id)).some((e) => e.type === "policy_evaluated")).toBe(false);
    const own = await refund(10, {
      policies: [{ name: "mine", version: "2", decide: () => ({ outcome: "reject", reason: "not today" }) }],
    });
    expect(own.decision).toMatchObject({ status: "rejected", decidedBy: "policy:mine@2" });
    const nonsense = await refund(10, {
      policies: [{ name: "odd", version: "1", decide: () => ({ outcome: "maybe" }) as never }],
    });
    expect(nonsense.status).toBe("pending");
    const error = (await bed.approvals.events(nonsense.id)).find((e) => e.type === "policy_evaluated");
    expect(error?.data.error).toContain("answered neither undefined nor");
  });

  it("policyReport compares shadow answers with what humans then decided", async () => {
    const agree = await refund(200); // guess: approve
    const disagree = await refund(900); // guess: reject
    const open = await refund(100); // guess: approve, nobody decides
    await bed.approvals.decide(agree.id, { reviewer: "billing@co.com", outcome: "approve" });
    await bed.approvals.decide(disagree.id, { reviewer: "billing@co.com", outcome: "approve" });
    expect(open.status).toBe("pending");
    const report = await bed.approvals.policyReport({ since: "1h" });
    const guess = report.find((r) => r.policy === "guess");
    expect(guess).toMatchObject({ mode: "shadow", errors: 0 });
    expect(guess?.agreed).toBeGreaterThanOrEqual(1);
    expect(guess?.disagreed).toBeGreaterThanOrEqual(1);
    expect(guess?.undecided).toBeGreaterThanOrEqual(1);
    expect(guess!.wouldApprove + guess!.wouldReject).toBe(guess!.evaluated);
    const enforced = report.find((r) => r.policy === "small-refunds");
    expect(enforced).toMatchObject({ mode: "enforce", disagreed: 0 });
    expect(report.find((r) => r.policy === "broken")?.errors).toBe(1);
  });

  it("shows a policy a copy: one that changes the payload it was shown changes nothing written", async () => {
    const meddler: Policy = {
      name: "meddler",
      version: "1",
      decide: (r) => {
        (r.payload as { amount: number }).amount = 1;
        return undefined;
      },
    };
    const req = await refund(700, { policies: [meddler] });
    expect(req.payload).toEqual({ amount: 700 });
    expect((await bed.approvals.get(req.id)).payload).toEqual({ amount: 700 });
  });

  it("refuses a policy that is not one, naming it", () => {
    expect(() => bed.create({ policies: [{ name: "bad name!", version: "1", decide: () => undefined }] })).toThrow(
      /policies\.0\.name: must be 1 to 100 letters, digits, \. _ or -/,
    );
  });
});
