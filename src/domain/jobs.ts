/**
 * The jobs a plan asks for, as plain data: what should happen and when. `scheduler/jobs.ts` turns each
 * into a graphile-worker job (task name, key, payload) and back.
 */
import type { NotificationKind, StepSchedule } from "./types.ts";

/** A notification round for some reviewers, fanned out per (reviewer, channel) by the worker. */
export interface NotifyJob {
  task: "notify";
  approvalId: string;
  kind: NotificationKind;
  round: string;
  step: number;
  recipients: string[];
}

/** One reviewer on one channel. */
export interface DeliverJob {
  task: "deliver";
  approvalId: string;
  kind: NotificationKind;
  round: string;
  step: number;
  reviewer: string;
  channel: string;
  /** A delegate's delivery: the reviewer they stand in for. */
  onBehalfOf?: string | null;
}

/** A round's recipients' active delegates, asked alongside them (see `scheduler/jobs.ts`). */
interface DelegatesJob extends Omit<NotifyJob, "task"> {
  task: "delegates";
}

interface ReminderJob {
  task: "reminder";
  approvalId: string;
  step: number;
  /** Index into the step's reminders. */
  reminder: number;
  delayMs?: number;
}

interface EscalationJob {
  task: "escalation";
  approvalId: string;
  step: number;
  level: number;
  delayMs?: number;
}

interface TimeoutJob {
  task: "timeout";
  approvalId: string;
  delayMs?: number;
  /** An absolute time instead of a delay. */
  runAt?: Date;
}

/** The `expiring` notice, `warnBefore` ahead of the deadline. */
interface WarningJob {
  task: "warning";
  approvalId: string;
  delayMs?: number;
  runAt?: Date;
}

/** An `onDecision` handler's run for one final approval. */
interface ResumeJob {
  task: "resume";
  approvalId: string;
  /** The handler's name. */
  handler: string;
}

export type Job =
  | NotifyJob
  | DeliverJob
  | DelegatesJob
  | ReminderJob
  | EscalationJob
  | TimeoutJob
  | WarningJob
  | ResumeJob;
/** A timer, named to be removed: the same fields as its job, without the time. */
export type TimerRef =
  | Omit<ReminderJob, "delayMs">
  | Omit<EscalationJob, "delayMs">
  | Omit<TimeoutJob, "delayMs" | "runAt">
  | Omit<WarningJob, "delayMs" | "runAt">;

/** The names of notification rounds: part of each notification's stable `key`. */
export const ROUNDS = {
  request: (step: number) => `request:${step}`,
  reminder: (step: number, reminder: number) => `reminder:${step}:${reminder}`,
  escalation: (step: number, level: number) => `escalation:${step}:${level}`,
  /** One round per deadline: an extended approval warns again before its new deadline. */
  expiring: (deadline: Date) => `expiring:${deadline.getTime()}`,
  /** One round per extension: the new deadline names it. */
  extended: (deadline: Date) => `extended:${deadline.getTime()}`,
  outcome: "outcome",
} as const;

interface TimedStep {
  step: number;
  schedule: StepSchedule;
  escalationLevels: number;
}

/** The reminder and escalation timers of a step that starts now, skipping any due after the deadline. */
export function stepTimers(approvalId: string, step: TimedStep, msUntilDeadline: number): Job[] {
  const jobs: Job[] = [];
  step.schedule.remindersMs.forEach((delayMs, reminder) => {
    if (delayMs < msUntilDeadline) jobs.push({ task: "reminder", approvalId, step: step.step, reminder, delayMs });
  });
  for (let level = 1; level <= step.escalationLevels; level++) {
    const delayMs = level * step.schedule.escalateAfterMs;
    if (delayMs < msUntilDeadline) jobs.push({ task: "escalation", approvalId, step: step.step, level, delayMs });
  }
  return jobs;
}

/** Every timer a step may have scheduled, to remove them when it ends. */
export function stepTimerRefs(approvalId: string, step: TimedStep): TimerRef[] {
  return [
    ...step.schedule.remindersMs.map((_, reminder) => ({
      task: "reminder" as const,
      approvalId,
      step: step.step,
      reminder,
    })),
    ...Array.from({ length: step.escalationLevels }, (_, i) => ({
      task: "escalation" as const,
      approvalId,
      step: step.step,
      level: i + 1,
    })),
  ];
}
