/** Block Kit messages and views for the Slack channel. Pure: data in, Block Kit JSON out. */
import { describeDecision, describeNotice } from "../domain/describe.ts";
import { type EditableField, fieldText as inputText } from "../domain/editable.ts";
import type { Decision, JsonValue, Notification } from "../domain/types.ts";
import { clip, fieldText, moreFields } from "../text.ts";
import { APPROVE_ALL_ID, batchBlocks } from "./slack-batch.ts";
import { escapeMrkdwn, mrkdwn, plain } from "./slack-text.ts";
import type { ButtonValue } from "./slack-wire.ts";

export const ACTION_IDS = {
  approve: "countersign:approve",
  reject: "countersign:reject",
  open: "countersign:open",
  edit: "countersign:edit",
} as const;
export const REJECT_CALLBACK_ID = "countersign:reject";
export const EDIT_CALLBACK_ID = "countersign:edit";
export const REASON_BLOCK_ID = "reason";
/** The comment input of the Edit modal. */
export const COMMENT_BLOCK_ID = "comment";
/** Each editable field's input block (and its `errors` key) in the Edit modal. */
export const fieldBlockId = (field: string) => `field:${field}`;
/** Slack's longest plain_text_input; a value longer than this is edited on the page, never clipped. */
const MAX_INPUT = 3000;

type Block = Record<string, unknown>;

/** Renders in each reader's own time zone, with the ISO time as the fallback. */
function slackDate(date: Date): string {
  return `<!date^${Math.floor(date.getTime() / 1000)}^{date_short_pretty} at {time}|${date.toISOString()}>`;
}

function payloadFields(n: Notification, max: number): Block[] {
  const { payload } = n.approval;
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return [
      { type: "section", text: mrkdwn(`\`\`\`${escapeMrkdwn(clip(JSON.stringify(payload, null, 2), 2900))}\`\`\``) },
    ];
  }
  const all = Object.entries(payload);
  const entries = all.slice(0, Math.min(max, 10));
  if (entries.length === 0) return [];
  const omitted = all.length - entries.length;
  return [
    {
      type: "section",
      fields: entries.map(([key, value]) =>
        mrkdwn(`*${escapeMrkdwn(clip(key, 100))}*\n${escapeMrkdwn(clip(fieldText(value), 300))}`),
      ),
    },
    // Fields left out are said to exist, with the way to see them, rather than silently dropped.
    ...(omitted > 0
      ? [{ type: "context", elements: [mrkdwn(`${moreFields(omitted)} on <${n.links.view}|the approval page>`)] }]
      : []),
  ];
}

function headline(n: Notification): string {
  const { approval } = n;
  const step =
    approval.step.count > 1
      ? ` · step ${approval.step.index + 1} of ${approval.step.count}, “${escapeMrkdwn(approval.step.name)}”`
      : "";
  return `${n.kind === "escalation" ? "Escalated to you: " : ""}*${escapeMrkdwn(approval.requestedBy)}* asks for your approval${step}`;
}

function summaryBlocks(n: Notification, maxFields: number, withButtons = false): Block[] {
  return [
    { type: "header", text: plain(n.approval.title) },
    { type: "section", text: mrkdwn(headline(n)) },
    ...(n.approval.actions ? batchBlocks(n, withButtons) : payloadFields(n, maxFields)),
    ...noticeBlocks(n),
  ];
}

/** Delegation and reviewers' edits, in words every channel shares. */
function noticeBlocks(n: Notification): Block[] {
  const lines = describeNotice({ ...n, kind: "request" });
  return lines.length > 0 ? [{ type: "context", elements: [mrkdwn(escapeMrkdwn(lines.join("\n")))] }] : [];
}

/** The ask: summary, deadline, Approve (primary), Reject (danger) and an Open link to the page. */
export function requestMessage(n: Notification, maxFields: number): { text: string; blocks: Block[] } {
  const value = JSON.stringify({ a: n.approval.id, r: n.reviewer, v: n.approval.revision } satisfies ButtonValue);
  return {
    // The top-level text is the notification preview, rendered as mrkdwn: escaped like every other text.
    text: `Approval needed by ${n.approval.deadline.toISOString()}: ${escapeMrkdwn(clip(n.approval.title, 300))}`,
    blocks: [
      ...summaryBlocks(n, maxFields, true),
      {
        type: "context",
        elements: [mrkdwn(`Decide by ${slackDate(n.approval.deadline)} · ${escapeMrkdwn(n.approval.type)}`)],
      },
      {
        type: "actions",
        block_id: "countersign",
        elements: [
          n.approval.actions
            ? { type: "button", action_id: APPROVE_ALL_ID, style: "primary", text: plain("Approve all"), value }
            : { type: "button", action_id: ACTION_IDS.approve, style: "primary", text: plain("Approve"), value },
          {
            type: "button",
            action_id: ACTION_IDS.reject,
            style: "danger",
            text: plain(n.approval.actions ? "Reject all" : "Reject"),
            value,
          },
          // Approve stays one click; Edit opens a modal with the fields the request made editable.
          ...(n.approval.editable.length > 0 && !n.approval.actions
            ? [{ type: "button", action_id: ACTION_IDS.edit, text: plain("Edit"), value }]
            : []),
          { type: "button", action_id: ACTION_IDS.open, text: plain("Open"), url: n.links.view },
        ],
      },
    ],
  };
}

