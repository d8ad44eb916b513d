/** Queries on approvals and what hangs off them: steps, reviewers, votes and tokens. */
import { sql } from "kysely";
import type { ApprovalStatus } from "../core/lifecycle.ts";
import type { Approval } from "../core/types.ts";
import type { Db } from "./connection.ts";
import type { InsertObject, UpdateObject } from "kysely";
import type { ApprovalRow, CountersignDatabase, StepRow } from "./database.ts";
import { jsonArrayFrom } from "kysely/helpers/postgres";
import { stepFromJson, toApproval, voteFromJson } from "./rows.ts";

export type LockedApproval = ApprovalRow & { db_now: Date };

/** Inserts the approval unless its idempotency key is taken; true when this call created it. */
export async function insertApproval(db: Db, row: InsertObject<CountersignDatabase, "approval">): Promise<boolean> {
  const inserted = await db
    .insertInto("approval")
    .values(row)
    .onConflict((oc) => oc.column("idempotency_key").doNothing())
    .returning("id")
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function findByIdempotencyKey(db: Db, key: string): Promise<ApprovalRow | undefined> {
  return db.selectFrom("approval").selectAll().where("idempotency_key", "=", key).executeTakeFirst();
}

/**
 * Reads the approval and locks its row until the transaction ends, so votes, timers and cancels on one
 * approval run one after another. `db_now` is the database's clock, which judges deadlines.
 */
export async function lockApproval(db: Db, id: string): Promise<LockedApproval | undefined> {
  return db
    .selectFrom("approval")
    .selectAll()
    .select(sql<Date>`statement_timestamp()`.as("db_now"))
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
}

/** Compare-and-set: applies `changes` only while the approval is still in `from`. */
export async function updateApprovalIf(
  db: Db,
  id: string,
  from: { status: ApprovalStatus; currentStep: number },
  changes: UpdateObject<CountersignDatabase, "approval">,
): Promise<ApprovalRow | undefined> {
  return db
    .updateTable("approval")
    .set({ ...changes, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .where("status", "=", from.status)
    .where("current_step", "=", from.currentStep)
    .returningAll()
    .executeTakeFirst();
}

export async function insertSteps(db: Db, steps: InsertObject<CountersignDatabase, "step">[]): Promise<void> {
  await db.insertInto("step").values(steps).execute();
}

export async function insertReviewers(
  db: Db,
  reviewers: InsertObject<CountersignDatabase, "reviewer">[],
): Promise<void> {
  await db.insertInto("reviewer").values(reviewers).execute();
}

export async function insertTokens(db: Db, tokens: InsertObject<CountersignDatabase, "token">[]): Promise<void> {
  await db.insertInto("token").values(tokens).execute();
}

export async function getStep(db: Db, approvalId: string, position: number): Promise<StepRow | undefined> {
  return db
    .selectFrom("step")
    .selectAll()
    .where("approval_id", "=", approvalId)
    .where("position", "=", position)
    .executeTakeFirst();
}

export async function startStep(db: Db, approvalId: string, position: number): Promise<StepRow> {
  return db
    .updateTable("step")
    .set({ started_at: sql<Date>`now()` })
    .where("approval_id", "=", approvalId)
    .where("position", "=", position)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function markStepPassed(db: Db, approvalId: string, position: number): Promise<void> {
  await db
    .updateTable("step")
    .set({ passed_at: sql<Date>`now()` })
    .where("approval_id", "=", approvalId)
    .where("position", "=", position)
    .execute();
}

/** Compare-and-set on the step's escalation level; false when another run already moved it. */
export async function raiseEscalationLevel(
  db: Db,
  approvalId: string,
  position: number,
  level: number,
): Promise<boolean> {
  const row = await db
    .updateTable("step")
    .set({ escalation_level: level })
    .where("approval_id", "=", approvalId)
    .where("position", "=", position)
    .where("escalation_level", "=", level - 1)
    .returning("position")
    .executeTakeFirst();
  return row !== undefined;
}

/** Reviewers of one step, with their level; `maxLevel` limits to the levels reached so far. */
export async function stepReviewers(
  db: Db,
  approvalId: string,
  position: number,
  levels: { min?: number; max?: number } = {},
): Promise<{ reviewer: string; level: number }[]> {
  let query = db
    .selectFrom("reviewer")
    .select(["reviewer", "level"])
    .where("approval_id", "=", approvalId)
    .where("position", "=", position);
  if (levels.min !== undefined) query = query.where("level", ">=", levels.min);
  if (levels.max !== undefined) query = query.where("level", "<=", levels.max);
  return query.orderBy("level").orderBy("reviewer").execute();
}

/** Reviewers who may decide the current step now and have not voted on it yet. */
export async function undecidedReviewers(db: Db, approvalId: string, step: StepRow): Promise<string[]> {
  const rows = await db
    .selectFrom("reviewer")
    .select("reviewer")
    .where("approval_id", "=", approvalId)
    .where("position", "=", step.position)
    .where("level", "<=", step.escalation_level)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("vote")
            .select("vote.reviewer")
            .whereRef("vote.approval_id", "=", "reviewer.approval_id")
            .whereRef("vote.position", "=", "reviewer.position")
            .whereRef("vote.reviewer", "=", "reviewer.reviewer"),
        ),
      ),
    )
    .orderBy("level")
    .orderBy("reviewer")
    .execute();
  return rows.map((row) => row.reviewer);
}

/** Everyone who has been asked so far: reviewers of started steps, up to each step's reached level. */
export async function notifiedReviewers(db: Db, approvalId: string): Promise<string[]> {
  const rows = await db
    .selectFrom("reviewer")
    .innerJoin("step", (join) =>
      join.onRef("step.approval_id", "=", "reviewer.approval_id").onRef("step.position", "=", "reviewer.position"),
    )
    .select("reviewer.reviewer")
    .distinct()
    .where("reviewer.approval_id", "=", approvalId)
    .where("step.started_at", "is not", null)
    .whereRef("reviewer.level", "<=", "step.escalation_level")
    .orderBy("reviewer.reviewer")
    .execute();
  return rows.map((row) => row.reviewer);
}

/**
 * Records a vote; false when this reviewer slot or this person already voted on the step. Both are
 * unique constraints, so two racing votes by one person cannot both count.
 */
export async function insertVote(
  db: Db,
  vote: {
    approvalId: string;
    position: number;
    reviewer: string;
    voter: string;
    outcome: "approve" | "reject";
    comment: string | null;
    via: string;
  },
): Promise<boolean> {
  const row = await db
    .insertInto("vote")
    .values({
      approval_id: vote.approvalId,
      position: vote.position,
      reviewer: vote.reviewer,
      voter: vote.voter,
      outcome: vote.outcome,
      comment: vote.comment,
      via: vote.via,
    })
    .onConflict((oc) => oc.doNothing())
    .returning("reviewer")
    .executeTakeFirst();
  return row !== undefined;
}

export async function countApproveVotes(db: Db, approvalId: string, position: number): Promise<number> {
  const row = await db
    .selectFrom("vote")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("approval_id", "=", approvalId)
    .where("position", "=", position)
    .where("outcome", "=", "approve")
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function findToken(db: Db, approvalId: string, reviewer: string) {
  return db
    .selectFrom("token")
    .selectAll()
    .where("approval_id", "=", approvalId)
    .where("reviewer", "=", reviewer)
    .executeTakeFirst();
}

export async function findTokenByHash(db: Db, tokenHash: Buffer) {
  return db
    .selectFrom("token")
    .selectAll()
    .select(sql<boolean>`expires_at <= statement_timestamp()`.as("expired"))
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
}

/** Whole approvals (steps, reviewers, votes) for the given ids, in the order given: one query. */
export async function loadApprovals(db: Db, ids: string[]): Promise<Approval[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("approval")
    .selectAll("approval")
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
    ])
    .where("approval.id", "in", ids)
    .execute();
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
