/**
 * A batch in Slack: the message lists each action with its own Approve and Reject buttons, and ends with
 * "Approve all" (one click). An action's button opens the review modal with that action's choice made;
 * the modal asks for a choice on every open action (plus reasons and edits) and submits them as one vote.
 * Blocks are named by the action's position (`act:0`), never its id. Pure: data in, Block Kit out, and
 * a submission's state back into decisions.
 */
import { actionFields, editsFromForm } from "../domain/editable.ts";
import type { Approval, ApprovalAction, JsonValue, Notification } from "../domain/types.ts";
import { clip, fieldText } from "../text.ts";
import type { ButtonValue } from "./slack-wire.ts";
import { escapeMrkdwn, mrkdwn, plain } from "./slack-text.ts";

type Block = Record<string, unknown>;

export const BATCH_ACTION_PREFIX = "countersign:batch:";
export const APPROVE_ALL_ID = "countersign:approve_all";
export const BATCH_CALLBACK_ID = "countersign:batch";
/** Slack's cap on blocks in a message or a modal; a batch that needs more is reviewed on the page. */
const MAX_BLOCKS = 100;

/** A per-action button's value: the approval, the reviewer, the revision shown, the action and the choice. */
export interface BatchButtonValue extends ButtonValue {
  /** The action's position in the batch. */
  i: number;
  o: "approve" | "reject";
}

function inputLine(input: JsonValue): string {
  if (input === null || typeof input !== "object" || Array.isArray(input))
    return escapeMrkdwn(clip(fieldText(input), 300));
  return Object.entries(input)
    .slice(0, 8)
    .map(([key, value]) => `*${escapeMrkdwn(clip(key, 60))}*: ${escapeMrkdwn(clip(fieldText(value), 200))}`)
    .join("\n");
}

const STATE = { approve: "✅ approved", reject: "❌ rejected", pending: "" } as const;

/** Each action of the batch: what it does, and while it is open, its own Approve / Reject buttons. */
export function batchBlocks(n: Notification, withButtons: boolean): Block[] {
  const base = { a: n.approval.id, r: n.reviewer, v: n.approval.revision };
  const blocks = (n.approval.actions ?? []).flatMap((action, i): Block[] => {
    const state = action.outcome === "pending" ? "" : ` · ${STATE[action.outcome]}`;
    const text = `*${i + 1}. ${escapeMrkdwn(clip(action.name, 100))}*${state}\n${inputLine(action.input)}`;
    const section = { type: "section", text: mrkdwn(text) };
    if (!withButtons || action.outcome !== "pending") return [section];
    const value = (o: "approve" | "reject") => JSON.stringify({ ...base, i, o } satisfies BatchButtonValue);
    return [
      section,
      {
        type: "actions",
        block_id: `countersign:act:${i}`,
        elements: [
          {
            type: "button",
            action_id: `${BATCH_ACTION_PREFIX}approve`,
            text: plain("Approve"),
            value: value("approve"),
          },
          { type: "button", action_id: `${BATCH_ACTION_PREFIX}reject`, text: plain("Reject…"), value: value("reject") },
        ],
      },
    ];
  });
  return blocks.length > MAX_BLOCKS - 8 ? blocks.slice(0, MAX_BLOCKS - 8) : blocks;
}

const choiceOption = (o: "approve" | "reject") => ({ text: plain(o === "approve" ? "Approve" : "Reject"), value: o });

function actionInputs(action: ApprovalAction, i: number, preset: "approve" | "reject" | undefined): Block[] {
  const fields = actionFields(action);
  return [
    {
      type: "section",
      text: mrkdwn(`*${i + 1}. ${escapeMrkdwn(clip(action.name, 100))}*\n${inputLine(action.input)}`),
    },
    {
      type: "input",
      block_id: `act:${i}`,
      label: plain(`Decision on ${action.name}`, 2000),
      element: {
        type: "radio_buttons",
        action_id: "value",
        options: [choiceOption("approve"), choiceOption("reject")],
        ...(preset ? { initial_option: choiceOption(preset) } : {}),
      },
    },
    ...fields.flatMap((field): Block[] => {
      const text =
        typeof field.value === "string" ? field.value : field.value === null ? "" : JSON.stringify(field.value);
      if (text.length > 3000) return [];
      return [
        {
          type: "input",
          block_id: `edit:${i}:${field.field}`,
          optional: true,
          label: plain(`${action.name}: ${field.field}`, 2000),
          element: {
            type: "plain_text_input",
            action_id: "value",
            max_length: 3000,
            ...(text ? { initial_value: text } : {}),
          },
        },
      ];
    }),
    {
      type: "input",
      block_id: `reason:${i}`,
      optional: true,
      label: plain(`Reason for ${action.name} (optional)`, 2000),
      element: { type: "plain_text_input", action_id: "value", max_length: 2000 },
    },
  ];
}

