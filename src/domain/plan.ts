/** What a plan is made of, and the small pieces every kind of plan shares. */
import { type ApprovalFacts, askedReviewers, reviewersAtLevel, reviewersToAsk, type StepFacts } from "./facts.ts";
import type { Ineligibility } from "./eligibility.ts";
import { type Job, ROUNDS, stepTimerRefs, type TimerRef } from "./jobs.ts";
import type {
  ActionVote,
  ApprovalStatus,
  EventType,
  FinalStatus,
  JsonValue,
  NotificationKind,
  VoteOutcome,
} from "./types.ts";

/** The actor recorded for what timers do. */
export const SYSTEM_ACTOR = "system";

export interface PlannedEvent {
  type: EventType;
  actor: string;
  channel: string | null;
  step: number | null;
  comment: string | null;
  data: Record<string, JsonValue>;
}

/** A new revision of the payload, made by a reviewer's edits. */
export interface PlannedRevision {
  revision: number;
  payload: JsonValue;
  /** SHA-256 of the payload as canonical JSON (see `revision.ts`), and of the revision it replaces. */
  digest: string;
  previousDigest: string;
  edits: { action?: string; field: string; from: JsonValue | null; to: JsonValue }[];
  createdBy: string;
}

export interface Plan {
  /**
   * The approval row's change. Every plan is written only while the approval is still the version its
   * facts were read at (the engine guards that), so a plan says only what changes.
   */
  update: {
    set: { status?: FinalStatus; currentStep?: number; deadline?: Date };
    decision?: { decidedBy: string | null; onBehalfOf: string | null; via: string; comment: string | null };
  } | null;
  /** A vote to record; unique per step for its reviewer slot, and per `onceKey` (the person). */
  vote: {
    step: number;
    reviewer: string;
    voter: string;
    onBehalfOf: string | null;
    outcome: VoteOutcome;
    comment: string | null;
    via: string;
    /** The revision the vote was made on. */
    revision: number;
    onceKey: string;
    /** In a batch: the decision on each open action. */
    actions: Record<string, ActionVote> | null;
  } | null;
  /** The payload's next revision, when the vote came with edits. */
  revision: PlannedRevision | null;
  /** Step bookkeeping: a step passed, the next started, an escalation level reached. */
  steps: { passed?: number; started?: number; escalated?: { step: number; level: number } };
  events: PlannedEvent[];
  jobs: Job[];
  removeTimers: TimerRef[];
  /** The approval became final: every registered `onDecision` handler for its type gets a job. */
  resume: boolean;
  /** The NOTIFY that wakes waiters, with the status after the change. */
  announce: { id: string; status: ApprovalStatus } | null;
}

export type Planned =
  | { kind: "apply"; plan: Plan }
  /** The cause cannot apply (a vote on a final approval, by a non-reviewer…); the caller is told why. */
  | { kind: "refuse"; why: Refusal }
  /** A timer with nothing left to do; `note` says why, for the log. */
  | { kind: "skip"; note?: string };

/** Why a cause was refused: who may vote, or what is wrong with what they sent. */
export type Refusal =
  | Ineligibility
  | { reason: "stale_revision"; revision: number }
  | { reason: "not_editable"; field: string; editable: string[] }
  | { reason: "edits_with_reject" }
  /** A batch vote that does not decide its actions properly, or actions given for what is no batch. */
  | { reason: "batch"; issues: { path: string; message: string }[] }
  | { reason: "not_later"; deadline: Date };

const OUTCOME_KINDS: Record<FinalStatus, NotificationKind> = {
  approved: "decided",
  rejected: "decided",
  timed_out: "timed_out",
  cancelled: "cancelled",
};

export function emptyPlan(): Plan {
  return {
    update: null,
    vote: null,
    revision: null,
    steps: {},
    events: [],
    jobs: [],
    removeTimers: [],
    resume: false,
    announce: null,
  };
}

export function systemEvent(type: EventType, step: number | null, data: Record<string, JsonValue>): PlannedEvent {
  return { type, actor: SYSTEM_ACTOR, channel: null, step, comment: null, data };
}

