/**
 * Applies a plan inside the caller's transaction: the vote, the approval row as a compare-and-set, the
 * steps, the audit events, the jobs removed and added, and the NOTIFY, in that order. A lost
 * compare-and-set cannot happen under the row lock the facts were read with; it is still checked.
 */
import { sql, type UpdateObject } from "kysely";
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Plan, PlannedEvent } from "../domain/transition.ts";
import { AlreadyDecidedError } from "../errors.ts";
import { jobKey, jobSpec } from "../scheduler/jobs.ts";
import { addJobs, removeJobs } from "../scheduler/queue.ts";
import {
  insertVote,
  markStepPassed,
  raiseEscalationLevel,
  startStep,
  updateApprovalIf,
} from "../store/approval-writes.ts";
import { announceChange } from "../store/changes.ts";
import type { Db } from "../store/connection.ts";
import type { CountersignDatabase, NewEvent } from "../store/database.ts";
import { appendEvents } from "../store/event-store.ts";
import type { EngineContext } from "./context.ts";

export async function applyPlan(ctx: EngineContext, db: Db, facts: ApprovalFacts, plan: Plan): Promise<void> {
  const { schema, workerSchema } = ctx.database;
  if (plan.vote && !(await insertVote(db, { approvalId: facts.id, ...plan.vote }))) {
    throw new AlreadyDecidedError(
      `${plan.vote.reviewer} already voted on step ${plan.vote.step + 1} of approval ${facts.id}.`,
      {
        approvalId: facts.id,
        reviewer: plan.vote.reviewer,
        voter: plan.vote.voter,
        step: plan.vote.step,
        status: facts.status,
      },
    );
  }
  if (plan.update) {
    const { set, decision, from } = plan.update;
    const changes: UpdateObject<CountersignDatabase, "approval"> = {
      ...(set.currentStep !== undefined ? { current_step: set.currentStep } : {}),
      ...(set.status !== undefined ? { status: set.status } : {}),
      ...(decision
        ? {
            decided_by: decision.decidedBy,
            decided_via: decision.via,
            decision_comment: decision.comment,
            decided_at: sql<Date>`now()`,
          }
        : {}),
    };
    if (!(await updateApprovalIf(db, facts.id, from, changes))) {
      throw new AlreadyDecidedError(`Approval ${facts.id} changed while it was being decided.`, {
        approvalId: facts.id,
      });
    }
  }
  const { passed, started, escalated } = plan.steps;
  if (passed !== undefined) await markStepPassed(db, facts.id, passed);
  if (started !== undefined) await startStep(db, facts.id, started);
  if (escalated) await raiseEscalationLevel(db, facts.id, escalated.step, escalated.level);
  await appendEvents(
    db,
    plan.events.map((event) => toNewEvent(facts.id, event)),
  );
  await removeJobs(db, workerSchema, plan.removeTimers.map(jobKey));
  await addJobs(
    db,
    workerSchema,
    plan.jobs.map((job) => jobSpec(job, { deliveryAttempts: ctx.options.delivery.maxAttempts })),
  );
  if (plan.announce) await announceChange(db, schema, plan.announce);
}

export function toNewEvent(approvalId: string, event: PlannedEvent): NewEvent {
  return { approval_id: approvalId, ...event };
}