/** The review modal: every open action's choice (the clicked one made), reasons and edits. */
export function batchModal(approval: Approval, metadata: string, preset?: { i: number; o: "approve" | "reject" }) {
  const open = (approval.actions ?? []).flatMap((action, i) => (action.outcome === "pending" ? [{ action, i }] : []));
  const blocks = open.flatMap(({ action, i }) => actionInputs(action, i, preset?.i === i ? preset.o : undefined));
  if (blocks.length > MAX_BLOCKS - 1) return undefined;
  return {
    type: "modal",
    callback_id: BATCH_CALLBACK_ID,
    private_metadata: metadata,
    title: plain("Review the actions", 24),
    submit: plain("Submit decisions", 24),
    close: plain("Cancel", 24),
    blocks: [
      { type: "section", text: mrkdwn(`Decide each action of *${escapeMrkdwn(clip(approval.title, 200))}*.`) },
      ...blocks,
    ],
  };
}

type ViewValues = Record<string, Record<string, { value?: string | null; selected_option?: { value: string } | null }>>;

/**
 * A submitted review modal as decisions by action id (edits parsed as each field's type), or the
 * errors to show on its blocks.
 */
export function batchSubmission(
  approval: Approval,
  values: ViewValues,
):
  | { actions: Record<string, { outcome: "approve" | "reject"; edits?: Record<string, JsonValue>; comment?: string }> }
  | {
      errors: Record<string, string>;
    } {
  const errors: Record<string, string> = {};
  const actions: Record<
    string,
    { outcome: "approve" | "reject"; edits?: Record<string, JsonValue>; comment?: string }
  > = {};
  (approval.actions ?? []).forEach((action, i) => {
    if (action.outcome !== "pending") return;
    const outcome = values[`act:${i}`]?.value?.selected_option?.value;
    if (outcome !== "approve" && outcome !== "reject") {
      errors[`act:${i}`] = "Choose Approve or Reject.";
      return;
    }
    const comment = values[`reason:${i}`]?.value?.value?.trim();
    const typed: Record<string, string> = {};
    for (const field of action.editable) {
      const state = values[`edit:${i}:${field}`]?.value;
      if (state) typed[field] = state.value ?? "";
    }
    const fields = actionFields(action);
    const parsed = outcome === "approve" ? editsFromForm(fields, typed) : { edits: {}, errors: [] };
    for (const e of parsed.errors) errors[`edit:${i}:${e.field}`] = `This ${e.error}.`;
    actions[action.id] = {
      outcome,
      ...(Object.keys(parsed.edits).length > 0 ? { edits: parsed.edits } : {}),
      ...(comment ? { comment } : {}),
    };
  });
  return Object.keys(errors).length > 0 ? { errors } : { actions };
}

/** The block an issue (`actions.<id>.edits.<field>`, `actions`) belongs on, for Slack's `errors`. */
export function blockForIssue(approval: Approval, path: string, values: ViewValues): string {
  const list = approval.actions ?? [];
  const i = list.findIndex((a) => path === `actions.${a.id}` || path.startsWith(`actions.${a.id}.`));
  const field = i >= 0 ? path.slice(`actions.${list[i]?.id}.edits.`.length) : "";
  if (i >= 0 && field && `edit:${i}:${field}` in values) return `edit:${i}:${field}`;
  if (i >= 0 && `act:${i}` in values) return `act:${i}`;
  return Object.keys(values).find((block) => block.startsWith("act:")) ?? "act:0";
}
