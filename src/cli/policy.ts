import type { Command } from "commander";
import { json, open, out, say, table, using, withConnection, type ConnectionOptions } from "./context.ts";

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("what the policies answered");
  withConnection(policy.command("report"))
    .description("per policy: answers since a time, and whether humans then agreed (shadow mode)")
    .option("--since <duration>", 'how far back, e.g. "30d"', "30d")
    .option("--json", "print JSON")
    .action((options: ConnectionOptions & { since: string }) =>
      using(open(options), async (approvals) => {
        const rows = await approvals.policyReport({ since: options.since });
        if (options.json) return json(rows);
        if (rows.length === 0) return say(`No policy answered in the last ${options.since}.`);
        out(
          table(
            [
              "POLICY",
              "VERSION",
              "MODE",
              "EVALUATED",
              "APPROVE",
              "REJECT",
              "ERRORS",
              "AGREED",
              "DISAGREED",
              "UNDECIDED",
            ],
            rows.map((r) => [
              r.policy,
              r.version,
              r.mode,
              String(r.evaluated),
              String(r.wouldApprove),
              String(r.wouldReject),
              String(r.errors),
              String(r.agreed),
              String(r.disagreed),
              String(r.undecided),
            ]),
          ),
        );
      }),
    );
}