/** A reply in the ask's thread: a reminder, the deadline close (`expiring`) or moved (`extended`). */
export function reminderMessage(n: Notification): { text: string; blocks: Block[] } {
  const lead =
    n.kind === "expiring"
      ? "This approval expires soon."
      : n.kind === "extended"
        ? "The deadline of this approval was moved."
        : "Reminder: this approval is still waiting for you.";
  const text = `${lead} Decide by ${slackDate(n.approval.deadline)}.`;
  const word = n.kind === "expiring" ? "Expiring" : n.kind === "extended" ? "Deadline moved" : "Reminder";
  return {
    text: `${word}: ${escapeMrkdwn(clip(n.approval.title, 300))}`,
    blocks: [{ type: "section", text: mrkdwn(`${text} <${n.links.view}|Open>`) }],
  };
}

const OUTCOME = {
  approved: "✅ Approved",
  rejected: "❌ Rejected",
  timed_out: "⌛ Timed out",
  cancelled: "🚫 Cancelled",
} as const;

export function outcomeLine(decision: Decision): string {
  const words = describeDecision(decision);
  const how = [
    words.by,
    decision.status === "timed_out" ? null : words.via,
    words.consequence && `(${words.consequence})`,
  ]
    .filter(Boolean)
    .map((part) => ` ${escapeMrkdwn(part as string)}`)
    .join("");
  const comment = words.comment ? `\n> ${escapeMrkdwn(clip(words.comment, 500))}` : "";
  return `*${OUTCOME[decision.status]}*${how} · ${slackDate(decision.decidedAt)}${comment}`;
}

/** The original message once the approval is final: the summary, the outcome, and no buttons. */
export function outcomeMessage(
  n: Notification,
  decision: Decision,
  maxFields: number,
): { text: string; blocks: Block[] } {
  return {
    text: `${OUTCOME[decision.status]}: ${escapeMrkdwn(clip(n.approval.title, 300))}`,
    blocks: [...summaryBlocks(n, maxFields), { type: "section", text: mrkdwn(outcomeLine(decision)) }],
  };
}

export function rejectModal(title: string, metadata: string): Block {
  return {
    type: "modal",
    callback_id: REJECT_CALLBACK_ID,
    private_metadata: metadata,
    title: plain("Reject", 24),
    submit: plain("Reject", 24),
    close: plain("Cancel", 24),
    blocks: [
      { type: "section", text: mrkdwn(`Reject *${escapeMrkdwn(clip(title, 200))}*?`) },
      {
        type: "input",
        block_id: REASON_BLOCK_ID,
        label: plain("Reason"),
        hint: plain("The requester (and its agent) will see this."),
        element: { type: "plain_text_input", action_id: REASON_BLOCK_ID, multiline: true, max_length: 2000 },
      },
    ],
  };
}

/** A select's option: the text the page's inputs use, which `editsFromForm` parses back. */
function option(value: JsonValue) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return { text: plain(text, 75), value: text };
}

function fieldElement(field: EditableField): Block | undefined {
  const text = inputText(field);
  const initial = text === "" ? {} : { initial_value: text };
  switch (field.input) {
    case "number":
    case "integer":
      return { type: "number_input", action_id: "value", is_decimal_allowed: field.input === "number", ...initial };
    case "boolean":
    case "select": {
      const options = (field.input === "boolean" ? [true, false] : field.options).map(option);
      // Slack caps a select at 100 options and 150 characters a value: beyond that, edit on the page.
      if (options.length > 100 || options.some((o) => o.value.length > 150)) return undefined;
      const selected = options.find((o) => o.value === text);
      return { type: "static_select", action_id: "value", options, ...(selected ? { initial_option: selected } : {}) };
    }
    case "text":
    case "json":
      if (text.length > MAX_INPUT) return undefined;
      return {
        type: "plain_text_input",
        action_id: "value",
        multiline: field.input === "json" || text.length > 80,
        max_length: MAX_INPUT,
        ...initial,
      };
  }
}

/**
 * "Approve with edits": an input per editable field, typed as on the page, and a comment. A field
 * Slack cannot hold (a value too long, too many options) is named with a pointer to the page instead.
 */
export function editModal(title: string, fields: EditableField[], metadata: string): Block {
  const inputs: Block[] = [];
  const elsewhere: string[] = [];
  for (const field of fields.slice(0, 90)) {
    const element = fieldElement(field);
    if (!element) {
      elsewhere.push(field.field);
      continue;
    }
    inputs.push({
      type: "input",
      block_id: fieldBlockId(field.field),
      label: plain(field.field, 2000),
      // Left empty, a field keeps its value when it had none; clearing a number is refused by name.
      optional: true,
      element,
    });
  }
  elsewhere.push(...fields.slice(90).map((f) => f.field));
  return {
    type: "modal",
    callback_id: EDIT_CALLBACK_ID,
    private_metadata: metadata,
    title: plain("Approve with edits", 24),
    submit: plain("Approve", 24),
    close: plain("Cancel", 24),
    blocks: [
      { type: "section", text: mrkdwn(`Change what you need, then approve *${escapeMrkdwn(clip(title, 200))}*.`) },
      ...inputs,
      ...(elsewhere.length > 0
        ? [
            {
              type: "context",
              elements: [mrkdwn(`Edit ${escapeMrkdwn(clip(elsewhere.join(", "), 500))} on the approval page (Open).`)],
            },
          ]
        : []),
      {
        type: "input",
        block_id: COMMENT_BLOCK_ID,
        optional: true,
        label: plain("Comment"),
        element: { type: "plain_text_input", action_id: "value", multiline: true, max_length: 2000 },
      },
    ],
  };
}
