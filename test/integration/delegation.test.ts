/** Delegation while away: the delegate is asked too, decides for the reviewer, and never breaks four-eyes. */
import { beforeAll, describe, expect, it } from "vitest";
import { type ApprovalError, ERROR_CODES } from "../../src/index.ts";
import { eventually, readJson, recordingChannel, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("delegation", { channels: [channel] });
beforeAll(() => bed.approvals.start());

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: ApprovalError) => error,
  );
const base = { type: "payment.release.v1", title: "Wire", requestedBy: "alice@co.com", reminders: [] };
const nextYear = () => new Date(Date.now() + 365 * 24 * 3_600_000);
const asked = (id: string, reviewer: string) =>
  channel.sent.find((n) => n.approval.id === id && n.reviewer === reviewer && n.kind === "request");

describe("delegation", () => {
  it("asks the delegate alongside, on behalf of the reviewer, and records who decided for whom", async () => {
    const delegation = await bed.approvals.delegate({
      from: "cfo@co.com",
      to: "Deputy@Co.com",
      until: nextYear(),
      reason: "vacation",
    });
    expect(delegation).toMatchObject({
      from: "cfo@co.com",
      to: "deputy@co.com",
      reason: "vacation",
      createdBy: "cfo@co.com",
    });
    try {
      const req = await bed.approvals.requestApproval({ ...base, reviewers: ["cfo@co.com"] });
      const toDeputy = await eventually(() => asked(req.id, "deputy@co.com"));
      expect(toDeputy.onBehalfOf).toBe("cfo@co.com");
      expect(asked(req.id, "cfo@co.com")).toBeDefined();
      const waiting = bed.approvals.waitForDecision(req.id);
      // The delegate's own link decides, over HTTP.
      const response = await bed.approvals.fetch(
        new Request(toDeputy.links.view, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ decision: "approve", comment: "covering for the CFO" }),
        }),
      );
      expect(response.status).toBe(200);
      const decision = await waiting;
      expect(decision).toMatchObject({ status: "approved", decidedBy: "deputy@co.com", onBehalfOf: "cfo@co.com" });
      const approved = (await bed.approvals.events(req.id)).find((e) => e.type === "approved");
      expect(approved).toMatchObject({ actor: "deputy@co.com", channel: "http", data: { onBehalfOf: "cfo@co.com" } });
      const vote = (await bed.approvals.get(req.id)).steps[0]?.reviewers[0]?.vote;
      expect(vote).toMatchObject({ voter: "deputy@co.com", onBehalfOf: "cfo@co.com" });
    } finally {
      await bed.approvals.revokeDelegation(delegation.id, { by: "admin@co.com" });
    }
  });

  it("reaches a quorum through a delegate", async () => {
    const delegation = await bed.approvals.delegate({ from: "ceo@co.com", to: "coo@co.com", until: nextYear() });
    try {
      const req = await bed.approvals.requestApproval({
        ...base,
        steps: [{ name: "exec", reviewers: ["cfo@co.com", "ceo@co.com"], quorum: 2 }],
      });
      await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve" });
      const done = await bed.approvals.decide(req.id, { reviewer: "coo@co.com", outcome: "approve" });
      expect(done.status).toBe("approved");
      expect(done.steps[0]?.reviewers.map((r) => [r.reviewer, r.vote?.voter])).toEqual([
        ["cfo@co.com", "cfo@co.com"],
        ["ceo@co.com", "coo@co.com"],
      ]);
    } finally {
      await bed.approvals.revokeDelegation(delegation.id);
    }
  });

  it("never creates a four-eyes violation: not for the requester, not for someone who already voted", async () => {
    const toRequester = await bed.approvals.delegate({ from: "b@co.com", to: "alice@co.com", until: nextYear() });
    const toVoter = await bed.approvals.delegate({ from: "c@co.com", to: "a@co.com", until: nextYear() });
    try {
      const req = await bed.approvals.requestApproval({
        ...base,
        steps: [{ name: "three", reviewers: ["a@co.com", "b@co.com", "c@co.com"], quorum: 3 }],
      });
      // The requester is never asked as a delegate, and cannot decide as one.
      await eventually(() => asked(req.id, "a@co.com"));
      expect(asked(req.id, "alice@co.com")).toBeUndefined();
      expect(
        (await refusal(bed.approvals.decide(req.id, { reviewer: "alice@co.com", outcome: "approve" })))?.code,
      ).toBe(ERROR_CODES.SELF_APPROVAL);
      // a votes for themselves, then cannot vote again for c.
      await bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve" });
      const twice = await refusal(bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve" }));
      expect(twice?.code).toBe(ERROR_CODES.ALREADY_DECIDED);
      expect((await bed.approvals.get(req.id)).steps[0]?.reviewers.filter((r) => r.vote)).toHaveLength(1);
    } finally {
      await bed.approvals.revokeDelegation(toRequester.id);
      await bed.approvals.revokeDelegation(toVoter.id);
    }
  });

  it("resolves one hop only, and a revoked delegation no longer lets the delegate decide", async () => {
    const first = await bed.approvals.delegate({ from: "cto@co.com", to: "vp@co.com", until: nextYear() });
    const second = await bed.approvals.delegate({ from: "vp@co.com", to: "intern@co.com", until: nextYear() });
    const req = await bed.approvals.requestApproval({ ...base, reviewers: ["cto@co.com"] });
    const hop = await refusal(bed.approvals.decide(req.id, { reviewer: "intern@co.com", outcome: "approve" }));
    expect(hop?.code).toBe(ERROR_CODES.NOT_A_REVIEWER);
    await eventually(() => asked(req.id, "vp@co.com"));
    expect(asked(req.id, "intern@co.com")).toBeUndefined();

    const active = await bed.approvals.delegations({ active: true, reviewer: "vp@co.com" });
    expect(active.map((d) => d.id).sort()).toEqual([first.id, second.id].sort());
    const revoked = await bed.approvals.revokeDelegation(first.id, { by: "cto@co.com" });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await bed.approvals.delegations({ active: true, reviewer: "cto@co.com" })).map((d) => d.id)).toEqual([]);
    expect((await bed.approvals.delegations({ active: false, reviewer: "cto@co.com" })).map((d) => d.id)).toEqual([
      first.id,
    ]);
    const gone = await refusal(bed.approvals.decide(req.id, { reviewer: "vp@co.com", outcome: "approve" }));
    expect(gone?.code).toBe(ERROR_CODES.NOT_A_REVIEWER);
    await bed.approvals.revokeDelegation(second.id);
  });

  it("refuses bad delegations with a readable error", async () => {
    const self = await refusal(bed.approvals.delegate({ from: "x@co.com", to: "X@co.com", until: nextYear() }));
    expect(self?.data.issues).toEqual([{ path: "to", message: "must differ from `from`" }]);
    const past = await refusal(bed.approvals.delegate({ from: "x@co.com", to: "y@co.com", until: "2020-01-01" }));
    expect(past?.data.issues).toEqual([{ path: "until", message: "must be in the future" }]);
    const junk = await refusal(bed.approvals.delegate({ from: "x@co.com", to: "y@co.com", until: "soon" }));
    expect(junk?.code).toBe(ERROR_CODES.VALIDATION);
    const unknown = await refusal(bed.approvals.revokeDelegation("00000000-0000-4000-8000-000000000000"));
    expect(unknown?.code).toBe(ERROR_CODES.NOT_FOUND);
  });

  it("a delegate's page says whom they decide for", async () => {
    const delegation = await bed.approvals.delegate({
      from: "legal@co.com",
      to: "paralegal@co.com",
      until: nextYear(),
      reason: "parental leave",
    });
    try {
      const req = await bed.approvals.requestApproval({ ...base, reviewers: ["legal@co.com"] });
      const link = (await eventually(() => asked(req.id, "paralegal@co.com"))).links.view;
      const page = await (await bed.approvals.fetch(new Request(link))).text();
      expect(page).toContain("You decide on behalf of legal@co.com, who delegated to you (parental leave).");
      const json = await readJson(
        await bed.approvals.fetch(new Request(link, { headers: { accept: "application/json" } })),
      );
      expect(json.canDecide).toBe(true);
    } finally {
      await bed.approvals.revokeDelegation(delegation.id);
    }
  });
});
