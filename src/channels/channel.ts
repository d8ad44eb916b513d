import type { Approval, JsonValue, Notification, VoteOutcome } from "../core/types.ts";

/**
 * The one extension point for notifications. `send` is called from a worker job, once per
 * (notification, reviewer, channel); a rejected promise is retried with exponential backoff and recorded
 * in the audit trail, and never holds up other channels or the approval itself.
 */
export interface Channel {
  /** Unique among the configured channels; recorded in audit events. */
  readonly name: string;
  send(notification: Notification): Promise<void>;
  /**
   * Optional: requests to `<mount>/<name>/<path>` (for example Slack's button clicks at
   * `/slack/actions`) are handed here with the raw body, after the size limit is applied.
   */
  handleRequest?(inbound: InboundRequest): Promise<Response>;
}

/** What a channel's request handler may do; decisions are recorded with `via` set to the channel's name. */
export interface ChannelActions {
  get(id: string): Promise<Approval>;
  decide(
    id: string,
    input: { reviewer: string; outcome: VoteOutcome; comment?: string; context?: Record<string, JsonValue> },
  ): Promise<Approval>;
}

export interface InboundRequest {
  /** The path below `/<channel name>/`, e.g. `actions`. */
  path: string;
  request: Request;
  /** The body exactly as received: signatures are computed over these bytes. */
  body: Uint8Array;
  actions: ChannelActions;
}
