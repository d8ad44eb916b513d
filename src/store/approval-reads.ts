/** Reads of approvals: the facts the engine plans with, whole approvals, lists, tokens. */
import { type ExpressionBuilder, type QueryCreator, type RawBuilder, sql } from "kysely";
import { jsonArrayFrom, jsonObjectFrom } from "kysely/helpers/postgres";
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Approval, ApprovalStatus, AuditEvent, EventType, JsonValue } from "../domain/types.ts";
import { compiledOnce } from "./compiled-once.ts";
import type { Db } from "./connection.ts";
import {
  APPROVAL_COLUMNS,
  type ApprovalRow,
  type CountersignDatabase,
  DELEGATION_COLUMNS,
  EVENT_COLUMNS,
  VOTE_COLUMNS,
} from "./database.ts";
import type { ApprovalRows } from "./rows.ts";
import {
  approvalFromJson,
  delegationFromJson,
  stepFromJson,
  toApproval,
  toEvent,
  toFacts,
  voteFromJson,
} from "./rows.ts";

export async function findByIdempotencyKey(db: Db, key: string): Promise<ApprovalRow | undefined> {
  return db.selectFrom("approval").select(APPROVAL_COLUMNS).where("idempotency_key", "=", key).executeTakeFirst();
}

/**
 * Steps, reviewers and votes of the approval in scope, and while it is pending the active delegations
 * from its reviewers, each as a JSON array.
 */
function children(eb: ExpressionBuilder<CountersignDatabase, "approval">) {
  return [
    jsonArrayFrom(eb.selectFrom("step").selectAll("step").whereRef("step.approval_id", "=", "approval.id")).as("steps"),
    jsonArrayFrom(
      eb.selectFrom("reviewer").selectAll("reviewer").whereRef("reviewer.approval_id", "=", "approval.id"),
    ).as("reviewers"),
    jsonArrayFrom(
      eb
        .selectFrom("vote")
        // Qualified: approval and vote both have `actions`.
        .select(VOTE_COLUMNS.map((column) => `vote.${column}` as const))
        .whereRef("vote.approval_id", "=", "approval.id"),
    ).as("votes"),
    jsonArrayFrom(
      eb
        .selectFrom("delegation")
        .select(DELEGATION_COLUMNS.map((column) => `delegation.${column}` as const))
        .where(sql<boolean>`approval.status = 'pending'`)
        .where("delegation.revoked_at", "is", null)
        .where(sql<boolean>`delegation.until > statement_timestamp()`)
        .where("delegation.from_reviewer", "in", (sub) =>
          sub.selectFrom("reviewer as r").select("r.reviewer").whereRef("r.approval_id", "=", "approval.id"),
        )
        .orderBy("delegation.created_at"),
    ).as("delegations"),
  ];
}

type ChildrenJson = {
  steps: Parameters<typeof stepFromJson>[0][];
  reviewers: ApprovalRows["reviewers"];
  votes: Parameters<typeof voteFromJson>[0][];
  delegations: Parameters<typeof delegationFromJson>[0][];
};

/** The rows of an approval read with its children (JSON aggregates back to row types). */
function rowsOf<R extends ChildrenJson>(row: R, approval: ApprovalRow): ApprovalRows {
  return {
    approval,
    steps: row.steps.map(stepFromJson),
    reviewers: row.reviewers,
    votes: row.votes.map(voteFromJson),
    delegations: row.delegations.map(delegationFromJson),
  };
}

const approvalColumns = APPROVAL_COLUMNS.map((column) => `approval.${column}` as const);

/** The approval row with its steps, reviewers and votes, as one query. */
function withChildren(db: Db) {
  return db.selectFrom("approval").select(approvalColumns).select(children);
}

const factsQuery = compiledOnce((db, p: { id: string }) =>
  withChildren(db).select(sql<Date>`statement_timestamp()`.as("db_now")).where("approval.id", "=", p.id),
);

