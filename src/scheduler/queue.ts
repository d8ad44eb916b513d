/**
 * Scheduling inside the caller's transaction through graphile-worker's SQL API (`add_jobs`,
 * `remove_job`), so an approval and its timers commit or roll back together. Run times are computed by
 * the database's clock.
 */
import { type RawBuilder, sql } from "kysely";
import type { JobSpec } from "./jobs.ts";

/**
 * The SELECT that adds `jobs` through graphile-worker's `add_jobs`: a statement of its own, or a part of
 * one. With `onlyIfRowsIn`, it runs once per row of that table (a CTE), so not at all when it is empty.
 */
export function addJobsQuery(
  workerSchema: string,
  jobs: JobSpec[],
  onlyIfRowsIn?: RawBuilder<unknown>,
): RawBuilder<unknown> {
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
    ))${onlyIfRowsIn ? sql` where exists (select 1 from ${onlyIfRowsIn})` : sql``}`;
}

/** The SELECT that removes the jobs with these keys (graphile-worker's `remove_job`); gated like `addJobsQuery`. */
export function removeJobsQuery(
  workerSchema: string,
  keys: string[],
  onlyIfRowsIn?: RawBuilder<unknown>,
): RawBuilder<unknown> {
  return sql`select ${sql.id(workerSchema, "remove_job")}(k) from unnest(${keys}::text[]) as k
    ${onlyIfRowsIn ? sql`where exists (select 1 from ${onlyIfRowsIn})` : sql``}`;
}
