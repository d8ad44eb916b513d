import type { Command } from "commander";
import { actionFields, editableFields, editsFromForm } from "../domain/editable.ts";
import type { Approval, JsonValue } from "../domain/types.ts";
import { collect, json, open, say, UsageError, using, withConnection, type ConnectionOptions } from "./context.ts";

type DecideOptions = ConnectionOptions & {
  as: string;
  comment?: string;
  set?: string[];
  action?: string[];
  reject?: string[];
};

type ActionDecision = { outcome: "approve" | "reject"; edits?: Record<string, JsonValue>; comment?: string };

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

/**
 * A batch from the command line: every open action is approved except those given with `--reject
 * id[:reason]`; with `--action id` only the actions named are approved and the other open ones rejected.
 * `--set <action id>.<field>=value` edits an approved action's input.
 */
function batchDecisions(approval: Approval, options: DecideOptions): Record<string, ActionDecision> {
  const batch = approval.actions ?? [];
  const known = (id: string, flag: string) => {
    if (!batch.some((a) => a.id === id)) {
      throw new UsageError(`${flag} ${id}: not an action of this batch (${batch.map((a) => a.id).join(", ")})`);
    }
    return id;
  };
  const rejected = new Map(
    (options.reject ?? []).map((entry) => {
      const id = batch.map((a) => a.id).find((a) => entry === a || entry.startsWith(`${a}:`)) ?? entry;
      return [known(id, "--reject"), entry.slice(id.length + 1) || undefined] as const;
    }),
  );
  const approved = options.action ? new Set(options.action.map((id) => known(id, "--action"))) : undefined;
  const sets = new Map<string, string[]>();
  for (const set of options.set ?? []) {
    const action = batch.find((a) => set.startsWith(`${a.id}.`));
    if (!action) throw new UsageError(`--set ${set}: expected <action id>.<field>=value, e.g. --set call_1.amount=100`);
    sets.set(action.id, [...(sets.get(action.id) ?? []), set.slice(action.id.length + 1)]);
  }
  const decisions: Record<string, ActionDecision> = {};
  for (const action of batch.filter((a) => a.outcome === "pending")) {
    const approve = !rejected.has(action.id) && (!approved || approved.has(action.id));
    const reason = rejected.get(action.id);
    const edits = sets.get(action.id);
    if (!approve) {
      if (edits) throw new UsageError(`--set ${action.id}.…: only an approved action can carry edits`);
      decisions[action.id] = { outcome: "reject", ...(reason ? { comment: reason } : {}) };
      continue;
    }
    const fields = actionFields(action);
    const parsed = edits ? editsFromForm(fields, assignments(edits)) : { edits: {}, errors: [] };
    if (parsed.errors.length > 0) {
      throw new UsageError(parsed.errors.map((e) => `--set ${action.id}.${e.field}: ${e.error}`).join("\n"));
    }
    decisions[action.id] = {
      outcome: "approve",
      ...(Object.keys(parsed.edits).length > 0 ? { edits: parsed.edits } : {}),
    };
  }
  return decisions;
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
    ? ` with ${edited.map((e) => `${e.action ? `${e.action}.` : ""}${e.field} ${JSON.stringify(e.from)} → ${JSON.stringify(e.to)}`).join(", ")} (revision ${approval.revision})`
    : "";
  const perAction = approval.actions
    ? ` (${approval.actions.map((a) => `${a.id}: ${a.outcome === "pending" ? "approved" : a.outcome === "approve" ? "approved" : "rejected"}`).join(", ")})`
    : "";
  const verb = approval.actions ? "Decided" : outcome === "approve" ? "Approved" : "Rejected";
  const done = `${verb} "${approval.title}" as ${reviewer}${perAction}${changes}.`;
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
        .option("--set <field=value>", "approve with an edit to an editable field (repeat for more)", collect)
        .option(
          "--action <id>",
          "a batch: approve only this action (repeat; the other open ones are rejected)",
          collect,
        )
        .option("--reject <id[:reason]>", "a batch: reject this action, with an optional reason (repeat)", collect);
    }
    command.option("--json", "print the approval as JSON").action((id: string, options: DecideOptions) =>
      using(open(options), async (approvals) => {
        const read = options.set || options.action || options.reject ? await approvals.get(id) : undefined;
        if (read && !read.actions && (options.action || options.reject)) {
          throw new UsageError("--action and --reject decide the actions of a batch; this approval is not one");
        }
        const batch = read?.actions ? { actions: batchDecisions(read, options), revision: read.revision } : undefined;
        const changes = read && !batch && options.set ? editsFor(read, options.set) : undefined;
        const approval = await approvals.decide(id, {
          reviewer: options.as,
          ...(batch ? batch : { outcome }),
          via: "cli",
          ...(options.comment ? { comment: options.comment } : {}),
          ...changes,
        });
        // The approval is the data (stdout, with --json); the confirmation is a message (stderr).
        if (options.json) json(approval);
        say(voteRecorded(outcome, options.as, approval, changes?.revision ?? batch?.revision));
      }),
    );
  }
}
