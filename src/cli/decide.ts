import type { Command } from "commander";
import { json, open, out, status, using, withConnection, type ConnectionOptions } from "./context.ts";

type DecideOptions = ConnectionOptions & { as: string; comment?: string };

export function registerDecide(program: Command): void {
  for (const outcome of ["approve", "reject"] as const) {
    const command = withConnection(program.command(outcome))
      .description(`${outcome} an approval as one of its reviewers`)
      .argument("<id>", "approval id")
      .requiredOption("--as <reviewer>", "the reviewer deciding");
    if (outcome === "reject") command.requiredOption("--comment <text>", "why");
    else command.option("--comment <text>", "a comment for the record");
    command.option("--json", "print JSON").action((id: string, options: DecideOptions) =>
      using(open(options), async (approvals) => {
        const approval = await approvals.decide(id, {
          reviewer: options.as,
          outcome,
          via: "cli",
          ...(options.comment ? { comment: options.comment } : {}),
        });
        if (options.json) return json(approval);
        const step = approval.steps[approval.currentStep];
        const next = approval.status === "pending" ? ` (waiting for step "${step?.name}")` : "";
        out(`${outcome === "approve" ? "Approved" : "Rejected"} "${approval.title}" as ${options.as}. The approval is ${status(approval.status)}${next}.`);
      }),
    );
  }
}
