/**
 * E-mail through a nodemailer transport: multipart text + HTML, links to the approval page (which never
 * decides on GET), and one thread per approval and reviewer: the first message's Message-ID is stable,
 * and reminders and the outcome refer to it with In-Reply-To and References.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { describeAction, describeDecision, describeNotice } from "../domain/describe.ts";
import type { Decision, JsonValue, Notification } from "../domain/types.ts";
import { html, type SafeHtml } from "../html.ts";
import { clip, fieldText, humanDate, moreFields } from "../text.ts";
import { parseInput } from "../validation.ts";
import { UndeliverableError, type Channel } from "./channel.ts";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

/** The part of a nodemailer transport used here: `nodemailer.createTransport(...)` fits. */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
    html: string;
    messageId: string;
    inReplyTo?: string;
    references?: string[];
    headers?: Record<string, string>;
  }): Promise<unknown>;
}

/** Options of {@link emailChannel}. */
export interface EmailChannelOptions {
  transport: MailTransport;
  /** The sender, e.g. `"Approvals <approvals@company.com>"`. */
  from: string;
  /** @defaultValue `"email"` */
  name?: string;
  /** Replace the rendering; `renderEmail` is the default, to wrap or reuse. */
  render?: (notification: Notification) => EmailContent | Promise<EmailContent>;
  /**
   * Extra headers on every message (say `List-Id`, or a tag your mail provider routes on), or a function
   * of the notification that returns them. They are added to countersign's own, and win on a clash.
   * @defaultValue none: only `Auto-Submitted: auto-generated`, `X-Auto-Response-Suppress: All` and
   * countersign's `X-Countersign-Approval` / `X-Countersign-Kind`
   */
  headers?: Record<string, string> | ((notification: Notification) => Record<string, string>);
}

const ADDRESS = /^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$/;

/** RFC 5322: a field name is printable ASCII without a colon; a value never breaks the line itself. */
const extraHeaders = z.record(z.string(), z.string()).superRefine((headers, ctx) => {
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!-9;-~]+$/.test(name))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: "must be a header name (printable ASCII, no colon or space)",
      });
    else if (/[\r\n]/.test(value))
      ctx.addIssue({ code: "custom", path: [name], message: "must not contain line breaks" });
  }
});

const when = humanDate;

function outcomeSentence(decision: Decision): string {
  const words = describeDecision(decision);
  const how = [words.by, decision.status === "timed_out" ? null : words.via].filter(Boolean).join(" ");
  const followed = words.consequence
    ? `, so it ${words.consequence === "not approved" ? "does not go ahead" : words.consequence}`
    : "";
  return `It was ${words.outcome}${how ? ` ${how}` : ""} on ${when(decision.decidedAt)}${followed}.`;
}

/** A mail is read on a phone: past these, the page (one tap away) shows the rest. */
const MAX_FIELDS = 25;
const MAX_VALUE_LENGTH = 1_000;
const MAX_SUBJECT_TITLE_LENGTH = 150;

function threadSubject(n: Notification): string {
  return `Approval needed by ${when(n.approval.deadline)}: ${clip(n.approval.title, MAX_SUBJECT_TITLE_LENGTH)}`;
}

function fields(payload: JsonValue): { rows: [string, string][]; omitted: number } {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { rows: [["details", clip(JSON.stringify(payload), MAX_VALUE_LENGTH)]], omitted: 0 };
  }
  const entries = Object.entries(payload);
  return {
    rows: entries
      .slice(0, MAX_FIELDS)
      .map(([key, value]) => [clip(key, 100), clip(fieldText(value), MAX_VALUE_LENGTH)]),
    omitted: Math.max(0, entries.length - MAX_FIELDS),
  };
}

const button = (href: string, label: string, color: string) =>
  html`<a href="${href}" style="display:inline-block;padding:12px 22px;margin:4px 8px 4px 0;border-radius:8px;background:${color};color:#ffffff;font-weight:600;text-decoration:none">${label}</a>`;

