/**
 * Scheduling inside the caller's transaction through graphile-worker's SQL (`add_jobs`, and a DELETE from
 * its jobs table), so an approval and its timers commit or roll back together. Run times are computed by
 * the database's clock.
 */
import { type RawBuilder, sql } from "kysely";
import type { JobRow } from "../store/change-set.ts";
import type { Db } from "../store/connection.ts";
import { type JobSpec, RESUME_ATTEMPTS, resumeKey, resumeTask } from "./jobs.ts";

/** A job as the JSON row the statements turn into graphile-worker's `job_spec` (run time by the database's clock). */
export function jobRow(job: JobSpec): JobRow {
  return {
    identifier: job.task,
    job_key: job.key,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    delay_ms: job.delayMs ?? 0,
    max_attempts: job.maxAttempts,
  };
}

/**
 * The SELECT that adds `jobs` through graphile-worker's `add_jobs`: a statement of its own, or a part of
 * one. With `onlyIfRowsIn`, it runs only when that table (a CTE) has rows, and with `onlyIf` only when
 * that condition holds.
 */
export function addJobsQuery(
  workerSchema: string,
  jobs: JobSpec[],
  onlyIfRowsIn?: RawBuilder<unknown>,
  onlyIf?: RawBuilder<boolean>,
): RawBuilder<unknown> {
  const conditions = [
    ...(onlyIfRowsIn ? [sql`exists (select 1 from ${onlyIfRowsIn})`] : []),
    ...(onlyIf ? [onlyIf] : []),
  ];
  const specs = jobs.map(jobRow);
  return sql`
    select count(*) from ${sql.id(workerSchema, "add_jobs")}(array(
      select (
        s.identifier, s.payload, null, coalesce(s.run_at, now() + s.delay_ms * interval '1 millisecond'),
        s.max_attempts, s.job_key, null, null
      )::${sql.id(workerSchema, "job_spec")}
      from json_to_recordset(${JSON.stringify(specs)}::json)
        as s(identifier text, job_key text, payload json, run_at timestamptz, delay_ms float8, max_attempts smallint)
    ))${conditions.length > 0 ? sql` where ${sql.join(conditions, sql` and `)}` : sql``}`;
}

/**
 * The DELETE (a part of a statement: it must be a CTE at its top) of the jobs with these keys that are not
 * running; gated like `addJobsQuery`. It deletes from graphile-worker's jobs table directly, as `prune`
 * does (`sweepApprovalsJobs`): `complete_jobs` is a SQL function whose body PostgreSQL parses and plans
 * again on every call (a tenth of a decision's database CPU), and `remove_job` sends a NOTIFY per job,
 * which woke every worker for nothing and filled the notification queue a waiter reads from. A timer that
 * is running already is left alone: it finds its approval moved on and does nothing.
 */
export function removeJobsQuery(
  workerSchema: string,
  keys: string[],
  onlyIfRowsIn?: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return deleteWaitingJobs(
    workerSchema,
    sql`j.key = any(${keys}::text[]) ${onlyIfRowsIn ? sql`and exists (select 1 from ${onlyIfRowsIn})` : sql``}`,
  );
}

/** Where the approval's id starts in a job's key, after "countersign:" (see `jobKey`). */
const KEY_ID_FROM = "countersign:".length + 1;

/**
 * The jobs of the approvals whose ids (as text) `approvalIds` selects. The id is read out of the key and
 * hash-joined: graphile-worker's jobs have no index an approval's jobs can be found by, so this is a pass
 * over the whole jobs table (350 ms at 1,000,000 pending approvals); a "key like any (patterns)" tried
 * every pattern on every job (45 s for 1,000 approvals at 200,000 jobs).
 */
const ofApprovals = (approvalIds: RawBuilder<unknown>) =>
  sql`j.key like 'countersign:%' and substr(j.key, ${KEY_ID_FROM}, 36) in (${approvalIds})`;

/**
 * Removes, with the same DELETE, every waiting job of the approvals `approvalIds` selects, or with
 * `dryRun` only counts them; resolves with how many. Run it in a transaction: nested loops are turned
 * off for it (see `hashJoinOnly`).
 */
