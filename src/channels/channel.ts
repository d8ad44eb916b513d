import type { Notification } from "../core/types.ts";

/**
 * The one extension point for notifications. `send` is called from a worker job, once per
 * (notification, reviewer, channel); a rejected promise is retried with exponential backoff and recorded
 * in the audit trail, and never holds up other channels or the approval itself.
 */
export interface Channel {
  /** Unique among the configured channels; recorded in audit events. */
  readonly name: string;
  send(notification: Notification): Promise<void>;
}
