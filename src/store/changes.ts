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
    decidedAt: Date;
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
 * statement), with the decision in it as a positional array under `d` (see {@link DECISION_FIELDS}): a
 * thousand waiters woken by one transaction spent their time in the bytes of the notifications. A
 * listener that does not know `d` reads the row instead, as it would for a change without a decision.
 */
export function announceDecisionQuery(schema: string, updated: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`select pg_notify(${changeChannel(schema)}, ${decisionNotice("u")}) from ${updated} u`;
}

/** The text of a final change's notification, built from the approval row named `row` in the statement. */
export function decisionNotice(row: string): RawBuilder<string> {
  const u = sql.id(row);
  const decision = sql`case when octet_length(coalesce(${u}.decision_comment, '')) + octet_length(coalesce(${u}.decided_by, '')) < 6000
    then json_build_array(
      ${u}.decided_by, ${u}.decided_via, ${u}.decision_comment, floor(extract(epoch from ${u}.decided_at) * 1000)::bigint,
      ${u}.status = 'approved' or (${u}.status = 'timed_out' and ${u}.timeout_action = 'approve'),
      ${u}.revision, ${u}.decided_on_behalf_of
    ) end`;
  return sql<string>`json_strip_nulls(json_build_object('id', ${u}.id, 'status', ${u}.status, 'd', ${decision}))::text`;
}

/** The order of the decision's fields in a notification's `d`; `decidedAt` in milliseconds since the epoch. */
const DECISION_FIELDS = ["decidedBy", "via", "comment", "decidedAt", "approved", "revision", "onBehalfOf"] as const;

function parseDecision(value: unknown): Change["decision"] {
  if (!Array.isArray(value) || value.length !== DECISION_FIELDS.length) return undefined;
  const [decidedBy, via, comment, decidedAt, approved, revision, onBehalfOf] = value as unknown[];
  const text = (field: unknown) => (typeof field === "string" ? field : null);
  if (typeof decidedAt !== "number" || typeof approved !== "boolean" || typeof revision !== "number") return undefined;
  return {
    decidedBy: text(decidedBy),
    via: text(via),
    comment: text(comment),
    decidedAt: new Date(decidedAt),
    approved,
    revision,
    onBehalfOf: text(onBehalfOf),
  };
}

export function parseChange(payload: string | undefined): Change | undefined {
  try {
    const value = JSON.parse(payload ?? "") as { id?: unknown; status?: unknown; d?: unknown };
    if (typeof value.id === "string" && APPROVAL_STATUSES.includes(value.status as ApprovalStatus)) {
      const decision = parseDecision(value.d);
      const change: Change = { id: value.id, status: value.status as ApprovalStatus };
      if (decision) change.decision = decision;
      return change;
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}
