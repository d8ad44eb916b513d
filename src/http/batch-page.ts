/**
 * A batch on the approval page: one card per action, in the order requested. While the reviewer can
 * decide, each open action has its own Approve / Reject choice (radio buttons: one Tab stop per action,
 * arrow keys between the two), a reason, and inputs for its editable fields; one submit sends them all.
 * Form names carry the action's position (`action.0`, `reason.0`, `edit.0.amount`), never its id, so an
 * id with dots or brackets cannot be misread.
 */
import { actionFields } from "../domain/editable.ts";
import type { Approval, ApprovalAction } from "../domain/types.ts";
import { html, type SafeHtml } from "../html.ts";
import { fieldInput, payloadBlock } from "./page-parts.ts";

const OUTCOME_WORDS = { approve: "Approved", reject: "Rejected", pending: "Waiting" } as const;

function actionState(action: ApprovalAction): SafeHtml {
  const status = action.outcome === "approve" ? "approved" : action.outcome === "reject" ? "rejected" : "pending";
  const by = action.rejectedBy ? html` by ${action.rejectedBy}` : "";
  return html`<p class="meta"><span class="status ${status}">${OUTCOME_WORDS[action.outcome]}</span>${by}${action.comment ? html`: “${action.comment}”` : ""}</p>`;
}

function actionControls(action: ApprovalAction, index: number): SafeHtml {
  const name = `action.${index}`;
  const fields = actionFields(action);
  return html`<div class="choice" role="radiogroup" aria-label="Decision on ${action.name}">
<label><input type="radio" name="${name}" value="approve" required> Approve</label>
<label><input type="radio" name="${name}" value="reject"> Reject</label>
</div>
${fields.length > 0 ? html`<p class="meta">Change before approving (optional):</p>${fields.map((field) => fieldInput(field, `edit.${index}.${field.field}`))}` : ""}
<div class="field"><label for="reason-${String(index)}">Reason (optional)</label>
<input id="reason-${String(index)}" name="reason.${String(index)}" type="text" maxlength="2000"></div>`;
}

/** The batch's actions: cards with their input and outcome, plus the choices when `decidable`. */
export function actionCards(approval: Approval, decidable: boolean): SafeHtml {
  const actions = approval.actions ?? [];
  return html`${actions.map(
    (action, index) => html`<section class="card action" aria-labelledby="action-${String(index)}">
<h2 id="action-${String(index)}">${String(index + 1)}. ${action.name} <span class="meta">(${action.id})</span></h2>
${action.description ? html`<p>${action.description}</p>` : ""}
${payloadBlock(action.input)}
${decidable && action.outcome === "pending" ? actionControls(action, index) : actionState(action)}
</section>`,
  )}`;
}

/** The form's per-action fields, back into decisions by action id (edits as typed text, parsed later). */
export function formActions(
  approval: Approval,
  fields: Record<string, unknown>,
): Record<string, { outcome?: string; comment?: string; edits: Record<string, string> }> {
  const decisions: Record<string, { outcome?: string; comment?: string; edits: Record<string, string> }> = {};
  (approval.actions ?? []).forEach((action, index) => {
    if (action.outcome !== "pending") return;
    const outcome = fields[`action.${index}`];
    const reason = fields[`reason.${index}`];
    const prefix = `edit.${index}.`;
    const edits = Object.fromEntries(
      Object.entries(fields).flatMap(([name, value]) =>
        name.startsWith(prefix) && typeof value === "string" ? [[name.slice(prefix.length), value]] : [],
      ),
    );
    decisions[action.id] = {
      ...(typeof outcome === "string" ? { outcome } : {}),
      ...(typeof reason === "string" && reason.trim() ? { comment: reason.trim() } : {}),
      edits,
    };
  });
  return decisions;
}
