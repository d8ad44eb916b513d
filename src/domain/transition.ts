/**
 * What each cause does to an approval: the one place that decides which changes exist and what each one
 * brings with it (audit events, timers started and removed, who is told, handlers resumed). Pure: facts
 * in, a plan out. The engine writes a plan only while the approval is still the version its facts were
 * read at. Votes and the lifecycle are here; what timers and deadlines do is in `timers.ts`.
 */
import { type ActionDecision, planBatchVote, rejections } from "./batch.ts";
import { standing } from "./eligibility.ts";
import { allVotes, type ApprovalFacts, currentStep, reviewersAtLevel, type StepFacts } from "./facts.ts";
import { ROUNDS, stepTimerRefs, stepTimers } from "./jobs.ts";
import { isFinal, type LifecycleEvent, nextState } from "./lifecycle.ts";
import {
  emptyPlan,
  finish,
  notify,
  type Plan,
  type Planned,
  type PlannedRevision,
  SYSTEM_ACTOR,
  settleQuorum,
  systemEvent,
} from "./plan.ts";
import { editPayload, payloadDigest } from "./revision.ts";
import { planDeadline, planEscalation, planExtension, planReminder, planUnreachable, planWarning } from "./timers.ts";
import type { EventType, FinalStatus, JsonValue, VoteOutcome } from "./types.ts";

export type Cause =
  | {
      type: "vote";
      /** Who is deciding: a listed reviewer, a team slot, or a delegate. */
      reviewer: string;
      /** The person; differs from `reviewer` for a team slot. */
      voter: string;
      /** Null only for a batch decided action by action. */
      outcome: VoteOutcome | null;
      comment: string | null;
      via: string;
      context: Record<string, JsonValue> | null;
      /** The revision the reviewer saw; a vote on an older one is refused. Null: whatever is current. */
      revision: number | null;
      /** Changed payload fields, approving only. */
      edits: Record<string, JsonValue> | null;
      /** A batch: the decision on each action (else `outcome` applies to every open action). */
      actions: Record<string, ActionDecision> | null;
    }
  | { type: "cancel"; by: string; reason: string; via: string }
  /** The timeout timer, or anyone who finds the deadline passed. */
  | { type: "deadline" }
  | { type: "reminder"; step: number; reminder: number }
  | { type: "escalation"; step: number; level: number }
  /** A reviewer of the step could not be reached on any channel: bring the next level in now. */
  | { type: "unreachable"; step: number }
  /** `warnBefore` ahead of the deadline. */
  | { type: "warning" }
  /** More time: a new deadline (`until`) or the deadline moved by `byMs`. */
  | { type: "extend"; until: Date | null; byMs: number | null; reason: string | null; actor: string; via: string };

/** Plans what `cause` does to the approval described by `facts`. */
export function planTransition(facts: ApprovalFacts, cause: Cause): Planned {
  switch (cause.type) {
    case "vote":
      return planVote(facts, cause);
    case "cancel":
      return planLifecycle(facts, { type: "cancel" }, { actor: cause.by, via: cause.via, comment: cause.reason });
    case "deadline":
      return planDeadline(facts, () =>
        planLifecycle(facts, { type: "deadline" }, { actor: SYSTEM_ACTOR, via: "timeout", comment: null }),
      );
    case "reminder":
      return planReminder(facts, cause);
    case "escalation":
      return planEscalation(facts, cause);
    case "unreachable":
      return planUnreachable(facts, cause);
    case "warning":
      return planWarning(facts);
    case "extend":
      return planExtension(facts, cause);
  }
}

type VoteCause = Extract<Cause, { type: "vote" }>;

