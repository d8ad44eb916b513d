/**
 * Every state change announces itself with NOTIFY on one channel per schema, inside the transaction that
 * made it, so listeners hear it exactly when it commits (and never when it rolls back).
 */
import { type RawBuilder, sql } from "kysely";
import { APPROVAL_STATUSES, type ApprovalStatus } from "../domain/types.ts";

export interface Change {
  id: string;
  status: ApprovalStatus;
  /**
   * For a final change, the decision's own fields, so a waiter resolves without reading the row again
   * (it has the payload from its first read). Left out when they would not fit a NOTIFY (8000 bytes).
   */
  decision?: {
    decidedBy: string | null;
    via: string | null;
    comment: string | null;
    decidedAt: string;
    approved: boolean;
    /** The payload's revision it was decided on: a waiter that read another one reads again. */
    revision: number;
    onBehalfOf: string | null;
  };
}

export function changeChannel(schema: string): string {
  return `countersign:${schema}`;
}

/** The NOTIFY of a change; with `onlyIfRowsIn`, sent only when that table (a CTE) has rows. */
export function announceQuery(schema: string, change: Change, onlyIfRowsIn?: RawBuilder<unknown>): RawBuilder<unknown> {
  const notify = sql`pg_notify(${changeChannel(schema)}, ${JSON.stringify(change)})`;
  return onlyIfRowsIn ? sql`select ${notify} from ${onlyIfRowsIn}` : sql`select ${notify}`;
}

/**
 * The NOTIFY of a final change, built from the updated approval row (`updated`, a part of the same
 * statement), with the decision in it.
 */
export function announceDecisionQuery(schema: string, updated: RawBuilder<unknown>): RawBuilder<unknown> {
  const decision = sql`case when octet_length(coalesce(u.decision_comment, '')) + octet_length(coalesce(u.decided_by, '')) < 6000
    then json_build_object(
      'decidedBy', u.decided_by, 'via', u.decided_via, 'comment', u.decision_comment, 'decidedAt', u.decided_at,
      'approved', u.status = 'approved' or (u.status = 'timed_out' and u.timeout_action = 'approve'),
      'revision', u.revision, 'onBehalfOf', u.decided_on_behalf_of
    ) end`;
  return sql`select pg_notify(${changeChannel(schema)}, json_strip_nulls(json_build_object('id', u.id, 'status', u.status, 'decision', ${decision}))::text)
    from ${updated} u`;
}

export function parseChange(payload: string | undefined): Change | undefined {
  try {
    const value = JSON.parse(payload ?? "") as Partial<Change>;
    if (typeof value.id === "string" && APPROVAL_STATUSES.includes(value.status as ApprovalStatus)) {
      const decision = value.decision;
      const complete =
        decision &&
        typeof decision.decidedAt === "string" &&
        typeof decision.approved === "boolean" &&
        typeof decision.revision === "number";
      return {
        id: value.id,
        status: value.status as ApprovalStatus,
        ...(complete
          ? {
              decision: {
                decidedBy: decision.decidedBy ?? null,
                via: decision.via ?? null,
                comment: decision.comment ?? null,
                decidedAt: decision.decidedAt,
                approved: decision.approved,
                revision: decision.revision,
                onBehalfOf: decision.onBehalfOf ?? null,
              },
            }
          : {}),
      };
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}
