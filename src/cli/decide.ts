import type { Command } from "commander";
import { editableFields, editsFromForm } from "../domain/editable.ts";
import type { Approval, JsonValue } from "../domain/types.ts";
import { collect, json, open, say, UsageError, using, withConnection, type ConnectionOptions } from "./context.ts";

type DecideOptions = ConnectionOptions & { as: string; comment?: string; set?: string[] };

/** `--set amount=45000` as the field and the text typed; the text is parsed as the page parses its inputs. */
function assignments(sets: string[]): Record<string, string> {
  const submitted: Record<string, string> = {};
  for (const set of sets) {
    const at = set.indexOf("=");
    if (at <= 0) throw new UsageError(`--set ${set}: expected field=value, e.g. --set amount=45000`);
    submitted[set.slice(0, at)] = set.slice(at + 1);
  }
  return submitted;
}

/**
 * The edits `--set` asks for, against the revision just read: the decision is then made on that
 * revision, so another reviewer's edit in between is refused (STALE_REVISION) rather than overwritten.
 */
function editsFor(approval: Approval, sets: string[]): { edits: Record<string, JsonValue>; revision: number } {
  const { edits, errors } = editsFromForm(editableFields(approval), assignments(sets));
  if (errors.length > 0) throw new UsageError(errors.map((e) => `--set ${e.field}: ${e.error}`).join("\n"));
  return { edits, revision: approval.revision };
}

/** What the vote did: decided the approval, or left it waiting for more. */
function voteRecorded(
  outcome: "approve" | "reject",
  reviewer: string,
  approval: Approval,
  readRevision?: number,
): string {
  const edited = approval.edits.filter((e) => readRevision !== undefined && e.revision > readRevision);
  const changes = edited.length
    ? ` with ${edited.map((e) => `${e.field} ${JSON.stringify(e.from)} → ${JSON.stringify(e.to)}`).join(", ")} (revision ${approval.revision})`
    : "";
  const done = `${outcome === "approve" ? "Approved" : "Rejected"} "${approval.title}" as ${reviewer}${changes}.`;
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
    else {
      command
        .option("--comment <text>", "a comment for the record")
        .option("--set <field=value>", "approve with an edit to an editable field (repeat for more)", collect);
    }
    command.option("--json", "print the approval as JSON").action((id: string, options: DecideOptions) =>
      using(open(options), async (approvals) => {
        const changes = options.set ? editsFor(await approvals.get(id), options.set) : undefined;
        const approval = await approvals.decide(id, {
          reviewer: options.as,
          outcome,
          via: "cli",
          ...(options.comment ? { comment: options.comment } : {}),
          ...changes,
        });
        // The approval is the data (stdout, with --json); the confirmation is a message (stderr).
        if (options.json) json(approval);
        say(voteRecorded(outcome, options.as, approval, changes?.revision));
      }),
    );
  }
}
