/**
 * Notification delivery, run by worker jobs: a notify job fans a round out into one deliver job per
 * (reviewer, channel), each retried on its own with graphile-worker's exponential backoff, so a failing
 * channel never holds up another. Every attempt's result is an audit event. A reviewer whom no channel
 * could reach for an initial ask brings the step's next escalation level in at once.
 */
import { sql } from "kysely";
import type { z } from "zod";
import { UndeliverableError, type Channel } from "../channels/channel.ts";
import type { NotifyJob } from "../domain/jobs.ts";
import { SYSTEM_ACTOR } from "../domain/plan.ts";
import type { Approval, JsonValue, Notification } from "../domain/types.ts";
import { jobSpec, PAYLOADS } from "../scheduler/jobs.ts";
import { addJobsQuery } from "../scheduler/queue.ts";
import { createTokenNonce, deriveToken, hashToken } from "../security/tokens.ts";
import { deliveryOutcomes, existingApproval, readForDelivery } from "../store/approval-reads.ts";
import { activeDelegationsFrom, addTokensQuery } from "../store/delegations.ts";
import { appendEvents, eventsInsertQuery } from "../store/event-store.ts";
import { together } from "../store/statement.ts";
import type { EngineContext } from "./context.ts";
import { fireTimer } from "./engine.ts";
import { ASKING_KINDS, channelsFor, expandRound, FIRST_ASK_KINDS } from "./rounds.ts";

type DeliverPayload = z.infer<typeof PAYLOADS.deliver>;

/** The notify job: a round written by a process without channels, expanded by a worker that has them. */
export async function fanOut(ctx: EngineContext, payload: unknown): Promise<void> {
  const round: NotifyJob = { task: "notify", ...PAYLOADS.notify.parse(payload) };
  if (ctx.options.channels.length === 0) {
    ctx.options.logger.debug(
      { approvalId: round.approvalId, round: round.round },
      "countersign: no channels configured, nothing to deliver",
    );
    return;
  }
  const { deliveries, events, escalateNow: escalate } = expandRound(ctx, round);
  const specs = deliveries.map((job) => jobSpec(job, { deliveryAttempts: ctx.options.delivery.maxAttempts }));
  // One statement, atomic by itself: the deliveries and the audit of who cannot be reached, written only
  // while the approval exists (prune may take it while this round runs: its audit must not grow after).
  const { schema, workerSchema } = ctx.database;
  const live = sql.id("live");
  await ctx.database.run((db) =>
    together(db, {
      live: existingApproval(schema, round.approvalId),
      ...(specs.length > 0 ? { jobs: addJobsQuery(workerSchema, specs, live) } : {}),
      ...(events.length > 0 ? { events: eventsInsertQuery(schema, round.approvalId, events, live) } : {}),
    }),
  );
  if (escalate) await escalateNow(ctx, round.approvalId, round.step);
}

/**
 * The delegates job: the round's recipients who are away have named someone to decide for them. Each
 * delegate gets a link of their own on this approval and the same round through their channels, saying
 * whom they stand in for. Added only when such a delegation existed as the round was planned.
 */
export async function askDelegates(ctx: EngineContext, payload: unknown): Promise<void> {
  const round = PAYLOADS.delegates.parse(payload);
  if (ctx.options.channels.length === 0) return;
  const { approvalId } = round;
  const delegations = await ctx.database.run((db) => activeDelegationsFrom(db, approvalId, round.recipients));
  // One delivery per delegate, for the first reviewer they stand in for.
  const standsFor = new Map<string, string>();
  for (const d of delegations) if (!standsFor.has(d.to_reviewer)) standsFor.set(d.to_reviewer, d.from_reviewer);
  if (standsFor.size === 0) return;
  const tokens = [...standsFor.keys()].map((reviewer) => {
    const nonce = createTokenNonce();
    return { reviewer, nonce, tokenHash: hashToken(deriveToken(ctx.options.secret, approvalId, reviewer, nonce)) };
  });
  const { kind, round: name, step } = round;
  const specs = [...standsFor].flatMap(([reviewer, onBehalfOf]) =>
    channelsFor(ctx, reviewer).map((channel) =>
      jobSpec(
        { task: "deliver", approvalId, kind, round: name, step, reviewer, channel: channel.name, onBehalfOf },
        { deliveryAttempts: ctx.options.delivery.maxAttempts },
      ),
    ),
  );
  // One statement: the links first (a delivery reads its link), then the deliveries.
  await ctx.database.run((db) =>
    together(db, {
      tokens: addTokensQuery(ctx.database.schema, approvalId, tokens),
      ...(specs.length > 0 ? { jobs: addJobsQuery(ctx.database.workerSchema, specs) } : {}),
    }),
  );
}

