/**
 * Slack's modals: Reject (a reason), Edit (approve with edits) and a batch's review (a choice per
 * action), each opened from a button and answered when submitted. Submissions are judged by the engine;
 * its refusals come back as errors on the modal's blocks, so the reviewer can fix them in place.
 */
import type { WebClient } from "@slack/web-api";
import { editableFields, editsFromForm } from "../domain/editable.ts";
import type { Decision, JsonValue } from "../domain/types.ts";
import { ApprovalError, StaleRevisionError, ValidationError } from "../errors.ts";
import type { ChannelActions } from "./channel.ts";
import { type BatchButtonValue, batchModal, batchSubmission, blockForIssue } from "./slack-batch.ts";
import { COMMENT_BLOCK_ID, fieldBlockId, REASON_BLOCK_ID } from "./slack-blocks.ts";
import { type ButtonValue, buttonValue, type Interaction, refused, safeJson } from "./slack-wire.ts";

/** What the modals need from the channel: its client, who a Slack user acts as, and how to answer. */
export interface SlackModalDeps {
  client: WebClient;
  actingReviewer(user: Interaction["user"], listed: string): Promise<{ reviewer: string; voter: string } | undefined>;
  respondLater(responseUrl: string | undefined, body: Record<string, unknown>): void;
  finalState(decision: Decision): Record<string, unknown>;
  ephemeral(text: string): Record<string, unknown>;
  context(user: Interaction["user"]): Record<string, JsonValue>;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const ack = () => new Response(null, { status: 200 });
/** Slack shows these messages on the modal's blocks, and the reviewer fixes them in place. */
const refuse = (errors: Record<string, string>) => json({ response_action: "errors", errors });

/** A submitted view countersign opened, and what it carried (the approval, reviewer and revision shown). */
function openedView(payload: Interaction) {
  const view = payload.view;
  const metadata = buttonValue.safeParse(safeJson(view?.private_metadata));
  if (!view || !metadata.success) throw refused("view", "is not a view countersign opened");
  return { view, shown: metadata.data };
}

/**
 * The engine's refusal of a submission as errors on the modal: each issue on the block of the field it
 * names (`blockOf`), a stale revision and anything else on `fallback`. Anything unexpected is rethrown.
 */
function refusal(
  error: unknown,
  blockOf: (path: string) => string,
  fallback: string,
  stale: (revision: unknown) => string,
): Response {
  if (error instanceof StaleRevisionError) return refuse({ [fallback]: stale(error.data.revision) });
  if (error instanceof ValidationError) {
    const byBlock: Record<string, string> = {};
    for (const issue of error.issues) {
      const block = blockOf(issue.path);
      byBlock[block] = byBlock[block] ? `${byBlock[block]}; ${issue.message}` : issue.message;
    }
    return refuse(byBlock);
  }
  if (error instanceof ApprovalError) return refuse({ [fallback]: error.message });
  throw error;
}

export async function onRejectSubmitted(
  deps: SlackModalDeps,
  payload: Interaction,
  actions: ChannelActions,
): Promise<Response> {
  const { actingReviewer, context } = deps;
  const { view, shown } = openedView(payload);
  const reason = view.state.values[REASON_BLOCK_ID]?.[REASON_BLOCK_ID]?.value?.trim() ?? "";
  if (!reason) return refuse({ [REASON_BLOCK_ID]: "Please give a reason." });
  const acting = await actingReviewer(payload.user, shown.r);
  if (!acting) return refuse({ [REASON_BLOCK_ID]: "You are not a reviewer of this approval." });
  try {
    await actions.decide(shown.a, { ...acting, outcome: "reject", comment: reason, context: context(payload.user) });
  } catch (error) {
    const stale = (revision: unknown) => `This approval changed since you opened it (now revision ${revision}).`;
    return refusal(error, () => REASON_BLOCK_ID, REASON_BLOCK_ID, stale);
  }
  return json({ response_action: "clear" });
}

/** An action's own button in a batch: the review modal opens with that action's choice made. */
export async function onActionClick(
  deps: SlackModalDeps,
  payload: Interaction,
  raw: string | undefined,
  actions: ChannelActions,
): Promise<Response> {
  const { client, actingReviewer, respondLater, finalState, ephemeral } = deps;
  const value = safeJson(raw) as Partial<BatchButtonValue> | undefined;
  const parsed = buttonValue.safeParse(value);
  const choice = value?.o === "approve" || value?.o === "reject" ? value.o : undefined;
  if (!parsed.success || !choice || typeof value?.i !== "number") {
    throw refused("actions.0.value", "is not a button countersign made");
  }
  const acting = await actingReviewer(payload.user, parsed.data.r);
  if (!acting) {
    respondLater(
      payload.response_url,
      ephemeral("You are not a reviewer of this approval, so your click was not recorded."),
    );
    return ack();
  }
  const approval = await actions.get(parsed.data.a);
  if (approval.decision) {
    respondLater(payload.response_url, finalState(approval.decision));
    return ack();
  }
  const metadata = JSON.stringify({ a: approval.id, r: parsed.data.r, v: approval.revision } satisfies ButtonValue);
  const view = batchModal(approval, metadata, { i: value.i, o: choice });
  if (!view) {
    respondLater(
      payload.response_url,
      ephemeral("This batch is too large for Slack: press Open to review it on the page."),
    );
    return ack();
  }
  await client.views.open({ trigger_id: payload.trigger_id ?? "", view: view as never });
  return ack();
}

export async function onBatchSubmitted(
  deps: SlackModalDeps,
  payload: Interaction,
  actions: ChannelActions,
): Promise<Response> {
  const { actingReviewer, context } = deps;
  const { view, shown } = openedView(payload);
  const approval = await actions.get(shown.a);
  const values = view.state.values;
  const first = blockForIssue(approval, "", values);
  const submitted = batchSubmission(approval, values);
  if ("errors" in submitted) return refuse(submitted.errors);
  const acting = await actingReviewer(payload.user, shown.r);
  if (!acting) return refuse({ [first]: "You are not a reviewer of this approval." });
  try {
    await actions.decide(approval.id, {
      ...acting,
      actions: submitted.actions,
      revision: shown.v ?? approval.revision,
      context: context(payload.user),
    });
  } catch (error) {
    const blockOf = (path: string) => blockForIssue(approval, path, values);
    const stale = (revision: unknown) =>
      `Another reviewer changed this batch since you opened it (now revision ${revision}). Cancel, then open it again.`;
    return refusal(error, blockOf, first, stale);
  }
  return json({ response_action: "clear" });
}

export async function onEditSubmitted(
  deps: SlackModalDeps,
  payload: Interaction,
  actions: ChannelActions,
): Promise<Response> {
  const { actingReviewer, context } = deps;
  const { view, shown } = openedView(payload);
  const { a: approvalId, r: listed, v: shownRevision } = shown;
  const approval = await actions.get(approvalId);
  const fields = editableFields(approval);
  const blockOf = (field: string) => {
    const id = fieldBlockId(field);
    return id in view.state.values ? id : COMMENT_BLOCK_ID;
  };
  const submitted: Record<string, string> = {};
  for (const field of fields) {
    const state = view.state.values[fieldBlockId(field.field)]?.value;
    if (state) submitted[field.field] = state.selected_option?.value ?? state.value ?? "";
  }
  const comment = view.state.values[COMMENT_BLOCK_ID]?.value?.value?.trim();
  const { edits, errors } = editsFromForm(fields, submitted);
  if (errors.length > 0) return refuse(Object.fromEntries(errors.map((e) => [blockOf(e.field), `This ${e.error}.`])));
  const acting = await actingReviewer(payload.user, listed);
  if (!acting) return refuse({ [COMMENT_BLOCK_ID]: "You are not a reviewer of this approval." });
  try {
    await actions.decide(approvalId, {
      ...acting,
      outcome: "approve",
      edits,
      revision: shownRevision ?? approval.revision,
      context: context(payload.user),
      ...(comment ? { comment } : {}),
    });
  } catch (error) {
    // Issues name the field (`edits.amount`, or `amount` when the schema refused the result).
    const fieldOf = (path: string) => blockOf(path.replace(/^edits\./, "").split(".")[0] ?? "");
    const stale = (revision: unknown) =>
      `Another reviewer changed this proposal since you opened it (now revision ${revision}). Cancel, then press Edit again to see it.`;
    return refusal(error, fieldOf, COMMENT_BLOCK_ID, stale);
  }
  return json({ response_action: "clear" });
}
