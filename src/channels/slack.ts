/**
 * Slack: a Block Kit message with Approve / Reject / Open (and Edit, when the request has editable
 * fields) in each reviewer's DM (or a team channel), reminders as thread replies, and the original
 * message updated to show the outcome however it was decided. Button clicks arrive at
 * `<mount>/slack/actions`, are signature-checked, mapped to a listed reviewer and recorded before
 * Slack's 3-second deadline. Approve and the Edit modal are bound to the payload revision they showed.
 * A batch lists each action with its own buttons (see `slack-batch.ts`); modals are in `slack-modals.ts`.
 */
import { ErrorCode, WebClient } from "@slack/web-api";
import { z } from "zod";
import { editableFields } from "../domain/editable.ts";
import type { Decision, JsonValue, Notification } from "../domain/types.ts";
import { normalizeIdentity } from "../domain/identity.ts";
import { AlreadyDecidedError, ApprovalError, NotFoundError, SignatureRefusedError } from "../errors.ts";
import {
  type ButtonValue,
  buttonValue,
  type Interaction,
  interaction,
  PERMANENT,
  receiptSchema,
  refused,
  rootCause,
  SILENT,
  safeJson,
} from "./slack-wire.ts";
import { parseSlackSigningSecret } from "../security/secrets.ts";
import { SIGNATURE_TOLERANCE_MS, verifySlackSignature } from "../security/signatures.ts";
import { parseInput } from "../validation.ts";
import {
  UndeliverableError,
  type Channel,
  type ChannelActions,
  type DeliveryReceipt,
  type InboundRequest,
} from "./channel.ts";
import { APPROVE_ALL_ID, BATCH_ACTION_PREFIX, BATCH_CALLBACK_ID } from "./slack-batch.ts";
import {
  ACTION_IDS,
  EDIT_CALLBACK_ID,
  editModal,
  outcomeLine,
  outcomeMessage,
  REJECT_CALLBACK_ID,
  rejectModal,
  reminderMessage,
  requestMessage,
} from "./slack-blocks.ts";
import { onActionClick, onBatchSubmitted, onEditSubmitted, onRejectSubmitted } from "./slack-modals.ts";

/** Options of {@link slackChannel}. */
export interface SlackChannelOptions {
  /**
   * Bot token (`xoxb-…`) with chat:write, users:read, users:read.email and im:write. Required; typed to
   * take `process.env.SLACK_BOT_TOKEN` as it is, and refused with a ValidationError when missing.
   */
  token: string | undefined;
  /**
   * The app's signing secret, to verify button clicks (Basic Information → App Credentials). Required;
   * typed to take an environment variable as it is, and refused with a ValidationError when missing.
   */
  signingSecret: string | undefined;
  /** Slack's Web API base URL, passed to `WebClient`. @defaultValue `"https://slack.com/api/"` */
  slackApiUrl?: string;
  /** The channel's name, and its route: `<mount>/<name>/actions`. @defaultValue `"slack"` */
  name?: string;
  /** Payload fields shown in the message (Slack allows 10). @defaultValue `8` */
  maxFields?: number;
  /** Per Slack API call. @defaultValue `10_000` */
  timeoutMs?: number;
}

/** Where a message goes: reviewer ids `slack:U…`/`slack:C…`/`slack:#name`, or an e-mail looked up in Slack. */
const SLACK_PREFIX = "slack:";
const EMAIL = /^[^@\s]+@[^@\s]+$/;
const CACHE_MS = 60 * 60_000;
const ack = () => new Response(null, { status: 200 });

/**
 * @example
 * createApprovals({ ..., channels: [
 *   slackChannel({ token: process.env.SLACK_BOT_TOKEN, signingSecret: process.env.SLACK_SIGNING_SECRET }),
 * ]});
 * // Slack app → Interactivity → Request URL: https://app.example.com/approvals/slack/actions
 */
