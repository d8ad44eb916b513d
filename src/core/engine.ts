/**
 * The state-changing operations, each one transaction: the rows, the audit events, the jobs it schedules
 * or removes, and the NOTIFY that announces it. Callers (the public API) and timers (worker tasks) both
 * come through here; which transitions exist is decided only by `lifecycle.ts`.
 */
import { randomUUID } from "node:crypto";
import { sql, type UpdateObject } from "kysely";
import type { ResolvedOptions } from "../config.ts";
import {
  AlreadyDecidedError,
  ApprovalError,
  ERROR_CODES,
  NotAReviewerError,
  NotFoundError,
  SelfApprovalError,
} from "../errors.ts";
import {
  enqueue,
  jobKeys,
  notifyJob,
  removeJobs,
  stepTimerJobs,
  stepTimerKeys,
  TASKS,
  type JobSpec,
} from "../scheduler/enqueue.ts";
import { createTokenNonce, deriveToken, hashToken } from "../security/tokens.ts";
import {
  countApproveVotes,
  findByIdempotencyKey,
  getStep,
  insertApproval,
  insertReviewers,
  insertSteps,
  insertTokens,
  insertVote,
  loadApproval,
  lockApproval,
  markStepPassed,
  notifiedReviewers,
  raiseEscalationLevel,
  startStep,
  stepReviewers,
  undecidedReviewers,
  updateApprovalIf,
  type LockedApproval,
} from "../store/approval-store.ts";
import { announceChange } from "../store/changes.ts";
import type { Database, Db, HostDb } from "../store/connection.ts";
import type { ApprovalRow, CountersignDatabase, NewEvent, StepRow } from "../store/database.ts";
import { appendEvents } from "../store/event-store.ts";
import { toDecision } from "../store/rows.ts";
import { planRequest, type ApprovalRequest, type RequestPlan } from "./inputs.ts";
import { isFinal, nextState, settleLostRace, type FinalStatus, type LifecycleEvent } from "./lifecycle.ts";
import type { Approval, JsonValue, NotificationKind } from "./types.ts";

export interface EngineContext {
  database: Database;
  options: ResolvedOptions;
}

/** The actor recorded for what timers do. */
export const SYSTEM_ACTOR = "system";
/** How long after the deadline a reviewer's link still opens (to show the outcome). */
const TOKEN_GRACE = "7 days";

const OUTCOME_KINDS: Record<FinalStatus, NotificationKind> = {
  approved: "decided",
  rejected: "decided",
  timed_out: "timed_out",
  cancelled: "cancelled",
};

/** Everyone on `reviewers` but the requester, who is never asked to decide their own request. */
function reviewersToAsk(requestedBy: string, reviewers: string[]): string[] {
  return reviewers.filter((reviewer) => reviewer !== requestedBy);
}

// ---------------------------------------------------------------------------------------------------
// Request

