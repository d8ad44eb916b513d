/**
 * `onDecision`: resuming the agent from the worker, with no process left waiting. A final change adds,
 * in its own statement, one job per registered handler of the approval's type (see `apply-plan.ts`), so
 * a crash between the decision and the handler loses nothing. Each job names its handler in its task
 * identifier: only workers that registered that handler take it.
 */
import { sql } from "kysely";
import { SYSTEM_ACTOR } from "../domain/plan.ts";
import type { Approval, Decision } from "../domain/types.ts";
import { ValidationError } from "../errors.ts";
import { PAYLOADS, RESUME_ATTEMPTS, resumeKey, resumeTask } from "../scheduler/jobs.ts";
import { countTaskJobs, removeTaskJobsQuery } from "../scheduler/queue.ts";
import { loadApproval } from "../store/approval-reads.ts";
import type { Db } from "../store/connection.ts";
import { appendEvents } from "../store/event-store.ts";
import type { EngineContext } from "./context.ts";

/** What a handler is given besides the decision. */
export interface ResumeContext {
  /** 1 on the first run; more when an earlier run threw or its worker died. */
  attempt: number;
  /** Stable for this approval and handler: use it as the idempotency key of the handler's own side effects. */
  key: string;
  /** The approval as it was decided, with its steps, votes and edits. */
  approval: Approval;
}

export type DecisionHandler = (decision: Decision, context: ResumeContext) => Promise<void> | void;

export interface RegisteredHandler {
  name: string;
  /** An approval type, or "*" for all. */
  type: string;
  run: DecisionHandler;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:*-]{0,99}$/;

/** Adds a handler to `registry`, refusing a second one under the same name. */
export function registerHandler(
  registry: Map<string, RegisteredHandler>,
  type: string,
  run: DecisionHandler,
  name: string = type === "*" ? "all-types" : type,
): void {
  const issues = [
    ...(typeof type === "string" && type.length > 0 && type.length <= 200
      ? []
      : [{ path: "type", message: 'must be an approval type or "*"' }]),
    ...(typeof run === "function" ? [] : [{ path: "handler", message: "must be a function" }]),
    ...(NAME.test(name)
      ? []
      : [{ path: "name", message: "must be 1 to 100 letters, digits or . _ : * - (it names the handler's jobs)" }]),
  ];
  if (issues.length > 0) throw new ValidationError("onDecision", issues);
  if (registry.has(name)) {
    throw new ValidationError("onDecision", [
      { path: "name", message: `"${name}" is taken: give each handler of the same type its own { name }` },
    ]);
  }
  registry.set(name, { name, type, run });
}

/** Records the handlers so decisions add their jobs; a handler's type follows the code that registers it. */
export async function publishHandlers(db: Db, handlers: RegisteredHandler[]): Promise<void> {
  if (handlers.length === 0) return;
  await db
    .insertInto("decision_handler")
    .values(handlers.map(({ name, type }) => ({ name, type })))
    .onConflict((oc) =>
      oc.column("name").doUpdateSet({ type: (eb) => eb.ref("excluded.type"), registered_at: sql<Date>`now()` }),
    )
    .execute();
}

/** A handler decisions add jobs for, as some process registered it, and its jobs still waiting. */
export interface HandlerRegistration {
  name: string;
  type: string;
  /** When a process last registered it (each worker does at `start()`). */
  registeredAt: Date;
  /** Its jobs not yet done: waiting for a worker that has it, or running. */
  queued: number;
}

/** Every registered handler with its queued jobs, by name. */
export async function listHandlers(ctx: EngineContext): Promise<HandlerRegistration[]> {
  const { schema, workerSchema } = ctx.database;
  const { rows } = await ctx.database.run((db) =>
    sql<HandlerRegistration>`select h.name, h.type, h.registered_at as "registeredAt",
        ${countTaskJobs(workerSchema, sql`${resumeTask("")} || h.name`)} as queued
      from ${sql.id(schema, "decision_handler")} h order by h.name`.execute(db),
  );
  return rows;
}

export interface RetiredHandler {
  /** Whether it was registered. */
  retired: boolean;
  /** Its waiting jobs deleted (with `dropQueued`). */
  dropped: number;
  /** Its jobs left: running, or waiting for a worker that still has it. */
  queued: number;
}

/**
 * Takes a handler off the list that decisions add jobs for. Its waiting jobs are deleted with
 * `dropQueued` (a running one finishes); otherwise they stay for a worker that still has it. Refused for
 * a handler this process registers: its `start()` would register it again.
 */
