/** Writes on approvals and what hangs off them: steps, reviewers, tokens and votes. */
import { type InsertObject, sql, type UpdateObject } from "kysely";
import type { ApprovalStatus } from "../domain/types.ts";
import type { Db } from "./connection.ts";
import type { ApprovalRow, CountersignDatabase } from "./database.ts";

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
  if (tokens.length > 0) await db.insertInto("token").values(tokens).execute();
}

export async function markStepPassed(db: Db, approvalId: string, step: number): Promise<void> {
  await db
    .updateTable("step")
    .set({ passed_at: sql<Date>`now()` })
    .where("approval_id", "=", approvalId)
    .where("position", "=", step)
    .execute();
}

export async function startStep(db: Db, approvalId: string, step: number): Promise<void> {
  await db
    .updateTable("step")
    .set({ started_at: sql<Date>`now()` })
    .where("approval_id", "=", approvalId)
    .where("position", "=", step)
    .execute();
}

/** Compare-and-set on the step's escalation level; false when another run already moved it. */
export async function raiseEscalationLevel(db: Db, approvalId: string, step: number, level: number): Promise<boolean> {
  const row = await db
    .updateTable("step")
    .set({ escalation_level: level })
    .where("approval_id", "=", approvalId)
    .where("position", "=", step)
    .where("escalation_level", "=", level - 1)
    .returning("position")
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records a vote; false when this reviewer slot or this person already voted on the step. Both are
 * unique constraints, so two racing votes by one person cannot both count.
 */
export async function insertVote(
  db: Db,
  vote: {
    approvalId: string;
    step: number;
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
      position: vote.step,
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
