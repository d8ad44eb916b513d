/** Proving the audit trail untampered: `verifyAudit` walks every chain; `exportAudit` writes a verifiable copy. */
import { z } from "zod";
import { type BrokenLink, type ChainCursor, checkLink } from "../domain/audit-chain.ts";
import { chainPage, unchainedEvent } from "../store/audit-chain.ts";
import { parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { approvalId } from "./inputs.ts";

/** What `verifyAudit` found. */
export interface AuditVerification {
  /** True when every chain checked is whole. */
  ok: boolean;
  /** Events checked (up to the first broken one). */
  checked: number;
  /** The first broken link, in chain order. */
  firstBroken?: BrokenLink;
}

export interface VerifyAuditOptions {
  /** One approval's chain; all of them when absent. */
  id?: string;
  /** Called after each page of events with the count so far (the CLI's progress line). */
  onProgress?: (checked: number) => void;
}

/** One event of `exportAudit`: its fields, its place in the chain, and the exact text its hash covers. */
export interface ExportedEvent {
  id: string;
  approvalId: string;
  seq: number;
  prevHash: string | null;
  hash: string | null;
  /** `sha256(content)` is `hash` for an untampered event; `content` holds every field the hash covers. */
  content: string;
  at: Date;
}

/** Events read per round trip: memory stays constant whatever the size of the trail. */
const PAGE = 1000;

const verifySchema = z.strictObject({
  id: approvalId.optional(),
  onProgress: z.function().optional(),
});

export async function verifyAudit(ctx: EngineContext, options: VerifyAuditOptions = {}): Promise<AuditVerification> {
  parseInput(verifySchema, options, "verifyAudit options");
  const { schema } = ctx.database;
  const loose = await ctx.database.run((db) => unchainedEvent(db, schema, options.id));
  if (loose) {
    return {
      ok: false,
      checked: 0,
      firstBroken: {
        approvalId: loose.approval_id,
        eventId: loose.id,
        seq: 0,
        reason: "it has no place in the chain (written around the database's trigger)",
      },
    };
  }
  let checked = 0;
  let previous: ChainCursor | undefined;
  for (;;) {
    const rows = await ctx.database.run((db) =>
      chainPage(db, schema, previous && { approvalId: previous.approvalId, seq: previous.seq }, {
        approvalId: options.id,
        limit: PAGE,
      }),
    );
    for (const row of rows) {
      const link = {
        id: String(row.id),
        approvalId: row.approval_id,
        seq: row.seq ?? 0,
        prevHash: row.prev_hash,
        hash: row.hash,
        expected: row.expected,
      };
      const broken = checkLink(link, previous);
      if (broken) return { ok: false, checked, firstBroken: broken };
      checked++;
      previous = { approvalId: link.approvalId, seq: link.seq, hash: link.hash };
    }
    options.onProgress?.(checked);
    if (rows.length < PAGE) return { ok: true, checked };
  }
}

/** Every chain (whole, from its first event) with an event at or after `since`, in chain order. */
export async function* exportAudit(
  ctx: EngineContext,
  options: { since?: Date; id?: string } = {},
): AsyncGenerator<ExportedEvent> {
  if (options.id !== undefined) parseInput(approvalId, options.id, "approval id");
  const { schema } = ctx.database;
  let after: { approvalId: string; seq: number } | undefined;
  for (;;) {
    const rows = await ctx.database.run((db) =>
      chainPage(db, schema, after, { approvalId: options.id, since: options.since, limit: PAGE }),
    );
    for (const row of rows) {
      yield {
        id: String(row.id),
        approvalId: row.approval_id,
        seq: row.seq ?? 0,
        prevHash: row.prev_hash,
        hash: row.hash,
        content: row.content,
        at: row.created_at,
      };
      after = { approvalId: row.approval_id, seq: row.seq ?? 0 };
    }
    if (rows.length < PAGE) return;
  }
}