function planVote(facts: ApprovalFacts, cause: VoteCause): Planned {
  const who = standing(facts, cause.reviewer, cause.voter);
  if ("reason" in who) return { kind: "refuse", why: who };
  if (cause.revision !== null && cause.revision !== facts.revision) {
    return { kind: "refuse", why: { reason: "stale_revision", revision: facts.revision } };
  }
  const batch = planBatch(facts, cause);
  if (batch && "reason" in batch) return { kind: "refuse", why: batch };
  const edited = batch ? batch.revision : planEdits(facts, cause);
  if (edited && "reason" in edited) return { kind: "refuse", why: edited };
  const outcome = batch ? batch.outcome : cause.outcome;
  if (outcome === null) {
    return { kind: "refuse", why: { reason: "batch", issues: [{ path: "outcome", message: "is required" }] } };
  }
  const step = currentStep(facts);
  const vote: NonNullable<Plan["vote"]> = {
    step: step.step,
    reviewer: who.slot,
    voter: cause.voter,
    onBehalfOf: who.onBehalfOf,
    outcome,
    comment: cause.comment,
    via: cause.via,
    revision: facts.revision,
    actions: batch ? batch.actions : null,
    // What the unique constraint holds once per approval: the person, or the person on this step.
    onceKey: facts.distinctAcrossSteps ? cause.voter : `${cause.voter}/${step.step}`,
  };
  const approvalsBefore = step.reviewers.filter((r) => r.vote?.outcome === "approve").length;
  const event: LifecycleEvent =
    outcome === "approve" ? { type: "approve", approvalsOnStep: approvalsBefore + 1 } : { type: "reject" };
  const planned = planLifecycle(facts, event, {
    actor: cause.reviewer,
    via: cause.via,
    comment: cause.comment ?? (batch && outcome === "reject" ? rejectionReasons(batch.actions) : null),
    data: {
      revision: facts.revision,
      ...(cause.context ? { context: cause.context } : {}),
      ...(cause.voter !== cause.reviewer ? { voter: cause.voter } : {}),
      ...(who.onBehalfOf ? { onBehalfOf: who.onBehalfOf } : {}),
      ...(edited
        ? { edits: edited.edits as unknown as JsonValue, newRevision: edited.revision, digest: edited.digest }
        : {}),
      ...(batch ? { actions: batch.actions as unknown as JsonValue } : {}),
    },
    vote,
  });
  if (planned.kind === "apply") {
    planned.plan.vote = vote;
    planned.plan.revision = edited ?? null;
  }
  return planned;
}

/** A batch vote: its outcome, what it decided per action and the revision its edits make; null for no batch. */
function planBatch(
  facts: ApprovalFacts,
  cause: VoteCause,
):
  | {
      outcome: VoteOutcome;
      actions: NonNullable<NonNullable<Plan["vote"]>["actions"]>;
      revision: PlannedRevision | null;
    }
  | Extract<Planned, { kind: "refuse" }>["why"]
  | null {
  if (!facts.batch) {
    return cause.actions
      ? { reason: "batch", issues: [{ path: "actions", message: "this approval is not a batch: give an outcome" }] }
      : null;
  }
  if (cause.edits && Object.keys(cause.edits).length > 0) {
    return { reason: "batch", issues: [{ path: "edits", message: "edit a batch per action: actions.<id>.edits" }] };
  }
  const vote = planBatchVote(
    facts.batch,
    facts.payload,
    rejections(allVotes(facts)),
    { outcome: cause.actions ? null : cause.outcome, comment: cause.comment },
    cause.actions,
  );
  if ("issues" in vote) return { reason: "batch", issues: vote.issues };
  const { edited } = vote;
  const revision =
    edited.edits.length === 0
      ? null
      : {
          revision: facts.revision + 1,
          payload: edited.payload,
          digest: payloadDigest(edited.payload),
          previousDigest: payloadDigest(facts.payload),
          edits: edited.edits,
          createdBy: cause.voter,
        };
  return { outcome: vote.outcome, actions: vote.actions, revision };
}

/** A batch rejected action by action: the reasons given, as the decision's comment. */
function rejectionReasons(actions: Record<string, { comment: string | null }>): string | null {
  const reasons = Object.entries(actions).flatMap(([id, a]) => (a.comment ? [`${id}: ${a.comment}`] : []));
  return reasons.length > 0 ? reasons.join("; ") : null;
}

