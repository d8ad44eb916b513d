/**
 * Several approvals' changes written by ONE statement of fixed text, each change's rows passed as JSON:
 * most of a change's database time is per statement (executor start-up, `add_jobs`' own statements,
 * the commit), not per row, so changes that arrive together are written together (see
 * `core/change-batch.ts`). Each approval is written only while it is still the version its change was
 * planned from, and everything else of that change only when it was: the caller learns, approval by
 * approval, which changes were written and which lost a race.
 *
 * It covers the common shape of a vote: the approval row (its status and decision), a vote, audit events,
 * timers removed, jobs added, `onDecision` handlers' jobs and the NOTIFY. Other changes (edits, a new
 * deadline, a step that passes, starts or escalates) are written as one statement each (`changeParts`).
 */
import { type QueryResult, type RawBuilder, sql } from "kysely";
import type { Plan, PlannedEvent } from "../domain/plan.ts";
import { changeChannel, decisionNotice } from "./changes.ts";
import type { Db } from "./connection.ts";
import { columnList } from "./approval-writes.ts";
import { compiledOnce } from "./compiled-once.ts";
import { APPROVAL_COLUMNS, VOTE_COLUMNS } from "./database.ts";

/** A graphile-worker job as the JSON row a statement turns into a `job_spec` (see `jobRow`). */
export interface JobRow {
  identifier: string;
  job_key: string;
  payload: unknown;
  /** An ISO time, or null for now() plus `delay_ms`. */
  run_at: string | null;
  delay_ms: number;
  max_attempts: number;
}

/** One approval's change, as rows. */
export interface SetChange {
  id: string;
  /** The version the change was planned from: written only while the approval is still at it. */
  version: number;
  status: string | null;
  decision: { decidedBy: string | null; onBehalfOf: string | null; via: string; comment: string | null } | null;
  vote: Plan["vote"];
  events: PlannedEvent[];
  removeKeys: string[];
  jobs: JobRow[];
  /** The approval became final: each registered `onDecision` handler of its type gets a job. */
  resume: boolean;
  /** The NOTIFY: "decision" builds it from the decided row (see `decisionNotice`); a text is sent as it is. */
  announce: "decision" | { payload: string } | null;
}

/**
 * Where a change set is written: the schemas, and the part that adds the `onDecision` handlers' jobs for
 * the approvals (a subquery of their rows) that became final. The same for every call on a schema pair.
 */
export interface ChangeSetTarget {
  schema: string;
  workerSchema: string;
  resumeJobs: (final: RawBuilder<unknown>) => RawBuilder<unknown>;
}

/** What one written change returned, as JSON rows; absent from the result when it lost the race. */
export interface SetChangeWritten {
  approval: unknown;
  vote: unknown;
}

type ChangeSetParams = { changes: string; votes: string; events: string; timers: string; jobs: string };

type ChangeSetRow = { free: string[]; updated: { id: string }[]; voted: { approval_id: string }[] };

/**
 * The statement per schema pair, compiled once (`compiledOnce`, per pair since it names both schemas):
 * the same text every time, so it is prepared once per connection.
 */
const statements = new Map<string, (db: Db, params: ChangeSetParams) => Promise<QueryResult<ChangeSetRow>>>();

function statementFor(target: ChangeSetTarget) {
  const key = `${target.schema}\u0000${target.workerSchema}`;
  let statement = statements.get(key);
  if (!statement) {
    statement = compiledOnce<ChangeSetParams, ChangeSetRow>((db, params) => ({
      compile: () => buildStatement(target, params).compile(db.withoutPlugins()),
    }));
    statements.set(key, statement);
  }
  return statement;
}

/**
 * The statement, parameterised by five JSON arrays: the changes, their votes, the events, the timers'
 * keys and the jobs (its constants are literals: `compiledOnce` takes only the parameters given). Every
 * row names its approval; rows of an approval that was not updated are left out. Events and jobs are
 * written in the order given (`n`): the audit chain links each event to the one before it.
 */
