/**
 * Who may vote: the one place that decides it, for the engine (before it writes) and for the page (what
 * to tell a reviewer who opened a link). Works on the public `Approval` and on the engine's facts alike:
 * both have steps with reviewers, their levels and their votes, and the active delegations.
 */
import type { ApprovalStatus, FinalStatus, VoteOutcome } from "./types.ts";

interface VotingStep {
  name: string;
  escalationLevel: number;
  reviewers: readonly {
    reviewer: string;
    level: number;
    vote: { outcome: VoteOutcome; voter?: string; onBehalfOf?: string | null } | null;
  }[];
}

export interface VotingState {
  status: ApprovalStatus;
  currentStep: number;
  requestedBy: string;
  steps: readonly VotingStep[];
  /** One person counts once across all steps (else once per step). @defaultValue true */
  distinctAcrossSteps?: boolean;
  /** Active delegations: `to` may decide wherever `from` could. */
  delegations?: readonly { from: string; to: string }[];
}

/** Why a vote cannot be cast; the engine makes an error of it, the page a sentence. */
export type Ineligibility =
  | { reason: "final"; status: FinalStatus }
  | { reason: "self_approval" }
  | { reason: "already_voted"; outcome: VoteOutcome; step: string }
  /** Four-eyes across a chain: this person already voted on an earlier step. */
  | { reason: "voted_earlier"; step: string; earlier: string }
  /** Listed at an escalation level of the current step not reached yet. */
  | { reason: "backup"; step: string }
  /** Listed on a later step only. */
  | { reason: "later_step"; step: string; later: string }
  /** Listed on earlier steps only. */
  | { reason: "done"; step: string }
  | { reason: "not_listed"; step: string };

/** Who a vote counts for: the listed reviewer (slot), and the one a delegate stands in for. */
export interface Standing {
  slot: string;
  onBehalfOf: string | null;
}

/** Has `person` voted through this slot: cast the vote, or had a delegate cast it for them? */
const votedThrough = (r: VotingStep["reviewers"][number], person: string) =>
  r.vote !== null && ((r.vote.voter ?? r.reviewer) === person || r.vote.onBehalfOf === person);

/**
 * Whether `reviewer` may vote now, as `voter` (the person; the reviewer when omitted), and for which
 * slot: their own, or, for a delegate, the listed reviewer they stand in for (one hop). The requester
 * never may; one person votes once per step whichever slot they use, and once per approval unless the
 * request allowed one person on several steps.
 */
export function standing(state: VotingState, reviewer: string, voter: string = reviewer): Standing | Ineligibility {
  if (state.status !== "pending") return { reason: "final", status: state.status };
  if (voter === state.requestedBy || reviewer === state.requestedBy) return { reason: "self_approval" };
  const step = state.steps[state.currentStep];
  if (!step) return { reason: "done", step: "" };
  const reached = (name: string) => step.reviewers.find((r) => r.reviewer === name && r.level <= step.escalationLevel);
  const mine = step.reviewers.find((r) => r.reviewer === reviewer);
  const own = mine && mine.level <= step.escalationLevel ? mine : undefined;
  // Standing in for someone reached on this step, preferring a slot nobody has voted through yet.
  const standsFor = own
    ? []
    : (state.delegations ?? []).filter((d) => d.to === reviewer && d.from !== state.requestedBy && reached(d.from));
  const delegated = standsFor.find((d) => !reached(d.from)?.vote) ?? standsFor[0];
  const slot = own ?? (delegated && reached(delegated.from));
  // A delegate's vote counts for the person they stand in for as well: neither may count twice.
  const people = delegated ? [voter, delegated.from] : [voter];
  const cast = (slot?.vote ? slot : undefined) ?? step.reviewers.find((r) => people.some((p) => votedThrough(r, p)));
  if (slot && cast?.vote) return { reason: "already_voted", outcome: cast.vote.outcome, step: step.name };
  if (slot && state.distinctAcrossSteps !== false) {
    const earlier = state.steps.find(
      (s, index) => index !== state.currentStep && s.reviewers.some((r) => people.some((p) => votedThrough(r, p))),
    );
    if (earlier) return { reason: "voted_earlier", step: step.name, earlier: earlier.name };
  }
  if (slot) return { slot: slot.reviewer, onBehalfOf: delegated ? delegated.from : null };
  if (mine) return { reason: "backup", step: step.name };
  const later = state.steps.find(
    (s, index) => index > state.currentStep && s.reviewers.some((r) => r.reviewer === reviewer),
  );
  if (later) return { reason: "later_step", step: step.name, later: later.name };
  const earlier = state.steps.some(
    (s, index) => index < state.currentStep && s.reviewers.some((r) => r.reviewer === reviewer),
  );
  return earlier ? { reason: "done", step: step.name } : { reason: "not_listed", step: step.name };
}

/** Why `reviewer` may not vote now, or undefined when they may (see {@link standing}). */
export function mayVote(state: VotingState, reviewer: string, voter: string = reviewer): Ineligibility | undefined {
  const result = standing(state, reviewer, voter);
  return "reason" in result ? result : undefined;
}
