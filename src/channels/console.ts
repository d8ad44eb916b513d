import { describeAction, describeDecision, describeNotice } from "../domain/describe.ts";
import type { Notification } from "../domain/types.ts";
import type { Channel } from "./channel.ts";

/** Options of {@link consoleChannel}. */
export interface ConsoleChannelOptions {
  /**
   * Where each notification's text goes.
   * @defaultValue writes to `process.stdout`
   */
  write?: (text: string) => void;
  /** @defaultValue `"console"` */
  name?: string;
}

const HEADLINES: Record<Notification["kind"], string> = {
  request: "Approval requested",
  reminder: "Reminder: approval still waiting",
  escalation: "Escalated to you: approval waiting",
  expiring: "Expiring soon: approval still waiting",
  extended: "Deadline moved: approval waiting",
  decided: "Approval decided",
  timed_out: "Approval timed out",
  cancelled: "Approval cancelled",
};

/**
 * Prints each notification as a short readable block: for development, demos and terminals.
 *
 * @example
 * createApprovals({ ..., channels: [consoleChannel()] });
 */
export function consoleChannel(options: ConsoleChannelOptions = {}): Channel {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  return {
    name: options.name ?? "console",
    async send(notification) {
      write(formatNotification(notification));
    },
  };
}

function formatNotification(n: Notification): string {
  const { approval, decision } = n;
  const lines = [`[countersign] ${HEADLINES[n.kind]}: ${approval.title} (${approval.type})`];
  lines.push(`  for:       ${n.reviewer}`, `  asked by:  ${approval.requestedBy}`);
  if (approval.step.count > 1) {
    lines.push(`  step:      ${approval.step.index + 1} of ${approval.step.count}, "${approval.step.name}"`);
  }
  for (const line of describeNotice(n)) lines.push(`  ${line}`);
  (approval.actions ?? []).forEach((action, i) => {
    const { label, text } = describeAction(action, i);
    lines.push(`  ${label}: ${text}`);
  });
  if (decision) {
    const words = describeDecision(decision);
    const how = [words.outcome, words.by, words.via, words.consequence && `(${words.consequence})`]
      .filter(Boolean)
      .join(" ");
    lines.push(`  outcome:   ${how} at ${decision.decidedAt.toISOString()}`);
    if (words.comment) lines.push(`  comment:   ${words.comment}`);
  } else {
    lines.push(`  deadline:  ${approval.deadline.toISOString()}`, `  review:    ${n.links.view}`);
  }
  return `${lines.join("\n")}\n`;
}
