/** The append-only audit trail. The database refuses UPDATE and DELETE on it (see sql/000001_init.sql). */
import { type RawBuilder, sql } from "kysely";
import type { AuditEvent, EventType } from "../domain/types.ts";
import type { Db } from "./connection.ts";
import { EVENT_COLUMNS, type NewEvent } from "./database.ts";
import { toEvent } from "./rows.ts";

export async function appendEvents(db: Db, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto("event")
    .values(events.map((event) => ({ ...event, data: JSON.stringify(event.data ?? {}) })))
    .execute();
}

/** Oldest first; only the given types when `types` is set. */
export async function listEvents(db: Db, approvalId: string, types?: readonly EventType[]): Promise<AuditEvent[]> {
  let query = db.selectFrom("event").select(EVENT_COLUMNS).where("approval_id", "=", approvalId);
  if (types) query = query.where("type", "in", types);
  const rows = await query.orderBy("seq").execute();
  return rows.map(toEvent);
}

/**
 * Records an inbound request's digest; false when it was seen before (a replay). Entries older than
 * `windowMs` are pruned as we go: a request that old is refused by its timestamp anyway.
 */
export async function firstSighting(db: Db, channel: string, digest: string, windowMs: number): Promise<boolean> {
  await db
    .deleteFrom("seen_request")
    .where("seen_at", "<", sql<Date>`now() - ${windowMs}::float8 * interval '1 millisecond'`)
    .execute();
  const row = await db
    .insertInto("seen_request")
    .values({ channel, digest })
    .onConflict((oc) => oc.columns(["channel", "digest"]).doNothing())
    .returning("digest")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The INSERT of audit events, as a part of a larger statement (see `statement.ts`); with `onlyIfRowsIn`,
 * only when that part (a CTE) has rows.
 */
export function eventsInsertQuery(
  schema: string,
  approvalId: string,
  events: Omit<NewEvent, "approval_id">[],
  onlyIfRowsIn?: RawBuilder<unknown>,
) {
  const rows = events.map((event) => ({ ...event, data: event.data ?? {} }));
  return sql`insert into ${sql.id(schema, "event")} (approval_id, type, actor, channel, step, comment, data)
    select ${approvalId}::uuid, e.type, e.actor, e.channel, e.step, e.comment, e.data
    from json_to_recordset(${JSON.stringify(rows)}::json)
      as e(type text, actor text, channel text, step int, comment text, data jsonb)
    ${onlyIfRowsIn ? sql`where exists (select 1 from ${onlyIfRowsIn})` : sql``}
    returning id`;
}
