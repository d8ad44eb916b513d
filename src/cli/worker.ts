import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { consoleChannel } from "../channels/console.ts";
import type { ApprovalsOptions } from "../config.ts";
import { open, say, UsageError, withConnection, withSecret, type ConnectionOptions } from "./context.ts";

export function registerWorker(program: Command): void {
  withSecret(withConnection(program.command("worker")))
    .description("run the worker (notifications, reminders, escalation, timeouts) as its own process")
    .option("--config <file>", "a module whose default export holds createApprovals options (channels, logger…)")
    .action(async (options: ConnectionOptions & { config?: string }) => {
      let extra: Partial<ApprovalsOptions> = { channels: [consoleChannel()] };
      if (options.config) {
        const loaded = (await import(pathToFileURL(resolve(options.config)).href)) as { default?: Partial<ApprovalsOptions> };
        if (!loaded.default || typeof loaded.default !== "object") throw new UsageError(`${options.config} has no default export of options`);
        extra = loaded.default;
      }
      const approvals = open(options, extra, { secret: true });
      await approvals.start();
      say(`countersign worker running on schema ${options.schema}; Ctrl-C to stop.`);
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      say("Stopping…");
      await approvals.stop();
    });
}
