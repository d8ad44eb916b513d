#!/usr/bin/env node
/** The `countersign` command. Exit codes: 0 ok, 1 error, 2 usage; `wait`/`request --wait` add 3, 4, 5. */
import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { ApprovalError } from "../errors.ts";
import { EXIT, say, UsageError } from "./context.ts";
import { registerAudit } from "./audit.ts";
import { registerDecide } from "./decide.ts";
import { registerDelegate } from "./delegate.ts";
import { registerHandlers } from "./handlers.ts";
import { registerMcp } from "./mcp.ts";
import { registerMigrate } from "./migrate.ts";
import { registerPending } from "./pending.ts";
import { registerPolicy } from "./policy.ts";
import { registerPrune } from "./prune.ts";
import { registerRequest } from "./request.ts";
import { registerShow } from "./show.ts";
import { registerWait } from "./wait.ts";
import { registerWatch } from "./watch.ts";
import { registerWorker } from "./worker.ts";

// The same relative path from src/cli and dist/cli; package.json is always in the package.
const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };

const program = new Command("countersign")
  .description("Human approvals for AI agents, from the terminal.")
  .version(version, "-V, --version", "print countersign's version")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();
for (const register of [
  registerPending,
  registerShow,
  registerDecide,
  registerDelegate,
  registerHandlers,
  registerRequest,
  registerWait,
  registerWatch,
  registerMigrate,
  registerWorker,
  registerMcp,
  registerAudit,
  registerPolicy,
  registerPrune,
]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message; help and version are not errors.
    process.exitCode = error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  } else if (error instanceof UsageError) {
    say(`countersign: ${error.message}`);
    process.exitCode = EXIT.USAGE;
  } else if (error instanceof ApprovalError) {
    say(`countersign: ${error.message}`);
    process.exitCode = EXIT.ERROR;
  } else {
    say(`countersign: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = EXIT.ERROR;
  }
}
