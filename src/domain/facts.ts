/**
 * What the engine knows about one approval when it plans a change: read in one statement, and written
 * back only while the approval is still the version read (see `core/apply-plan.ts`).
 */
import type {
  ActionVote,
  ApprovalStatus,
  BatchAction,
  JsonValue,
  StepSchedule,
  TimeoutAction,
  VoteOutcome,
} from "./types.ts";

interface VoteFacts {
  outcome: VoteOutcome;
  /** The person who cast it; for a team slot or a delegate, not the slot itself. */
  voter: string;
  /** A delegate's vote: the reviewer they stood in for, who counts as having voted too. */
  onBehalfOf: string | null;
  /** In a batch: its decision on each action open when it was cast. */
  actions: Record<string, ActionVote> | null;
}

/** An active delegation: `to` may decide wherever `from` could. */
interface DelegationFacts {
  from: string;
  to: string;
}

interface StepReviewerFacts {
  reviewer: string;
  /** 0 for the step's own reviewers, n for the n-th escalation level. */
  level: number;
  vote: VoteFacts | null;
}

export interface StepFacts {
  step: number;
  name: string;
  quorum: number;
  schedule: StepSchedule;
  /** The escalation level reached so far; reviewers up to it may decide. */
  escalationLevel: number;
  /** How many escalation levels the step has. */
  escalationLevels: number;
  startedAt: Date | null;
  reviewers: StepReviewerFacts[];
}

export interface ApprovalFacts {
  id: string;
  /** Which change of the approval these facts are: a plan is written only while it still is. */
  version: number;
  payload: JsonValue;
  /** The payload's revision; an approval with edits makes the next. */
  revision: number;
  /** Top-level payload fields a reviewer may change. */
  editable: string[];
  /** A batch's actions as requested, or null (see `batch.ts`). */
  batch: BatchAction[] | null;
  /** One person counts once across all steps (else once per step). */
  distinctAcrossSteps: boolean;
  /** How long before the deadline the `expiring` notice goes out, or null. */
  warnBeforeMs: number | null;
  /** Active delegations from this approval's reviewers. */
  delegations: DelegationFacts[];
  status: ApprovalStatus;
  currentStep: number;
  requestedBy: string;
  deadline: Date;
  timeoutAction: TimeoutAction;
  /** The database's clock when the facts were read: it, not the process's, judges deadlines. */
  dbNow: Date;
  steps: StepFacts[];
}

/** The current step; every approval has one. */
export function currentStep(facts: ApprovalFacts): StepFacts {
  const step = facts.steps[facts.currentStep];
  if (!step) throw new Error(`approval ${facts.id} has no step ${facts.currentStep}`);
  return step;
}

export function isOverdue(facts: ApprovalFacts): boolean {
  return facts.status === "pending" && facts.deadline.getTime() <= facts.dbNow.getTime();
}

/** Everyone on `reviewers` but the requester, who is never asked to decide their own request. */
export function reviewersToAsk(requestedBy: string, reviewers: readonly string[]): string[] {
  return reviewers.filter((reviewer) => reviewer !== requestedBy);
}

/** Reviewers of the step who may decide now (their level is reached) and have not voted. */
export function undecidedReviewers(step: StepFacts): string[] {
  return sortedReviewers(step.reviewers.filter((r) => r.level <= step.escalationLevel && r.vote === null));
}

/** Reviewers at exactly `level` of the step. */
export function reviewersAtLevel(step: StepFacts, level: number): string[] {
  return sortedReviewers(step.reviewers.filter((r) => r.level === level));
}

/** Everyone asked so far: reviewers of started steps, up to each step's reached level. */
export function askedReviewers(facts: ApprovalFacts): string[] {
  const asked = new Set<string>();
  for (const step of facts.steps) {
    if (step.startedAt === null) continue;
    for (const r of step.reviewers) if (r.level <= step.escalationLevel) asked.add(r.reviewer);
  }
  return [...asked].sort();
}

function sortedReviewers(list: StepReviewerFacts[]): string[] {
  return [...list].sort((a, b) => a.level - b.level || (a.reviewer < b.reviewer ? -1 : 1)).map((r) => r.reviewer);
}

/** Every vote cast so far, on any step, with the slot it counts for. */
export function allVotes(facts: ApprovalFacts): { reviewer: string; actions: Record<string, ActionVote> | null }[] {
  return facts.steps.flatMap((step) =>
    step.reviewers.flatMap((r) => (r.vote ? [{ reviewer: r.reviewer, actions: r.vote.actions }] : [])),
  );
}
