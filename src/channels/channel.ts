import type { Approval, JsonValue, Notification, VoteOutcome } from "../domain/types.ts";

/**
 * The one extension point for notifications. `send` is called from a worker job, once per
 * (notification, reviewer, channel); a rejected promise is retried with exponential backoff and recorded
 * in the audit trail, and never holds up other channels or the approval itself.
 */
export interface Channel {
  /** Unique among the configured channels; recorded in audit events. */
  readonly name: string;
  /**
   * Whether this channel can address `reviewer` (Slack takes e-mails and `slack:` ids, e-mail takes
   * addresses). Reviewers it cannot address are not sent to on it. @defaultValue every reviewer
   */
  accepts?(reviewer: string): boolean;
  /**
   * Delivers one notification. May return a receipt (say, the id of the message posted): it is kept in
   * the audit trail and handed back as `notification.thread` for later notifications to this reviewer.
   * Throw {@link UndeliverableError} when retrying cannot help.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a channel that keeps no receipt is written `async send() { … }`
  send(notification: Notification): Promise<void | DeliveryReceipt>;
  /**
   * Requests to `<mount>/<name>/<path>` (for example Slack's button clicks at `/slack/actions`), with the
   * raw body, after the size limit is applied. Refuse by throwing countersign's typed errors
   * (`ValidationError`, `SignatureRefusedError`, `NotFoundError`…): they become the standard error response.
   */
  handleRequest?(inbound: InboundRequest): Promise<Response>;
}

export interface DeliveryReceipt {
  ref: JsonValue;
}

/** A delivery that retrying cannot fix (no such user, a refused address): recorded as final at once. */
export class UndeliverableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UndeliverableError";
  }
}

/** What a channel's request handler may do; decisions are recorded with `via` set to the channel's name. */
export interface ChannelActions {
  get(id: string): Promise<Approval>;
  decide(
    id: string,
    input: {
      reviewer: string;
      /** The person acting, when `reviewer` is a team (see `DecideInput.voter`). */
      voter?: string;
      /** Absent only when `actions` decides a batch. */
      outcome?: VoteOutcome;
      comment?: string;
      context?: Record<string, JsonValue>;
      /** A batch: the decision on each open action by id. */
      actions?: Record<string, { outcome: VoteOutcome; edits?: Record<string, JsonValue>; comment?: string }>;
      /** Fields of the payload changed when approving (see `DecideInput.edits`). */
      edits?: Record<string, JsonValue>;
      /** The payload revision the reviewer saw. */
      revision?: number;
    },
  ): Promise<Approval>;
  /** Records a request's digest; false when it was already seen within `windowMs` (a replay). */
  firstSighting(digest: string, windowMs: number): Promise<boolean>;
}

export interface InboundRequest {
  /** The path below `/<channel name>/`, e.g. `actions`. */
  path: string;
  request: Request;
  /** The body exactly as received: signatures are computed over these bytes. */
  body: Uint8Array;
  actions: ChannelActions;
}
