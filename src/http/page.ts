/**
 * The approval page: one small server-rendered document, no script, no external assets. Works without
 * JavaScript, at 360 px, in dark mode and from the keyboard. Never submits itself: mail scanners and chat
 * unfurlers open links, and only a person pressing a button decides.
 */
import { createHash } from "node:crypto";
import { describeDecision } from "../domain/describe.ts";
import { formatDuration } from "../domain/duration.ts";
import type { Ineligibility } from "../domain/eligibility.ts";
import { describeEdit } from "../domain/describe.ts";
import { editableFields } from "../domain/editable.ts";
import type { Approval, ApprovalStep, AuditEvent, JsonValue, PayloadEdit } from "../domain/types.ts";
import { html, type SafeHtml, trusted } from "../html.ts";
import { actionCards } from "./batch-page.ts";
import { fieldInput, payloadBlock, when } from "./page-parts.ts";

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --text: #1b1f24; --muted: #5b6470; --line: #d9dde3;
  --approve: #1a7f37; --reject: #c62828; --on-action: #fff; --focus: #0b57d0; --note: #eef4ff; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1216; --card: #171b21; --text: #e6e9ee; --muted: #9aa4b1;
  --line: #2b323c; --approve: #3fb950; --reject: #ff6b6b; --on-action: #0b0f14; --focus: #8ab4f8; --note: #1c2533; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1rem 1.25rem; margin-bottom: 1rem; }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: minmax(6rem, max-content) 1fr; gap: .35rem 1rem; margin: 0; }
