/** Notification rounds on this process's channels: one deliver job per (reviewer, channel). */
import type { RawBuilder } from "kysely";
import type { Channel } from "../channels/channel.ts";
import type { DeliverJob, Job, NotifyJob } from "../domain/jobs.ts";
import { type PlannedEvent, SYSTEM_ACTOR } from "../domain/plan.ts";
import type { NotificationKind } from "../domain/types.ts";
import { jobSpec } from "../scheduler/jobs.ts";
import { addJobsQuery } from "../scheduler/queue.ts";
import { anyActiveDelegation } from "../store/delegations.ts";
import type { EngineContext } from "./context.ts";

/** Kinds that ask for a decision: pointless once the approval is final, and sent to delegates too. */
export const ASKING_KINDS = new Set<NotificationKind>(["request", "reminder", "escalation", "expiring", "extended"]);

/** The first ask of a reviewer: when nobody can be reached with it, escalation should not wait. */
export const FIRST_ASK_KINDS = new Set<NotificationKind>(["request", "escalation"]);

export function channelsFor(ctx: EngineContext, reviewer: string): Channel[] {
  return ctx.options.channels.filter((channel) => channel.accepts?.(reviewer) ?? true);
}

/** What a notification round becomes on this process's channels. */
export interface ExpandedRound {
  deliveries: DeliverJob[];
  /** `notify_failed` for reviewers no channel can address. */
  events: PlannedEvent[];
  /** A reviewer of a first ask cannot be reached at all: the next level should be asked now. */
  escalateNow: boolean;
}

/**
 * A round as one deliver job per (reviewer, channel), through the channels of the process that expands
 * it. Every process on a schema that has channels is expected to have the same ones (one app, one
 * configuration; `start()` logs them): deliveries are addressed by channel name, so a worker that lacks
 * one never runs its jobs, but a round expanded where there are fewer channels reaches fewer. The simple
 * rule, documented, beats a registry of every worker's channels kept in the database.
 */
export function expandRound(ctx: EngineContext, round: NotifyJob): ExpandedRound {
  const { recipients, task: _, ...rest } = round;
  const unreachable = recipients.filter((reviewer) => channelsFor(ctx, reviewer).length === 0);
  return {
    deliveries: recipients.flatMap((reviewer) =>
      channelsFor(ctx, reviewer).map((channel) => ({
        task: "deliver" as const,
        ...rest,
        reviewer,
        channel: channel.name,
      })),
    ),
    events: unreachable.map((reviewer) => ({
      type: "notify_failed" as const,
      actor: SYSTEM_ACTOR,
      channel: null,
      step: round.step,
      comment: null,
      data: {
        kind: round.kind,
        round: round.round,
        reviewer,
        attempt: 0,
        final: true,
        error: "no configured channel can address this reviewer",
      },
    })),
    escalateNow: unreachable.length > 0 && FIRST_ASK_KINDS.has(round.kind),
  };
}

/**
 * Where this process has channels, a plan's rounds become their deliveries at once, in the same
 * statement: one job less between a timer (or a decision) and the reviewer's notification. A round
 * that must bring the next escalation level in (a first ask nobody can receive) stays a notify job,
 * whose worker does that.
 */
export function expandRounds(ctx: EngineContext, jobs: Job[]): { jobs: Job[]; events: PlannedEvent[] } {
  if (ctx.options.channels.length === 0) return { jobs, events: [] };
  const events: PlannedEvent[] = [];
  const expanded = jobs.flatMap((job): Job[] => {
    if (job.task !== "notify") return [job];
    const round = expandRound(ctx, job);
    if (round.escalateNow) return [job];
    events.push(...round.events);
    return round.deliveries;
  });
  return { jobs: expanded, events };
}

/** A round that asks reviewers also asks whoever they delegated to (a `delegates` job finds them). */
export function asksDelegates(job: Job): job is NotifyJob {
  return job.task === "notify" && ASKING_KINDS.has(job.kind) && job.recipients.length > 0;
}

/**
 * For each asking round in `jobs`, a statement part that adds a `delegates` job, but only when one of
 * the round's recipients has an active delegation (a cheap index probe): the worker then gives those
 * delegates links and deliveries of their own. Gated on `onlyIfRowsIn` like the rest of a change.
 */
export function delegateRounds(
  ctx: EngineContext,
  jobs: Job[],
  onlyIfRowsIn?: RawBuilder<unknown>,
): RawBuilder<unknown>[] {
  const { schema, workerSchema } = ctx.database;
  return jobs.flatMap((job) =>
    asksDelegates(job)
      ? [
          addJobsQuery(
            workerSchema,
            [jobSpec({ ...job, task: "delegates" }, { deliveryAttempts: ctx.options.delivery.maxAttempts })],
            onlyIfRowsIn,
            anyActiveDelegation(schema, job.recipients),
          ),
        ]
      : [],
  );
}
