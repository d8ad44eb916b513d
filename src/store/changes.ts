/**
 * Every state change announces itself with NOTIFY on one channel per schema, inside the transaction that
 * made it, so listeners hear it exactly when it commits (and never when it rolls back).
 */
import { sql } from "kysely";
import { APPROVAL_STATUSES, type ApprovalStatus } from "../domain/types.ts";
import type { Db } from "./connection.ts";

export interface Change {
  id: string;
  status: ApprovalStatus;
}

export function changeChannel(schema: string): string {
  return `countersign:${schema}`;
}

export async function announceChange(db: Db, schema: string, change: Change): Promise<void> {
  await sql`select pg_notify(${changeChannel(schema)}, ${JSON.stringify(change)})`.execute(db);
}

export function parseChange(payload: string | undefined): Change | undefined {
  try {
    const value = JSON.parse(payload ?? "") as Partial<Change>;
    if (typeof value.id === "string" && APPROVAL_STATUSES.includes(value.status as ApprovalStatus)) {
      return { id: value.id, status: value.status as ApprovalStatus };
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}
