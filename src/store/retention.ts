/**
 * Deleting final approvals and everything hanging off them, a bounded batch per transaction, so that no
 * lock is held for long and pending approvals are never touched (the batch is chosen by status).
 */
import { sql } from "kysely";
import type { Db } from "./connection.ts";

export interface PruneBatch {
  approvals: number;
  events: number;
  jobs: number;
}

/** Final approvals decided before `cutoff`: their `id`, or `select` of them. */
const doomedApprovals = (schema: string, cutoff: Date, select = sql`id`) =>
  sql`select ${select} from ${sql.id(schema, "approval")} where status <> 'pending' and decided_at < ${cutoff}`;

/** The same approvals' ids as text, as they appear in their worker jobs' keys. */
export const doomedApprovalIds = (schema: string, cutoff: Date) => doomedApprovals(schema, cutoff, sql`id::text`);

/** Final approvals decided before `cutoff` and their events: what a prune would remove of countersign's own. */
export async function pruneCandidates(db: Db, schema: string, cutoff: Date): Promise<Omit<PruneBatch, "jobs">> {
  const result = await sql<Omit<PruneBatch, "jobs">>`
    with doomed as (${doomedApprovals(schema, cutoff)})
    select (select count(*) from doomed)::int as approvals,
      (select count(*) from ${sql.id(schema, "event")} where approval_id in (select id from doomed))::int as events`.execute(
    db,
  );
  return result.rows[0] ?? { approvals: 0, events: 0 };
}

/**
 * One batch, in one statement: up to `limit` final approvals decided before `cutoff` (locked rows are
 * skipped, to be taken next time), with their steps, reviewers, inbox entries, tokens, votes and
 * revisions, and their events unless `keepAudit` (their worker jobs went first). Run inside a
 * transaction that, without `keepAudit`, has set `countersign.pruning` (the audit trail refuses deletions
 * otherwise).
 */
export async function pruneBatch(
  db: Db,
  schemas: { schema: string; workerSchema: string },
  options: { cutoff: Date; limit: number; keepAudit: boolean },
): Promise<Omit<PruneBatch, "jobs">> {
  const t = (table: string) => sql.id(schemas.schema, table);
  const ofDoomed = sql`approval_id in (select id from doomed)`;
  const result = await sql<Omit<PruneBatch, "jobs">>`
    with doomed as (
      ${doomedApprovals(schemas.schema, options.cutoff)} order by decided_at limit ${options.limit} for update skip locked
    ),
    votes as (delete from ${t("vote")} where ${ofDoomed}),
    tokens as (delete from ${t("token")} where ${ofDoomed}),
    inbox as (delete from ${t("inbox")} where ${ofDoomed}),
    reviewers as (delete from ${t("reviewer")} where ${ofDoomed}),
    revisions as (delete from ${t("payload_revision")} where ${ofDoomed}),
    steps as (delete from ${t("step")} where ${ofDoomed}),
    events as (
      delete from ${t("event")} where ${options.keepAudit ? sql`false` : ofDoomed} returning 1
    ),
    approvals as (delete from ${t("approval")} where id in (select id from doomed) returning 1)
    select (select count(*) from approvals)::int as approvals, (select count(*) from events)::int as events`.execute(
    db,
  );
  return result.rows[0] ?? { approvals: 0, events: 0 };
}
