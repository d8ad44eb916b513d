/**
 * Notification delivery, run by worker jobs: a notify job fans a round out into one deliver job per
 * (reviewer, channel), each retried on its own with graphile-worker's exponential backoff, so a failing
 * channel never holds up another. Every attempt's result is an audit event. A reviewer whom no channel
 * could reach for an initial ask brings the step's next escalation level in at once.
 */
import type { z } from "zod";
import { UndeliverableError, type Channel } from "../channels/channel.ts";
import type { DeliverJob } from "../domain/jobs.ts";
import { SYSTEM_ACTOR } from "../domain/transition.ts";
import type { Approval, JsonValue, Notification, NotificationKind } from "../domain/types.ts";
import { jobSpec, PAYLOADS } from "../scheduler/jobs.ts";
import { addJobs } from "../scheduler/queue.ts";
import { deriveToken } from "../security/tokens.ts";
import { deliveryOutcomes, findToken, loadApproval } from "../store/approval-reads.ts";
import { appendEvents, firstReceipt } from "../store/event-store.ts";
import type { EngineContext } from "./context.ts";
import { fireTimer } from "./engine.ts";

/** Kinds that ask for a decision: pointless once the approval is final. */
const ASKING_KINDS = new Set<NotificationKind>(["request", "reminder", "escalation"]);
/** The first ask of a reviewer: when nobody can be reached with it, escalation should not wait. */
const FIRST_ASK_KINDS = new Set<NotificationKind>(["request", "escalation"]);

type DeliverPayload = z.infer<typeof PAYLOADS.deliver>;

function channelsFor(ctx: EngineContext, reviewer: string): Channel[] {
  return ctx.options.channels.filter((channel) => channel.accepts?.(reviewer) ?? true);
}

/**
 * Fans a round out to the channels of the worker that runs it. Every worker on a schema is expected to
 * serve the same channels (one app, one configuration; `start()` logs them): deliveries are addressed by
 * channel name, so a worker that lacks one never runs its jobs, but a round fanned out by a worker with
 * fewer channels reaches fewer. The simple rule, documented, beats a registry of every worker's channels
 * kept in the database; recording channels at request time would not do either, since the process that
 * requests (a web app, the CLI) often has none and leaves delivery to its workers.
 */
export async function fanOut(ctx: EngineContext, payload: unknown): Promise<void> {
  const round = PAYLOADS.notify.parse(payload);
  const { recipients, ...rest } = round;
  const { channels, delivery, logger } = ctx.options;
  if (channels.length === 0) {
    logger.debug(
      { approvalId: round.approvalId, round: round.round },
      "countersign: no channels configured, nothing to deliver",
    );
    return;
  }
  const unreachable = recipients.filter((reviewer) => channelsFor(ctx, reviewer).length === 0);
  await ctx.database.transaction(async (db) => {
    const deliveries: DeliverJob[] = recipients.flatMap((reviewer) =>
      channelsFor(ctx, reviewer).map((channel) => ({
        task: "deliver" as const,
        ...rest,
        reviewer,
        channel: channel.name,
      })),
    );
    await addJobs(
      db,
      ctx.database.workerSchema,
      deliveries.map((job) => jobSpec(job, { deliveryAttempts: delivery.maxAttempts })),
    );
    await appendEvents(
      db,
      unreachable.map((reviewer) => ({
        approval_id: round.approvalId,
        type: "notify_failed" as const,
        actor: SYSTEM_ACTOR,
        step: round.step,
        data: {
          kind: round.kind,
          round: round.round,
          reviewer,
          attempt: 0,
          final: true,
          error: "no configured channel can address this reviewer",
        },
      })),
    );
  });
  if (unreachable.length > 0 && FIRST_ASK_KINDS.has(round.kind)) await escalateNow(ctx, round.approvalId, round.step);
}

