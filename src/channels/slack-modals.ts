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

export async function onRejectSubmitted(
  deps: SlackModalDeps,
  payload: Interaction,
  actions: ChannelActions,
): Promise<Response> {
  const { actingReviewer, context } = deps;
  const view = payload.view;
  const metadata = buttonValue.safeParse(safeJson(view?.private_metadata));
  if (!view || !metadata.success) throw refused("view", "is not a view countersign opened");
  const reason = view.state.values[REASON_BLOCK_ID]?.[REASON_BLOCK_ID]?.value?.trim() ?? "";
  const refuse = (message: string) => json({ response_action: "errors", errors: { [REASON_BLOCK_ID]: message } });
  if (!reason) return refuse("Please give a reason.");
  const acting = await actingReviewer(payload.user, metadata.data.r);
  if (!acting) return refuse("You are not a reviewer of this approval.");
  try {
    await actions.decide(metadata.data.a, {
      ...acting,
      outcome: "reject",
      comment: reason,
      context: context(payload.user),
    });
  } catch (error) {
    if (error instanceof ApprovalError) return refuse(error.message);
    throw error;
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
  const view = payload.view;
  const metadata = buttonValue.safeParse(safeJson(view?.private_metadata));
  if (!view || !metadata.success) throw refused("view", "is not a view countersign opened");
  const approval = await actions.get(metadata.data.a);
  const values = view.state.values;
  const refuse = (errors: Record<string, string>) => json({ response_action: "errors", errors });
  const first = blockForIssue(approval, "", values);
  const submitted = batchSubmission(approval, values);
  if ("errors" in submitted) return refuse(submitted.errors);
  const acting = await actingReviewer(payload.user, metadata.data.r);
  if (!acting) return refuse({ [first]: "You are not a reviewer of this approval." });
  try {
    await actions.decide(approval.id, {
      ...acting,
      actions: submitted.actions,
      revision: metadata.data.v ?? approval.revision,
      context: context(payload.user),
    });
  } catch (error) {
    if (error instanceof StaleRevisionError) {
      return refuse({
        [first]: `Another reviewer changed this batch since you opened it (now revision ${error.data.revision}). Cancel, then open it again.`,
      });
    }
    if (error instanceof ValidationError) {
      const byBlock: Record<string, string> = {};
      for (const issue of error.issues) {
        const block = blockForIssue(approval, issue.path, values);
        byBlock[block] = byBlock[block] ? `${byBlock[block]}; ${issue.message}` : issue.message;
      }
      return refuse(byBlock);
    }
    if (error instanceof ApprovalError) return refuse({ [first]: error.message });
    throw error;
  }
  return json({ response_action: "clear" });
}

export async function onEditSubmitted(
  deps: SlackModalDeps,
  payload: Interaction,
  actions: ChannelActions,
): Promise<Response> {
  const { actingReviewer, context } = deps;
  const view = payload.view;
  const metadata = buttonValue.safeParse(safeJson(view?.private_metadata));
  if (!view || !metadata.success) throw refused("view", "is not a view countersign opened");
  const { a: approvalId, r: listed, v: shownRevision } = metadata.data;
  const approval = await actions.get(approvalId);
  const fields = editableFields(approval);
  const blockOf = (field: string) => {
    const id = fieldBlockId(field);
    return id in view.state.values ? id : COMMENT_BLOCK_ID;
  };
  const refuse = (errors: Record<string, string>) => json({ response_action: "errors", errors });
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
    if (error instanceof StaleRevisionError) {
      return refuse({
        [COMMENT_BLOCK_ID]: `Another reviewer changed this proposal since you opened it (now revision ${error.data.revision}). Cancel, then press Edit again to see it.`,
      });
    }
    if (error instanceof ValidationError) {
      // Issues name the field (`edits.amount`, or `amount` when the schema refused the result).
      const byBlock: Record<string, string> = {};
      for (const issue of error.issues) {
        const block = blockOf(issue.path.replace(/^edits\./, "").split(".")[0] ?? "");
        byBlock[block] = byBlock[block] ? `${byBlock[block]}; ${issue.message}` : issue.message;
      }
      return refuse(byBlock);
    }
    if (error instanceof ApprovalError) return refuse({ [COMMENT_BLOCK_ID]: error.message });
    throw error;
  }
  return json({ response_action: "clear" });
}
