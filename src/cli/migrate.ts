import type { Command } from "commander";
import { migrationSql } from "../store/migrate.ts";
import { json, open, out, say, using, withConnection, type ConnectionOptions } from "./context.ts";

export function registerMigrate(program: Command): void {
  withConnection(program.command("migrate"))
    .description("create or upgrade countersign's tables (and its worker's)")
    .option("--dry-run", "print the SQL for your own migration tool instead; needs no database")
    .option("--json", "print JSON")
    .action(async (options: ConnectionOptions & { dryRun?: boolean }) => {
      if (options.dryRun) return out(migrationSql({ schema: options.schema }));
      await using(open(options), async (approvals) => {
        const { applied } = await approvals.migrate();
        if (options.json) return json({ applied });
        say(
          applied.length
            ? `Applied ${applied.join(", ")} to schema ${options.schema}.`
            : `Schema ${options.schema} is up to date.`,
        );
      });
    });
}