/**
 * Everything the engine plans with, in one statement and without a lock: the plan is written only while
 * the approval is still this version (see `changeParts.approval`), so a stale read cannot do harm.
 */
export async function readFacts(db: Db, id: string): Promise<FactsRead | undefined> {
  const row = (await factsQuery(db, { id })).rows[0];
  return row && factsOf(row);
}

function factsOf(row: ApprovalRow & ChildrenJson & { db_now: Date }): FactsRead {
  const { steps, reviewers, votes, delegations, db_now, ...approval } = row;
  const rows = rowsOf(row, approval);
  return { facts: toFacts(rows, db_now), rows, payloadSchema: approval.payload_schema };
}

const factsByTokensQuery = compiledOnce((db, p: { tokenHashes: string }) =>
  withChildren(db)
    .innerJoin("token", "token.approval_id", "approval.id")
    .select(["token.reviewer as link_reviewer", "token.token_hash as link_hash"])
    .select(sql<boolean>`token.expires_at <= statement_timestamp()`.as("link_expired"))
    .select(sql<Date>`statement_timestamp()`.as("db_now"))
    // The hashes as JSON: its row estimate is the same to a custom and a generic plan, so the generic
    // one is kept (an array parameter's length is known only to the custom plan: planned on every call).
    .where(
      "token.token_hash",
      "=",
      sql<Buffer>`any(array(select decode(h, 'hex') from json_array_elements_text(${p.tokenHashes}::json) h))`,
    ),
);

/**
 * Links' tokens and the facts of their approvals, in one statement (a decision through a link reads
 * once), by the token hash in hex; a hash no token has is left out.
 */
export async function readFactsByTokens(db: Db, tokenHashes: Buffer[]): Promise<Map<string, LinkFactsRead>> {
  const hex = JSON.stringify(tokenHashes.map((hash) => hash.toString("hex")));
  const { rows } = await factsByTokensQuery(db, { tokenHashes: hex });
  return new Map(
    rows.map((row) => {
      const { link_reviewer, link_hash, link_expired, ...approval } = row;
      const read = { reviewer: link_reviewer, tokenHash: link_hash, expired: link_expired, read: factsOf(approval) };
      return [link_hash.toString("hex"), read];
    }),
  );
}

/** A link's token and the facts of its approval, in one statement: a decision through a link reads once. */
export interface LinkFactsRead {
  reviewer: string;
  tokenHash: Buffer;
  expired: boolean;
  read: FactsRead;
}

/** The facts the engine plans with, and the rows they came from (to build the approval after a change). */
export interface FactsRead {
  facts: ApprovalFacts;
  rows: ApprovalRows;
  /** The JSON Schema an edited payload must satisfy. */
  payloadSchema: JsonValue | null;
}

/** Whole approvals (steps, reviewers, votes) for the given ids, in the order given: one query. */
export async function loadApprovals(db: Db, ids: string[]): Promise<Approval[]> {
  if (ids.length === 0) return [];
  const rows = await withChildren(db).where("approval.id", "=", sql<string>`any(${ids}::uuid[])`).execute();
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    if (!row) return [];
    const { steps, reviewers, votes, delegations, ...approval } = row;
    return [toApproval(rowsOf(row, approval))];
  });
}

export async function loadApproval(db: Db, id: string): Promise<Approval | undefined> {
  return (await loadApprovals(db, [id]))[0];
}

/** The approval's row and the database's clock, for a waiter's check. */
const approvalRowQuery = compiledOnce((db, p: { id: string }) =>
  db
    .selectFrom("approval")
    .select(APPROVAL_COLUMNS)
    .select(sql<Date>`statement_timestamp()`.as("db_now"))
    .where("id", "=", p.id),
);

