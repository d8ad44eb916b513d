import type { Command } from "commander";
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
        if (approval.decision) lines.push(`decision:     ${decisionLine(approval.decision)}`);
        lines.push("", paint("bold", "Steps"));
        for (const step of approval.steps) {
          lines.push(`  ${step.index + 1}. ${step.name} (${step.status}, quorum ${step.quorum})`);
          for (const r of step.reviewers) {
            const vote = r.vote
              ? ` ${r.vote.outcome === "approve" ? "approved" : "rejected"} via ${r.vote.via}${r.vote.comment ? `: ${r.vote.comment}` : ""}`
              : "";
            lines.push(
              `     - ${r.reviewer}${r.level > 0 ? ` (escalation level ${r.level}${r.active ? "" : ", not reached"})` : ""}${vote}`,
            );
          }
        }
        lines.push(
          "",
          paint("bold", "Payload"),
          JSON.stringify(approval.payload, null, 2),
          "",
          paint("bold", "Audit trail"),
        );
        lines.push(
          table(
            ["AT", "EVENT", "ACTOR", "CHANNEL", "DETAIL"],
            events.map((e) => [
              e.at.toISOString(),
              e.type,
              e.actor,
              e.channel ?? "",
              [
                e.comment,
                e.type.startsWith("notif")
                  ? `${e.data.kind} → ${e.data.reviewer}${e.data.error ? ` (${e.data.error})` : ""}`
                  : "",
              ]
                .filter(Boolean)
                .join(" "),
            ]),
          ),
        );
        out(lines.join("\n"));
      }),
    );
}
