/**
 * Applies a plan as ONE statement: the approval row as a compare-and-set on its version (the guard), and,
 * only if that wrote, the vote, the steps, the audit events, the timers removed, the jobs added and the
 * NOTIFY. One statement is atomic by itself; inside a host's transaction it commits with theirs.
 */
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Plan } from "../domain/plan.ts";
import type { PayloadEdit } from "../domain/types.ts";
import { AlreadyDecidedError } from "../errors.ts";
import { jobKey, jobSpec } from "../scheduler/jobs.ts";
import { addJobsQuery, addResumeJobsQuery, jobRow, removeJobsQuery } from "../scheduler/queue.ts";
import { changeParts, GUARD, isDuplicateVote } from "../store/approval-writes.ts";
import { announceDecisionQuery, announceQuery } from "../store/changes.ts";
import type { Db } from "../store/connection.ts";
import type { ApprovalRow, StepRow, VoteRow } from "../store/database.ts";
import { eventsInsertQuery } from "../store/event-store.ts";
import { approvalFromJson, voteFromJson } from "../store/rows.ts";
import type { SetChange, SetChangeWritten } from "../store/change-set.ts";
import { together } from "../store/statement.ts";
import type { EngineContext } from "./context.ts";
import { asksDelegates, delegateRounds, expandRounds } from "./rounds.ts";

/** What the statement changed, for the caller to build the approval as it now is without reading it again. */
export interface Applied {
  approval: ApprovalRow | undefined;
  vote: VoteRow | undefined;
  steps: Partial<Pick<StepRow, "position" | "passed_at" | "started_at" | "escalation_level">>[];
}

/**
 * Writes the plan if the approval is still the version `facts` were read at; resolves with what changed,
 * or undefined when another change won the race (nothing was written: plan again from fresh facts).
 */
export async function applyPlan(
  ctx: EngineContext,
  db: Db,
  facts: ApprovalFacts,
  plan: Plan,
): Promise<Applied | undefined> {
  const { schema, workerSchema } = ctx.database;
  const id = facts.id;
  const { set = {}, decision } = plan.update ?? {};
  const revision = plan.revision;
  const edits: PayloadEdit[] =
    revision?.edits.map((edit) => ({ ...edit, by: revision.createdBy, revision: revision.revision })) ?? [];
  const parts: Parameters<typeof together>[1] = {
    updated: changeParts.approval(schema, id, facts.version, {
      ...set,
      ...(decision ? { decision } : {}),
      ...(revision
        ? { revision: { revision: revision.revision, payload: revision.payload, digest: revision.digest, edits } }
        : {}),
    }),
  };
  if (plan.vote) parts.voted = changeParts.vote(schema, { approvalId: id, ...plan.vote });
  if (revision) {
    // The payload as requested becomes revision 1 the first time anyone edits it.
    const original = {
      revision: 1,
      payload: facts.payload,
      digest: revision.previousDigest,
      edits: [],
      createdBy: facts.requestedBy,
    };
    parts.revisions = changeParts.revisions(schema, id, [
      ...(facts.revision === 1 ? [original] : []),
      {
        revision: revision.revision,
        payload: revision.payload,
        digest: revision.digest,
        edits: revision.edits,
        createdBy: revision.createdBy,
      },
    ]);
  }
  if (set.deadline) parts.tokens = changeParts.tokensExpire(schema, id, set.deadline);
  const { passed, started, escalated } = plan.steps;
  if (passed !== undefined) parts.passed = changeParts.stepPassed(schema, id, passed);
  // A statement updates a row once: a step that starts escalated is one UPDATE.
  const startsEscalated = escalated !== undefined && escalated.step === started;
  if (started !== undefined)
    parts.started = changeParts.stepStarted(schema, id, started, startsEscalated ? escalated.level : undefined);
  if (escalated && !startsEscalated)
    parts.escalated = changeParts.escalated(schema, id, escalated.step, escalated.level);
  delegateRounds(ctx, plan.jobs, GUARD).forEach((part, i) => {
    parts[`delegates_${i}`] = part;
  });
  const { events, removeKeys, specs } = planRows(ctx, plan);
  if (events.length > 0) parts.events = eventsInsertQuery(schema, id, events, GUARD);
  if (removeKeys.length > 0) parts.removed = removeJobsQuery(workerSchema, removeKeys, GUARD);
  if (specs.length > 0) parts.jobs = addJobsQuery(workerSchema, specs, GUARD);
  if (plan.resume) {
    parts.resumed = addResumeJobsQuery(workerSchema, schema, GUARD);
  }
  if (plan.announce) {
    parts.announced = decision ? announceDecisionQuery(schema, GUARD) : announceQuery(schema, plan.announce, GUARD);
  }
  let result: Awaited<ReturnType<typeof together>>;
  try {
    result = await together(db, parts);
  } catch (error) {
    // One person voting twice is refused by unique constraints, not only by the plan; the statement
    // failed whole, so nothing of this change was written.
    if (!plan.vote || !isDuplicateVote(error)) throw error;
    throw new AlreadyDecidedError(`${plan.vote.voter} already voted on step ${plan.vote.step + 1} of approval ${id}.`, {
      approvalId: id,
      reviewer: plan.vote.reviewer,
      voter: plan.vote.voter,
      step: plan.vote.step,
      status: facts.status,
    });
  }
  const approval = result.updated?.[0];
  if (!approval) return undefined;
  return appliedFromJson({ approval, vote: result.voted?.[0] }, [
    ...(result.passed ?? []),
    ...(result.started ?? []),
    ...(result.escalated ?? []),
  ]);
}