export async function approvalRow(db: Db, id: string): Promise<(ApprovalRow & { db_now: Date }) | undefined> {
  return (await approvalRowQuery(db, { id })).rows[0];
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
  // A reviewer's page walks their inbox's index in order; other pages walk the approval table's.
  const base = filter.reviewer
    ? db
        .selectFrom("inbox")
        .innerJoin("approval", "approval.id", "inbox.approval_id")
        .where("inbox.reviewer", "=", filter.reviewer)
    : db.selectFrom("approval");
  const [createdAt, id] = filter.reviewer
    ? [sql.ref("inbox.created_at"), sql.ref("inbox.approval_id")]
    : [sql.ref("approval.created_at"), sql.ref("approval.id")];
  let query = base.select([
    sql<string>`${id}`.as("id"),
    sql<string>`(extract(epoch from ${createdAt}) * 1000000)::bigint::text`.as("createdAtMicros"),
  ]);
  if (filter.status) query = query.where("approval.status", "=", filter.status);
  if (filter.type) query = query.where("approval.type", "=", filter.type);
  if (filter.after) {
    const at = sql<Date>`'epoch'::timestamptz + ${filter.after.createdAtMicros}::bigint * interval '1 microsecond'`;
    const afterId = filter.after.id;
    query = query.where(sql<boolean>`(${createdAt}, ${id}) < (${at}, ${afterId}::uuid)`);
  }
  return query.orderBy(sql`${createdAt} desc, ${id} desc`).limit(filter.limit).execute();
}

