/**
 * A decision in words, the same everywhere it is told (the page, e-mail, Slack, the console channel, the
 * CLI); each place only adds its own markup and date format.
 */
import type { ApprovalAction, Decision, FinalStatus, JsonValue, Notification, PayloadEdit } from "./types.ts";

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
    by: decision.decidedBy
      ? `by ${decision.decidedBy}${decision.onBehalfOf ? ` on behalf of ${decision.onBehalfOf}` : ""}`
      : null,
    via: decision.via ? `via ${decision.via}` : null,
    consequence: decision.status === "timed_out" ? (decision.approved ? "counts as approved" : "not approved") : null,
    comment: decision.comment,
  };
}

/** A value in one line: strings as they are, everything else as JSON. */
function inline(value: JsonValue | null): string {
  if (value === null) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** One edit in words: `amount: 48000 → 45000 (controller@co.com, revision 2)`. */
export function describeEdit(edit: PayloadEdit): string {
  const field = edit.action ? `${edit.action}.${edit.field}` : edit.field;
  return `${field}: ${inline(edit.from)} → ${inline(edit.to)} (${edit.by}, revision ${edit.revision})`;
}

/**
 * What a notification says beyond the approval itself: the news it brings (a deadline close or moved),
 * whom a delegate stands in for, and the reviewers' edits so far. Every channel shows these lines.
 */
export function describeNotice(n: Pick<Notification, "kind" | "onBehalfOf" | "approval">): string[] {
  const lines: string[] = [];
  if (n.kind === "expiring") lines.push(`This approval expires soon: decide by ${n.approval.deadline.toISOString()}.`);
  if (n.kind === "extended") lines.push(`The deadline was moved to ${n.approval.deadline.toISOString()}.`);
  if (n.onBehalfOf) lines.push(`You are asked on behalf of ${n.onBehalfOf}, who delegated their reviews to you.`);
  if (n.approval.edits.length > 0) {
    lines.push(
      `Changed by reviewers (now revision ${n.approval.revision}):`,
      ...n.approval.edits.map((e) => `  ${describeEdit(e)}`),
    );
  }
  return lines;
}

/** One action of a batch in a line: `1. refundOrder` and `orderId: A-1042; amount: 129 (editable: amount)`. */
export function describeAction(action: ApprovalAction, index: number): { label: string; text: string } {
  const input = action.input;
  const shown =
    input !== null && typeof input === "object" && !Array.isArray(input)
      ? Object.entries(input)
          .map(([key, value]) => `${key}: ${inline(value)}`)
          .join("; ")
      : inline(input);
  const editable = action.editable.length > 0 ? ` (editable: ${action.editable.join(", ")})` : "";
  const state =
    action.outcome === "pending"
      ? ""
      : ` — ${action.outcome === "approve" ? "approved" : "rejected"}${action.comment ? `: ${action.comment}` : ""}`;
  return { label: `${index + 1}. ${action.name}`, text: `${shown}${editable}${state}` };
}
