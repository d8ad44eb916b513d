import { once } from "node:events";
import type { Command } from "commander";
import { parseDuration } from "../domain/duration.ts";
import { EXIT, json, open, say, UsageError, using, withConnection, type ConnectionOptions } from "./context.ts";

/** `--since 30d` (a duration back from now) or an ISO date. */
function since(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  const date = ms !== undefined ? new Date(Date.now() - ms) : new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`--since ${value}: expected a duration ("30d") or an ISO date`);
  return date;
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("prove the audit trail untampered, or export it");

  withConnection(audit.command("verify"))
    .description("check every audit chain (or one approval's); exit 1 and name the first broken link if any")
    .option("--id <approval id>", "only this approval's chain")
    .option("--json", "print the result as JSON")
    .action((options: ConnectionOptions & { id?: string }) =>
      using(open(options), async (approvals) => {
        // A progress line on a terminal only, rewritten in place; scripts get the result alone.
        const live = process.stderr.isTTY && !options.json;
        const result = await approvals.verifyAudit({
          ...(options.id ? { id: options.id } : {}),
          ...(live ? { onProgress: (n: number) => process.stderr.write(`\rChecked ${n} events…`) } : {}),
        });
        if (live) process.stderr.write("\r\x1b[K");
        if (options.json) json(result);
        if (result.ok) say(`The audit trail is whole: ${result.checked} events checked.`);
        else {
          const b = result.firstBroken;
          say(
            `The audit trail is broken at approval ${b?.approvalId}, event ${b?.seq} (id ${b?.eventId}): ${b?.reason}.`,
          );
          process.exitCode = EXIT.ERROR;
        }
      }),
    );

  withConnection(audit.command("export"))
    .description("write the audit chains as JSON lines, each event with the text its hash covers")
    .option("--since <duration|date>", 'chains with an event since then, e.g. "30d" or 2026-01-01')
    .option("--id <approval id>", "only this approval's chain")
    .option("--format <format>", "jsonl (the only one)", "jsonl")
    .action((options: ConnectionOptions & { since?: string; id?: string; format: string }) => {
      if (options.format !== "jsonl") throw new UsageError(`--format ${options.format}: only jsonl is supported`);
      const from = since(options.since);
      return using(open(options), async (approvals) => {
        let written = 0;
        for await (const event of approvals.exportAudit({
          ...(from ? { since: from } : {}),
          ...(options.id ? { id: options.id } : {}),
        })) {
          // Respect backpressure: the export may be far larger than memory.
          if (!process.stdout.write(`${JSON.stringify(event)}\n`)) await once(process.stdout, "drain");
          written++;
        }
        say(`Exported ${written} events.`);
      });
    });
}