dt { color: var(--muted); overflow-wrap: anywhere; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font: .85rem/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
ol { margin: 0; padding-left: 1.2rem; }
li { margin: .2rem 0; overflow-wrap: anywhere; }
.status { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; }
.status.approved { color: var(--approve); } .status.rejected, .status.timed_out, .status.cancelled { color: var(--reject); }
.note { background: var(--note); border-radius: 8px; padding: .6rem .8rem; margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin-bottom: .35rem; }
textarea, input, select { width: 100%; padding: .6rem; border-radius: 8px; border: 1px solid var(--line);
  background: var(--bg); color: var(--text); font: inherit; }
textarea { min-height: 5rem; }
fieldset { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 1rem; padding: .5rem .9rem .9rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.field { margin-top: .6rem; } .field label { font-weight: 500; }
ins { text-decoration: none; font-weight: 600; } del { color: var(--muted); }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1rem; }
button { flex: 1 1 10rem; min-height: 3rem; border-radius: 8px; border: 2px solid transparent; font-family: inherit; font-size: 1.05rem; font-weight: 600; color: var(--on-action); cursor: pointer; }
button.approve { background: var(--approve); } button.reject { background: var(--reject); }
button.chosen { box-shadow: 0 0 0 3px var(--card), 0 0 0 5px var(--focus); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.choice { display: flex; gap: 1.5rem; margin: .75rem 0 .25rem; } .choice label { display: flex; align-items: center; gap: .4rem; font-weight: 600; margin: 0; }
.choice input { width: auto; margin: 0; accent-color: var(--focus); }
`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** Headers every page carries. The style block is allowed by its hash: no inline script can run. */
export const PAGE_HEADERS: Record<string, string> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<style>${trusted(STYLE)}</style>
</head>
<body><main>${body}</main></body>
</html>
`.value;
}

/** The events the page's history shows (views and deliveries would drown the decisions). */
export const HISTORY_TYPES = [
  "requested",
  "reminded",
  "escalated",
  "approved",
  "rejected",
  "step_passed",
  "timed_out",
  "cancelled",
  "warned",
  "extended",
  "quorum_unreachable",
] as const;

/** "Approved by deputy@co.com for cfo@co.com via http, changing amount…: “comment”". */
function voteLine(verb: string, e: AuditEvent): SafeHtml {
  const onBehalfOf = typeof e.data.onBehalfOf === "string" ? html` for ${e.data.onBehalfOf}` : "";
  const edits = Array.isArray(e.data.edits) ? (e.data.edits as unknown as PayloadEdit[]) : [];
  const changed =
    edits.length > 0
      ? html`, changing ${edits.map((edit, i) => html`${i > 0 ? "; " : ""}${describeEdit({ ...edit, by: e.actor, revision: Number(e.data.newRevision) })}`)}`
      : "";
  return html`${verb} by ${e.actor}${onBehalfOf}${e.channel ? html` via ${e.channel}` : ""}${changed}${e.comment ? html`: “${e.comment}”` : ""}`;
}

const HISTORY: Record<(typeof HISTORY_TYPES)[number], (e: AuditEvent) => SafeHtml> = {
  requested: (e) => html`Requested by ${e.actor}`,
  reminded: () => html`Reminder sent`,
  escalated: (e) =>
    html`Escalated to ${Array.isArray(e.data.reviewers) ? e.data.reviewers.join(", ") : "the next level"}`,
  approved: (e) => voteLine("Approved", e),
  rejected: (e) => voteLine("Rejected", e),
  step_passed: (e) => html`Step “${String(e.data.name ?? e.step)}” passed`,
  timed_out: () => html`Timed out`,
  cancelled: (e) => html`Cancelled by ${e.actor}${e.comment ? html`: “${e.comment}”` : ""}`,
  warned: () => html`Deadline close: reviewers warned`,
  extended: (e) =>
    html`Deadline moved to ${typeof e.data.to === "string" ? when(new Date(e.data.to)) : "later"} by ${e.actor}${e.comment ? html`: “${e.comment}”` : ""}`,
  quorum_unreachable: (e) => html`Closed: ${e.comment ?? "the step can no longer reach its quorum"}`,
};

function historyBlock(events: AuditEvent[]): SafeHtml {
  const items = events.flatMap((event) => {
    const describe = HISTORY[event.type as (typeof HISTORY_TYPES)[number]];
    return describe ? [html`<li>${when(event.at)} — ${describe(event)}</li>`] : [];
  });
  return html`<section class="card" aria-labelledby="history"><h2 id="history">History</h2><ol>${items}</ol></section>`;
}

function stepLine(approval: Approval, step: ApprovalStep | undefined): SafeHtml | string {
  if (!step || (approval.steps.length === 1 && step.quorum === 1)) return "";
  const approvals = step.reviewers.filter((r) => r.vote?.outcome === "approve").length;
  return html`<p class="meta">Step ${step.index + 1} of ${approval.steps.length}: “${step.name}”, ${step.quorum} approval${step.quorum === 1 ? "" : "s"} needed, ${approvals} so far</p>`;
}

export interface ApprovalPageModel {
  approval: Approval;
  reviewer: string;
  history: AuditEvent[];
  /** Why the reviewer cannot decide now; undefined when they can. */
  ineligibility: Ineligibility | undefined;
  /** From `?decision=`: highlights that button; never submits. */
  preselect?: "approve" | "reject" | undefined;
  notice?: { text: string } | undefined;
  now: Date;
}

/** What the page tells a reviewer who cannot decide now. */
function whyNot(why: Ineligibility): string {
  switch (why.reason) {
    case "final":
      return "This approval is closed.";
    case "self_approval":
      return "You asked for this approval; another reviewer decides it.";
    case "already_voted":
      return `You already ${why.outcome === "approve" ? "approved" : "rejected"} this step; it is waiting for other reviewers.`;
    case "voted_earlier":
      return `You already decided on step “${why.earlier}”; one person counts once per approval, so another reviewer decides this step.`;
    case "backup":
      return "You are a backup reviewer for this step. You can decide if it is escalated to you.";
    case "later_step":
      return `This approval is at step “${why.step}”. You will be asked at step “${why.later}”.`;
    default:
      return "Your part of this approval is done; it is waiting for the next step.";
  }
}

/** Inputs for the fields the request made editable; they count when the reviewer approves. */
function editFieldset(approval: Approval): SafeHtml | string {
  const fields = editableFields(approval);
  if (fields.length === 0) return "";
  return html`<fieldset><legend>Change before approving (optional)</legend>
<p class="meta">Approving with changes makes a new revision; later reviewers see what you changed.</p>
${fields.map((field) => fieldInput(field))}</fieldset>`;
}

function decisionForm(model: ApprovalPageModel): SafeHtml {
  const { preselect, approval } = model;
  if (approval.actions) return batchForm(model);
  const chosen = preselect
    ? html`<p class="note" role="status">You chose <strong>${preselect === "approve" ? "Approve" : "Reject"}</strong> from the message. Add a comment if you like, then press the button to confirm.</p>`
    : "";
  return html`<section class="card" aria-labelledby="decide"><h2 id="decide">Your decision, ${model.reviewer}</h2>${chosen}
<form method="post">
<input type="hidden" name="revision" value="${String(approval.revision)}">
${onBehalfNote(model)}
${editFieldset(approval)}
<label for="comment">Comment (optional)</label>
<textarea id="comment" name="comment" maxlength="2000" placeholder="Why? Reviewers and the agent will see this."></textarea>
<div class="actions">
<button type="submit" name="decision" value="approve" class="approve${preselect === "approve" ? " chosen" : ""}"${preselect === "approve" ? html` autofocus` : ""}>Approve</button>
<button type="submit" name="decision" value="reject" class="reject${preselect === "reject" ? " chosen" : ""}"${preselect === "reject" ? html` autofocus` : ""}>Reject</button>
</div>
</form></section>`;
}

/** A batch: the actions' choices in one form, sent together; "Reject all" needs no choice per action. */
function batchForm(model: ApprovalPageModel): SafeHtml {
  const { approval } = model;
  return html`<form method="post" aria-labelledby="decide">
<input type="hidden" name="revision" value="${String(approval.revision)}">
<section class="card"><h2 id="decide">Your decisions, ${model.reviewer}</h2>
<p class="meta">Approve or reject each action, then submit them together.</p>
${onBehalfNote(model)}</section>
${actionCards(approval, true)}
<section class="card"><label for="comment">Comment on the whole request (optional)</label>
<textarea id="comment" name="comment" maxlength="2000" placeholder="Reviewers and the agent will see this."></textarea>
<div class="actions">
<button type="submit" name="decision" value="actions" class="approve">Submit decisions</button>
<button type="submit" name="decision" value="reject" class="reject" formnovalidate>Reject all</button>
</div></section>
</form>`;
}

/** A delegate deciding for someone away. */
function onBehalfNote(model: ApprovalPageModel): SafeHtml | string {
  const step = model.approval.steps[model.approval.currentStep];
  if (!step || step.reviewers.some((r) => r.reviewer === model.reviewer)) return "";
  const stands = model.approval.delegations.find(
    (d) => d.to === model.reviewer && step.reviewers.some((r) => r.reviewer === d.from),
  );
  return stands
    ? html`<p class="note">You decide on behalf of ${stands.from}, who delegated to you${stands.reason ? html` (${stands.reason})` : ""}.</p>`
    : "";
}

/** What reviewers changed, oldest first. */
function editsBlock(approval: Approval): SafeHtml | string {
  if (approval.edits.length === 0) return "";
  return html`<section class="card" aria-labelledby="changes"><h2 id="changes">Changed by reviewers</h2>
<p class="meta">You are looking at revision ${String(approval.revision)}.</p>
<ol>${approval.edits.map(
    (edit) =>
      html`<li>${edit.field}: <del>${inlineValue(edit.from)}</del> → <ins>${inlineValue(edit.to)}</ins> (${edit.by}, revision ${String(edit.revision)})</li>`,
  )}</ol></section>`;
}

const inlineValue = (value: JsonValue | null) =>
  value === null ? "(none)" : typeof value === "string" ? value : JSON.stringify(value);

function deadlineLine(approval: Approval, left: number): SafeHtml {
  if (approval.status === "pending") {
    return html`Decide by ${when(approval.deadline)}${left > 0 ? ` (in ${formatDuration(left >= 60_000 ? Math.round(left / 60_000) * 60_000 : left)})` : ""}`;
  }
  // Most approvals end long before their deadline: "was" would read as if it had passed.
  return left > 0
    ? html`Closed before its deadline of ${when(approval.deadline)}`
    : html`Deadline was ${when(approval.deadline)}`;
}

export function renderApprovalPage(model: ApprovalPageModel): string {
  const { approval, now } = model;
  const step = approval.steps[approval.currentStep];
  const left = approval.deadline.getTime() - now.getTime();
  const decision = approval.decision;
  const words = decision ? describeDecision(decision) : undefined;
  const outcome =
    decision && words
      ? html`<section class="card"><h2>Outcome</h2><p><span class="status ${decision.status}">${words.Outcome}</span>
${words.by ? html` ${words.by}` : ""}${words.via ? html` ${words.via}` : ""} on ${when(decision.decidedAt)}</p>
${words.comment ? html`<p>“${words.comment}”</p>` : ""}</section>`
      : model.ineligibility
        ? html`<section class="card"><p class="note" role="status">${whyNot(model.ineligibility)}</p></section>`
        : decisionForm(model);
  const body = html`
${model.notice ? html`<p class="note" role="status">${model.notice.text}</p>` : ""}
<section class="card" aria-labelledby="title">
<h1 id="title">${approval.title}</h1>
<p class="meta">${approval.type} · asked by ${approval.requestedBy}</p>
<p class="meta">${deadlineLine(approval, left)}</p>
${stepLine(approval, step)}
</section>
${
  approval.actions
    ? approval.status === "pending" && !model.ineligibility
      ? ""
      : actionCards(approval, false)
    : html`<section class="card" aria-labelledby="details"><h2 id="details">Details</h2>${payloadBlock(approval.payload)}</section>`
}
${editsBlock(approval)}
${outcome}
${historyBlock(model.history)}`;
  return layout(`${words ? words.Outcome : "Review"}: ${approval.title}`, body);
}

/** A page for errors and plain messages (404, 400, 413…). */
export function renderMessagePage(title: string, message: string): string {
  return layout(title, html`<section class="card"><h1>${title}</h1><p>${message}</p></section>`);
}
