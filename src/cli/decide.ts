import type { Command } from "commander";
import type { Approval } from "../domain/types.ts";
import { json, open, say, using, withConnection, type ConnectionOptions } from "./context.ts";

type DecideOptions = ConnectionOptions & { as: string; comment?: string };

/** What the vote did: decided the approval, or left it waiting for more. */
function voteRecorded(outcome: "approve" | "reject", reviewer: string, approval: Approval): string {
  const done = `${outcome === "approve" ? "Approved" : "Rejected"} "${approval.title}" as ${reviewer}.`;
  const step = approval.steps[approval.currentStep];
  if (approval.status !== "pending" || !step) return done;
  const more = step.quorum - step.reviewers.filter((r) => r.vote?.outcome === "approve").length;
  const which =
    approval.steps.length > 1 ? `step ${step.index + 1} of ${approval.steps.length} ("${step.name}")` : "it";
  return `${done} Still pending: ${which} needs ${more} more approval${more === 1 ? "" : "s"}.`;
}

export function registerDecide(program: Command): void {
  for (const outcome of ["approve", "reject"] as const) {
    const command = withConnection(program.command(outcome))
      .description(`${outcome} an approval as one of its reviewers`)
      .argument("<id>", "approval id")
      .requiredOption("--as <reviewer>", "the reviewer deciding");
    if (outcome === "reject") command.requiredOption("--comment <text>", "why");
    else command.option("--comment <text>", "a comment for the record");
    command.option("--json", "print the approval as JSON").action((id: string, options: DecideOptions) =>
      using(open(options), async (approvals) => {
        const approval = await approvals.decide(id, {
          reviewer: options.as,
          outcome,
          via: "cli",
          ...(options.comment ? { comment: options.comment } : {}),
        });
        // The approval is the data (stdout, with --json); the confirmation is a message (stderr).
        if (options.json) json(approval);
        say(voteRecorded(outcome, options.as, approval));
      }),
    );
  }
}
