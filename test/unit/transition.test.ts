/** planTransition: every cause's effects, decided without a database. */
import { describe, expect, it } from "vitest";
import type { ApprovalFacts, StepFacts } from "../../src/domain/facts.ts";
import { mayVote } from "../../src/domain/eligibility.ts";
import type { Plan } from "../../src/domain/plan.ts";
import { type Cause, planTransition } from "../../src/domain/transition.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const HOUR = 3_600_000;

function step(index: number, reviewers: [string, number][], extra: Partial<StepFacts> = {}): StepFacts {
  return {
    step: index,
    name: `step${index}`,
    quorum: 1,
    schedule: { remindersMs: [60_000, 120_000], escalateAfterMs: 30 * 60_000 },
    escalationLevel: 0,
    escalationLevels: Math.max(0, ...reviewers.map(([, level]) => level)),
    startedAt: index === 0 ? NOW : null,
    reviewers: reviewers.map(([reviewer, level]) => ({ reviewer, level, vote: null })),
    ...extra,
  };
}

function facts(steps: StepFacts[], extra: Partial<ApprovalFacts> = {}): ApprovalFacts {
  return {
    id: "a1",
    version: 3,
    payload: { amount: 100, memo: "x" },
    revision: 1,
    editable: [],
    batch: null,
    distinctAcrossSteps: true,
    warnBeforeMs: null,
    delegations: [],
    status: "pending",
    currentStep: 0,
    requestedBy: "agent://bot",
    deadline: new Date(NOW.getTime() + 8 * HOUR),
    timeoutAction: "reject",
    dbNow: NOW,
    steps,
    ...extra,
  };
}

const vote = (reviewer: string, outcome: "approve" | "reject" = "approve", voter = reviewer): Cause => ({
  type: "vote",
  reviewer,
  voter,
  outcome,
  comment: null,
  via: "api",
  context: null,
  revision: null,
  edits: null,
  actions: null,
});

function applied(planned: ReturnType<typeof planTransition>): Plan {
  if (planned.kind !== "apply") throw new Error(`expected a plan, got ${JSON.stringify(planned)}`);
  return planned.plan;
}