export async function requestApproval(ctx: EngineContext, input: ApprovalRequest, host?: HostDb): Promise<Approval> {
  const plan = planRequest(input, ctx.options.defaults);
  return ctx.database.transaction(async (db) => {
    const id = randomUUID();
    const afterTimeout = sql<Date>`now() + ${plan.timeoutMs}::float8 * interval '1 millisecond'`;
    const created = await insertApproval(db, {
      id,
      type: plan.type,
      title: plan.title,
      payload: JSON.stringify(plan.payload),
      requested_by: plan.requestedBy,
      step_count: plan.steps.length,
      deadline: afterTimeout,
      timeout_action: plan.timeoutAction,
      idempotency_key: plan.idempotencyKey,
      fingerprint: plan.fingerprint,
    });
    if (!created) return existingForKey(db, plan);

    await insertSteps(
      db,
      plan.steps.map((step, position) => ({
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
      plan.steps.flatMap((step, position) =>
        step.levels.flatMap((reviewers, level) =>
          reviewers.map((reviewer) => ({ approval_id: id, position, reviewer, level })),
        ),
      ),
    );
    // The requester may be listed but is never asked: no link, no notification.
    const everyone = reviewersToAsk(plan.requestedBy, [...new Set(plan.steps.flatMap((step) => step.levels.flat()))]);
    await insertTokens(
      db,
      everyone.map((reviewer) => {
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
    await appendEvents(db, [
      {
        approval_id: id,
        type: "requested",
        actor: plan.requestedBy,
        data: {
          type: plan.type,
          steps: plan.steps.map((step) => ({
            name: step.name,
            quorum: step.quorum,
            reviewers: step.levels[0] ?? [],
            escalation: step.levels.slice(1),
          })),
          timeoutMs: plan.timeoutMs,
          timeoutAction: plan.timeoutAction,
          idempotencyKey: plan.idempotencyKey,
        },
      },
    ]);
    const [first] = plan.steps;
    if (!first) throw new Error("a request has at least one step");
    await enqueue(db, ctx.database.workerSchema, [
      notifyJob(id, {
        kind: "request",
        name: "request:0",
        step: 0,
        recipients: reviewersToAsk(plan.requestedBy, first.levels[0] ?? []),
      }),
      ...stepTimerJobs(
        id,
        { position: 0, schedule: first.schedule, escalationLevels: first.levels.length - 1 },
        plan.timeoutMs,
      ),
      { task: TASKS.timeout, key: jobKeys.timeout(id), payload: { approvalId: id }, delayMs: plan.timeoutMs },
    ]);
    await announceChange(db, ctx.database.schema, { id, status: "pending" });
    return mustLoad(db, id);
  }, host);
}

async function existingForKey(db: Db, plan: RequestPlan): Promise<Approval> {
  const existing = await findByIdempotencyKey(db, plan.idempotencyKey ?? "");
  if (!existing) throw new Error("idempotency key conflicted but no approval holds it");
  if (existing.fingerprint !== plan.fingerprint) {
    throw new ApprovalError(
      ERROR_CODES.IDEMPOTENCY_CONFLICT,
      `Idempotency key "${plan.idempotencyKey}" already belongs to approval ${existing.id}, requested with different input. Use a new key for a different request.`,
      { approvalId: existing.id, idempotencyKey: plan.idempotencyKey },
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

/** A caller's write either applies (the approval after it) or meets a final approval (refused after commit). */
type Settled = { refused: ApprovalRow } | { approval: Approval };

export interface Vote {
  reviewer: string;
  /** The person casting it (differs from `reviewer` for a team slot); defaults to the reviewer. */
  voter?: string | undefined;
  outcome: "approve" | "reject";
  comment: string | null;
  via: string;
  context: Record<string, JsonValue> | null;
}

export async function decide(ctx: EngineContext, id: string, vote: Vote, host?: HostDb): Promise<Approval> {
  const result = await ctx.database.transaction<Settled>(async (db) => {
    const row = await lockPending(ctx, db, id);
    if (row.status !== "pending") return { refused: row };
    const step = await mustGetStep(db, row);
    const eligible = await stepReviewers(db, id, step.position, { max: step.escalation_level });
    if (!eligible.some((r) => r.reviewer === vote.reviewer)) {
      throw new NotAReviewerError(
        `${vote.reviewer} is not a reviewer of the current step "${step.name}" of approval ${id}.`,
        { approvalId: id, reviewer: vote.reviewer, step: step.position },
      );
    }
    const { context, voter = vote.reviewer, ...ballot } = vote;
    if (voter === row.requested_by) throw new SelfApprovalError(id, voter);
    if (!(await insertVote(db, { approvalId: id, position: step.position, voter, ...ballot }))) {
      const who = voter === vote.reviewer ? vote.reviewer : `${voter} (for ${vote.reviewer})`;
      throw new AlreadyDecidedError(`${who} already voted on step "${step.name}" of approval ${id}.`, {
        approvalId: id,
        reviewer: vote.reviewer,
        voter,
        step: step.position,
        status: row.status,
      });
    }
    const event: LifecycleEvent =
      vote.outcome === "approve"
        ? { type: "approve", approvalsOnStep: await countApproveVotes(db, id, step.position) }
        : { type: "reject" };
    await applyEvent(ctx, db, row, step, {
      event,
      actor: vote.reviewer,
      voter,
      via: vote.via,
      comment: vote.comment,
      context,
    });
    return { approval: await mustLoad(db, id) };
  }, host);
  if ("refused" in result) throw alreadyDecided(result.refused);
  return result.approval;
}

export async function cancel(
  ctx: EngineContext,
  id: string,
  input: { reason: string; by: string },
  host?: HostDb,
): Promise<Approval> {
  const result = await ctx.database.transaction<Settled>(async (db) => {
    const row = await lockPending(ctx, db, id);
    if (row.status !== "pending") return { refused: row };
    const step = await mustGetStep(db, row);
    await applyEvent(ctx, db, row, step, {
      event: { type: "cancel" },
      actor: input.by,
      via: "api",
      comment: input.reason,
    });
    return { approval: await mustLoad(db, id) };
  }, host);
  if ("refused" in result) throw alreadyDecided(result.refused);
  return result.approval;
}

/**
 * Locks the approval and, when its deadline has passed by the database's clock, times it out first:
 * a decision that arrives after the deadline is refused even if the timeout job has not run yet.
 */
async function lockPending(ctx: EngineContext, db: Db, id: string): Promise<LockedApproval> {
  const row = await lockApproval(db, id);
  if (!row) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
  const timedOut = await timeOutIfDue(ctx, db, row);
  return timedOut ? { ...timedOut, db_now: row.db_now } : row;
}

function alreadyDecided(row: ApprovalRow): AlreadyDecidedError {
  const decision = toDecision(row);
  const by = decision?.decidedBy ? ` by ${decision.decidedBy}` : "";
  return new AlreadyDecidedError(`Approval ${row.id} is already ${row.status.replace("_", " ")}${by}.`, {
    approvalId: row.id,
    status: row.status,
    decision,
  });
}

// ---------------------------------------------------------------------------------------------------
// Timers (run by worker jobs). Each checks the row first and does nothing once the approval is final.

export async function fireTimeout(ctx: EngineContext, id: string): Promise<void> {
  await ctx.database.transaction(async (db) => {
    const row = await lockApproval(db, id);
    if (!row || row.status !== "pending") return;
    if (!(await timeOutIfDue(ctx, db, row))) {
      // Ran early (a clock step, a manual run): come back at the deadline.
      await enqueue(db, ctx.database.workerSchema, [
        { task: TASKS.timeout, key: jobKeys.timeout(id), payload: { approvalId: id }, runAt: row.deadline },
      ]);
    }
  });
}

async function timeOutIfDue(ctx: EngineContext, db: Db, row: LockedApproval): Promise<ApprovalRow | undefined> {
  if (row.status !== "pending" || row.deadline > row.db_now) return undefined;
  const step = await mustGetStep(db, row);
  return applyEvent(ctx, db, row, step, {
    event: { type: "deadline" },
    actor: SYSTEM_ACTOR,
    via: "timeout",
    comment: null,
  });
}

/** Locks the approval for a step timer; undefined when the approval is final or has moved past the step. */
async function lockActiveStep(
  ctx: EngineContext,
  db: Db,
  id: string,
  position: number,
): Promise<LockedApproval | undefined> {
  const row = await lockApproval(db, id);
  if (!row || row.status !== "pending" || row.current_step !== position) return undefined;
  if (await timeOutIfDue(ctx, db, row)) return undefined;
  return row;
}

export async function fireReminder(ctx: EngineContext, id: string, position: number, index: number): Promise<void> {
  await ctx.database.transaction(async (db) => {
    const row = await lockActiveStep(ctx, db, id, position);
    if (!row) return;
    const step = await mustGetStep(db, row);
    const recipients = reviewersToAsk(row.requested_by, await undecidedReviewers(db, id, step));
    if (recipients.length === 0) return;
    await appendEvents(db, [
      {
        approval_id: id,
        type: "reminded",
        actor: SYSTEM_ACTOR,
        step: position,
        data: { reminder: index + 1, recipients },
      },
    ]);
    await enqueue(db, ctx.database.workerSchema, [
      notifyJob(id, { kind: "reminder", name: `reminder:${position}:${index}`, step: position, recipients }),
    ]);
  });
}

export async function fireEscalation(ctx: EngineContext, id: string, position: number, level: number): Promise<void> {
  await ctx.database.transaction(async (db) => {
    const row = await lockActiveStep(ctx, db, id, position);
    if (!row) return;
    if (!(await raiseEscalationLevel(db, id, position, level))) return;
    const recipients = reviewersToAsk(
      row.requested_by,
      (await stepReviewers(db, id, position, { min: level, max: level })).map((r) => r.reviewer),
    );
    await appendEvents(db, [
      {
        approval_id: id,
        type: "escalated",
        actor: SYSTEM_ACTOR,
        step: position,
        data: { level, reviewers: recipients },
      },
    ]);
    await enqueue(db, ctx.database.workerSchema, [
      notifyJob(id, { kind: "escalation", name: `escalation:${position}:${level}`, step: position, recipients }),
    ]);
    await announceChange(db, ctx.database.schema, { id, status: "pending" });
  });
}

// ---------------------------------------------------------------------------------------------------
// Applying a lifecycle event

interface Cause {
  event: LifecycleEvent;
  actor: string;
  via: string;
  comment: string | null;
  /** Caller-supplied facts recorded with the event. */
  context?: Record<string, JsonValue> | null;
  /** The person who voted, when not the reviewer slot itself (a team member). */
  voter?: string;
}

const CAUSE_EVENT_TYPES = {
  approve: "approved",
  reject: "rejected",
  deadline: "timed_out",
  cancel: "cancelled",
} as const;

/** Applies one lifecycle event to a locked approval: compare-and-set, audit, timers, NOTIFY. */
async function applyEvent(
  ctx: EngineContext,
  db: Db,
  row: LockedApproval,
  step: StepRow,
  cause: Cause,
): Promise<ApprovalRow> {
  const { workerSchema, schema } = ctx.database;
  const outcome = nextState(
    { status: row.status, currentStep: row.current_step, stepCount: row.step_count, quorum: step.quorum },
    cause.event,
  );
  if (!outcome.ok) {
    if (settleLostRace(cause.event.type) === "refuse") throw alreadyDecided(row);
    return row;
  }
  const transition = outcome.transition;
  const final = isFinal(transition.status);
  const events: NewEvent[] = [
    {
      approval_id: row.id,
      type: CAUSE_EVENT_TYPES[cause.event.type],
      actor: cause.actor,
      channel: cause.actor === SYSTEM_ACTOR ? null : cause.via,
      step: step.position,
      comment: cause.comment,
      data: {
        final,
        ...(cause.event.type === "approve" ? { approvals: cause.event.approvalsOnStep, quorum: step.quorum } : {}),
        ...(cause.event.type === "deadline" ? { action: row.timeout_action } : {}),
        ...(cause.context ? { context: cause.context } : {}),
        ...(cause.voter && cause.voter !== cause.actor ? { voter: cause.voter } : {}),
      },
    },
  ];
  const jobs: JobSpec[] = [];
  const removals: string[] = [];
  let updated: ApprovalRow = row;

  if (transition.change !== "vote_recorded") {
    const changes: UpdateObject<CountersignDatabase, "approval"> = final
      ? {
          status: transition.status,
          decided_by: cause.actor === SYSTEM_ACTOR ? null : cause.actor,
          decided_via: cause.via,
          decision_comment: cause.comment,
          decided_at: sql<Date>`now()`,
        }
      : { current_step: transition.currentStep };
    const result = await updateApprovalIf(db, row.id, { status: row.status, currentStep: row.current_step }, changes);
    // The row is locked, so this cannot lose; the compare-and-set still guards the invariant.
    if (!result) throw alreadyDecided((await lockApproval(db, row.id)) ?? row);
    updated = result;
  }

  if (transition.change === "step_passed") {
    await markStepPassed(db, row.id, step.position);
    const next = await startStep(db, row.id, transition.currentStep);
    const recipients = reviewersToAsk(
      row.requested_by,
      (await stepReviewers(db, row.id, next.position, { max: 0 })).map((r) => r.reviewer),
    );
    events.push({
      approval_id: row.id,
      type: "step_passed",
      actor: SYSTEM_ACTOR,
      step: step.position,
      data: { name: step.name, next: next.name },
    });
    removals.push(...stepTimerKeys(row.id, step));
    const msUntilDeadline = row.deadline.getTime() - row.db_now.getTime();
    jobs.push(
      notifyJob(row.id, { kind: "request", name: `request:${next.position}`, step: next.position, recipients }),
      ...stepTimerJobs(
        row.id,
        { position: next.position, schedule: next.schedule, escalationLevels: next.escalation_levels },
        msUntilDeadline,
      ),
    );
  }

  if (final) {
    removals.push(...stepTimerKeys(row.id, step), jobKeys.timeout(row.id));
    jobs.push(
      notifyJob(row.id, {
        kind: OUTCOME_KINDS[transition.status as FinalStatus],
        name: "outcome",
        step: step.position,
        recipients: reviewersToAsk(row.requested_by, await notifiedReviewers(db, row.id)),
      }),
    );
  }

  await appendEvents(db, events);
  await removeJobs(db, workerSchema, removals);
  await enqueue(db, workerSchema, jobs);
  await announceChange(db, schema, { id: row.id, status: transition.status });
  return updated;
}

async function mustGetStep(db: Db, row: ApprovalRow): Promise<StepRow> {
  const step = await getStep(db, row.id, row.current_step);
  if (!step) throw new Error(`approval ${row.id} has no step ${row.current_step}`);
  return step;
}
