/**
 * The engine: every state change is load facts, plan (in `domain/`), apply, in one transaction with its
 * audit events, the jobs it schedules or removes, and the NOTIFY that announces it. Callers (the public
 * API) and timers (worker jobs) both come through here.
 */
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { type ApprovalFacts, isOverdue } from "../domain/facts.ts";
import type { Ineligibility } from "../domain/eligibility.ts";
import { planCreation, type RequestPlan, reviewersWithLinks } from "../domain/request.ts";
import { type Cause, planTransition } from "../domain/transition.ts";
import type { Approval, JsonValue } from "../domain/types.ts";
import {
  AlreadyDecidedError,
  ApprovalError,
  ERROR_CODES,
  NotAReviewerError,
  NotFoundError,
  SelfApprovalError,
} from "../errors.ts";
import { jobSpec } from "../scheduler/jobs.ts";
import { addJobs } from "../scheduler/queue.ts";
import { createTokenNonce, deriveToken, hashToken } from "../security/tokens.ts";
import { findByIdempotencyKey, loadApproval, lockFacts } from "../store/approval-reads.ts";
import { insertApproval, insertReviewers, insertSteps, insertTokens } from "../store/approval-writes.ts";
import { announceChange } from "../store/changes.ts";
import type { Db, HostDb } from "../store/connection.ts";
import { appendEvents } from "../store/event-store.ts";
import { applyPlan, toNewEvent } from "./apply-plan.ts";
import type { EngineContext } from "./context.ts";
import { type ApprovalRequest, planRequest } from "./inputs.ts";

/** How long after the deadline a reviewer's link still opens (to show the outcome). */
const TOKEN_GRACE = "7 days";

// ---------------------------------------------------------------------------------------------------
// Request

export async function requestApproval(ctx: EngineContext, input: ApprovalRequest, host?: HostDb): Promise<Approval> {
  const request = planRequest(input, ctx.options.defaults);
  return ctx.database.transaction(async (db) => {
    const id = randomUUID();
    const afterTimeout = sql<Date>`now() + ${request.timeoutMs}::float8 * interval '1 millisecond'`;
    const created = await insertApproval(db, {
      id,
      type: request.type,
      title: request.title,
      payload: JSON.stringify(request.payload),
      requested_by: request.requestedBy,
      step_count: request.steps.length,
      deadline: afterTimeout,
      timeout_action: request.timeoutAction,
      idempotency_key: request.idempotencyKey,
      fingerprint: request.fingerprint,
    });
    if (!created) return existingForKey(db, request);

    await insertSteps(
      db,
      request.steps.map((step, position) => ({
        approval_id: id,
        position,
        name: step.name,
        quorum: step.quorum,
        schedule: JSON.stringify(step.schedule),
        escalation_levels: step.levels.length - 1,
        started_at: position === 0 ? sql<Date>`now()` : null,
        passed_at: null,
      })),
    );
    await insertReviewers(
      db,
      request.steps.flatMap((step, position) =>
        step.levels.flatMap((reviewers, level) =>
          reviewers.map((reviewer) => ({ approval_id: id, position, reviewer, level })),
        ),
      ),
    );
    await insertTokens(
      db,
      reviewersWithLinks(request).map((reviewer) => {
        const nonce = createTokenNonce();
        return {
          approval_id: id,
          reviewer,
          nonce,
          token_hash: hashToken(deriveToken(ctx.options.secret, id, reviewer, nonce)),
          expires_at: sql<Date>`${afterTimeout} + interval '${sql.raw(TOKEN_GRACE)}'`,
        };
      }),
    );
    const { events, jobs } = planCreation(id, request);
    await appendEvents(
      db,
      events.map((event) => toNewEvent(id, event)),
    );
    const attempts = { deliveryAttempts: ctx.options.delivery.maxAttempts };
    await addJobs(
      db,
      ctx.database.workerSchema,
      jobs.map((job) => jobSpec(job, attempts)),
    );
    await announceChange(db, ctx.database.schema, { id, status: "pending" });
    return mustLoad(db, id);
  }, host);
}

async function existingForKey(db: Db, request: RequestPlan): Promise<Approval> {
  const existing = await findByIdempotencyKey(db, request.idempotencyKey ?? "");
  if (!existing) throw new Error("idempotency key conflicted but no approval holds it");
  if (existing.fingerprint !== request.fingerprint) {
    throw new ApprovalError(
      ERROR_CODES.IDEMPOTENCY_CONFLICT,
      `Idempotency key "${request.idempotencyKey}" already belongs to approval ${existing.id}, requested with different input. Use a new key for a different request.`,
      { approvalId: existing.id, idempotencyKey: request.idempotencyKey },
    );
  }
  return mustLoad(db, existing.id);
}

async function mustLoad(db: Db, id: string): Promise<Approval> {
  const approval = await loadApproval(db, id);
  if (!approval) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
  return approval;
}

// ---------------------------------------------------------------------------------------------------
// Decide and cancel