describe("planTransition", () => {
  it("approve below the quorum: records the vote, changes no status, schedules nothing", () => {
    const plan = applied(
      planTransition(
        facts([
          step(
            0,
            [
              ["a@x.com", 0],
              ["b@x.com", 0],
            ],
            { quorum: 2 },
          ),
        ]),
        vote("a@x.com"),
      ),
    );
    expect(plan.update).toBeNull();
    expect(plan.vote).toEqual({
      step: 0,
      reviewer: "a@x.com",
      voter: "a@x.com",
      onBehalfOf: null,
      outcome: "approve",
      comment: null,
      via: "api",
      revision: 1,
      onceKey: "a@x.com",
      actions: null,
    });
    expect(plan.events).toEqual([
      {
        type: "approved",
        actor: "a@x.com",
        channel: "api",
        step: 0,
        comment: null,
        data: { final: false, approvals: 1, quorum: 2, revision: 1 },
      },
    ]);
    expect(plan.jobs).toEqual([]);
    expect(plan.removeTimers).toEqual([]);
    expect(plan.announce).toEqual({ id: "a1", status: "pending" });
  });

  it("approve reaching the quorum of a middle step: the next step starts, with its ask and its timers", () => {
    const steps = [
      step(
        0,
        [
          ["a@x.com", 0],
          ["b@x.com", 0],
        ],
        { quorum: 2 },
      ),
      step(
        1,
        [
          ["ceo@x.com", 0],
          ["agent://bot", 0],
          ["board@x.com", 1],
        ],
        { escalationLevels: 1 },
      ),
    ];
    (steps[0]?.reviewers[0] as { vote: unknown }).vote = { outcome: "approve", voter: "a@x.com", onBehalfOf: null };
    const plan = applied(planTransition(facts(steps), vote("b@x.com")));
    expect(plan.update).toEqual({ set: { currentStep: 1 } });
    expect(plan.steps).toEqual({ passed: 0, started: 1 });
    expect(plan.events.map((e) => [e.type, e.data.final ?? null])).toEqual([
      ["approved", false],
      ["step_passed", null],
    ]);
    expect(plan.removeTimers).toEqual([
      { task: "reminder", approvalId: "a1", step: 0, reminder: 0 },
      { task: "reminder", approvalId: "a1", step: 0, reminder: 1 },
    ]);
    expect(plan.jobs).toEqual([
      // The requester, listed on step 1, is not asked.
      { task: "notify", approvalId: "a1", kind: "request", round: "request:1", step: 1, recipients: ["ceo@x.com"] },
      { task: "reminder", approvalId: "a1", step: 1, reminder: 0, delayMs: 60_000 },
      { task: "reminder", approvalId: "a1", step: 1, reminder: 1, delayMs: 120_000 },
      { task: "escalation", approvalId: "a1", step: 1, level: 1, delayMs: 30 * 60_000 },
    ]);
    expect(plan.announce).toEqual({ id: "a1", status: "pending" });
  });

  it("approve on the last step: final, timers and the timeout removed, everyone asked is told", () => {
    const plan = applied(
      planTransition(
        facts([
          step(0, [
            ["a@x.com", 0],
            ["b@x.com", 0],
            ["c@x.com", 1],
          ]),
        ]),
        vote("a@x.com"),
      ),
    );
    expect(plan.update).toEqual({
      set: { status: "approved" },
      decision: { decidedBy: "a@x.com", onBehalfOf: null, via: "api", comment: null },
    });
    expect(plan.removeTimers).toContainEqual({ task: "timeout", approvalId: "a1" });
    expect(plan.removeTimers).toContainEqual({ task: "escalation", approvalId: "a1", step: 0, level: 1 });
    // c@x.com's level was never reached: not told.
    expect(plan.jobs).toEqual([
      {
        task: "notify",
        approvalId: "a1",
        kind: "decided",
        round: "outcome",
        step: 0,
        recipients: ["a@x.com", "b@x.com"],
      },
    ]);
    expect(plan.announce).toEqual({ id: "a1", status: "approved" });
  });

  it("reject: final at once, whatever the quorum", () => {
    const plan = applied(
      planTransition(
        facts([
          step(
            0,
            [
              ["a@x.com", 0],
              ["b@x.com", 0],
            ],
            { quorum: 2 },
          ),
        ]),
        vote("a@x.com", "reject"),
      ),
    );
    expect(plan.update?.set).toEqual({ status: "rejected" });
    expect(plan.events[0]).toMatchObject({ type: "rejected", data: { final: true } });
    expect(plan.jobs[0]).toMatchObject({ task: "notify", kind: "decided", round: "outcome" });
  });

  it("deadline: reschedules itself when early, times out when due, with the timeout action recorded", () => {
    const early = applied(planTransition(facts([step(0, [["a@x.com", 0]])]), { type: "deadline" }));
    expect(early.update).toBeNull();
    expect(early.jobs).toEqual([{ task: "timeout", approvalId: "a1", runAt: new Date(NOW.getTime() + 8 * HOUR) }]);

    const due = applied(
      planTransition(facts([step(0, [["a@x.com", 0]])], { deadline: NOW, timeoutAction: "approve" }), {
        type: "deadline",
      }),
    );
    expect(due.update).toEqual({
      set: { status: "timed_out" },
      decision: { decidedBy: null, onBehalfOf: null, via: "timeout", comment: null },
    });
    expect(due.events).toEqual([
      {
        type: "timed_out",
        actor: "system",
        channel: null,
        step: 0,
        comment: null,
        data: { final: true, action: "approve" },
      },
    ]);
    expect(due.jobs[0]).toMatchObject({ kind: "timed_out", recipients: ["a@x.com"] });
  });

  it("cancel: final, by the canceller, with the reason", () => {
    const plan = applied(
      planTransition(facts([step(0, [["a@x.com", 0]])]), {
        type: "cancel",
        by: "ops",
        reason: "not needed",
        via: "api",
      }),
    );
    expect(plan.update?.decision).toEqual({ decidedBy: "ops", onBehalfOf: null, via: "api", comment: "not needed" });
    expect(plan.events[0]).toMatchObject({ type: "cancelled", actor: "ops", comment: "not needed" });
    expect(plan.jobs[0]).toMatchObject({ kind: "cancelled" });
  });

  it("a lost race: a vote or cancel on a final approval is refused, a timer skips", () => {
    const done = facts([step(0, [["a@x.com", 0]])], { status: "approved" });
    expect(planTransition(done, vote("a@x.com"))).toEqual({
      kind: "refuse",
      why: { reason: "final", status: "approved" },
    });
    expect(planTransition(done, { type: "cancel", by: "ops", reason: "x", via: "api" })).toEqual({
      kind: "refuse",
      why: { reason: "final", status: "approved" },
    });
    expect(planTransition(done, { type: "deadline" }).kind).toBe("skip");
    expect(planTransition(done, { type: "reminder", step: 0, reminder: 0 }).kind).toBe("skip");
    expect(planTransition(done, { type: "escalation", step: 0, level: 1 }).kind).toBe("skip");
  });

  it("reminders go to the undecided reviewers of the current step only", () => {
    const s = step(
      0,
      [
        ["a@x.com", 0],
        ["b@x.com", 0],
        ["agent://bot", 0],
        ["c@x.com", 1],
      ],
      { quorum: 2 },
    );
    (s.reviewers[0] as { vote: unknown }).vote = { outcome: "approve", voter: "a@x.com", onBehalfOf: null };
    const plan = applied(planTransition(facts([s]), { type: "reminder", step: 0, reminder: 1 }));
    expect(plan.events[0]).toMatchObject({ type: "reminded", data: { reminder: 2, recipients: ["b@x.com"] } });
    expect(plan.jobs).toEqual([
      { task: "notify", approvalId: "a1", kind: "reminder", round: "reminder:0:1", step: 0, recipients: ["b@x.com"] },
    ]);
    expect(planTransition(facts([s], { currentStep: 0 }), { type: "reminder", step: 1, reminder: 0 }).kind).toBe(
      "skip",
    );
  });

  it("escalation raises the level once and asks that level", () => {
    const s = step(0, [
      ["a@x.com", 0],
      ["deputy@x.com", 1],
      ["team@x.com", 2],
    ]);
    const plan = applied(planTransition(facts([s]), { type: "escalation", step: 0, level: 1 }));
    expect(plan.steps).toEqual({ escalated: { step: 0, level: 1 } });
    expect(plan.events[0]).toMatchObject({ type: "escalated", data: { level: 1, reviewers: ["deputy@x.com"] } });
    expect(planTransition(facts([{ ...s, escalationLevel: 1 }]), { type: "escalation", step: 0, level: 1 }).kind).toBe(
      "skip",
    );
    const now = applied(planTransition(facts([s]), { type: "unreachable", step: 0 }));
    expect(now.jobs).toEqual([{ task: "escalation", approvalId: "a1", step: 0, level: 1, delayMs: 0 }]);
    expect(planTransition(facts([{ ...s, escalationLevel: 2 }]), { type: "unreachable", step: 0 })).toMatchObject({
      kind: "skip",
    });
  });
});