export async function sweepApprovalsJobs(
  db: Db,
  workerSchema: string,
  approvalIds: RawBuilder<unknown>,
  dryRun = false,
): Promise<number> {
  await hashJoinOnly(db);
  const condition = ofApprovals(approvalIds);
  const swept = dryRun ? selectWaitingJobs(workerSchema, condition) : deleteWaitingJobs(workerSchema, condition);
  const { rows } = await sql<{ jobs: number }>`
    with swept as (${swept}) select count(*)::int as jobs from swept`.execute(db);
  return rows[0]?.jobs ?? 0;
}

/**
 * The join of jobs to approvals must be hashed: graphile-worker's job table is small, then large, and
 * statistics taken while it held no keyed jobs make the planner expect one job to match. It then chose a
 * nested loop that read every doomed approval once per job (255 ms for 316 approvals and 2,136 jobs,
 * against 20 ms hashed; quadratic as both grow).
 */
async function hashJoinOnly(db: Db): Promise<void> {
  if (!db.isTransaction) throw new Error("countersign: the job sweep must run in a transaction");
  await sql`set local enable_nestloop = off`.execute(db);
}

/** The same DELETE for every job of one task (an `onDecision` handler's, when it is retired). */
export function removeTaskJobsQuery(workerSchema: string, task: string): RawBuilder<unknown> {
  return deleteWaitingJobs(workerSchema, sql`j.task_id in (${taskIds(workerSchema, sql`${task}`)})`);
}

/** How many jobs of the task named by `task` (an SQL text expression) are queued or running. */
export function countTaskJobs(workerSchema: string, task: RawBuilder<string>): RawBuilder<number> {
  return sql<number>`(select count(*)::int from ${sql.id(workerSchema, "_private_jobs")} j
    where j.task_id in (${taskIds(workerSchema, task)}))`;
}

const taskIds = (workerSchema: string, task: RawBuilder<string>) =>
  sql`select t.id from ${sql.id(workerSchema, "_private_tasks")} t where t.identifier = ${task}`;

/** Not held by a worker: one that is running is left to finish (it finds nothing left to do). */
const WAITING = sql`j.locked_at is null`;

function deleteWaitingJobs(workerSchema: string, condition: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`delete from ${sql.id(workerSchema, "_private_jobs")} j
    where ${condition} and ${WAITING}
    returning j.id`;
}

/** The jobs `deleteWaitingJobs` would delete, deleting nothing. */
function selectWaitingJobs(workerSchema: string, condition: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`select j.id from ${sql.id(workerSchema, "_private_jobs")} j where ${condition} and ${WAITING}`;
}

/** A resume job's key, as SQL over the approval's id and the handler's name (see `resumeKey`). */
const [KEY_HEAD, KEY_MIDDLE] = resumeKey("\u0000", "").split("\u0000") as [string, string];
// Its constants are literals, so a statement compiled once (`compiledOnce`) can carry this part.

/**
 * The SELECT that adds, for each approval in `updated` (a CTE or subquery of approval rows that became
 * final), one resume job per registered `onDecision` handler of its type (or of every type).
 */
export function addResumeJobsQuery(
  workerSchema: string,
  schema: string,
  updated: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const matching = sql`${updated} u join ${sql.id(schema, "decision_handler")} h on h.type in (u.type, '*')`;
  return sql`
    select count(*) from ${sql.id(workerSchema, "add_jobs")}(array(
      select (
        ${sql.lit(resumeTask(""))} || h.name, json_build_object('approvalId', u.id, 'handler', h.name), null, now(),
        ${sql.lit(RESUME_ATTEMPTS)}::smallint, ${sql.lit(KEY_HEAD)} || u.id || ${sql.lit(KEY_MIDDLE)} || h.name, null, null
      )::${sql.id(workerSchema, "job_spec")}
      from ${matching}
    ))
    -- add_jobs costs a plan and a NOTIFY even when given no jobs: call it only when a handler matches.
    where exists (select 1 from ${matching})`;
}