export function slackChannel(options: SlackChannelOptions): Channel {
  const signingSecret = parseSlackSigningSecret(options.signingSecret);
  const { token } = parseInput(
    z.object({ token: z.string().min(1, { error: "must be the bot token (xoxb-…)" }) }),
    options,
    "slackChannel options",
  );
  const client = new WebClient(token, {
    ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    logger: SILENT,
    // Retries belong to the delivery job (with backoff and an audit event per attempt), not to the client.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: options.timeoutMs ?? 10_000,
  });
  const maxFields = options.maxFields ?? 8;
  const idsByEmail = new Map<string, { id: string; at: number }>();
  const emailsById = new Map<string, { email: string | undefined; at: number }>();

  async function userIdForEmail(email: string): Promise<string> {
    const cached = idsByEmail.get(email.toLowerCase());
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.id;
    const result = await client.users.lookupByEmail({ email });
    const id = result.user?.id;
    if (!id) throw new UndeliverableError(`Slack has no user with e-mail ${email}`);
    idsByEmail.set(email.toLowerCase(), { id, at: Date.now() });
    return id;
  }

  async function emailForUser(userId: string): Promise<string | undefined> {
    const cached = emailsById.get(userId);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.email;
    const result = await client.users.info({ user: userId });
    const email = result.user?.profile?.email;
    emailsById.set(userId, { email, at: Date.now() });
    return email;
  }

  async function destination(reviewer: string): Promise<string> {
    if (reviewer.startsWith(SLACK_PREFIX)) return reviewer.slice(SLACK_PREFIX.length);
    return userIdForEmail(reviewer);
  }

  async function call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      const slackError = (error as { data?: { error?: string } }).data?.error;
      if (code === ErrorCode.PlatformError && slackError && PERMANENT.has(slackError)) {
        throw new UndeliverableError(`Slack refused: ${slackError}`, { cause: error });
      }
      // "fetch failed" says nothing to an operator; the socket error underneath does.
      const underlying = rootCause(error);
      if (underlying && error instanceof Error && !error.message.includes(underlying)) {
        throw new Error(`${error.message} (${underlying})`, { cause: error });
      }
      throw error;
    }
  }

  async function post(notification: Notification): Promise<DeliveryReceipt> {
    const channel = await destination(notification.reviewer);
    const message = requestMessage(notification, maxFields);
    const result = await client.chat.postMessage({
      channel,
      text: message.text,
      blocks: message.blocks as never,
      unfurl_links: false,
    });
    if (!result.channel || !result.ts) throw new Error("Slack did not return the posted message's channel and ts");
    return { ref: { channel: result.channel, ts: result.ts } };
  }

  async function send(notification: Notification): Promise<DeliveryReceipt | undefined> {
    const thread = receiptSchema.safeParse(notification.thread);
    return call(async () => {
      switch (notification.kind) {
        case "request":
        case "escalation":
          return post(notification);
        case "reminder":
        case "expiring":
        case "extended": {
          if (!thread.success) return post(notification); // the first message never arrived: ask afresh
          const message = reminderMessage(notification);
          await client.chat.postMessage({
            channel: thread.data.channel,
            thread_ts: thread.data.ts,
            text: message.text,
            blocks: message.blocks as never,
          });
          return undefined;
        }
        default: {
          // The outcome replaces the original message, so its buttons cannot be used any more.
          if (!thread.success || !notification.decision) return undefined;
          const message = outcomeMessage(notification, notification.decision, maxFields);
          await client.chat.update({
            channel: thread.data.channel,
            ts: thread.data.ts,
            text: message.text,
            blocks: message.blocks as never,
          });
          return undefined;
        }
      }
    });
  }

  /**
   * The listed reviewer this Slack user acts as, and the one identity the person votes under: their
   * e-mail when Slack knows it (so a click in Slack and a vote by e-mail are the same person), else their
   * Slack id. A team channel's members act for the team, but each still counts once.
   */
  async function actingReviewer(
    user: Interaction["user"],
    listed: string,
  ): Promise<{ reviewer: string; voter: string } | undefined> {
    const person = async () => {
      const email = await emailForUser(user.id);
      return email ? normalizeIdentity(email) : `${SLACK_PREFIX}${user.id}`;
    };
    if (listed.startsWith(SLACK_PREFIX)) {
      const target = listed.slice(SLACK_PREFIX.length);
      if (target === user.id) return { reviewer: listed, voter: listed };
      if (target.startsWith("#") || /^[CG][A-Z0-9]+$/.test(target)) return { reviewer: listed, voter: await person() };
      return undefined;
    }
    const voter = await person();
    return voter === normalizeIdentity(listed) ? { reviewer: listed, voter: listed } : undefined;
  }

  function respondLater(responseUrl: string | undefined, body: Record<string, unknown>): void {
    if (!responseUrl) return;
    fetch(responseUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  const finalState = (decision: Decision): Record<string, unknown> => ({
    replace_original: true,
    text: outcomeLine(decision),
    blocks: [{ type: "section", text: { type: "mrkdwn", text: outcomeLine(decision) } }],
  });
  const ephemeral = (text: string): Record<string, unknown> => ({
    response_type: "ephemeral",
    replace_original: false,
    text,
  });

  function context(user: Interaction["user"]): Record<string, JsonValue> {
    return { slackUserId: user.id, slackUserName: user.username ?? user.name ?? "", slackTeamId: user.team_id ?? "" };
  }

  async function onClick(payload: Interaction, actions: ChannelActions): Promise<Response> {
    const action = payload.actions?.[0];
    const decides = [ACTION_IDS.approve, ACTION_IDS.reject, ACTION_IDS.edit, APPROVE_ALL_ID] as string[];
    if (action?.action_id.startsWith(BATCH_ACTION_PREFIX)) return onActionClick(deps, payload, action.value, actions);
    if (!action || !decides.includes(action.action_id)) return ack();
    const value = buttonValue.safeParse(safeJson(action.value));
    if (!value.success) throw refused("actions.0.value", "is not a button countersign made");
    const { a: approvalId, r: listed, v: shownRevision } = value.data satisfies ButtonValue;
    const acting = await actingReviewer(payload.user, listed);
    if (!acting) {
      respondLater(
        payload.response_url,
        ephemeral("You are not a reviewer of this approval, so your click was not recorded."),
      );
      return ack();
    }
    const approval = await actions.get(approvalId);
    if (approval.decision) {
      respondLater(payload.response_url, finalState(approval.decision));
      return ack();
    }
    if (action.action_id === ACTION_IDS.reject) {
      const metadata = JSON.stringify({ a: approvalId, r: listed });
      await client.views.open({
        trigger_id: payload.trigger_id ?? "",
        view: rejectModal(approval.title, metadata) as never,
      });
      return ack();
    }
    if (action.action_id === ACTION_IDS.edit) {
      // The modal is bound to the revision it shows: approving it after another reviewer's edit is stale.
      const metadata = JSON.stringify({ a: approvalId, r: listed, v: approval.revision } satisfies ButtonValue);
      await client.views.open({
        trigger_id: payload.trigger_id ?? "",
        view: editModal(approval.title, editableFields(approval), metadata) as never,
      });
      return ack();
    }
    try {
      await actions.decide(approvalId, {
        ...acting,
        outcome: "approve",
        context: context(payload.user),
        ...(shownRevision ? { revision: shownRevision } : {}),
      });
    } catch (error) {
      if (error instanceof AlreadyDecidedError && error.data.decision) {
        respondLater(payload.response_url, finalState(error.data.decision as Decision));
      } else if (error instanceof ApprovalError) {
        respondLater(payload.response_url, ephemeral(`Not recorded: ${error.message}`));
      } else throw error;
    }
    return ack();
  }

  const deps = { client, actingReviewer, respondLater, finalState, ephemeral, context };

  return {
    name: options.name ?? "slack",
    accepts: (reviewer) => reviewer.startsWith(SLACK_PREFIX) || EMAIL.test(reviewer),
    send,
    async handleRequest({ path, request, body, actions }: InboundRequest): Promise<Response> {
      if (path !== "actions") throw new NotFoundError(`Slack route /${path}`, { path });
      const signature = request.headers.get("x-slack-signature");
      const check = verifySlackSignature({
        signingSecret,
        timestamp: request.headers.get("x-slack-request-timestamp"),
        signature,
        body,
      });
      if (!check.ok) throw new SignatureRefusedError(`Slack signature refused: ${check.reason}`);
      if (!(await actions.firstSighting(signature ?? "", 2 * SIGNATURE_TOLERANCE_MS))) {
        throw new SignatureRefusedError("Slack signature refused: this request was already received (replay)");
      }
      const form = new URLSearchParams(Buffer.from(body).toString("utf8"));
      const payload = interaction.safeParse(safeJson(form.get("payload") ?? undefined));
      if (!payload.success) throw refused("payload", "is not a Slack interaction payload");
      if (payload.data.type === "block_actions") return onClick(payload.data, actions);
      if (payload.data.type === "view_submission" && payload.data.view?.callback_id === REJECT_CALLBACK_ID) {
        return onRejectSubmitted(deps, payload.data, actions);
      }
      if (payload.data.type === "view_submission" && payload.data.view?.callback_id === BATCH_CALLBACK_ID) {
        return onBatchSubmitted(deps, payload.data, actions);
      }
      if (payload.data.type === "view_submission" && payload.data.view?.callback_id === EDIT_CALLBACK_ID) {
        return onEditSubmitted(deps, payload.data, actions);
      }
      return ack();
    },
  };
}