describe("mayVote", () => {
  const s0 = step(
    0,
    [
      ["a@x.com", 0],
      ["deputy@x.com", 1],
      ["slack:#team", 0],
    ],
    { quorum: 2 },
  );
  const s1 = step(1, [["ceo@x.com", 0]]);
  const state = facts([s0, s1]);

  it("lets a listed reviewer at a reached level vote, and says why not to everyone else", () => {
    expect(mayVote(state, "a@x.com")).toBeUndefined();
    expect(mayVote(state, "deputy@x.com")).toEqual({ reason: "backup", step: "step0" });
    expect(mayVote(state, "ceo@x.com")).toEqual({ reason: "later_step", step: "step0", later: "step1" });
    expect(mayVote(state, "stranger@x.com")).toEqual({ reason: "not_listed", step: "step0" });
    expect(mayVote(state, "agent://bot")).toEqual({ reason: "self_approval" });
    expect(mayVote(state, "slack:#team", "agent://bot")).toEqual({ reason: "self_approval" });
    expect(mayVote({ ...state, status: "rejected" }, "a@x.com")).toEqual({ reason: "final", status: "rejected" });
    expect(mayVote({ ...state, currentStep: 1 }, "a@x.com")).toEqual({ reason: "done", step: "step1" });
  });

  it("counts a person once per step, whichever slot they use", () => {
    const voted = facts([
      {
        ...s0,
        reviewers: s0.reviewers.map((r) =>
          r.reviewer === "slack:#team"
            ? { ...r, vote: { outcome: "approve" as const, voter: "a@x.com", onBehalfOf: null, actions: null } }
            : r,
        ),
      },
      s1,
    ]);
    expect(mayVote(voted, "a@x.com")).toEqual({ reason: "already_voted", outcome: "approve", step: "step0" });
    expect(mayVote(voted, "slack:#team", "b@x.com")).toEqual({
      reason: "already_voted",
      outcome: "approve",
      step: "step0",
    });
  });
});
