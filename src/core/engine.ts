/**
 * The engine: every state change is load facts, plan (in `domain/`), apply, in one transaction with its
 * audit events, the jobs it schedules or removes, and the NOTIFY that announces it. Callers (the public
 * API) and timers (worker jobs) both come through here.
 */
import { randomUUID } from "node:crypto";
import type { ActionDecision } from "../domain/batch.ts";
import { isOverdue } from "../domain/facts.ts";
import type { Refusal } from "../domain/plan.ts";
import { planPolicies } from "../domain/policy.ts";
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
  StaleRevisionError,
  ValidationError,
} from "../errors.ts";
import { jobSpec } from "../scheduler/jobs.ts";
import { addJobsQuery, addResumeJobsQuery } from "../scheduler/queue.ts";
import { createTokenNonce, deriveToken, hashToken } from "../security/tokens.ts";
import { type FactsRead, findByIdempotencyKey, loadApproval, readFacts } from "../store/approval-reads.ts";
import { insertRequest, type NewApproval } from "../store/approval-writes.ts";
import { announceDecisionQuery, announceQuery } from "../store/changes.ts";
import type { Db, HostDb } from "../store/connection.ts";
import { rowsAfter, toApproval } from "../store/rows.ts";
import { type Applied, applyPlan } from "./apply-plan.ts";
import { applyOnPool } from "./change-batch.ts";
import { delegateRounds, expandRounds } from "./rounds.ts";
import type { EngineContext } from "./context.ts";
import { type ApprovalRequest, planRequest, requestPolicies } from "./request-input.ts";
import { evaluatePolicies, type PolicyRequest } from "./policies.ts";
import type { SpanContextLike } from "./telemetry.ts";
import { checkRevision } from "./payload-schema.ts";

// ---------------------------------------------------------------------------------------------------
// Request

export async function requestApproval(
  ctx: EngineContext,
  input: ApprovalRequest,
  host?: HostDb,
  traceContext?: SpanContextLike,
): Promise<Approval> {
  const request = planRequest(input, ctx.options.defaults);
  const { schema, workerSchema } = ctx.database;
  const id = randomUUID();
  const verdict = planPolicies(
    await evaluatePolicies(requestPolicies(input, ctx.options.policies), policyView(request)),
  );
  const { decided } = verdict;
  const creation = planCreation(id, request, verdict);
  const { jobs, events: unreachable } = expandRounds(ctx, creation.jobs);
  const events = [...creation.events, ...unreachable];
  const rows: NewApproval = {
    approval: {
      id,
      ...request,
      stepCount: request.steps.length,
      traceContext: traceContext ?? null,
      decided: decided && {
        status: decided.outcome === "approve" ? "approved" : "rejected",
        decidedBy: decided.by,
        via: "policy",
        comment: decided.reason,
      },
    },
    steps: request.steps.map((step, position) => ({
      position,
      name: step.name,
      quorum: step.quorum,
      schedule: step.schedule,
      escalation_levels: step.levels.length - 1,
    })),
    reviewers: request.steps.flatMap((step, position) =>
      step.levels.flatMap((reviewers, level) => reviewers.map((reviewer) => ({ position, reviewer, level }))),
    ),
    // Decided by a policy, nobody is asked: no links.
    tokens: (decided ? [] : reviewersWithLinks(request)).map((reviewer) => {
      const nonce = createTokenNonce();
      return { reviewer, nonce, token_hash: hashToken(deriveToken(ctx.options.secret, id, reviewer, nonce)) };
    }),
    events,
  };
  const specs = jobs.map((job) => jobSpec(job, { deliveryAttempts: ctx.options.delivery.maxAttempts }));
  // One statement: atomic on its own, so it needs no BEGIN/COMMIT unless it joins the host's transaction.
  const write = (db: Db) =>
    insertRequest(db, schema, rows, (created) =>
      decided
        ? [addResumeJobsQuery(workerSchema, schema, created), announceDecisionQuery(schema, created)]
        : [
            addJobsQuery(workerSchema, specs, created),
            ...delegateRounds(ctx, creation.jobs, created),
            announceQuery(schema, { id, status: "pending" }, created),
          ],
    );
  const created = host ? await ctx.database.transaction(write, host) : await ctx.database.run(write);
  if (!created) return ctx.database.transaction((db) => existingForKey(db, request), host);
  ctx.telemetry.requested(request.type);
  if (created.decided_at) {
    ctx.telemetry.decided({
      type: created.type,
      status: created.status,
      createdAt: created.created_at,
      decidedAt: created.decided_at,
    });
  }
  return toApproval({
    approval: created,
    steps: rows.steps.map((step) => ({
      ...step,
      approval_id: id,
      escalation_level: 0,
      started_at: step.position === 0 ? created.created_at : null,
      passed_at: null,
    })),
    reviewers: rows.reviewers.map((reviewer) => ({ ...reviewer, approval_id: id })),
    votes: [],
    // Delegations are looked up when the reviewers are asked; a fresh approval reports none until read.
    delegations: [],
  });
}

