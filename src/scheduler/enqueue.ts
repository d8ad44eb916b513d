/**
 * Scheduling inside the caller's transaction through graphile-worker's SQL API (`add_jobs`,
 * `remove_job`), so an approval and its timers commit or roll back together. Run times are computed by
 * the database's clock. Every job has a key, so scheduling is idempotent and timers can be removed.
 */
import { sql } from "kysely";
import type { JsonValue } from "../core/types.ts";
import type { Db } from "../store/connection.ts";
import type { StepSchedule } from "../store/database.ts";

export const TASKS = {
  notify: "countersign:notify",
  remind: "countersign:remind",
  escalate: "countersign:escalate",
  timeout: "countersign:timeout",
} as const;

/**
 * A deliver job names its channel in its task identifier. graphile-worker hands a job only to a worker
 * that registered its identifier, and each worker registers one per channel it has: a worker without the
 * channel never takes the job, so it waits for one that has it instead of failing for good.
 */
export const deliverTask = (channel: string) => `countersign:deliver:${channel}` as const;
export type TaskName = (typeof TASKS)[keyof typeof TASKS] | ReturnType<typeof deliverTask>;

export interface JobSpec {
  task: TaskName;
  key: string;
  payload: { [key: string]: JsonValue };
  /** Milliseconds from the database's now(); 0 or absent means now. */
  delayMs?: number;
  /** An absolute time instead of a delay. */
  runAt?: Date;
  maxAttempts?: number;
}

/** Timer jobs touch only the database; a few retries cover a passing connection fault. */
const TIMER_ATTEMPTS = 10;

export const jobKeys = {
  notify: (approvalId: string, round: string) => `countersign:${approvalId}:notify:${round}`,
  deliver: (approvalId: string, round: string, reviewer: string, channel: string) =>
    `countersign:${approvalId}:deliver:${round}:${channel}:${reviewer}`,
  remind: (approvalId: string, step: number, index: number) => `countersign:${approvalId}:remind:${step}:${index}`,
  escalate: (approvalId: string, step: number, level: number) => `countersign:${approvalId}:escalate:${step}:${level}`,
  timeout: (approvalId: string) => `countersign:${approvalId}:timeout`,
};

export async function enqueue(db: Db, workerSchema: string, jobs: JobSpec[]): Promise<void> {
  if (jobs.length === 0) return;
  const specs = jobs.map((job) => ({
    identifier: job.task,
    job_key: job.key,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    delay_ms: job.delayMs ?? 0,
    max_attempts: job.maxAttempts ?? TIMER_ATTEMPTS,
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

/** A notification round for some reviewers: fanned out per (reviewer, channel) by the worker. */
export function notifyJob(
  approvalId: string,
  round: { kind: string; name: string; step: number; recipients: string[] },
): JobSpec {
  return {
    task: TASKS.notify,
    key: jobKeys.notify(approvalId, round.name),
    payload: { approvalId, kind: round.kind, round: round.name, step: round.step, recipients: round.recipients },
  };
}

/** The reminder and escalation timers of one step, skipping any that would fire after the deadline. */
export function stepTimerJobs(
  approvalId: string,
  step: { position: number; schedule: StepSchedule; escalationLevels: number },
  msUntilDeadline: number,
): JobSpec[] {
  const jobs: JobSpec[] = [];
  step.schedule.remindersMs.forEach((delayMs, index) => {
    if (delayMs < msUntilDeadline) {
      jobs.push({
        task: TASKS.remind,
        key: jobKeys.remind(approvalId, step.position, index),
        payload: { approvalId, step: step.position, reminder: index },
        delayMs,
      });
    }
  });
  for (let level = 1; level <= step.escalationLevels; level++) {
    const delayMs = level * step.schedule.escalateAfterMs;
    if (delayMs < msUntilDeadline) {
      jobs.push({
        task: TASKS.escalate,
        key: jobKeys.escalate(approvalId, step.position, level),
        payload: { approvalId, step: step.position, level },
        delayMs,
      });
    }
  }
  return jobs;
}

export function stepTimerKeys(
  approvalId: string,
  step: { position: number; schedule: StepSchedule; escalation_levels: number },
): string[] {
  return [
    ...step.schedule.remindersMs.map((_, index) => jobKeys.remind(approvalId, step.position, index)),
    ...Array.from({ length: step.escalation_levels }, (_, i) => jobKeys.escalate(approvalId, step.position, i + 1)),
  ];
}
