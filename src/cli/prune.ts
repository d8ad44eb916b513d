import type { Command } from "commander";
import { json, open, say, using, withConnection, type ConnectionOptions } from "./context.ts";

export function registerPrune(program: Command): void {
  withConnection(program.command("prune"))
    .description("delete final approvals decided long ago, in small batches (pending ones are never touched)")
    .option("--final-older-than <duration>", 'decided longer ago than this, e.g. "180d"', "180d")
    .option("--drop-audit", "delete their audit events too (by default they stay, as verifiable chains)")
    .option("--dry-run", "count what would go, delete nothing")
    .option("--json", "print the result as JSON")
    .action((options: ConnectionOptions & { finalOlderThan: string; dropAudit?: boolean; dryRun?: boolean }) =>
      using(open(options), async (approvals) => {
        const result = await approvals.prune({
          finalOlderThan: options.finalOlderThan,
          keepAudit: !options.dropAudit,
          dryRun: Boolean(options.dryRun),
        });
        if (options.json) json(result);
        const events = options.dropAudit ? `, ${result.events} audit events` : " (their audit events stay)";
        say(
          `${result.dryRun ? "Would remove" : "Removed"} ${result.approvals} final approvals decided before ${result.cutoff.toISOString()}${events}, ${result.jobs} worker jobs.`,
        );
      }),
    );
}