/** What a policy sees of a validated request. */
function policyView(request: RequestPlan): PolicyRequest {
  // Copies: a policy that changes what it was shown must not change what is written.
  const payload = structuredClone(request.payload);
  const inputs = request.actions ? (payload as { actions: PolicyRequest["actions"] }).actions : null;
  return {
    type: request.type,
    title: request.title,
    payload,
    requestedBy: request.requestedBy,
    actions: inputs,
    metadata: structuredClone(request.metadata),
    reviewers: [...new Set(request.steps.flatMap((step) => step.levels.flat()))],
  };
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
  /** Null or absent only when `actions` decides a batch. */
  outcome?: "approve" | "reject" | null | undefined;
  comment: string | null;
  via: string;
  context: Record<string, JsonValue> | null;
  edits?: Record<string, JsonValue> | null;
  /** The revision the reviewer saw; null or absent: whatever is current. */
  revision?: number | null | undefined;
  /** A batch: the decision on each open action. */
  actions?: Record<string, ActionDecision> | null | undefined;
}

export function decide(ctx: EngineContext, id: string, vote: Ballot, host?: HostDb): Promise<Approval> {
  return change(ctx, id, voteCause(vote), host);
}

/**
 * `decide` planned on facts already read (a link's read of its token and approval, one statement fewer);
 * if they have gone stale, the change is planned again from fresh ones as any lost race is.
 */
export function decideOnFacts(ctx: EngineContext, read: FactsRead, vote: Ballot): Promise<Approval> {
  return change(ctx, read.facts.id, voteCause(vote), undefined, read);
}

function voteCause(vote: Ballot): Cause {
  const { voter = vote.reviewer, edits = null, revision = null, outcome = null, actions = null, ...rest } = vote;
  return { type: "vote", ...rest, voter, edits, revision, outcome, actions };
}

export function extend(
  ctx: EngineContext,
  id: string,
  input: { until: Date | null; byMs: number | null; reason: string | null; actor: string; via: string },
  host?: HostDb,
): Promise<Approval> {
  return change(ctx, id, { type: "extend", ...input }, host);
}

export function cancel(
  ctx: EngineContext,
  id: string,
  input: { reason: string; by: string; via: string },
  host?: HostDb,
): Promise<Approval> {
  return change(ctx, id, { type: "cancel", ...input }, host);
}

/** How often a change is planned again after losing the race to another change of the same approval. */
const MAX_ATTEMPTS = 20;

/**
 * A caller's change: read the facts, plan, write if the approval is still that version, else plan again
 * from what won (optimistic concurrency: two statements, no lock held between them). A deadline that has
 * passed is applied first, so a decision that arrives after it is refused even if the timeout job has
 * not run yet.
 */
async function change(
  ctx: EngineContext,
  id: string,
  cause: Cause,
  host?: HostDb,
  first?: FactsRead,
): Promise<Approval> {
  const result = await withDb(ctx, host, async (db) => {
    for (let attempt = 1; ; attempt++) {
      const read = attempt === 1 && first ? first : await readFacts(db, id);
      if (!read) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
      const planned = planTransition(read.facts, isOverdue(read.facts) ? { type: "deadline" } : cause);
      if (planned.kind !== "apply")
        return { refused: planned.kind === "refuse" ? planned.why : undefined, rows: read.rows };
      const revision = planned.plan.revision;
      if (revision)
        checkRevision(
          { payloadSchema: read.payloadSchema, batch: read.facts.batch },
          revision,
          `edits of approval ${id}`,
        );
      const applied = host
        ? await applyPlan(ctx, db, read.facts, planned.plan)
        : await applyOnPool(ctx, db, read.facts, planned.plan);
      if (applied) reportFinal(ctx, applied);
      if (applied && !isOverdue(read.facts)) return { rows: rowsAfter(read.rows, applied) };
      // Lost the race, or timed the approval out first: plan the cause again on what is now there.
      if (attempt >= MAX_ATTEMPTS) throw contention(id);
    }
  });
  const after = toApproval(result.rows);
  if ("refused" in result && result.refused) throw refusalError(after, result.refused, cause);
  return after;
}

