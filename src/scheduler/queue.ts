/**
 * Scheduling inside the caller's transaction through graphile-worker's SQL API (`add_jobs`,
 * `remove_job`), so an approval and its timers commit or roll back together. Run times are computed by
 * the database's clock.
 */
import { type RawBuilder, sql } from "kysely";
import type { JobSpec } from "./jobs.ts";

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
  const specs = jobs.map((job) => ({
    identifier: job.task,
    job_key: job.key,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    delay_ms: job.delayMs ?? 0,
    max_attempts: job.maxAttempts,
  }));
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
 * The SELECT that removes the jobs with these keys that are not running (graphile-worker's `complete_jobs`,
 * found through its `jobs` view); gated like `addJobsQuery`. Not `remove_job`: that sends a NOTIFY per job
 * removed, which woke every worker for nothing and filled the notification queue a waiter reads from.
 * A timer that is running already finds its approval moved on and does nothing.
 */
export function removeJobsQuery(
  workerSchema: string,
  keys: string[],
  onlyIfRowsIn?: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return sql`select count(*) from ${sql.id(workerSchema, "complete_jobs")}(array(
      select j.id from ${sql.id(workerSchema, "jobs")} j where j.key = any(${keys}::text[])
    ))
    ${onlyIfRowsIn ? sql`where exists (select 1 from ${onlyIfRowsIn})` : sql``}`;
}

/**
 * The SELECT that adds, when the approval in `updated` (a CTE with its row) became final, one resume job
 * per registered `onDecision` handler of its type (or of every type).
 */
export function addResumeJobsQuery(
  workerSchema: string,
  schema: string,
  updated: RawBuilder<unknown>,
  spec: { taskPrefix: string; keyPrefix: string; maxAttempts: number },
): RawBuilder<unknown> {
  return sql`
    select count(*) from ${sql.id(workerSchema, "add_jobs")}(array(
      select (
        ${spec.taskPrefix} || h.name, json_build_object('approvalId', u.id, 'handler', h.name), null, now(),
        ${spec.maxAttempts}::smallint, ${spec.keyPrefix} || h.name, null, null
      )::${sql.id(workerSchema, "job_spec")}
      from ${updated} u join ${sql.id(schema, "decision_handler")} h on h.type in (u.type, '*')
    ))
    -- add_jobs costs a plan and a NOTIFY even when given no jobs: call it only when a handler matches.
    where exists (
      select 1 from ${updated} u join ${sql.id(schema, "decision_handler")} h on h.type in (u.type, '*')
    )`;
}
