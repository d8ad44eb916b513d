/**
 * Reading the audit chain (see sql/000007_governance.sql): events in chain order, a page at a time, each
 * with the hash its stored content should have, recomputed by the same function the trigger used.
 */
import { sql } from "kysely";
import type { Db } from "./connection.ts";

export interface ChainRow {
  id: string;
  approval_id: string;
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  /** The SHA-256 the stored content gives, recomputed now. */
  expected: string;
  /** The exact text that was hashed. */
  content: string;
  created_at: Date;
}

/** Events missing their place in a chain: only possible when written around the trigger. */
export async function unchainedEvent(
  db: Db,
  schema: string,
  approvalId?: string,
): Promise<{ id: string; approval_id: string } | undefined> {
  const result = await sql<{ id: string; approval_id: string }>`
    select id, approval_id from ${sql.id(schema, "event")}
    where (seq is null or hash is null) ${approvalId ? sql`and approval_id = ${approvalId}::uuid` : sql``}
    limit 1`.execute(db);
  return result.rows[0];
}

/** The next `limit` events after (approval, seq), in chain order; optionally of one approval or since a time. */
export async function chainPage(
  db: Db,
  schema: string,
  after: { approvalId: string; seq: number } | undefined,
  options: { approvalId?: string | undefined; since?: Date | undefined; limit: number },
): Promise<ChainRow[]> {
  const event = sql.id(schema, "event");
  const content = sql`${sql.id(schema, "chained_content")}(approval_id, seq, type, actor, channel, step, comment, data,
    created_at, prev_hash, payload_digest)`;
  const result = await sql<ChainRow>`
    select id, approval_id, seq, prev_hash, hash, created_at, ${content} as content,
      encode(sha256(convert_to(${content}, 'UTF8')), 'hex') as expected
    from ${event}
    where seq is not null
      ${after ? sql`and (approval_id, seq) > (${after.approvalId}::uuid, ${after.seq}::int)` : sql``}
      ${options.approvalId ? sql`and approval_id = ${options.approvalId}::uuid` : sql``}
      ${options.since ? sql`and approval_id in (select approval_id from ${event} where created_at >= ${options.since})` : sql``}
    order by approval_id, seq
    limit ${options.limit}`.execute(db);
  return result.rows;
}
