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

/** Where the approval id starts in a job's key, after "countersign:" (see jobKey). */
const JOB_KEY_ID_FROM = "countersign:".length + 1;

/** Final approvals decided before `cutoff`: `id`, and `key_id` as it appears in their jobs' keys. */
const doomedApprovals = (schema: string, cutoff: Date) =>
  sql`select id, id::text as key_id from ${sql.id(schema, "approval")} where status <> 'pending' and decided_at < ${cutoff}`;

/**
 * The worker jobs of the approvals in a `doomed` CTE. Keys are "countersign:<approval id>:…": the id is read
 * out of the key and hash-joined. graphile-worker's jobs have no index an approval's jobs can be found by,
 * so this is a pass over the whole jobs table (350 ms at 1,000,000 pending approvals); a "key like any
 * (patterns)" tried every pattern on every job (45 s for 1,000 approvals at 200,000 jobs).
 */
const doomedJobs = (workerSchema: string) =>
  sql`from ${sql.id(workerSchema, "_private_jobs")} j
    where j.key like 'countersign:%' and substr(j.key, ${JOB_KEY_ID_FROM}, 36) in (select key_id from doomed)`;

/** Final approvals decided before `cutoff`, their events and their worker jobs: what a prune would remove. */
export async function pruneCandidates(
  db: Db,
  schemas: { schema: string; workerSchema: string },
  cutoff: Date,
): Promise<PruneBatch> {
  const result = await sql<PruneBatch>`
    with doomed as (${doomedApprovals(schemas.schema, cutoff)})
    select (select count(*) from doomed)::int as approvals,
      (select count(*) from ${sql.id(schemas.schema, "event")} where approval_id in (select id from doomed))::int as events,
      (select count(*) ${doomedJobs(schemas.workerSchema)})::int as jobs`.execute(db);
  return result.rows[0] ?? { approvals: 0, events: 0, jobs: 0 };
}

/**
 * The worker jobs of every final approval decided before `cutoff`, removed in one statement before the
 * batches: the pass over the jobs table is made once per prune, not once per batch. A final approval gets
 * no new jobs, and one that a worker is running when the approval goes finds nothing to do.
 */
export async function pruneJobs(
  db: Db,
  schemas: { schema: string; workerSchema: string },
  cutoff: Date,
): Promise<number> {
  const result = await sql<{ jobs: number }>`
    with doomed as (${doomedApprovals(schemas.schema, cutoff)})
    select count(${sql.id(schemas.workerSchema, "remove_job")}(j.key))::int as jobs ${doomedJobs(schemas.workerSchema)}`.execute(
    db,
  );
  return result.rows[0]?.jobs ?? 0;
}

/**
 * One batch, in one statement: up to `limit` final approvals decided before `cutoff` (locked rows are
 * skipped, to be taken next time), with their steps, reviewers, inbox entries, tokens, votes and
 * revisions, and their events unless `keepAudit` (their jobs went first: `pruneJobs`). Run inside a
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