/** A round to the reviewers given, never the requester (the worker adds their delegates when it fans out). */
export function notify(
  facts: ApprovalFacts,
  kind: NotificationKind,
  round: string,
  step: number,
  reviewers: string[],
): Job {
  return {
    task: "notify",
    approvalId: facts.id,
    kind,
    round,
    step,
    recipients: reviewersToAsk(facts.requestedBy, reviewers),
  };
}

/** The approval ends: the step's timers and the timeout go, everyone asked is told, handlers resume. */
export function finish(facts: ApprovalFacts, plan: Plan, status: FinalStatus, step: StepFacts): void {
  plan.removeTimers.push(...stepTimerRefs(facts.id, step), { task: "timeout", approvalId: facts.id });
  if (facts.warnBeforeMs !== null) plan.removeTimers.push({ task: "warning", approvalId: facts.id });
  plan.jobs.push(notify(facts, OUTCOME_KINDS[status], ROUNDS.outcome, step.step, askedReviewers(facts)));
  plan.resume = true;
}

/**
 * Can the step still reach its quorum with the levels reached so far? Nobody who voted on another step
 * counts again (four-eyes, unless the request allowed it), nor does the requester.
 */
function quorumReachable(facts: ApprovalFacts, step: StepFacts): boolean {
  const votedBy = (s: StepFacts) =>
    s.reviewers.flatMap((r) => (r.vote ? [r.vote.voter, ...(r.vote.onBehalfOf ? [r.vote.onBehalfOf] : [])] : []));
  const elsewhere = new Set(
    facts.distinctAcrossSteps ? facts.steps.filter((s) => s.step !== step.step).flatMap(votedBy) : [],
  );
  const here = new Set(votedBy(step));
  const approvals = step.reviewers.filter((r) => r.vote?.outcome === "approve").length;
  const candidates = step.reviewers.filter(
    (r) =>
      r.level <= step.escalationLevel &&
      !r.vote &&
      r.reviewer !== facts.requestedBy &&
      !elsewhere.has(r.reviewer) &&
      !here.has(r.reviewer),
  ).length;
  return approvals + candidates >= step.quorum;
}

/**
 * A step that started or escalated and, with the reviewers reached so far, can no longer make its quorum
 * (four-eyes ruled some out): it brings in the escalation levels it needs at once, or, with none left
 * that would do, the approval ends as rejected (`quorum_unreachable`) instead of waiting for the timeout.
 */
export function settleQuorum(facts: ApprovalFacts, plan: Plan, step: StepFacts): "met" | "escalated" | "ended" {
  const at = (level: number) => ({ ...step, escalationLevel: level });
  if (quorumReachable(facts, step)) return "met";
  let level = step.escalationLevel;
  while (level < step.escalationLevels && !quorumReachable(facts, at(level))) level++;
  if (!quorumReachable(facts, at(level))) {
    rejectUnreachable(facts, plan, at(level));
    return "ended";
  }
  plan.steps.escalated = { step: step.step, level };
  for (let reached = step.escalationLevel + 1; reached <= level; reached++) {
    const reviewers = reviewersAtLevel(step, reached);
    plan.events.push(
      systemEvent("escalated", step.step, {
        level: reached,
        reviewers: reviewersToAsk(facts.requestedBy, reviewers),
        reason: "quorum",
      }),
    );
    plan.jobs.push(notify(facts, "escalation", ROUNDS.escalation(step.step, reached), step.step, reviewers));
  }
  return "escalated";
}

function rejectUnreachable(facts: ApprovalFacts, plan: Plan, step: StepFacts): void {
  const comment = `Step "${step.name}" can no longer reach its quorum of ${step.quorum}: too few of its reviewers may still decide (one person counts once per approval, and never on their own request).`;
  plan.events.push({ ...systemEvent("quorum_unreachable", step.step, { final: true, quorum: step.quorum }), comment });
  plan.update = {
    set: { ...plan.update?.set, status: "rejected" },
    decision: { decidedBy: null, onBehalfOf: null, via: "quorum", comment },
  };
  finish(facts, plan, "rejected", step);
  plan.announce = { id: facts.id, status: "rejected" };
}
