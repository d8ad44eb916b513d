import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { consoleChannel } from "../channels/console.ts";
import type { ApprovalsOptions } from "../core/options.ts";
import { inCliTerms, open, say, UsageError, withConnection, withSecret, type ConnectionOptions } from "./context.ts";

export function registerWorker(program: Command): void {
  withSecret(withConnection(program.command("worker")))
    .description("run the worker (notifications, reminders, escalation, timeouts) as its own process")
    .option("--config <file>", "a module whose default export holds createApprovals options (channels, logger…)")
    .action(async (options: ConnectionOptions & { config?: string }) => {
      let extra: Partial<ApprovalsOptions> = { channels: [consoleChannel()] };
      if (options.config) {
        const loaded = (await import(pathToFileURL(resolve(options.config)).href)) as {
          default?: Partial<ApprovalsOptions>;
        };
        if (!loaded.default || typeof loaded.default !== "object")
          throw new UsageError(`${options.config} has no default export of options`);
        extra = loaded.default;
      }
      // The worker sends links and derives tokens: placeholders would send links that lead nowhere.
      const approvals = open(options, extra, {
        secret: true,
        publicUrl: true,
        longRunning: true,
        ...(options.config ? { configFile: options.config } : {}),
      });
      try {
        await approvals.start();
      } catch (error) {
        await approvals.stop();
        throw inCliTerms(error, approvals.schema);
      }
      const channels = (extra.channels ?? []).map((channel) => channel.name);
      say(
        `countersign worker running on schema ${approvals.schema}, delivering through ${channels.length ? channels.join(", ") : "no channel"}; Ctrl-C to stop.`,
      );
      await new Promise<void>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      say("Stopping…");
      await approvals.stop();
    });
}