/** A statement part selecting the approval's id while the approval exists: the gate of a worker's write. */
export function existingApproval(schema: string, id: string): RawBuilder<unknown> {
  return sql`select id from ${sql.id(schema, "approval")} where id = ${id}`;
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

/** What a reviewer's link shows: the token, the approval as it is, and its history, in one statement. */
export interface ReviewerRead {
  approvalId: string;
  reviewer: string;
  tokenHash: Buffer;
  expired: boolean;
  approval: Approval;
  history: AuditEvent[];
}

interface ReviewerReadParams extends Record<string, unknown> {
  tokenHash: Buffer;
  types: string[];
  sighting: string;
}

/** The token, the approval with its steps, reviewers and votes, and its history of the given types. */
function reviewerReadQuery(db: QueryCreator<CountersignDatabase>, p: ReviewerReadParams) {
  return db
    .selectFrom("token")
    .select(["token.approval_id", "token.reviewer", "token.token_hash"])
    .select(sql<boolean>`token.expires_at <= statement_timestamp()`.as("expired"))
    .select((eb) => [
      jsonObjectFrom(
        eb
          .selectFrom("approval")
          .select(approvalColumns)
          .select(children)
          .whereRef("approval.id", "=", "token.approval_id"),
      ).as("approval"),
      jsonArrayFrom(
        eb
          .selectFrom("event")
          .select(EVENT_COLUMNS.map((column) => `event.${column}` as const))
          .whereRef("event.approval_id", "=", "token.approval_id")
          .where("event.type", "=", sql<EventType>`any(${p.types}::text[])`)
          .orderBy("event.seq"),
      ).as("history"),
    ])
    .where("token.token_hash", "=", p.tokenHash);
}

const readWithSighting = compiledOnce((db, p: ReviewerReadParams) =>
  reviewerReadQuery(
    db.with("viewed", (qc) =>
      qc
        .insertInto("event")
        .columns(["approval_id", "type", "actor", "channel", "step", "data"])
        .expression((eb) =>
          eb
            .selectFrom("token")
            .innerJoin("approval", "approval.id", "token.approval_id")
            .select([
              "token.approval_id",
              sql.lit("viewed").as("type"),
              "token.reviewer",
              sql.lit("http").as("channel"),
              "approval.current_step",
              sql<string>`${p.sighting}::jsonb`.as("data"),
            ])
            .where("token.token_hash", "=", p.tokenHash)
            .where(sql<boolean>`token.expires_at > statement_timestamp()`)
            // A reload must write nothing: an inserted row, even one the conflict then drops, fires the
            // audit chain's trigger, which locks the approval and makes the read a durable commit.
            // A subquery with LIMIT stays a lookup by the whole key per row: as NOT EXISTS it became an
            // anti-join that, on a young table's statistics, scanned every view recorded.
            .where(
              sql<boolean>`(select true from ${sql.table("event")} seen where seen.approval_id = token.approval_id
                and seen.actor = token.reviewer and seen.step = approval.current_step and seen.type = 'viewed'
                limit 1) is null`,
            ),
        )
        // A literal predicate: a prepared statement's generic plan could not match the partial index.
        .onConflict((oc) =>
          oc.columns(["approval_id", "actor", "step"]).where(sql<boolean>`type = 'viewed'`).doNothing(),
        )
        .returning("id"),
    ) as unknown as QueryCreator<CountersignDatabase>,
    p,
  ),
);
const readWithoutSighting = compiledOnce((db, p: ReviewerReadParams) => reviewerReadQuery(db, p));

/**
 * Reads a reviewer's view by the token's digest in one statement, recording their first view of the
 * current step on the way (`sighting`: its audit data) unless the token has expired.
 */
export async function readAsReviewer(
  db: Db,
  tokenHash: Buffer,
  options: { sighting?: Record<string, JsonValue>; history?: readonly EventType[] },
): Promise<ReviewerRead | undefined> {
  const params = { tokenHash, types: [...(options.history ?? [])], sighting: JSON.stringify(options.sighting ?? {}) };
  const result = await (options.sighting ? readWithSighting : readWithoutSighting)(db, params);
  const row = result.rows[0] as ReviewerReadRow | undefined;
  if (!row?.approval) return undefined;
  const { steps, reviewers, votes, delegations, ...rest } = row.approval;
  const approval = toApproval(rowsOf(row.approval, approvalFromJson(rest)));
  return {
    approvalId: row.approval_id,
    reviewer: row.reviewer,
    tokenHash: row.token_hash,
    expired: row.expired,
    approval,
    history: row.history.map((event) => toEvent({ ...event, created_at: new Date(event.created_at) })),
  };
}

type ReviewerReadRow = Awaited<ReturnType<ReturnType<typeof reviewerReadQuery>["executeTakeFirstOrThrow"]>>;

/** What a delivery needs, in one statement: the approval, the reviewer's token nonce, the channel's first receipt. */
export async function readForDelivery(
  db: Db,
  approvalId: string,
  reviewer: string,
  channel: string,
): Promise<{ approval: Approval; nonce: Buffer | undefined; receipt: JsonValue | null } | undefined> {
  const row = await withChildren(db)
    .select((eb) => [
      eb
        .selectFrom("token")
        .select("token.nonce")
        .whereRef("token.approval_id", "=", "approval.id")
        .where("token.reviewer", "=", reviewer)
        .as("nonce"),
      eb
        .selectFrom("event")
        .select(sql<JsonValue>`event.data -> 'receipt'`.as("receipt"))
        .whereRef("event.approval_id", "=", "approval.id")
        .where("event.type", "=", "notified")
        .where("event.channel", "=", channel)
        .where(sql<boolean>`event.data ->> 'reviewer' = ${reviewer} and event.data ? 'receipt'`)
        .orderBy("event.seq")
        .limit(1)
        .as("receipt"),
    ])
    .where("approval.id", "=", approvalId)
    .executeTakeFirst();
  if (!row) return undefined;
  const { steps, reviewers, votes, delegations, nonce, receipt, ...approval } = row;
  return {
    approval: toApproval(rowsOf(row, approval)),
    nonce: nonce ?? undefined,
    receipt: receipt ?? null,
  };
}

/** The stored revisions of an approval's payload, oldest first (none until someone edits it). */
export async function listRevisions(db: Db, approvalId: string) {
  return db
    .selectFrom("payload_revision")
    .select(["revision", "payload", "digest", "edits", "created_by", "created_at"])
    .where("approval_id", "=", approvalId)
    .orderBy("revision")
    .execute();
}