/** One delivery through `channel`: only a worker that has the channel registers its task (see `deliverTask`). */
export async function deliver(
  ctx: EngineContext,
  channel: Channel,
  payload: unknown,
  job: { attempts: number; max_attempts: number },
): Promise<void> {
  const target = PAYLOADS.deliver.parse(payload);
  const attributes = {
    "countersign.approval.id": target.approvalId,
    "countersign.channel": target.channel,
    "countersign.notification.kind": target.kind,
    "countersign.attempt": job.attempts,
  };
  return ctx.telemetry.span("countersign.deliver", attributes, target.approvalId, () =>
    attempt(ctx, channel, target, job),
  );
}

/** One delivery attempt: a failure that retrying will not fix brings the next escalation level in. */
async function attempt(
  ctx: EngineContext,
  channel: Channel,
  target: DeliverPayload,
  job: { attempts: number; max_attempts: number },
): Promise<void> {
  const { logger } = ctx.options;
  const notification = await buildNotification(ctx, target, job.attempts);
  if (!notification) return;
  let receipt: JsonValue | undefined;
  try {
    receipt = (await channel.send(notification))?.ref;
  } catch (error) {
    const final = error instanceof UndeliverableError || job.attempts >= job.max_attempts;
    const message = error instanceof Error ? error.message : String(error);
    ctx.telemetry.deliveryFailed(target.channel, final);
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
  const base = {
    kind: target.kind,
    round: target.round,
    reviewer: target.reviewer,
    attempt,
    ...(target.onBehalfOf ? { onBehalfOf: target.onBehalfOf } : {}),
  };
  // One INSERT is atomic by itself: no transaction around it.
  await ctx.database.run((db) =>
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
  const read = await ctx.database.run((db) => readForDelivery(db, target.approvalId, target.reviewer, target.channel));
  if (!read?.nonce) return undefined;
  const { approval, nonce, receipt: thread } = read;
  if (ASKING_KINDS.has(target.kind) && (approval.status !== "pending" || hasVoted(approval, target))) {
    ctx.options.logger.debug(
      { approvalId: approval.id, kind: target.kind },
      "countersign: skipped a stale notification",
    );
    return undefined;
  }
  const step = approval.steps[target.step] ?? approval.steps[approval.currentStep];
  const secretToken = deriveToken(ctx.options.secret, approval.id, target.reviewer, nonce);
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
      revision: approval.revision,
      edits: approval.edits,
      editable: approval.editable,
      actions: approval.actions,
    },
    onBehalfOf: target.onBehalfOf ?? null,
    links: { view, approve: `${view}?decision=approve`, reject: `${view}?decision=reject` },
    decision: approval.decision,
    thread,
    attempt,
  };
}

/** Has the reviewer (or, for a delegate, the reviewer they stand in for) voted on the round's step? */
function hasVoted(approval: Approval, target: DeliverPayload): boolean {
  const step = approval.steps[target.step];
  const who = [target.reviewer, ...(target.onBehalfOf ? [target.onBehalfOf] : [])];
  return (
    step?.reviewers.some(
      (r) =>
        r.vote !== null &&
        (who.includes(r.reviewer) || who.includes(r.vote.voter) || r.vote.onBehalfOf === target.reviewer),
    ) ?? false
  );
}
