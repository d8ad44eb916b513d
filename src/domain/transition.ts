/**
 * What each cause does to an approval: the one place that decides which changes exist and what each one
 * brings with it (audit events, timers started and removed, who is told). Pure: facts in, a plan out.
 * The engine applies a plan in one transaction, the approval row as a compare-and-set.
 */
import {
  type ApprovalFacts,
  askedReviewers,
  currentStep,
  reviewersAtLevel,
  reviewersToAsk,
  type StepFacts,
  undecidedReviewers,
} from "./facts.ts";
import { type Ineligibility, mayVote } from "./eligibility.ts";
import { type Job, ROUNDS, stepTimerRefs, stepTimers, type TimerRef } from "./jobs.ts";
import { isFinal, nextState, type LifecycleEvent } from "./lifecycle.ts";
import type { ApprovalStatus, EventType, FinalStatus, JsonValue, NotificationKind, VoteOutcome } from "./types.ts";

/** The actor recorded for what timers do. */
export const SYSTEM_ACTOR = "system";

export type Cause =
  | {
      type: "vote";
      reviewer: string;
      /** The person; differs from `reviewer` for a team slot. */
      voter: string;
      outcome: VoteOutcome;
      comment: string | null;
      via: string;
      context: Record<string, JsonValue> | null;
    }
  | { type: "cancel"; by: string; reason: string }
  /** The timeout timer, or anyone who finds the deadline passed. */
  | { type: "deadline" }
  | { type: "reminder"; step: number; reminder: number }
  | { type: "escalation"; step: number; level: number }
  /** A reviewer of the step could not be reached on any channel: bring the next level in now. */
  | { type: "unreachable"; step: number };

export interface PlannedEvent {
  type: EventType;
  actor: string;
  channel: string | null;
  step: number | null;
  comment: string | null;
  data: Record<string, JsonValue>;
}

export interface Plan {
  /**
   * The approval row's change. Every plan is written only while the approval is still the version its
   * facts were read at (the engine guards that), so a plan says only what changes.
   */
  update: {
    set: { status?: FinalStatus; currentStep?: number };
    decision?: { decidedBy: string | null; via: string; comment: string | null };
  } | null;
  /** A vote to record; unique per step for its reviewer slot and for its voter. */
  vote: {
    step: number;
    reviewer: string;
    voter: string;
    outcome: VoteOutcome;
    comment: string | null;
    via: string;
  } | null;
  /** Step bookkeeping: a step passed, the next started, an escalation level reached. */
  steps: { passed?: number; started?: number; escalated?: { step: number; level: number } };
  events: PlannedEvent[];
  jobs: Job[];
  removeTimers: TimerRef[];
  /** The NOTIFY that wakes waiters, with the status after the change. */
  announce: { id: string; status: ApprovalStatus } | null;
}

export type Planned =
  | { kind: "apply"; plan: Plan }
  /** The cause cannot apply (a vote on a final approval, by a non-reviewer…); the caller is told why. */
  | { kind: "refuse"; why: Ineligibility }
  /** A timer with nothing left to do; `note` says why, for the log. */
  | { kind: "skip"; note?: string };

const OUTCOME_KINDS: Record<FinalStatus, NotificationKind> = {
  approved: "decided",
  rejected: "decided",
  timed_out: "timed_out",
  cancelled: "cancelled",
};
const EVENT_OF: Record<"approve" | "reject" | "deadline" | "cancel", EventType> = {
  approve: "approved",
  reject: "rejected",
  deadline: "timed_out",
  cancel: "cancelled",
};

const emptyPlan = (): Plan => ({
  update: null,
  vote: null,
  steps: {},
  events: [],
  jobs: [],
  removeTimers: [],
  announce: null,
});

/** Plans what `cause` does to the approval described by `facts`. */
export function planTransition(facts: ApprovalFacts, cause: Cause): Planned {
  switch (cause.type) {
    case "vote":
      return planVote(facts, cause);
    case "cancel":
      return planLifecycle(facts, { type: "cancel" }, { actor: cause.by, via: "api", comment: cause.reason });
    case "deadline":
      return planDeadline(facts);
    case "reminder":
      return planReminder(facts, cause);
    case "escalation":
      return planEscalation(facts, cause);
    case "unreachable":
      return planUnreachable(facts, cause);
  }
}

function planVote(facts: ApprovalFacts, cause: Extract<Cause, { type: "vote" }>): Planned {
  const refusal = mayVote(facts, cause.reviewer, cause.voter);
  if (refusal) return { kind: "refuse", why: refusal };
  const step = currentStep(facts);
  const approvalsBefore = step.reviewers.filter((r) => r.vote?.outcome === "approve").length;
  const event: LifecycleEvent =
    cause.outcome === "approve" ? { type: "approve", approvalsOnStep: approvalsBefore + 1 } : { type: "reject" };
  const planned = planLifecycle(facts, event, {
    actor: cause.reviewer,
    via: cause.via,
    comment: cause.comment,
    context: cause.context,
    voter: cause.voter,
  });
  if (planned.kind === "apply") {
    const { reviewer, voter, outcome, comment, via } = cause;
    planned.plan.vote = { step: step.step, reviewer, voter, outcome, comment, via };
  }
  return planned;
}

function planDeadline(facts: ApprovalFacts): Planned {
  if (facts.status !== "pending") return { kind: "skip", note: "already final" };
  // Ran early (a clock step, a manual run): come back at the deadline.
  if (facts.deadline.getTime() > facts.dbNow.getTime()) {
    return {
      kind: "apply",
      plan: { ...emptyPlan(), jobs: [{ task: "timeout", approvalId: facts.id, runAt: facts.deadline }] },
    };
  }
  return planLifecycle(facts, { type: "deadline" }, { actor: SYSTEM_ACTOR, via: "timeout", comment: null });
}

