/** Reads of approvals: the facts the engine plans with, whole approvals, lists, tokens. */
import { sql } from "kysely";
import { jsonArrayFrom } from "kysely/helpers/postgres";
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Approval, ApprovalStatus } from "../domain/types.ts";
import type { Db } from "./connection.ts";
import { APPROVAL_COLUMNS, type ApprovalRow, TOKEN_COLUMNS } from "./database.ts";
import type { ApprovalRows } from "./rows.ts";
import { stepFromJson, toApproval, toFacts, voteFromJson } from "./rows.ts";

export async function findByIdempotencyKey(db: Db, key: string): Promise<ApprovalRow | undefined> {
  return db.selectFrom("approval").select(APPROVAL_COLUMNS).where("idempotency_key", "=", key).executeTakeFirst();
}

/** The approval row with its steps, reviewers and votes, as one query. */
function withChildren(db: Db) {
  return db
    .selectFrom("approval")
    .select(APPROVAL_COLUMNS.map((column) => `approval.${column}` as const))
    .select((eb) => [
      jsonArrayFrom(eb.selectFrom("step").selectAll("step").whereRef("step.approval_id", "=", "approval.id")).as(
        "steps",
      ),
      jsonArrayFrom(
        eb.selectFrom("reviewer").selectAll("reviewer").whereRef("reviewer.approval_id", "=", "approval.id"),
      ).as("reviewers"),
      jsonArrayFrom(eb.selectFrom("vote").selectAll("vote").whereRef("vote.approval_id", "=", "approval.id")).as(
        "votes",
      ),
    ]);
}

/**
 * Everything the engine plans with, the approval's row locked until the transaction ends: votes, timers
 * and cancels on one approval run one after another. Two statements, not one: a statement that waited
 * for the lock still reads with the snapshot it started with, so the children (the votes that the
 * transaction before us added) are read after the lock is held.
 */
export async function lockFacts(db: Db, id: string): Promise<Locked | undefined> {
  const locked = await db
    .selectFrom("approval")
    .select(sql<Date>`statement_timestamp()`.as("db_now"))
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) return undefined;
  const row = await withChildren(db).where("approval.id", "=", id).executeTakeFirst();
  if (!row) return undefined;
  const { steps, reviewers, votes, ...approval } = row;
  const rows = { approval, steps: steps.map(stepFromJson), reviewers, votes: votes.map(voteFromJson) };
  return { facts: toFacts(rows.approval, rows.steps, rows.reviewers, rows.votes, locked.db_now), rows };
}

/** The facts the engine plans with, and the rows they came from (to build the approval after a change). */
export interface Locked {
  facts: ApprovalFacts;
  rows: ApprovalRows;
}

/** Whole approvals (steps, reviewers, votes) for the given ids, in the order given: one query. */
export async function loadApprovals(db: Db, ids: string[]): Promise<Approval[]> {
  if (ids.length === 0) return [];
  const rows = await withChildren(db).where("approval.id", "=", sql<string>`any(${ids}::uuid[])`).execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    if (!row) return [];
    const { steps, reviewers, votes, ...approval } = row;
    return [toApproval(approval, steps.map(stepFromJson), reviewers, votes.map(voteFromJson))];
  });
}

export async function loadApproval(db: Db, id: string): Promise<Approval | undefined> {
  return (await loadApprovals(db, [id]))[0];
}

/** The approval's row and the database's clock, for a waiter's check. */
export async function approvalRow(db: Db, id: string): Promise<(ApprovalRow & { db_now: Date }) | undefined> {
  return db
    .selectFrom("approval")
    .select(APPROVAL_COLUMNS)
    .select(sql<Date>`statement_timestamp()`.as("db_now"))
    .where("id", "=", id)
    .executeTakeFirst();
}

export interface ListFilter {
  status?: ApprovalStatus;
  reviewer?: string;
  type?: string;
  limit: number;
  /** Position after which to continue: microseconds since the epoch and id of the last item seen. */
  after?: { createdAtMicros: string; id: string };
}

/** Newest first; ids plus the position of each for cursors. */
export async function listApprovalIds(db: Db, filter: ListFilter): Promise<{ id: string; createdAtMicros: string }[]> {
  let query = db
    .selectFrom("approval")
    .select(["id", sql<string>`(extract(epoch from created_at) * 1000000)::bigint::text`.as("createdAtMicros")]);
  if (filter.status) query = query.where("status", "=", filter.status);
  if (filter.type) query = query.where("type", "=", filter.type);
  if (filter.reviewer) {
    const reviewer = filter.reviewer;
    query = query.where("id", "in", (eb) =>
      eb.selectFrom("reviewer").select("approval_id").where("reviewer", "=", reviewer),
    );
  }
  if (filter.after) {
    const at = sql<Date>`'epoch'::timestamptz + ${filter.after.createdAtMicros}::bigint * interval '1 microsecond'`;
    const afterId = filter.after.id;
    query = query.where((eb) =>
      eb.or([eb("created_at", "<", at), eb.and([eb("created_at", "=", at), eb("id", "<", afterId)])]),
    );
  }
  return query.orderBy("created_at", "desc").orderBy("id", "desc").limit(filter.limit).execute();
}

export async function findToken(db: Db, approvalId: string, reviewer: string) {
  return db
    .selectFrom("token")
    .select(TOKEN_COLUMNS)
    .where("approval_id", "=", approvalId)
    .where("reviewer", "=", reviewer)
    .executeTakeFirst();
}

export async function findTokenByHash(db: Db, tokenHash: Buffer) {
  return db
    .selectFrom("token")
    .select(TOKEN_COLUMNS)
    .select(sql<boolean>`expires_at <= statement_timestamp()`.as("expired"))
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
}

/** Which channels delivered this round to this reviewer, and which failed for good. */
export async function deliveryOutcomes(
  db: Db,
  approvalId: string,
  round: string,
  reviewer: string,
): Promise<{ delivered: string[]; failedForGood: string[] }> {
  const rows = await db
    .selectFrom("event")
    .select(["type", "channel"])
    .where("approval_id", "=", approvalId)
    .where("type", "in", ["notified", "notify_failed"])
    .where(sql<boolean>`data ->> 'round' = ${round} and data ->> 'reviewer' = ${reviewer}`)
    .where((eb) => eb.or([eb("type", "=", "notified"), eb(sql<boolean>`(data ->> 'final')::boolean`, "=", true)]))
    .execute();
  const channels = (type: string) =>
    rows.filter((row) => row.type === type && row.channel !== null).map((row) => row.channel as string);
  return { delivered: channels("notified"), failedForGood: channels("notify_failed") };
}
