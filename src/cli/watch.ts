import type { Command } from "commander";
import pg from "pg";
import { ChangeListener } from "../store/change-listener.ts";
import { SILENT_LOGGER } from "../logger.ts";
import { inCliTerms, json, open, out, paint, say, withConnection, type ConnectionOptions } from "./context.ts";
import { allPending, pendingTable } from "./pending.ts";

export function registerWatch(program: Command): void {
  withConnection(program.command("watch"))
    .description("a live list of pending approvals (updates as they change); Ctrl-C to stop")
    .option("--json", "print each change as a JSON line")
    .action(async (options: ConnectionOptions) => {
      const approvals = open(options);
      const databaseUrl = options.databaseUrl ?? "";
      try {
        // Says "run countersign migrate" now, rather than failing on the first change.
        await approvals.list({ limit: 1 });
      } catch (error) {
        await approvals.stop();
        throw inCliTerms(error, approvals.schema);
      }
      const listener = new ChangeListener(
        () =>
          new pg.Client({
            connectionString: databaseUrl,
            application_name: `countersign:listen:${options.schema}`.slice(0, 63),
          }).on("error", () => {}),
        options.schema,
        SILENT_LOGGER,
      );
      const live = process.stdout.isTTY && !options.json;
      let drawing = Promise.resolve();
      const redraw = () => {
        drawing = drawing.then(async () => {
          const items = await allPending(approvals);
          const header = paint(
            "bold",
            `Pending approvals: ${items.length} (live, updated ${new Date().toLocaleTimeString()}; Ctrl-C to stop)`,
          );
          process.stdout.write("\x1b[2J\x1b[H");
          out(`${header}\n\n${items.length ? pendingTable(items) : "Nothing is waiting."}`);
        });
      };
      listener.subscribe("*", {
        onListening: () => (live ? redraw() : say("Watching for changes…")),
        onChange: (change) => {
          if (live) return redraw();
          if (options.json) return json({ ...change, at: new Date().toISOString() });
          void approvals
            .get(change.id)
            .then((a) => out(`${new Date().toISOString()}  ${a.id}  ${a.status.padEnd(9)}  ${a.title}`));
        },
      });
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await listener.stop();
      await approvals.stop();
    });
}
