/**
 * Scheduling inside the caller's transaction through graphile-worker's SQL API (`add_jobs`,
 * `remove_job`), so an approval and its timers commit or roll back together. Run times are computed by
 * the database's clock.
 */
import { sql } from "kysely";
import type { Db } from "../store/connection.ts";
import type { JobSpec } from "./jobs.ts";

export async function addJobs(db: Db, workerSchema: string, jobs: JobSpec[]): Promise<void> {
  if (jobs.length === 0) return;
  const specs = jobs.map((job) => ({
    identifier: job.task,
    job_key: job.key,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    delay_ms: job.delayMs ?? 0,
    max_attempts: job.maxAttempts,
  }));
  await sql`
    select 1 from ${sql.id(workerSchema, "add_jobs")}(array(
      select (
        s.identifier, s.payload, null, coalesce(s.run_at, now() + s.delay_ms * interval '1 millisecond'),
        s.max_attempts, s.job_key, null, null
      )::${sql.id(workerSchema, "job_spec")}
      from json_to_recordset(${JSON.stringify(specs)}::json)
        as s(identifier text, job_key text, payload json, run_at timestamptz, delay_ms float8, max_attempts smallint)
    ))`.execute(db);
}

export async function removeJobs(db: Db, workerSchema: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await sql`select ${sql.id(workerSchema, "remove_job")}(k) from unnest(${keys}::text[]) as k`.execute(db);
}