/** One delivery through `channel`: only a worker that has the channel registers its task (see `deliverTask`). */
export async function deliver(
  ctx: EngineContext,
  channel: Channel,
  payload: unknown,
  job: { attempts: number; max_attempts: number },
): Promise<void> {
  const target = PAYLOADS.deliver.parse(payload);
  const { logger } = ctx.options;
  const notification = await buildNotification(ctx, target, job.attempts);
  if (!notification) return;
  let receipt: JsonValue | undefined;
  try {
    receipt = (await channel.send(notification))?.ref;
  } catch (error) {
    const final = error instanceof UndeliverableError || job.attempts >= job.max_attempts;
    const message = error instanceof Error ? error.message : String(error);
    await recordAttempt(ctx, target, { attempt: job.attempts, error: message, final });
    logger.warn(
      {
        approvalId: target.approvalId,
        channel: target.channel,
        reviewer: target.reviewer,
        attempt: job.attempts,
        final,
        error: message,
      },
      final ? "countersign: notification failed for good" : "countersign: notification failed, will retry",
    );
    if (!final) throw error;
    if (FIRST_ASK_KINDS.has(target.kind) && (await unreachable(ctx, target)))
      await escalateNow(ctx, target.approvalId, target.step);
    return;
  }
  await recordAttempt(ctx, target, { attempt: job.attempts, receipt });
}

async function recordAttempt(
  ctx: EngineContext,
  target: DeliverPayload,
  outcome: { attempt: number; receipt?: JsonValue | undefined; error?: string; final?: boolean },
) {
  const { attempt, receipt, error, final } = outcome;
  const base = { kind: target.kind, round: target.round, reviewer: target.reviewer, attempt };
  await ctx.database.transaction((db) =>
    appendEvents(db, [
      {
        approval_id: target.approvalId,
        type: error === undefined ? "notified" : "notify_failed",
        actor: SYSTEM_ACTOR,
        channel: target.channel,
        step: target.step,
        data:
          error === undefined
            ? { ...base, ...(receipt !== undefined ? { receipt } : {}) }
            : { ...base, final: final ?? false, error },
      },
    ]),
  );
}

/** True when every channel that could reach this reviewer failed for good on this round, and none delivered. */
async function unreachable(ctx: EngineContext, target: DeliverPayload): Promise<boolean> {
  const outcomes = await ctx.database.run((db) =>
    deliveryOutcomes(db, target.approvalId, target.round, target.reviewer),
  );
  if (outcomes.delivered.length > 0) return false;
  return channelsFor(ctx, target.reviewer).every((channel) => outcomes.failedForGood.includes(channel.name));
}

/** Brings the step's next escalation level in now instead of at its scheduled time. */
function escalateNow(ctx: EngineContext, approvalId: string, step: number): Promise<void> {
  return fireTimer(ctx, approvalId, { type: "unreachable", step });
}

/** The notification for one reviewer on one channel, or undefined when it no longer makes sense to send. */
async function buildNotification(
  ctx: EngineContext,
  target: DeliverPayload,
  attempt: number,
): Promise<Notification | undefined> {
  const { approval, token, thread } = await ctx.database.run(async (db) => ({
    approval: await loadApproval(db, target.approvalId),
    token: await findToken(db, target.approvalId, target.reviewer),
    thread: await firstReceipt(db, target.approvalId, target.reviewer, target.channel),
  }));
  if (!approval || !token) return undefined;
  if (ASKING_KINDS.has(target.kind) && (approval.status !== "pending" || hasVoted(approval, target))) {
    ctx.options.logger.debug(
      { approvalId: approval.id, kind: target.kind },
      "countersign: skipped a stale notification",
    );
    return undefined;
  }
  const step = approval.steps[target.step] ?? approval.steps[approval.currentStep];
  const secretToken = deriveToken(ctx.options.secret, approval.id, target.reviewer, token.nonce);
  const view = `${ctx.options.publicUrl}/r/${secretToken}`;
  return {
    kind: target.kind,
    key: `${approval.id}:${target.round}`,
    reviewer: target.reviewer,
    approval: {
      id: approval.id,
      type: approval.type,
      title: approval.title,
      payload: approval.payload,
      requestedBy: approval.requestedBy,
      status: approval.status,
      deadline: approval.deadline,
      createdAt: approval.createdAt,
      step: {
        index: step?.index ?? 0,
        name: step?.name ?? "",
        quorum: step?.quorum ?? 1,
        count: approval.steps.length,
      },
    },
    links: { view, approve: `${view}?decision=approve`, reject: `${view}?decision=reject` },
    decision: approval.decision,
    thread,
    attempt,
  };
}

function hasVoted(approval: Approval, target: DeliverPayload): boolean {
  const step = approval.steps[target.step];
  return step?.reviewers.some((r) => r.reviewer === target.reviewer && r.vote !== null) ?? false;
}
