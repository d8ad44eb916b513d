/**
 * The job contract: for each kind of job, its graphile-worker task name, the zod schema of its payload,
 * the key that makes scheduling it idempotent (and a timer removable), and how a job becomes a payload.
 * Plans say which jobs they want (`domain/jobs.ts`); this file is how they are written and read back.
 */
import { z } from "zod";
import type { Job, TimerRef } from "../domain/jobs.ts";
import type { JsonValue, NotificationKind } from "../domain/types.ts";

export const TASKS = {
  notify: "countersign:notify",
  reminder: "countersign:reminder",
  escalation: "countersign:escalation",
  timeout: "countersign:timeout",
  warning: "countersign:warning",
  /** Asks the active delegates of a round's recipients (added only when there are any). */
  delegates: "countersign:delegates",
} as const;

/**
 * An `onDecision` handler's job names the handler in its task identifier, like a deliver job its
 * channel: only a worker that registered that handler takes it, so a process without the handler
 * never swallows its jobs.
 */
export const resumeTask = (handler: string) => `countersign:resume:${handler}` as const;

/** Attempts of a handler that keeps throwing (graphile-worker's backoff: about 3 days over 25 attempts). */
export const RESUME_ATTEMPTS = 25;

/**
 * A deliver job names its channel in its task identifier. graphile-worker hands a job only to a worker
 * that registered its identifier, and each worker registers one per channel it has: a worker without the
 * channel never takes the job, so it waits for one that has it instead of failing for good.
 */
export const deliverTask = (channel: string) => `countersign:deliver:${channel}` as const;

const KINDS = [
  "request",
  "reminder",
  "escalation",
  "expiring",
  "extended",
  "decided",
  "timed_out",
  "cancelled",
] as const satisfies NotificationKind[];

const round = z.object({ approvalId: z.string(), kind: z.enum(KINDS), round: z.string(), step: z.int() });

/** Payload schemas, for the worker to parse what it is handed. */
export const PAYLOADS = {
  notify: round.extend({ recipients: z.array(z.string()) }),
  deliver: round.extend({ reviewer: z.string(), channel: z.string(), onBehalfOf: z.string().nullish() }),
  delegates: round.extend({ recipients: z.array(z.string()) }),
  reminder: z.object({ approvalId: z.string(), step: z.int(), reminder: z.int() }),
  escalation: z.object({ approvalId: z.string(), step: z.int(), level: z.int() }),
  timeout: z.object({ approvalId: z.string() }),
  warning: z.object({ approvalId: z.string() }),
  resume: z.object({ approvalId: z.string(), handler: z.string() }),
};

/** The job's key: one job per key, so adding it again replaces it and removing it cancels it. */
export function jobKey(job: Job | TimerRef): string {
  const prefix = `countersign:${job.approvalId}`;
  switch (job.task) {
    case "notify":
      return `${prefix}:notify:${job.round}`;
    case "deliver":
      return `${prefix}:deliver:${job.round}:${job.channel}:${job.reviewer}`;
    case "delegates":
      return `${prefix}:delegates:${job.round}`;
    case "reminder":
      return `${prefix}:reminder:${job.step}:${job.reminder}`;
    case "escalation":
      return `${prefix}:escalation:${job.step}:${job.level}`;
    case "timeout":
      return `${prefix}:timeout`;
    case "warning":
      return `${prefix}:warning`;
    case "resume":
      return resumeKey(job.approvalId, job.handler);
  }
}

/** The resume job's key, also the `key` a handler is given for its own idempotency. */
export const resumeKey = (approvalId: string, handler: string) => `countersign:${approvalId}:resume:${handler}`;

function payloadOf(job: Job): { [key: string]: JsonValue } {
  switch (job.task) {
    case "notify":
      return {
        approvalId: job.approvalId,
        kind: job.kind,
        round: job.round,
        step: job.step,
        recipients: job.recipients,
      };
    case "deliver":
      return {
        approvalId: job.approvalId,
        kind: job.kind,
        round: job.round,
        step: job.step,
        reviewer: job.reviewer,
        channel: job.channel,
        ...(job.onBehalfOf ? { onBehalfOf: job.onBehalfOf } : {}),
      };
    case "delegates":
      return {
        approvalId: job.approvalId,
        kind: job.kind,
        round: job.round,
        step: job.step,
        recipients: job.recipients,
      };
    case "reminder":
      return { approvalId: job.approvalId, step: job.step, reminder: job.reminder };
    case "escalation":
      return { approvalId: job.approvalId, step: job.step, level: job.level };
    case "timeout":
    case "warning":
      return { approvalId: job.approvalId };
    case "resume":
      return { approvalId: job.approvalId, handler: job.handler };
  }
}

function taskOf(job: Job): string {
  if (job.task === "deliver") return deliverTask(job.channel);
  if (job.task === "resume") return resumeTask(job.handler);
  return TASKS[job.task];
}

/** What graphile-worker's `add_jobs` is given for one job. */
export interface JobSpec {
  task: string;
  key: string;
  payload: { [key: string]: JsonValue };
  /** Milliseconds from the database's now(); 0 or absent means now. */
  delayMs?: number;
  runAt?: Date;
  maxAttempts: number;
}

/** Timer jobs touch only the database; a few retries cover a passing connection fault. */
const TIMER_ATTEMPTS = 10;

export function jobSpec(job: Job, options: { deliveryAttempts: number }): JobSpec {
  return {
    task: taskOf(job),
    key: jobKey(job),
    payload: payloadOf(job),
    ...("delayMs" in job && job.delayMs !== undefined ? { delayMs: job.delayMs } : {}),
    ...("runAt" in job && job.runAt ? { runAt: job.runAt } : {}),
    maxAttempts:
      job.task === "deliver" ? options.deliveryAttempts : job.task === "resume" ? RESUME_ATTEMPTS : TIMER_ATTEMPTS,
  };
}
