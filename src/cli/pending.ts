import type { Command } from "commander";
import type { Approvals } from "../approvals.ts";
import type { Approval } from "../domain/types.ts";
import { clip } from "../text.ts";
import {
  json,
  open,
  out,
  relative,
  say,
  table,
  using,
  waitingOn,
  withConnection,
  type ConnectionOptions,
} from "./context.ts";

/** Every pending approval (optionally naming one reviewer), newest first. */
export async function allPending(approvals: Approvals, reviewer?: string): Promise<Approval[]> {
  const items: Approval[] = [];
  let cursor: string | undefined;
  do {
    const page = await approvals.list({
      status: "pending",
      limit: 500,
      ...(reviewer ? { reviewer } : {}),
      ...(cursor ? { cursor } : {}),
    });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

export function pendingTable(items: Approval[]): string {
  return table(
    ["ID", "TITLE", "TYPE", "WAITING ON", "DEADLINE"],
    items.map((a) => [a.id, clip(a.title, 40), clip(a.type, 30), waitingOn(a).join(", "), relative(a.deadline)]),
  );
}

export function registerPending(program: Command): void {
  withConnection(program.command("pending"))
    .description("list pending approvals")
    .option("--reviewer <reviewer>", "only approvals naming this reviewer")
    .option("--json", "print JSON")
    .action((options: ConnectionOptions & { reviewer?: string }) =>
      using(open(options), async (approvals) => {
        const items = await allPending(approvals, options.reviewer);
        if (options.json) return json(items);
        if (items.length === 0) return say("No pending approvals.");
        out(pendingTable(items));
      }),
    );
}
