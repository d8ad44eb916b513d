import { beforeAll, describe, expect, it } from "vitest";
import { AlreadyDecidedError, type Approvals } from "../../src/index.ts";
import { sleep, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("races");
/** Several instances with their own pools, as several processes deciding at once. */
let deciders: Approvals[] = [];
beforeAll(() => {
  deciders = Array.from({ length: 4 }, () => bed.create());
});

const reviewers = ["r0@x.com", "r1@x.com", "r2@x.com", "r3@x.com", "r4@x.com"];

async function finalEvents(id: string) {
  return (await bed.approvals.events(id)).filter((e) => e.data.final === true);
}

describe("racing decisions", () => {
  it("50 parallel votes from five reviewers end in exactly one decision", async () => {
    const { id } = await bed.approvals.requestApproval({ type: "t", title: "race", requestedBy: "a", reviewers });
    const attempts = Array.from({ length: 50 }, (_, i) =>
      deciders[i % deciders.length]!.decide(id, {
        reviewer: reviewers[i % reviewers.length]!,
        outcome: i % 2 ? "approve" : "reject",
      }).then(
        (approval) => ({ ok: approval }),
        (error: unknown) => ({ error }),
      ),
    );
    const results = await Promise.all(attempts);
    const winners = results.filter((r) => "ok" in r);
    expect(winners).toHaveLength(1);
    expect(
      results.filter((r) => "error" in r).every((r) => (r as { error: unknown }).error instanceof AlreadyDecidedError),
    ).toBe(true);
    const [final] = await finalEvents(id);
    const approval = await bed.approvals.get(id);
    expect(await finalEvents(id)).toHaveLength(1);
    expect(approval.decision?.decidedBy).toBe(final?.actor);
    expect(approval.status).toBe(final?.type);
  });

  it("a quorum of two counts exactly two distinct approvals under contention", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "t",
      title: "quorum race",
      requestedBy: "a",
      steps: [{ name: "pair", reviewers, quorum: 2 }],
    });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        deciders[i % deciders.length]!.decide(id, {
          reviewer: reviewers[i % reviewers.length]!,
          outcome: "approve",
        }).then(
          () => "ok",
          (error: unknown) => (error instanceof AlreadyDecidedError ? "refused" : error),
        ),
      ),
    );
    expect(results.filter((r) => r === "ok")).toHaveLength(2);
    expect(results.filter((r) => r === "refused")).toHaveLength(38);
    const approval = await bed.approvals.get(id);
    expect(approval.status).toBe("approved");
    expect(approval.steps[0]?.reviewers.filter((r) => r.vote)).toHaveLength(2);
    expect(await finalEvents(id)).toHaveLength(1);
  });

  it("votes racing the timeout and a cancel end in one consistent final state", async () => {
    const worker = bed.create();
    await worker.start();
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 6; round++) {
      const { id } = await bed.approvals.requestApproval({
        type: "t",
        title: `deadline race ${round}`,
        requestedBy: "a",
        reviewers,
        reminders: [],
        timeout: { after: 300, action: "reject" },
      });
      await sleep(250 + round * 10);
      const attempts = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) =>
          deciders[i % deciders.length]!.decide(id, {
            reviewer: reviewers[i % reviewers.length]!,
            outcome: "approve",
          }).then(
            () => "ok",
            (error: unknown) => (error instanceof AlreadyDecidedError ? "refused" : error),
          ),
        ),
        deciders[0]!.cancel(id, { reason: "race" }).then(
          () => "ok",
          (error: unknown) => (error instanceof AlreadyDecidedError ? "refused" : error),
        ),
      ]);
      const decision = await bed.approvals.waitForDecision(id);
      expect(attempts.filter((a) => a === "ok").length).toBeLessThanOrEqual(1);
      expect(attempts.every((a) => a === "ok" || a === "refused")).toBe(true);
      const finals = await finalEvents(id);
      expect(finals).toHaveLength(1);
      expect(finals[0]?.type).toBe(decision.status);
      outcomes.set(decision.status, (outcomes.get(decision.status) ?? 0) + 1);
    }
    expect([...outcomes.values()].reduce((a, b) => a + b, 0)).toBe(6);
  });
});