function buildStatement({ schema, workerSchema, resumeJobs }: ChangeSetTarget, params: ChangeSetParams) {
  const t = (table: string) => sql.id(schema, table);
  const p = (name: keyof ChangeSetParams) => sql`${params[name]}::json`;
  // The approvals are found by primary key through an array of their ids: joined to the JSON's rows
  // instead, a generic plan made while the table was small read it whole. Taken from the JSON (not a
  // parameter of its own), so the custom and the generic plan cost the same and the generic one is kept:
  // with the array as a parameter, at 1,000,000 approvals PostgreSQL planned the statement on every call.
  const ids = sql`array(select id from input)`;
  const written = sql`(select id from updated)`;
  return sql<ChangeSetRow>`with input as (
      select * from json_to_recordset(${p("changes")}) as c(id uuid, version int, status text,
        decides bool, decided_by text, on_behalf_of text, via text, comment text, resume bool, announce text)
    ),
    free as (
      select a.id from ${t("approval")} a where a.id = any(${ids})
      for no key update skip locked
    ),
    updated as (
      update ${t("approval")} a set version = a.version + 1, updated_at = now(),
        status = coalesce(c.status, a.status),
        decided_by = case when c.decides then c.decided_by else a.decided_by end,
        decided_on_behalf_of = case when c.decides then c.on_behalf_of else a.decided_on_behalf_of end,
        decided_via = case when c.decides then c.via else a.decided_via end,
        decision_comment = case when c.decides then c.comment else a.decision_comment end,
        decided_at = case when c.decides then now() else a.decided_at end
      from input c
      where a.id = any(${ids}) and a.id = c.id and a.version = c.version and a.id in (select id from free)
      returning ${columnList(APPROVAL_COLUMNS, "a")}
    ),
    voted as (
      insert into ${t("vote")}
        (approval_id, position, reviewer, voter, on_behalf_of, outcome, comment, via, revision, once_key, actions)
      select v.approval_id, v.position, v.reviewer, v.voter, v.on_behalf_of, v.outcome, v.comment, v.via,
        v.revision, v.once_key, v.actions
      from json_to_recordset(${p("votes")}) as v(approval_id uuid, position int, reviewer text, voter text,
        on_behalf_of text, outcome text, comment text, via text, revision int, once_key text, actions jsonb)
      where v.approval_id in ${written}
      returning ${columnList(VOTE_COLUMNS)}
    ),
    events as (
      insert into ${t("event")} (approval_id, type, actor, channel, step, comment, data)
      select e.approval_id, e.type, e.actor, e.channel, e.step, e.comment, e.data
      from json_to_recordset(${p("events")}) as e(n int, approval_id uuid, type text, actor text, channel text,
        step int, comment text, data jsonb)
      where e.approval_id in ${written}
      order by e.n
      returning id
    ),
    removed as (
      delete from ${sql.id(workerSchema, "_private_jobs")} j
      where j.key = any(array(
          select r.key from json_to_recordset(${p("timers")}) as r(approval_id uuid, key text)
          where r.approval_id in ${written}))
        and j.locked_at is null
      returning j.id
    ),
    jobs as (
      select count(*) from ${sql.id(workerSchema, "add_jobs")}(array(
        select (
          s.identifier, s.payload, null, coalesce(s.run_at, now() + s.delay_ms * interval '1 millisecond'),
          s.max_attempts, s.job_key, null, null
        )::${sql.id(workerSchema, "job_spec")}
        from json_to_recordset(${p("jobs")}) as s(n int, approval_id uuid, identifier text, job_key text, payload json,
          run_at timestamptz, delay_ms float8, max_attempts smallint)
        where s.approval_id in ${written}
        order by s.n
      ))
      -- add_jobs costs a plan and a NOTIFY even when given no jobs.
      where json_array_length(${p("jobs")}) > 0 and exists (select 1 from updated)
    ),
    resumed as (${resumeJobs(sql`(select u.* from updated u join input c on c.id = u.id where c.resume)`)}),
    announced as (
      select pg_notify(${sql.lit(changeChannel(schema))}, case when c.announce = 'decision' then ${decisionNotice("u")} else c.announce end)
      from updated u join input c on c.id = u.id
      where c.announce is not null
    )
    select
      (select coalesce(json_agg(f.id), '[]'::json) from free f) as free,
      (select coalesce(json_agg(u), '[]'::json) from updated u) as updated,
      (select coalesce(json_agg(v), '[]'::json) from voted v) as voted,
      (select count(*) from events) as events,
      (select count(*) from removed) as removed,
      (select * from jobs) as jobs,
      (select * from resumed) as resumed,
      (select count(*) from announced) as announced`;
}

/**
 * What became of a change set: what each written change returned, by approval id, and the approvals
 * another transaction held locked (left alone: their changes are for the caller to write one by one, so
 * that a host's long transaction holds up the changes of its own approval only). A change in neither
 * lost the race: nothing of it was written.
 */
export interface ChangeSetResult {
  written: Map<string, SetChangeWritten>;
  busy: Set<string>;
}

/**
 * Writes `changes` (of distinct approvals) in one statement. One failing row (a constraint) fails the
 * statement whole: nothing of any change was written.
 */
export async function writeChangeSet(db: Db, target: ChangeSetTarget, changes: SetChange[]): Promise<ChangeSetResult> {
  const json = JSON.stringify;
  let n = 0;
  const params: ChangeSetParams = {
    changes: json(
      changes.map((c) => ({
        id: c.id,
        version: c.version,
        status: c.status,
        decides: c.decision !== null,
        decided_by: c.decision?.decidedBy ?? null,
        on_behalf_of: c.decision?.onBehalfOf ?? null,
        via: c.decision?.via ?? null,
        comment: c.decision?.comment ?? null,
        resume: c.resume,
        announce: c.announce === null ? null : c.announce === "decision" ? "decision" : c.announce.payload,
      })),
    ),
    votes: json(
      changes.flatMap(({ id, vote }) =>
        vote
          ? [
              {
                approval_id: id,
                position: vote.step,
                reviewer: vote.reviewer,
                voter: vote.voter,
                on_behalf_of: vote.onBehalfOf,
                outcome: vote.outcome,
                comment: vote.comment,
                via: vote.via,
                revision: vote.revision,
                once_key: vote.onceKey,
                actions: vote.actions,
              },
            ]
          : [],
      ),
    ),
    events: json(changes.flatMap(({ id, events }) => events.map((e) => ({ n: n++, approval_id: id, ...e })))),
    timers: json(changes.flatMap(({ id, removeKeys }) => removeKeys.map((key) => ({ approval_id: id, key })))),
    jobs: json(changes.flatMap(({ id, jobs }) => jobs.map((job) => ({ n: n++, approval_id: id, ...job })))),
  };
  const { rows } = await statementFor(target)(db, params);
  const result = rows[0];
  const written = new Map<string, SetChangeWritten>();
  if (!result) throw new Error("countersign: a change set returned no row");
  for (const approval of result.updated) written.set(approval.id, { approval, vote: undefined });
  for (const vote of result.voted) {
    const change = written.get(vote.approval_id);
    if (change) change.vote = vote;
  }
  const free = new Set(result.free);
  return { written, busy: new Set(changes.flatMap(({ id }) => (free.has(id) ? [] : [id]))) };
}
