/**
 * Applies a plan inside the caller's transaction as ONE statement: the vote, the approval row as a
 * compare-and-set, the steps, the audit events, the timers removed, the jobs added and the NOTIFY. A
 * lost compare-and-set cannot happen under the row lock the facts were read with; it is still checked,
 * and throwing rolls the whole change back.
 */
import { sql } from "kysely";
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Plan } from "../domain/transition.ts";
import { AlreadyDecidedError } from "../errors.ts";
import { jobKey, jobSpec } from "../scheduler/jobs.ts";
import { addJobsQuery, removeJobsQuery } from "../scheduler/queue.ts";
import { changeParts } from "../store/approval-writes.ts";
import { announceDecisionQuery, announceQuery } from "../store/changes.ts";
import type { Db } from "../store/connection.ts";
import type { ApprovalRow, StepRow, VoteRow } from "../store/database.ts";
import { eventsInsertQuery } from "../store/event-store.ts";
import { approvalFromJson, voteFromJson } from "../store/rows.ts";
import { together } from "../store/statement.ts";
import type { EngineContext } from "./context.ts";
import { expandRounds } from "./rounds.ts";

/** What the statement changed, for the caller to build the approval as it now is without reading it again. */
export interface Applied {
  approval: ApprovalRow | undefined;
  vote: VoteRow | undefined;
  steps: Partial<Pick<StepRow, "position" | "passed_at" | "started_at" | "escalation_level">>[];
}

export async function applyPlan(ctx: EngineContext, db: Db, facts: ApprovalFacts, plan: Plan): Promise<Applied> {
  const { schema, workerSchema } = ctx.database;
  const id = facts.id;
  const parts: Parameters<typeof together>[1] = {};
  if (plan.vote) parts.voted = changeParts.vote(schema, { approvalId: id, ...plan.vote });
  if (plan.update) {
    const { from, set, decision } = plan.update;
    parts.updated = changeParts.approval(schema, id, from, { ...set, ...(decision ? { decision } : {}) });
  }
  const { passed, started, escalated } = plan.steps;
  if (passed !== undefined) parts.passed = changeParts.stepPassed(schema, id, passed);
  if (started !== undefined) parts.started = changeParts.stepStarted(schema, id, started);
  if (escalated) parts.escalated = changeParts.escalated(schema, id, escalated.step, escalated.level);
  const rounds = expandRounds(ctx, plan.jobs);
  const events = [...plan.events, ...rounds.events];
  if (events.length > 0) parts.events = eventsInsertQuery(schema, id, events);
  if (plan.removeTimers.length > 0) parts.removed = removeJobsQuery(workerSchema, plan.removeTimers.map(jobKey));
  const specs = rounds.jobs.map((job) => jobSpec(job, { deliveryAttempts: ctx.options.delivery.maxAttempts }));
  if (specs.length > 0) parts.jobs = addJobsQuery(workerSchema, specs);
  if (plan.announce) {
    parts.announced =
      plan.update?.decision && parts.updated
        ? announceDecisionQuery(schema, sql.id("updated"))
        : announceQuery(schema, plan.announce);
  }
  const result = await together(db, parts);
  const vote = result.voted?.[0] as Parameters<typeof voteFromJson>[0] | undefined;
  if (plan.vote && !vote) {
    throw new AlreadyDecidedError(
      `${plan.vote.reviewer} already voted on step ${plan.vote.step + 1} of approval ${id}.`,
      {
        approvalId: id,
        reviewer: plan.vote.reviewer,
        voter: plan.vote.voter,
        step: plan.vote.step,
        status: facts.status,
      },
    );
  }
  const approval = result.updated?.[0] as Parameters<typeof approvalFromJson>[0] | undefined;
  if (plan.update && !approval) {
    throw new AlreadyDecidedError(`Approval ${id} changed while it was being decided.`, { approvalId: id });
  }
  return {
    approval: approval ? approvalFromJson(approval) : undefined,
    vote: vote ? voteFromJson(vote) : undefined,
    steps: [...(result.passed ?? []), ...(result.started ?? []), ...(result.escalated ?? [])].map(stepChangeFromJson),
  };
}

function stepChangeFromJson(row: unknown): Applied["steps"][number] {
  const { position, passed_at, started_at, escalation_level } = row as Record<string, unknown>;
  return {
    position: position as number,
    ...(passed_at !== undefined ? { passed_at: new Date(passed_at as string) } : {}),
    ...(started_at !== undefined ? { started_at: new Date(started_at as string) } : {}),
    ...(escalation_level !== undefined ? { escalation_level: escalation_level as number } : {}),
  };
}
