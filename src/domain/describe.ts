/**
 * A decision in words, the same everywhere it is told (the page, e-mail, Slack, the console channel, the
 * CLI); each place only adds its own markup and date format.
 */
import type { Decision, FinalStatus } from "./types.ts";

const OUTCOME_WORDS: Record<FinalStatus, string> = {
  approved: "approved",
  rejected: "rejected",
  timed_out: "timed out",
  cancelled: "cancelled",
};

export interface DecisionWords {
  /** "approved", "rejected", "timed out", "cancelled". */
  outcome: string;
  /** The same, capitalised: "Timed out". */
  Outcome: string;
  /** "by cfo@company.com", or null when nobody decided (a timeout). */
  by: string | null;
  /** "via slack", "via timeout": how it was decided. */
  via: string | null;
  /** For a timeout, what it meant for the agent: "counts as approved" or "not approved"; else null. */
  consequence: string | null;
  comment: string | null;
}

export function describeDecision(decision: Decision): DecisionWords {
  const outcome = OUTCOME_WORDS[decision.status];
  return {
    outcome,
    Outcome: `${outcome.charAt(0).toUpperCase()}${outcome.slice(1)}`,
    by: decision.decidedBy ? `by ${decision.decidedBy}` : null,
    via: decision.via ? `via ${decision.via}` : null,
    consequence: decision.status === "timed_out" ? (decision.approved ? "counts as approved" : "not approved") : null,
    comment: decision.comment,
  };
}