export function retireHandler(
  ctx: EngineContext,
  registered: ReadonlyMap<string, RegisteredHandler>,
  name: string,
  options: { dropQueued?: boolean } = {},
): Promise<RetiredHandler> {
  const issues = [
    ...(typeof name === "string" && NAME.test(name) ? [] : [{ path: "name", message: "must be a handler's name" }]),
    ...(registered.has(name)
      ? [{ path: "name", message: "is registered by onDecision in this process, whose start() registers it again" }]
      : []),
    ...(options.dropQueued === undefined || typeof options.dropQueued === "boolean"
      ? []
      : [{ path: "dropQueued", message: "must be true or false" }]),
  ];
  if (issues.length > 0) return Promise.reject(new ValidationError("retireHandler", issues));
  return ctx.database.transaction((db) => retireRows(db, ctx.database, name, options.dropQueued === true));
}

async function retireRows(
  db: Db,
  { schema, workerSchema }: { schema: string; workerSchema: string },
  name: string,
  dropQueued: boolean,
): Promise<RetiredHandler> {
  const task = resumeTask(name);
  // One statement: its counts all read the snapshot from before its deletes.
  const { rows } = await sql<{ retired: number; dropped: number; before: number }>`
    with retired as (delete from ${sql.id(schema, "decision_handler")} where name = ${name} returning 1),
    dropped as (${dropQueued ? removeTaskJobsQuery(workerSchema, task) : sql`select 1 where false`})
    select (select count(*) from retired)::int as retired, (select count(*) from dropped)::int as dropped,
      ${countTaskJobs(workerSchema, sql`${task}`)} as before`.execute(db);
  const row = rows[0] ?? { retired: 0, dropped: 0, before: 0 };
  return { retired: row.retired > 0, dropped: row.dropped, queued: row.before - row.dropped };
}

/** The resume job: runs the handler unless it already succeeded for this approval; audits each outcome. */
export async function runResume(
  ctx: EngineContext,
  handler: RegisteredHandler,
  payload: unknown,
  job: { attempts: number; max_attempts: number },
): Promise<void> {
  const { approvalId } = PAYLOADS.resume.parse(payload);
  const { approval, done } = await ctx.database.run(async (db) => ({
    approval: await loadApproval(db, approvalId),
    done: await handlerDone(db, approvalId, handler.name),
  }));
  // Succeeded before, and its job ran again (the worker died before marking it complete): never twice.
  if (done || !approval?.decision) return;
  const key = resumeKey(approvalId, handler.name);
  const base = { handler: handler.name, attempt: job.attempts, key };
  const attributes = {
    "countersign.approval.id": approvalId,
    "countersign.handler": handler.name,
    "countersign.attempt": job.attempts,
  };
  const decision = approval.decision;
  try {
    await ctx.telemetry.span("countersign.on_decision", attributes, approvalId, () =>
      Promise.resolve(handler.run(decision, { attempt: job.attempts, key, approval })),
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const final = job.attempts >= Math.min(job.max_attempts, RESUME_ATTEMPTS);
    await record(ctx, approvalId, "handler_failed", { ...base, error: message.slice(0, 2000), final });
    ctx.options.logger.warn(
      { approvalId, handler: handler.name, attempt: job.attempts, final, error: message },
      final
        ? "countersign: an onDecision handler failed for good"
        : "countersign: an onDecision handler failed, will retry",
    );
    throw error;
  }
  await record(ctx, approvalId, "handler_done", base);
}

async function handlerDone(db: Db, approvalId: string, name: string): Promise<boolean> {
  const row = await db
    .selectFrom("event")
    .select("id")
    .where("approval_id", "=", approvalId)
    .where("type", "=", "handler_done")
    .where(sql<boolean>`data ->> 'handler' = ${name}`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

function record(
  ctx: EngineContext,
  approvalId: string,
  type: "handler_done" | "handler_failed",
  data: Record<string, string | number | boolean>,
): Promise<void> {
  return ctx.database.run((db) =>
    appendEvents(db, [{ approval_id: approvalId, type, actor: SYSTEM_ACTOR, channel: null, step: null, data }]),
  );
}

/** onDecision after start(): the worker's task list is fixed by then. */
export function tooLate(): ValidationError {
  return new ValidationError("onDecision", [
    { path: "", message: "must be called before start(): the worker's tasks are fixed when it starts" },
  ]);
}
