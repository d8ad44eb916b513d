import { userInfo, hostname } from "node:os";
import type { Command } from "commander";
import type { JsonValue } from "../domain/types.ts";
import {
  collect,
  json,
  open,
  out,
  say,
  UsageError,
  using,
  withConnection,
  withSecret,
  type ConnectionOptions,
} from "./context.ts";
import { waitAndReport } from "./wait.ts";

interface RequestOptions extends ConnectionOptions {
  title: string;
  reviewer: string[];
  type: string;
  payload?: string;
  requestedBy?: string;
  timeout?: string;
  timeoutAction?: "approve" | "reject" | "cancel";
  escalateTo?: string[];
  idempotencyKey?: string;
  wait?: boolean;
}

export function registerRequest(program: Command): void {
  withSecret(withConnection(program.command("request")))
    .description("ask for an approval (a worker elsewhere sends the notifications)")
    .requiredOption("--title <text>", "what is asked")
    .requiredOption("--reviewer <reviewer>", "a reviewer (repeat for several; any one decides)", collect)
    .option("--type <type>", "the kind of approval", "cli.request.v1")
    .option("--payload <json>", "details for the reviewer, as JSON")
    .option("--requested-by <who>", "who asks (default: cli://user@host)")
    .option("--timeout <duration>", 'decide within, e.g. "1h"')
    .option("--timeout-action <action>", "approve, reject or cancel on timeout")
    .option("--escalate-to <reviewer>", "an escalation level (repeat for more levels)", collect)
    .option("--idempotency-key <key>", "the same key returns the same approval")
    .option(
      "--wait",
      "wait for the decision; exit 0 approved (a timeout whose action is approve too), 3 rejected, 4 timed out or cancelled",
    )
    .option("--json", "print JSON")
    .action(async (options: RequestOptions) => {
      let payload: JsonValue | undefined;
      if (options.payload !== undefined) {
        try {
          payload = JSON.parse(options.payload) as JsonValue;
        } catch {
          throw new UsageError("--payload is not valid JSON");
        }
      }
      process.exitCode = await using(open(options, {}, { secret: true }), async (approvals) => {
        const approval = await approvals.requestApproval({
          type: options.type,
          title: options.title,
          requestedBy: options.requestedBy ?? `cli://${userInfo().username}@${hostname()}`,
          reviewers: options.reviewer,
          ...(payload !== undefined ? { payload } : {}),
          ...(options.escalateTo ? { escalation: options.escalateTo.map((r) => [r]) } : {}),
          ...(options.timeout || options.timeoutAction
            ? {
                timeout: {
                  ...(options.timeout ? { after: options.timeout } : {}),
                  ...(options.timeoutAction ? { action: options.timeoutAction } : {}),
                },
              }
            : {}),
          ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}),
        });
        if (options.json) json({ id: approval.id, status: approval.status, deadline: approval.deadline });
        else out(approval.id);
        if (!options.wait) return 0;
        say(
          `Waiting for ${options.reviewer.join(" or ")} to decide "${approval.title}" (deadline ${approval.deadline.toISOString()})…`,
        );
        // --timeout is the approval's deadline, not a limit on this wait: the wait ends with the decision,
        // which the deadline guarantees.
        return waitAndReport(approvals, approval.id, { json: options.json });
      });
    });
}