/** The next revision a vote's edits make, why they are refused, or null when they change nothing. */
function planEdits(
  facts: ApprovalFacts,
  cause: VoteCause,
): PlannedRevision | Extract<Planned, { kind: "refuse" }>["why"] | null {
  if (!cause.edits || Object.keys(cause.edits).length === 0) return null;
  if (cause.outcome !== "approve") return { reason: "edits_with_reject" };
  const result = editPayload(facts.payload, facts.editable, cause.edits);
  if (!result.ok) return { reason: "not_editable", field: result.field, editable: result.editable };
  if (result.edits.length === 0) return null;
  return {
    revision: facts.revision + 1,
    payload: result.payload,
    digest: payloadDigest(result.payload),
    previousDigest: payloadDigest(facts.payload),
    edits: result.edits,
    createdBy: cause.voter,
  };
}

const OUTCOME_EVENTS: Record<"approve" | "reject" | "deadline" | "cancel", EventType> = {
  approve: "approved",
  reject: "rejected",
  deadline: "timed_out",
  cancel: "cancelled",
};

interface Actor {
  actor: string;
  via: string;
  comment: string | null;
  /** More audit data for the event. */
  data?: Record<string, JsonValue>;
  /** The vote being cast, to judge the next step with it counted. */
  vote?: NonNullable<Plan["vote"]>;
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
    type: OUTCOME_EVENTS[event.type],
    actor: who.actor,
    channel: system ? null : who.via,
    step: step.step,
    comment: who.comment,
    data: {
      final,
      ...(event.type === "approve" ? { approvals: event.approvalsOnStep, quorum: step.quorum } : {}),
      ...(event.type === "deadline" ? { action: facts.timeoutAction } : {}),
      ...who.data,
    },
  });
  plan.announce = { id: facts.id, status: transition.status };
  if (transition.change === "step_passed") {
    startNextStep(facts, plan, step, transition.currentStep, who.vote);
  } else if (final) {
    const status = transition.status as FinalStatus;
    plan.update = {
      set: { status },
      decision: {
        decidedBy: system ? null : who.actor,
        onBehalfOf: who.vote?.onBehalfOf ?? null,
        via: who.via,
        comment: who.comment,
      },
    };
    finish(facts, plan, status, step);
  }
  return { kind: "apply", plan };
}

/**
 * The step passed: the next one starts, with its reviewers asked and its timers set, unless four-eyes
 * leaves it short of reviewers, when it escalates at once or the approval ends (see `settleQuorum`).
 */
function startNextStep(
  facts: ApprovalFacts,
  plan: Plan,
  step: StepFacts,
  nextIndex: number,
  vote: NonNullable<Plan["vote"]> | undefined,
): void {
  const next = facts.steps[nextIndex] as StepFacts;
  plan.update = { set: { currentStep: nextIndex } };
  plan.steps = { passed: step.step, started: next.step };
  plan.events.push(systemEvent("step_passed", step.step, { name: step.name, next: next.name }));
  plan.removeTimers.push(...stepTimerRefs(facts.id, step));
  const after = vote ? withVote(facts, vote) : facts;
  const settled = settleQuorum({ ...after, currentStep: nextIndex }, plan, { ...next, startedAt: facts.dbNow });
  if (settled === "ended") return;
  plan.jobs.push(
    notify(facts, "request", ROUNDS.request(next.step), next.step, reviewersAtLevel(next, 0)),
    ...stepTimers(facts.id, next, facts.deadline.getTime() - facts.dbNow.getTime()),
  );
}

/** The facts as they are once `vote` is counted. */
function withVote(facts: ApprovalFacts, vote: NonNullable<Plan["vote"]>): ApprovalFacts {
  return {
    ...facts,
    steps: facts.steps.map((step) =>
      step.step !== vote.step
        ? step
        : {
            ...step,
            reviewers: step.reviewers.map((r) =>
              r.reviewer === vote.reviewer
                ? {
                    ...r,
                    vote: {
                      outcome: vote.outcome,
                      voter: vote.voter,
                      onBehalfOf: vote.onBehalfOf,
                      actions: vote.actions,
                    },
                  }
                : r,
            ),
          },
    ),
  };
}
