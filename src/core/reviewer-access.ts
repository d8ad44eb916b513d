/** What a reviewer holding a link may see and do. */
import { hashToken, isWellFormedToken, tokenMatches } from "../security/tokens.ts";
import { findTokenByHash } from "../store/approval-store.ts";
import { recordFirstView } from "../store/event-store.ts";
import type { EngineContext } from "./engine.ts";
import type { Approval, JsonValue } from "./types.ts";

/**
 * The approval and reviewer a token stands for; undefined for a malformed, unknown or expired token
 * alike, so a caller cannot tell them apart.
 */
export async function reviewerForToken(
  ctx: EngineContext,
  token: string,
): Promise<{ approvalId: string; reviewer: string } | undefined> {
  if (!isWellFormedToken(token)) return undefined;
  const row = await ctx.database.run((db) => findTokenByHash(db, hashToken(token)));
  if (!row || row.expired || !tokenMatches(token, row.token_hash)) return undefined;
  return { approvalId: row.approval_id, reviewer: row.reviewer };
}

export type Eligibility = { canDecide: true } | { canDecide: false; reason: string };

/** Whether `reviewer` may decide `approval` now, and if not, why, in words for the page. */
export function eligibility(approval: Approval, reviewer: string): Eligibility {
  if (approval.status !== "pending") return { canDecide: false, reason: "This approval is closed." };
  const current = approval.steps[approval.currentStep];
  const mine = current?.reviewers.find((r) => r.reviewer === reviewer);
  if (current && mine?.vote) {
    return {
      canDecide: false,
      reason: `You already ${mine.vote.outcome === "approve" ? "approved" : "rejected"} this step; it is waiting for other reviewers.`,
    };
  }
  if (current && mine?.active) return { canDecide: true };
  if (current && mine) {
    return {
      canDecide: false,
      reason: "You are a backup reviewer for this step. You can decide if it is escalated to you.",
    };
  }
  const later = approval.steps.find(
    (step) => step.index > approval.currentStep && step.reviewers.some((r) => r.reviewer === reviewer),
  );
  if (later && current) {
    return {
      canDecide: false,
      reason: `This approval is at step “${current.name}”. You will be asked at step “${later.name}”.`,
    };
  }
  return { canDecide: false, reason: "Your part of this approval is done; it is waiting for the next step." };
}

/** Records the reviewer's first view of the approval at its current step; later views record nothing. */
export async function recordView(
  ctx: EngineContext,
  approvalId: string,
  reviewer: string,
  context: Record<string, JsonValue>,
) {
  await ctx.database.run((db) => recordFirstView(db, approvalId, reviewer, context));
}