/** Statements on the host's transaction when given, else each atomic on its own (no BEGIN/COMMIT). */
function withDb<T>(ctx: EngineContext, host: HostDb | undefined, work: (db: Db) => Promise<T>): Promise<T> {
  return host ? ctx.database.transaction(work, host) : ctx.database.run(work);
}

function contention(id: string): ApprovalError {
  return new ApprovalError(
    ERROR_CODES.UNAVAILABLE,
    `Approval ${id} kept changing while this change was planned (${MAX_ATTEMPTS} attempts); try again.`,
    { approvalId: id },
  );
}

function refusalError(approval: Approval, why: Refusal, cause: Cause): ApprovalError {
  const id = approval.id;
  const reviewer = cause.type === "vote" ? cause.reviewer : "";
  const voter = cause.type === "vote" ? cause.voter : "";
  switch (why.reason) {
    case "final":
      return alreadyDecided(approval);
    case "stale_revision":
      return new StaleRevisionError(approval, cause.type === "vote" ? cause.revision : null);
    case "not_editable":
      return new ValidationError(`edits of approval ${id}`, [
        {
          path: `edits.${why.field}`,
          message:
            why.editable.length > 0
              ? `may not be changed; editable fields: ${why.editable.join(", ")}`
              : "may not be changed: the request made no field editable",
        },
      ]);
    case "batch":
      return new ValidationError(`decision on approval ${id}`, why.issues);
    case "edits_with_reject":
      return new ValidationError(`decision on approval ${id}`, [
        { path: "edits", message: "only an approval can carry edits; reject with a comment instead" },
      ]);
    case "not_later":
      return new ValidationError(`extension of approval ${id}`, [
        { path: "until", message: `must be later than the current deadline ${why.deadline.toISOString()}` },
      ]);
    case "voted_earlier":
      return new AlreadyDecidedError(
        `${voter || reviewer} already voted on step "${why.earlier}" of approval ${id}, and one person counts once per approval (four-eyes).`,
        { approvalId: id, reviewer, voter, step: approval.currentStep, status: approval.status, earlier: why.earlier },
      );
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

export type TimerCause = Extract<Cause, { type: "deadline" | "reminder" | "escalation" | "unreachable" | "warning" }>;

/** A change that made the approval final is a decision for the metrics (a host transaction may still roll it back). */
function reportFinal(ctx: EngineContext, applied: Applied): void {
  const row = applied.approval;
  if (!row || row.status === "pending" || !row.decided_at) return;
  ctx.telemetry.decided({ type: row.type, status: row.status, createdAt: row.created_at, decidedAt: row.decided_at });
}

export async function fireTimer(ctx: EngineContext, id: string, cause: TimerCause): Promise<void> {
  const { logger } = ctx.options;
  await ctx.database.run(async (db) => {
    for (let attempt = 1; ; attempt++) {
      const read = await readFacts(db, id);
      if (!read) return;
      // Past the deadline, a reminder or an escalation has nothing left to do but time the approval out.
      const overdue = cause.type !== "deadline" && isOverdue(read.facts);
      const planned = planTransition(read.facts, overdue ? { type: "deadline" } : cause);
      if (planned.kind === "skip") {
        if (planned.note && cause.type === "unreachable")
          logger.warn({ approvalId: id, step: cause.step }, `countersign: ${planned.note}`);
        return;
      }
      if (planned.kind !== "apply") return;
      const applied = await applyPlan(ctx, db, read.facts, planned.plan);
      if (applied) {
        reportFinal(ctx, applied);
        if (cause.type === "unreachable" && !overdue) {
          logger.info(
            { approvalId: id, step: cause.step },
            "countersign: a reviewer cannot be reached; escalating now",
          );
        }
        return;
      }
      if (attempt >= MAX_ATTEMPTS) throw contention(id);
    }
  });
}

/** Times the approval out if its deadline has passed (the timeout job's work; waiters call it too). */
export function fireTimeout(ctx: EngineContext, id: string): Promise<void> {
  return fireTimer(ctx, id, { type: "deadline" });
}