export interface Ballot {
  reviewer: string;
  /** The person casting it (differs from `reviewer` for a team slot); defaults to the reviewer. */
  voter?: string | undefined;
  outcome: "approve" | "reject";
  comment: string | null;
  via: string;
  context: Record<string, JsonValue> | null;
}

export function decide(ctx: EngineContext, id: string, vote: Ballot, host?: HostDb): Promise<Approval> {
  const { voter = vote.reviewer, ...rest } = vote;
  return change(ctx, id, { type: "vote", ...rest, voter }, host);
}

export function cancel(
  ctx: EngineContext,
  id: string,
  input: { reason: string; by: string },
  host?: HostDb,
): Promise<Approval> {
  return change(ctx, id, { type: "cancel", ...input }, host);
}

/**
 * A caller's change. A refusal is answered after the transaction commits: when the deadline had passed,
 * the timeout it applied first stands.
 */
async function change(ctx: EngineContext, id: string, cause: Cause, host?: HostDb): Promise<Approval> {
  const result = await ctx.database.transaction(async (db) => {
    const facts = await settleOverdue(ctx, db, id);
    const planned = planTransition(facts, cause);
    if (planned.kind === "apply") await applyPlan(ctx, db, facts, planned.plan);
    const approval = await mustLoad(db, id);
    return planned.kind === "refuse" ? { refused: planned.why, approval } : { approval };
  }, host);
  if ("refused" in result && result.refused) throw refusalError(result.approval, result.refused, cause);
  return result.approval;
}

/**
 * Locks the approval and reads its facts; when its deadline has passed by the database's clock, times it
 * out first: a decision that arrives after the deadline is refused even if the timeout job has not run.
 */
async function settleOverdue(ctx: EngineContext, db: Db, id: string): Promise<ApprovalFacts> {
  const facts = await lockFacts(db, id);
  if (!facts) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
  if (!isOverdue(facts)) return facts;
  const planned = planTransition(facts, { type: "deadline" });
  if (planned.kind !== "apply") return facts;
  await applyPlan(ctx, db, facts, planned.plan);
  return (await lockFacts(db, id)) ?? facts;
}

function refusalError(approval: Approval, why: Ineligibility, cause: Cause): ApprovalError {
  const id = approval.id;
  const reviewer = cause.type === "vote" ? cause.reviewer : "";
  const voter = cause.type === "vote" ? cause.voter : "";
  switch (why.reason) {
    case "final":
      return alreadyDecided(approval);
    case "self_approval":
      return new SelfApprovalError(id, voter || reviewer);
    case "already_voted": {
      const who = voter === reviewer ? reviewer : `${voter} (for ${reviewer})`;
      return new AlreadyDecidedError(`${who} already voted on step "${why.step}" of approval ${id}.`, {
        approvalId: id,
        reviewer,
        voter,
        step: approval.currentStep,
        status: approval.status,
      });
    }
    default:
      return new NotAReviewerError(
        `${reviewer} is not a reviewer of the current step "${why.step}" of approval ${id}.`,
        {
          approvalId: id,
          reviewer,
          step: approval.currentStep,
        },
      );
  }
}

function alreadyDecided(approval: Approval): AlreadyDecidedError {
  const by = approval.decision?.decidedBy ? ` by ${approval.decision.decidedBy}` : "";
  return new AlreadyDecidedError(`Approval ${approval.id} is already ${approval.status.replace("_", " ")}${by}.`, {
    approvalId: approval.id,
    status: approval.status,
    decision: approval.decision,
  });
}

// ---------------------------------------------------------------------------------------------------
// Timers (run by worker jobs). Each reads the facts first and does nothing once there is nothing to do.

export type TimerCause = Extract<Cause, { type: "deadline" | "reminder" | "escalation" | "unreachable" }>;

export async function fireTimer(ctx: EngineContext, id: string, cause: TimerCause): Promise<void> {
  const { logger } = ctx.options;
  await ctx.database.transaction(async (db) => {
    const facts = await lockFacts(db, id);
    if (!facts) return;
    if (cause.type !== "deadline" && isOverdue(facts)) {
      // Past the deadline, a reminder or an escalation has nothing left to do but time the approval out.
      const deadline = planTransition(facts, { type: "deadline" });
      if (deadline.kind === "apply") await applyPlan(ctx, db, facts, deadline.plan);
      return;
    }
    const planned = planTransition(facts, cause);
    if (planned.kind === "apply") {
      if (cause.type === "unreachable")
        logger.info({ approvalId: id, step: cause.step }, "countersign: a reviewer cannot be reached; escalating now");
      await applyPlan(ctx, db, facts, planned.plan);
    } else if (planned.kind === "skip" && planned.note && cause.type === "unreachable") {
      logger.warn({ approvalId: id, step: cause.step }, `countersign: ${planned.note}`);
    }
  });
}

/** Times the approval out if its deadline has passed (the timeout job's work; waiters call it too). */
export function fireTimeout(ctx: EngineContext, id: string): Promise<void> {
  return fireTimer(ctx, id, { type: "deadline" });
}
