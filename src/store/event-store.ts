/** The append-only audit trail. The database refuses UPDATE and DELETE on it (see sql/000001_init.sql). */
import type { AuditEvent } from "../core/types.ts";
import type { Db } from "./connection.ts";
import type { NewEvent } from "./database.ts";
import { toEvent } from "./rows.ts";

export async function appendEvents(db: Db, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto("event")
    .values(events.map((event) => ({ ...event, data: JSON.stringify(event.data ?? {}) })))
    .execute();
}

/** Oldest first. */
export async function listEvents(db: Db, approvalId: string): Promise<AuditEvent[]> {
  const rows = await db.selectFrom("event").selectAll().where("approval_id", "=", approvalId).orderBy("id").execute();
  return rows.map(toEvent);
}