/**
 * What a plan writes besides the rows it names: its audit events (with those of rounds nobody can
 * receive), the keys of the timers it removes, and its jobs, rounds expanded into deliveries.
 */
function planRows(ctx: EngineContext, plan: Plan) {
  const rounds = expandRounds(ctx, plan.jobs);
  return {
    events: [...plan.events, ...rounds.events],
    removeKeys: plan.removeTimers.map(jobKey),
    specs: rounds.jobs.map((job) => jobSpec(job, { deliveryAttempts: ctx.options.delivery.maxAttempts })),
  };
}

/** What a written change returned (its rows as JSON) as what the caller builds the approval from. */
export function appliedFromJson(written: SetChangeWritten, steps: unknown[] = []): Applied {
  const vote = written.vote as Parameters<typeof voteFromJson>[0] | undefined;
  return {
    approval: approvalFromJson(written.approval as Parameters<typeof approvalFromJson>[0]),
    vote: vote ? voteFromJson(vote) : undefined,
    steps: steps.map(stepChangeFromJson),
  };
}

/**
 * The plan as one approval's rows of a change set (see `store/change-set.ts`), or undefined when it
 * changes what a set does not cover: edits, the deadline, the step (one that passes, starts or
 * escalates), or a round that asks reviewers (their delegates are looked up in the statement).
 */
export function asSetChange(ctx: EngineContext, facts: ApprovalFacts, plan: Plan): SetChange | undefined {
  const { steps } = plan;
  const { set = {}, decision } = plan.update ?? {};
  if (plan.revision || set.deadline || set.currentStep !== undefined) return undefined;
  if (steps.passed !== undefined || steps.started !== undefined || steps.escalated) return undefined;
  if (plan.jobs.some(asksDelegates)) return undefined;
  const { events, removeKeys, specs } = planRows(ctx, plan);
  return {
    id: facts.id,
    version: facts.version,
    status: set.status ?? null,
    decision: decision ?? null,
    vote: plan.vote,
    events,
    removeKeys,
    jobs: specs.map(jobRow),
    resume: plan.resume,
    announce: plan.announce ? (decision ? "decision" : { payload: JSON.stringify(plan.announce) }) : null,
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
