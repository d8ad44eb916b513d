import type { Command } from "commander";
import { describeAction, describeEdit } from "../domain/describe.ts";
import type { AuditEvent, PayloadEdit } from "../domain/types.ts";
import {
  decisionLine,
  json,
  open,
  out,
  paint,
  status,
  table,
  using,
  withConnection,
  type ConnectionOptions,
} from "./context.ts";

/** What the trail's DETAIL column says about one event, beyond its comment. */
function detail(e: AuditEvent): string {
  const d = e.data;
  if (e.type.startsWith("notif")) return `${d.kind} → ${d.reviewer}${d.error ? ` (${d.error})` : ""}`;
  if (e.type === "approved" || e.type === "rejected") {
    const edits = Array.isArray(d.edits) ? (d.edits as unknown as PayloadEdit[]) : [];
    return [
      typeof d.onBehalfOf === "string" ? `for ${d.onBehalfOf}` : "",
      typeof d.revision === "number" ? `on revision ${d.revision}` : "",
      ...edits.map((edit) => describeEdit({ ...edit, by: e.actor, revision: Number(d.newRevision) })),
    ]
      .filter(Boolean)
      .join("; ");
  }
  if (e.type === "extended") return `deadline ${d.from} → ${d.to}`;
  if (e.type === "handler_done" || e.type === "handler_failed") {
    return `${d.handler}, attempt ${d.attempt}${d.error ? `: ${d.error}` : ""}${d.final ? " (gave up)" : ""}`;
  }
  return "";
}

export function registerShow(program: Command): void {
  withConnection(program.command("show"))
    .description("show an approval and its audit trail")
    .argument("<id>", "approval id")
    .option("--json", "print JSON")
    .action((id: string, options: ConnectionOptions) =>
      using(open(options), async (approvals) => {
        const approval = await approvals.get(id);
        const events = await approvals.events(id);
        if (options.json) return json({ approval, events });
        const lines = [
          paint("bold", approval.title),
          `id:           ${approval.id}`,
          `status:       ${status(approval.status)}`,
          `type:         ${approval.type}`,
          `requested by: ${approval.requestedBy} at ${approval.createdAt.toISOString()}`,
          `deadline:     ${approval.deadline.toISOString()} (then ${approval.timeoutAction})`,
        ];
        if (approval.editable.length > 0) lines.push(`editable:     ${approval.editable.join(", ")}`);
        if (approval.revision > 1) lines.push(`revision:     ${approval.revision}`);
        if (approval.decision) lines.push(`decision:     ${decisionLine(approval.decision)}`);
        lines.push("", paint("bold", "Steps"));
        for (const step of approval.steps) {
          lines.push(`  ${step.index + 1}. ${step.name} (${step.status}, quorum ${step.quorum})`);
          for (const r of step.reviewers) {
            const v = r.vote;
            const vote = v
              ? ` ${v.outcome === "approve" ? "approved" : "rejected"}${v.voter !== r.reviewer ? ` by ${v.voter}` : ""}` +
                ` via ${v.via} on revision ${v.revision}${v.comment ? `: ${v.comment}` : ""}`
              : "";
            lines.push(
              `     - ${r.reviewer}${r.level > 0 ? ` (escalation level ${r.level}${r.active ? "" : ", not reached"})` : ""}${vote}`,
            );
          }
        }
        if (approval.delegations.length > 0) {
          lines.push("", paint("bold", "Delegations in force"));
          for (const d of approval.delegations) {
            lines.push(`  ${d.from} → ${d.to} until ${d.until.toISOString()}${d.reason ? ` (${d.reason})` : ""}`);
          }
        }
        if (approval.actions) {
          lines.push("", paint("bold", approval.revision > 1 ? `Actions (revision ${approval.revision})` : "Actions"));
          approval.actions.forEach((action, i) => {
            const { label, text } = describeAction(action, i);
            lines.push(`  ${label} [${action.id}]: ${text}`);
          });
        } else {
          lines.push("", paint("bold", approval.revision > 1 ? `Payload (revision ${approval.revision})` : "Payload"));
          lines.push(JSON.stringify(approval.payload, null, 2));
        }
        if (approval.edits.length > 0) {
          lines.push("", paint("bold", "Edits"), ...approval.edits.map((edit) => `  ${describeEdit(edit)}`));
        }
        lines.push("", paint("bold", "Audit trail"));
        lines.push(
          table(
            ["AT", "EVENT", "ACTOR", "CHANNEL", "DETAIL"],
            events.map((e) => [
              e.at.toISOString(),
              e.type,
              e.actor,
              e.channel ?? "",
              [e.comment, detail(e)].filter(Boolean).join(" "),
            ]),
          ),
        );
        out(lines.join("\n"));
      }),
    );
}
