import type { Command } from "commander";
import type { Delegation } from "../domain/types.ts";
import { json, open, out, relative, say, table, using, withConnection, type ConnectionOptions } from "./context.ts";

type DelegateOptions = ConnectionOptions & { until: string; reason?: string; by?: string };
type DelegationsOptions = ConnectionOptions & { all?: boolean; reviewer?: string };

const state = (d: Delegation, now = new Date()) =>
  d.revokedAt ? `revoked ${relative(d.revokedAt, now)}` : d.until <= now ? "ended" : `until ${relative(d.until, now)}`;

export function registerDelegate(program: Command): void {
  withConnection(program.command("delegate"))
    .description("let <to> decide wherever <from> could, until a date (one hop: <to>'s own delegate is not asked)")
    .argument("<from>", "the reviewer who is away")
    .argument("<to>", "who decides for them")
    .requiredOption("--until <time>", 'when it ends, e.g. "2026-12-31" or an ISO time')
    .option("--reason <text>", "why, for the record (e.g. vacation)")
    .option("--by <who>", "who set it up (default: <from>)")
    .option("--json", "print the delegation as JSON")
    .action((from: string, to: string, options: DelegateOptions) =>
      using(open(options), async (approvals) => {
        const delegation = await approvals.delegate({
          from,
          to,
          until: options.until,
          ...(options.reason ? { reason: options.reason } : {}),
          ...(options.by ? { by: options.by } : {}),
        });
        if (options.json) json(delegation);
        else out(delegation.id);
        say(`${delegation.to} now decides for ${delegation.from} until ${delegation.until.toISOString()}.`);
      }),
    );

  withConnection(program.command("revoke-delegation"))
    .description("end a delegation now")
    .argument("<id>", "delegation id")
    .option("--by <who>", "who ends it, for the record", "cli")
    .option("--json", "print the delegation as JSON")
    .action((id: string, options: ConnectionOptions & { by: string }) =>
      using(open(options), async (approvals) => {
        const delegation = await approvals.revokeDelegation(id, { by: options.by });
        if (options.json) json(delegation);
        say(`${delegation.to} no longer decides for ${delegation.from}.`);
      }),
    );

  withConnection(program.command("delegations"))
    .description("list delegations in force (newest first)")
    .option("--all", "include ended and revoked ones")
    .option("--reviewer <reviewer>", "only those from or to this reviewer")
    .option("--json", "print JSON")
    .action((options: DelegationsOptions) =>
      using(open(options), async (approvals) => {
        const found = await approvals.delegations({
          ...(options.all ? {} : { active: true }),
          ...(options.reviewer ? { reviewer: options.reviewer } : {}),
          limit: 500,
        });
        if (options.json) return json(found);
        if (found.length === 0) return say(options.all ? "No delegations." : "No delegations in force.");
        out(
          table(
            ["ID", "FROM", "TO", "STATE", "REASON"],
            found.map((d) => [d.id, d.from, d.to, state(d), d.reason ?? ""]),
          ),
        );
      }),
    );

  withConnection(program.command("extend"))
    .description("move a pending approval's deadline later (its reviewers are told)")
    .argument("<id>", "approval id")
    .option("--by <duration>", 'how much more time, e.g. "4h"')
    .option("--until <time>", "the new deadline, an ISO time")
    .option("--reason <text>", "why, for the record")
    .option("--as <who>", "who extends it, for the record", "cli")
    .option("--json", "print the approval as JSON")
    .action((id: string, options: ConnectionOptions & { by?: string; until?: string; reason?: string; as: string }) =>
      using(open(options), async (approvals) => {
        const approval = await approvals.extend(id, {
          ...(options.by ? { by: options.by } : {}),
          ...(options.until ? { until: options.until } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
          actor: options.as,
          via: "cli",
        });
        if (options.json) json(approval);
        say(`"${approval.title}" is now due ${approval.deadline.toISOString()} (${relative(approval.deadline)}).`);
      }),
    );
}
