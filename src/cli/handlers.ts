import type { Command } from "commander";
import { json, open, out, relative, say, table, using, withConnection, type ConnectionOptions } from "./context.ts";

export function registerHandlers(program: Command): void {
  withConnection(program.command("handlers"))
    .description("list the onDecision handlers that decisions add jobs for, with the jobs queued for each")
    .option("--json", "print them as JSON")
    .action((options: ConnectionOptions) =>
      using(open(options), async (approvals) => {
        const found = await approvals.handlers();
        if (options.json) return json(found);
        if (found.length === 0) return say("No onDecision handlers are registered.");
        out(
          table(
            ["NAME", "TYPE", "REGISTERED", "QUEUED"],
            found.map((h) => [h.name, h.type, relative(h.registeredAt), String(h.queued)]),
          ),
        );
      }),
    );

  withConnection(program.command("retire-handler"))
    .description("stop decisions adding jobs for a handler that no process runs any more")
    .argument("<name>", "the handler's name (see countersign handlers)")
    .option("--drop-queued", "delete its jobs still waiting too (by default they wait for a worker that has it)")
    .option("--json", "print the result as JSON")
    .action((name: string, options: ConnectionOptions & { dropQueued?: boolean }) =>
      using(open(options), async (approvals) => {
        const result = await approvals.retireHandler(name, { dropQueued: Boolean(options.dropQueued) });
        if (options.json) json(result);
        const was = result.retired ? `Retired "${name}"` : `"${name}" was not registered`;
        const dropped = options.dropQueued ? `, ${result.dropped} waiting jobs deleted` : "";
        say(`${was}${dropped}; ${result.queued} of its jobs left.`);
      }),
    );
}
