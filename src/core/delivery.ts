/**
 * Notification delivery, run by worker jobs: a notify job fans a round out into one deliver job per
 * (reviewer, channel), each retried on its own with graphile-worker's exponential backoff, so a failing
 * channel never holds up another. Every attempt's result is an audit event.
 */
import { z } from "zod";
import { enqueue, jobKeys, TASKS } from "../scheduler/enqueue.ts";
import { deriveToken } from "../security/tokens.ts";
import { findToken, loadApproval } from "../store/approval-store.ts";
import { appendEvents } from "../store/event-store.ts";
import { SYSTEM_ACTOR, type EngineContext } from "./engine.ts";
import type { Approval, Notification, NotificationKind } from "./types.ts";

const KINDS = ["request", "reminder", "escalation", "decided", "timed_out", "cancelled"] as const satisfies NotificationKind[];
/** Kinds that ask for a decision: pointless once the approval is final. */
const ASKING_KINDS = new Set<NotificationKind>(["request", "reminder", "escalation"]);

const roundPayload = z.object({
  approvalId: z.string(),
  kind: z.enum(KINDS),
  round: z.string(),
  step: z.int(),
});
const notifyPayload = roundPayload.extend({ recipients: z.array(z.string()) });
const deliverPayload = roundPayload.extend({ reviewer: z.string(), channel: z.string() });
type DeliverPayload = z.infer<typeof deliverPayload>;

export async function fanOut(ctx: EngineContext, payload: unknown): Promise<void> {
  const round = notifyPayload.parse(payload);
  const { channels, delivery, logger } = ctx.options;
  if (channels.length === 0) {
    logger.debug({ approvalId: round.approvalId, round: round.round }, "countersign: no channels configured, nothing to deliver");
    return;
  }
  const { recipients, ...rest } = round;
  await ctx.database.transaction((db) =>
    enqueue(
      db,
      ctx.database.workerSchema,
      recipients.flatMap((reviewer) =>
        channels.map((channel) => ({
          task: TASKS.deliver,
          key: jobKeys.deliver(round.approvalId, round.round, reviewer, channel.name),
          payload: { ...rest, reviewer, channel: channel.name },
          maxAttempts: delivery.maxAttempts,
        })),
      ),
    ),
  );
}

export async function deliver(ctx: EngineContext, payload: unknown, job: { attempts: number; max_attempts: number }): Promise<void> {
  const target = deliverPayload.parse(payload);
  const { logger } = ctx.options;
  const channel = ctx.options.channels.find((c) => c.name === target.channel);
  if (!channel) {
    await recordAttempt(ctx, target, job.attempts, `no channel named "${target.channel}" is configured in this worker`, true);
    return;
  }
  const notification = await buildNotification(ctx, target, job.attempts);
  if (!notification) return;
  try {
    await channel.send(notification);
  } catch (error) {
    const final = job.attempts >= job.max_attempts;
    const message = error instanceof Error ? error.message : String(error);
    await recordAttempt(ctx, target, job.attempts, message, final);
    logger.warn(
      { approvalId: target.approvalId, channel: target.channel, reviewer: target.reviewer, attempt: job.attempts, final, error: message },
      final ? "countersign: notification failed for good" : "countersign: notification failed, will retry",
    );
    if (final) return;
    throw error;
  }
  await recordAttempt(ctx, target, job.attempts, null, true);
}

async function recordAttempt(ctx: EngineContext, target: DeliverPayload, attempt: number, error: string | null, final: boolean) {
  await ctx.database.transaction((db) =>
    appendEvents(db, [
      {
        approval_id: target.approvalId,
        type: error === null ? "notified" : "notify_failed",
        actor: SYSTEM_ACTOR,
        channel: target.channel,
        step: target.step,
        data:
          error === null
            ? { kind: target.kind, reviewer: target.reviewer, attempt }
            : { kind: target.kind, reviewer: target.reviewer, attempt, final, error },
      },
    ]),
  );
}

/** The notification for one reviewer, or undefined when it no longer makes sense to send. */
async function buildNotification(ctx: EngineContext, target: DeliverPayload, attempt: number): Promise<Notification | undefined> {
  const { approval, token } = await ctx.database.read(async (db) => ({
    approval: await loadApproval(db, target.approvalId),
    token: await findToken(db, target.approvalId, target.reviewer),
  }));
  if (!approval || !token) return undefined;
  if (ASKING_KINDS.has(target.kind) && (approval.status !== "pending" || hasVoted(approval, target))) {
    ctx.options.logger.debug({ approvalId: approval.id, kind: target.kind }, "countersign: skipped a stale notification");
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
      step: { index: step?.index ?? 0, name: step?.name ?? "", quorum: step?.quorum ?? 1, count: approval.steps.length },
    },
    links: { view, approve: `${view}?decision=approve`, reject: `${view}?decision=reject` },
    decision: approval.decision,
    attempt,
  };
}

function hasVoted(approval: Approval, target: DeliverPayload): boolean {
  const step = approval.steps[target.step];
  return step?.reviewers.some((r) => r.reviewer === target.reviewer && r.vote !== null) ?? false;
}