interface Actor {
  actor: string;
  via: string;
  comment: string | null;
  context?: Record<string, JsonValue> | null;
  voter?: string;
}

/** A vote, cancel or deadline through the state machine, with everything the resulting change brings. */
function planLifecycle(facts: ApprovalFacts, event: LifecycleEvent, who: Actor): Planned {
  const step = currentStep(facts);
  const outcome = nextState(
    { status: facts.status, currentStep: facts.currentStep, stepCount: facts.steps.length, quorum: step.quorum },
    event,
  );
  if (!outcome.ok)
    return event.type === "deadline"
      ? { kind: "skip" }
      : { kind: "refuse", why: { reason: "final", status: outcome.status } };
  const { transition } = outcome;
  const final = isFinal(transition.status);
  const plan = emptyPlan();
  const system = who.actor === SYSTEM_ACTOR;
  plan.events.push({
    type: EVENT_OF[event.type],
    actor: who.actor,
    channel: system ? null : who.via,
    step: step.step,
    comment: who.comment,
    data: {
      final,
      ...(event.type === "approve" ? { approvals: event.approvalsOnStep, quorum: step.quorum } : {}),
      ...(event.type === "deadline" ? { action: facts.timeoutAction } : {}),
      ...(who.context ? { context: who.context } : {}),
      ...(who.voter && who.voter !== who.actor ? { voter: who.voter } : {}),
    },
  });
  if (transition.change === "step_passed") {
    const next = facts.steps[transition.currentStep] as StepFacts;
    plan.update = { set: { currentStep: transition.currentStep } };
    plan.steps = { passed: step.step, started: next.step };
    plan.events.push({
      type: "step_passed",
      actor: SYSTEM_ACTOR,
      channel: null,
      step: step.step,
      comment: null,
      data: { name: step.name, next: next.name },
    });
    plan.removeTimers.push(...stepTimerRefs(facts.id, step));
    plan.jobs.push(
      notify(facts, "request", ROUNDS.request(next.step), next.step, reviewersAtLevel(next, 0)),
      ...stepTimers(facts.id, next, facts.deadline.getTime() - facts.dbNow.getTime()),
    );
  } else if (final) {
    const status = transition.status as FinalStatus;
    plan.update = {
      set: { status },
      decision: { decidedBy: system ? null : who.actor, via: who.via, comment: who.comment },
    };
    plan.removeTimers.push(...stepTimerRefs(facts.id, step), { task: "timeout", approvalId: facts.id });
    plan.jobs.push(notify(facts, OUTCOME_KINDS[status], ROUNDS.outcome, step.step, askedReviewers(facts)));
  }
  plan.announce = { id: facts.id, status: transition.status };
  return { kind: "apply", plan };
}

function planReminder(facts: ApprovalFacts, cause: Extract<Cause, { type: "reminder" }>): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip", note: "the step is over" };
  const recipients = reviewersToAsk(facts.requestedBy, undecidedReviewers(currentStep(facts)));
  if (recipients.length === 0) return { kind: "skip", note: "everyone has voted" };
  const plan = emptyPlan();
  plan.events.push({
    type: "reminded",
    actor: SYSTEM_ACTOR,
    channel: null,
    step: cause.step,
    comment: null,
    data: { reminder: cause.reminder + 1, recipients },
  });
  plan.jobs.push(notify(facts, "reminder", ROUNDS.reminder(cause.step, cause.reminder), cause.step, recipients));
  return { kind: "apply", plan };
}

function planEscalation(facts: ApprovalFacts, cause: Extract<Cause, { type: "escalation" }>): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip", note: "the step is over" };
  const step = currentStep(facts);
  if (step.escalationLevel !== cause.level - 1) return { kind: "skip", note: "the level was already reached" };
  const recipients = reviewersToAsk(facts.requestedBy, reviewersAtLevel(step, cause.level));
  const plan = emptyPlan();
  plan.steps = { escalated: { step: cause.step, level: cause.level } };
  plan.events.push({
    type: "escalated",
    actor: SYSTEM_ACTOR,
    channel: null,
    step: cause.step,
    comment: null,
    data: { level: cause.level, reviewers: recipients },
  });
  plan.jobs.push(notify(facts, "escalation", ROUNDS.escalation(cause.step, cause.level), cause.step, recipients));
  plan.announce = { id: facts.id, status: "pending" };
  return { kind: "apply", plan };
}

/** The next level's escalation timer moved to now (the same job, so it cannot run twice). */
function planUnreachable(facts: ApprovalFacts, cause: Extract<Cause, { type: "unreachable" }>): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip" };
  const step = currentStep(facts);
  if (step.escalationLevel >= step.escalationLevels) {
    return { kind: "skip", note: "a reviewer cannot be reached and there is no escalation level left" };
  }
  const level = step.escalationLevel + 1;
  return {
    kind: "apply",
    plan: { ...emptyPlan(), jobs: [{ task: "escalation", approvalId: facts.id, step: cause.step, level, delayMs: 0 }] },
  };
}

function notify(facts: ApprovalFacts, kind: NotificationKind, round: string, step: number, reviewers: string[]): Job {
  return {
    task: "notify",
    approvalId: facts.id,
    kind,
    round,
    step,
    recipients: reviewersToAsk(facts.requestedBy, reviewers),
  };
}
