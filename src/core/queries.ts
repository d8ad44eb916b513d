/** The public reads: one approval, a page of them, an audit trail. Inputs are validated here, at the edge. */
import { payloadDigest } from "../domain/revision.ts";
import type { Approval, AuditEvent, PayloadRevision } from "../domain/types.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import { listApprovalIds, listRevisions, loadApproval, loadApprovals } from "../store/approval-reads.ts";
import { listEvents } from "../store/event-store.ts";
import { parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import { approvalId, type ListQuery, listSchema } from "./inputs.ts";

/** A page of `list()`. */
export interface ApprovalPage {
  items: Approval[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export async function getApproval(ctx: EngineContext, id: string): Promise<Approval> {
  parseInput(approvalId, id, "approval id");
  const approval = await ctx.database.run((db) => loadApproval(db, id));
  if (!approval) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
  return approval;
}

export async function listApprovals(ctx: EngineContext, query: ListQuery = {}): Promise<ApprovalPage> {
  const { cursor, ...filter } = parseInput(listSchema, query, "list query");
  return ctx.database.run(async (db) => {
    const rows = await listApprovalIds(db, {
      ...filter,
      limit: filter.limit + 1,
      after: cursor ? decodeCursor(cursor) : undefined,
    });
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    return {
      items: await loadApprovals(
        db,
        page.map((row) => row.id),
      ),
      nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null,
    };
  });
}

export async function payloadRevisions(ctx: EngineContext, id: string): Promise<PayloadRevision[]> {
  const approval = await getApproval(ctx, id);
  const rows = await ctx.database.run((db) => listRevisions(db, id));
  if (rows.length === 0) {
    // Nobody edited it: the payload is still revision 1, as requested.
    const { payload, requestedBy: createdBy, createdAt } = approval;
    return [{ revision: 1, payload, digest: payloadDigest(payload), edits: [], createdBy, createdAt }];
  }
  return rows.map((row) => ({
    revision: row.revision,
    payload: row.payload,
    digest: row.digest,
    edits: row.edits.map((edit) => ({ ...edit, by: row.created_by, revision: row.revision })),
    createdBy: row.created_by,
    createdAt: row.created_at,
  }));
}

export async function approvalEvents(ctx: EngineContext, id: string): Promise<AuditEvent[]> {
  parseInput(approvalId, id, "approval id");
  return ctx.database.run(async (db) => {
    const events = await listEvents(db, id);
    // Every approval has at least its `requested` event, so none means no such approval.
    if (events.length === 0) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
    return events;
  });
}

function encodeCursor(position: { id: string; createdAtMicros: string }): string {
  return Buffer.from(`${position.createdAtMicros}.${position.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAtMicros: string; id: string } {
  // At most 18 digits keeps the position inside PostgreSQL's bigint and timestamp ranges.
  const match = /^(\d{1,18})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
    Buffer.from(cursor, "base64url").toString(),
  );
  if (!match?.[1] || !match[2]) {
    throw new ValidationError("list query", [{ path: "cursor", message: "is not a cursor returned by list()" }]);
  }
  return { createdAtMicros: match[1], id: match[2] };
}