/** The default rendering: what is asked, by whom, by when; the details; and the links. */
export function renderEmail(n: Notification): EmailContent {
  const { approval, decision } = n;
  const asks = !decision;
  const lead =
    n.kind === "reminder"
      ? "Reminder: this approval is still waiting for you."
      : n.kind === "escalation"
        ? "This approval was escalated to you because it has not been decided yet."
        : n.kind === "expiring"
          ? `This approval expires soon: decide by ${when(approval.deadline)}.`
          : n.kind === "extended"
            ? `The deadline of this approval was moved to ${when(approval.deadline)}.`
            : decision
              ? outcomeSentence(decision)
              : `${approval.requestedBy} asks for your approval.`;
  const subject = decision
    ? `Re: ${threadSubject(n)} (${describeDecision(decision).outcome})`
    : n.kind === "reminder" || n.kind === "expiring" || n.kind === "extended"
      ? `Re: ${threadSubject(n)}`
      : threadSubject(n);
  // The deadline news is the lead already; what remains is delegation and edits.
  const notes = describeNotice({ ...n, kind: "request" });
  // A batch lists its actions, each on its own line; the page has a card per action to decide them.
  const { rows, omitted } = approval.actions
    ? {
        rows: approval.actions.slice(0, MAX_FIELDS).map((action, i): [string, string] => {
          const { label, text } = describeAction(action, i);
          return [clip(label, 100), clip(text, MAX_VALUE_LENGTH)];
        }),
        omitted: Math.max(0, approval.actions.length - MAX_FIELDS),
      }
    : fields(approval.payload);
  const more =
    omitted === 0
      ? ""
      : approval.actions
        ? `${omitted} more action${omitted === 1 ? "" : "s"} on the approval page.`
        : `${moreFields(omitted)} on the approval page.`;
  const step =
    approval.step.count > 1 ? `Step ${approval.step.index + 1} of ${approval.step.count}: ${approval.step.name}` : "";
  const text = [
    lead,
    "",
    approval.title,
    `Asked by: ${approval.requestedBy}`,
    `Decide by: ${when(approval.deadline)}`,
    ...(step ? [step] : []),
    ...(notes.length > 0 ? ["", ...notes] : []),
    "",
    ...rows.map(([key, value]) => `${key}: ${value}`),
    ...(more ? [more] : []),
    "",
    ...(decision?.comment ? [`Comment: ${decision.comment}`, ""] : []),
    asks ? `Review and decide: ${n.links.view}` : `Details: ${n.links.view}`,
    "",
    "Opening the link does not decide anything; you decide on the page.",
  ].join("\n");
  const body: SafeHtml = html`<!doctype html><html><body style="margin:0;padding:0;background:#f6f7f9">
<div style="max-width:560px;margin:0 auto;padding:16px;font:16px/1.5 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1b1f24">
<p style="margin:0 0 12px">${lead}</p>
<div style="background:#ffffff;border:1px solid #d9dde3;border-radius:12px;padding:16px">
<h1 style="font-size:20px;line-height:1.3;margin:0 0 4px">${approval.title}</h1>
<p style="margin:0;color:#5b6470;font-size:14px">Asked by ${approval.requestedBy} · decide by ${when(approval.deadline)}</p>
${step ? html`<p style="margin:0;color:#5b6470;font-size:14px">${step}</p>` : ""}
${notes.map((line) => html`<p style="margin:4px 0 0;font-size:14px;white-space:pre-wrap">${line}</p>`)}
<table role="presentation" style="margin-top:12px;border-collapse:collapse;width:100%">${rows.map(
    ([key, value]) =>
      html`<tr><td style="padding:4px 12px 4px 0;color:#5b6470;vertical-align:top;word-break:break-word">${key}</td><td style="padding:4px 0;word-break:break-word">${value}</td></tr>`,
  )}</table>
${more ? html`<p style="margin:8px 0 0;color:#5b6470;font-size:14px">${more}</p>` : ""}
${decision?.comment ? html`<p style="margin:12px 0 0">“${decision.comment}”</p>` : ""}
</div>
<p style="margin:16px 0 4px">${
    asks
      ? [
          button(n.links.approve, "Approve…", "#1a7f37"),
          button(n.links.reject, "Reject…", "#c62828"),
          button(n.links.view, "Open", "#0b57d0"),
        ]
      : button(n.links.view, "See the approval", "#0b57d0")
  }</p>
<p style="color:#5b6470;font-size:13px">Opening a link does not decide anything; you confirm on the page.</p>
</div></body></html>`;
  return { subject, text, html: body.value };
}

/**
 * @example
 * emailChannel({ transport: nodemailer.createTransport(process.env.SMTP_URL), from: "approvals@company.com" })
 */
export function emailChannel(options: EmailChannelOptions): Channel {
  const domain = /@([^>\s]+)>?\s*$/.exec(options.from)?.[1] ?? "countersign.invalid";
  const render = options.render ?? renderEmail;
  const staticHeaders =
    typeof options.headers === "object" ? parseInput(extraHeaders, options.headers, "emailChannel headers") : undefined;
  const headersFor = (n: Notification): Record<string, string> => {
    if (typeof options.headers !== "function") return staticHeaders ?? {};
    try {
      return parseInput(extraHeaders, options.headers(n), "emailChannel headers");
    } catch (error) {
      // The same notification would get the same headers on every retry.
      throw new UndeliverableError(error instanceof Error ? error.message : String(error), { cause: error });
    }
  };
  const id = (n: Notification, suffix: string) => {
    const reviewer = createHash("sha256").update(n.reviewer).digest("hex").slice(0, 16);
    return `<countersign.${n.approval.id}.${reviewer}${suffix}@${domain}>`;
  };
  return {
    name: options.name ?? "email",
    accepts: (reviewer) => ADDRESS.test(reviewer),
    async send(n) {
      const root = id(n, "");
      // A reviewer's first ask (request or escalation) starts the thread; everything after refers to it.
      const first = n.kind === "request" || n.kind === "escalation";
      const content = await render(n);
      const headers = headersFor(n);
      try {
        await options.transport.sendMail({
          from: options.from,
          to: n.reviewer,
          subject: content.subject,
          text: content.text,
          html: content.html,
          messageId: first ? root : id(n, `.${n.key.split(":").slice(1).join(".")}`),
          ...(first ? {} : { inReplyTo: root, references: [root] }),
          headers: {
            // RFC 3834: a machine sent this. Out-of-office and other auto-replies stay quiet instead of
            // answering every reminder (Exchange reads the second header, most others the first).
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "X-Countersign-Approval": n.approval.id,
            "X-Countersign-Kind": n.kind,
            ...headers,
          },
        });
      } catch (error) {
        // 5xx from the server is a permanent refusal (say, an unknown mailbox); anything else may pass.
        const code = (error as { responseCode?: number }).responseCode;
        if (code !== undefined && code >= 500 && code < 600) {
          throw new UndeliverableError(`the mail server refused: ${(error as Error).message}`, { cause: error });
        }
        throw error;
      }
    },
  };
}
