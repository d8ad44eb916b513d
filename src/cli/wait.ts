import type { Command } from "commander";
import type { Approvals } from "../approvals.ts";
import { WaitTimeoutError } from "../errors.ts";
import {
  decisionLine,
  EXIT,
  exitCodeFor,
  json,
  open,
  out,
  say,
  using,
  withConnection,
  type ConnectionOptions,
} from "./context.ts";

/** Waits, prints the decision and returns the exit code: 0 approved, 3 rejected, 4 timed out or cancelled, 5 still pending. */
export async function waitAndReport(
  approvals: Approvals,
  id: string,
  options: { json?: boolean; timeout?: string },
): Promise<number> {
  try {
    const decision = await approvals.waitForDecision(id, options.timeout ? { timeout: options.timeout } : {});
    if (options.json) json(decision);
    else out(decisionLine(decision));
    return exitCodeFor(decision);
  } catch (error) {
    if (!(error instanceof WaitTimeoutError)) throw error;
    say(`Still pending after ${options.timeout}.`);
    return EXIT.STILL_PENDING;
  }
}

export function registerWait(program: Command): void {
  withConnection(program.command("wait"))
    .description(
      "wait for a decision; exit 0 approved, 3 rejected, 4 timed out or cancelled, 5 still pending after --timeout",
    )
    .argument("<id>", "approval id")
    .option("--timeout <duration>", 'stop waiting after this long, e.g. "10m"')
    .option("--json", "print JSON")
    .action(async (id: string, options: ConnectionOptions & { timeout?: string }) => {
      process.exitCode = await using(open(options), (approvals) => waitAndReport(approvals, id, options));
    });
}
