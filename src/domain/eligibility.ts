/**
 * Who may vote: the one place that decides it, for the engine (under the row lock) and for the page
 * (what to tell a reviewer who opened a link). Works on the public `Approval` and on the engine's facts
 * alike: both have steps with reviewers, their levels and their votes.
 */
import type { ApprovalStatus, FinalStatus, VoteOutcome } from "./types.ts";

interface VotingStep {
  name: string;
  escalationLevel: number;
  reviewers: readonly { reviewer: string; level: number; vote: { outcome: VoteOutcome; voter?: string } | null }[];
}

export interface VotingState {
  status: ApprovalStatus;
  currentStep: number;
  requestedBy: string;
  steps: readonly VotingStep[];
}

/** Why a vote cannot be cast; the engine makes an error of it, the page a sentence. */
export type Ineligibility =
  | { reason: "final"; status: FinalStatus }
  | { reason: "self_approval" }
  | { reason: "already_voted"; outcome: VoteOutcome; step: string }
  /** Listed at an escalation level of the current step not reached yet. */
  | { reason: "backup"; step: string }
  /** Listed on a later step only. */
  | { reason: "later_step"; step: string; later: string }
  /** Listed on earlier steps only. */
  | { reason: "done"; step: string }
  | { reason: "not_listed"; step: string };

/**
 * Whether `reviewer` (a listed slot) may vote now, as `voter` (the person; the reviewer when omitted).
 * The requester never may; one person votes once per step, whichever slot they use.
 */
export function mayVote(state: VotingState, reviewer: string, voter: string = reviewer): Ineligibility | undefined {
  if (state.status !== "pending") return { reason: "final", status: state.status };
  if (voter === state.requestedBy || reviewer === state.requestedBy) return { reason: "self_approval" };
  const step = state.steps[state.currentStep];
  if (!step) return { reason: "done", step: "" };
  const mine = step.reviewers.find((r) => r.reviewer === reviewer);
  const cast = mine?.vote ?? step.reviewers.find((r) => r.vote && (r.vote.voter ?? r.reviewer) === voter)?.vote;
  if (cast) return { reason: "already_voted", outcome: cast.outcome, step: step.name };
  if (mine && mine.level <= step.escalationLevel) return undefined;
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
