/**
 * What Slack sends countersign and what its API answers: the shapes of interaction payloads and button
 * values, the errors retrying cannot fix, and reading a signed request's parts safely.
 */
import { type Logger as SlackLogger, LogLevel } from "@slack/web-api";
import { z } from "zod";
import { ValidationError } from "../errors.ts";

/** Slack errors that retrying will not fix. */
export const PERMANENT = new Set([
  "users_not_found",
  "user_not_found",
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "account_inactive",
  "invalid_auth",
  "not_authed",
  "missing_scope",
  "cannot_dm_bot",
]);

export const SILENT: SlackLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  setLevel() {},
  getLevel: () => LogLevel.ERROR,
  setName() {},
};

export const receiptSchema = z.object({ channel: z.string(), ts: z.string() });
/** Identifies the approval and the reviewer the message was sent to; carried by the buttons. */
export interface ButtonValue {
  a: string;
  r: string;
  /** The payload revision shown: approving it after someone else's edit is refused as stale. */
  v?: number;
}

export const buttonValue = z.object({ a: z.string(), r: z.string(), v: z.int().min(1).optional() });
const slackUser = z.object({
  id: z.string(),
  username: z.string().optional(),
  name: z.string().optional(),
  team_id: z.string().optional(),
});
export const interaction = z.object({
  type: z.string(),
  user: slackUser,
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).optional(),
  view: z
    .object({
      callback_id: z.string(),
      private_metadata: z.string(),
      state: z.object({
        values: z.record(
          z.string(),
          z.record(
            z.string(),
            z.object({ value: z.string().nullish(), selected_option: z.object({ value: z.string() }).nullish() }),
          ),
        ),
      }),
    })
    .optional(),
});
export type Interaction = z.infer<typeof interaction>;

/** The innermost error's code and message (Slack's client wraps fetch, which wraps the socket error). */
export function rootCause(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth++) {
    const next =
      (current as { original?: unknown; cause?: unknown }).original ?? (current as { cause?: unknown }).cause;
    if (!next) break;
    current = next;
  }
  if (current === error || !(current instanceof Error)) return undefined;
  const code = (current as { code?: unknown }).code;
  return typeof code === "string" && !current.message.includes(code) ? `${code}: ${current.message}` : current.message;
}

/** A signed request countersign cannot use: a 400 naming what is wrong. */
export function refused(path: string, message: string): ValidationError {
  return new ValidationError("Slack request", [{ path, message }]);
}

export function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
