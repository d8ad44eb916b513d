/** Writes on approvals and what hangs off them: steps, reviewers, tokens and votes. */
import { type RawBuilder, sql } from "kysely";
import type { ActionVote, BatchAction, JsonValue, PayloadEdit, StepSchedule } from "../domain/types.ts";
import type { Db } from "./connection.ts";
import { executeQualified } from "./statement.ts";
import { APPROVAL_COLUMNS, type ApprovalRow, VOTE_COLUMNS } from "./database.ts";

/**
 * A constant column list as one piece of SQL, built once: listing the approval's columns identifier by
 * identifier built and compiled some seventy nodes on every request and change.
 */
export const columnList = (columns: readonly string[], table?: string) =>
  sql.raw(columns.map((column) => `${table ? `${table}.` : ""}"${column.replaceAll('"', '""')}"`).join(", "));
const APPROVAL_RETURNING = columnList(APPROVAL_COLUMNS);
const VOTE_RETURNING = columnList(VOTE_COLUMNS);

/** Rows of a new approval, as the engine built them. */
export interface NewApproval {
  approval: {
    id: string;
    type: string;
    title: string;
    payload: JsonValue;
    requestedBy: string;
    stepCount: number;
    timeoutMs: number;
    timeoutAction: string;
    idempotencyKey: string | null;
    fingerprint: string;
    editable: string[];
    payloadSchema: JsonValue | null;
    distinctAcrossSteps: boolean;
    warnBeforeMs: number | null;
    actions: BatchAction[] | null;
    metadata: Record<string, JsonValue> | null;
    /** SHA-256 of the payload's canonical JSON: each audit event seals the revision it was written under. */
    payloadDigest: string;
    /** The requesting span's context (OpenTelemetry), for later spans to link to. */
    traceContext: { traceId: string; spanId: string; traceFlags: number } | null;
    /** A policy's decision: the approval is final when written. */
    decided: { status: "approved" | "rejected"; decidedBy: string; via: string; comment: string } | null;
  };
  steps: { position: number; name: string; quorum: number; schedule: StepSchedule; escalation_levels: number }[];
  reviewers: { position: number; reviewer: string; level: number }[];
  tokens: { reviewer: string; nonce: Buffer; token_hash: Buffer }[];
  events: {
    type: string;
    actor: string;
    channel: string | null;
    step: number | null;
    comment: string | null;
    data: unknown;
  }[];
}

/** How long after the deadline a reviewer's link still opens (to show the outcome). */
const TOKEN_GRACE = "7 days";

/**
 * Writes a new approval and everything that hangs off it in one statement: one round trip, atomic by
 * itself or inside the host's transaction. `alongside` are more parts of the same statement (jobs, the
 * NOTIFY), each given the name of the inserted row's CTE so that it runs only when the approval was
 * created. Resolves with the new row, or undefined when the idempotency key was taken.
 */
export async function insertRequest(
  db: Db,
  schema: string,
  rows: NewApproval,
  alongside: (created: RawBuilder<unknown>) => RawBuilder<unknown>[],
): Promise<ApprovalRow | undefined> {
  const t = (table: string) => sql.id(schema, table);
  const a = rows.approval;
  const created = sql.raw('"created"');
  const parts = alongside(created);
  const json = (value: unknown) => JSON.stringify(value);
  const tokens = rows.tokens.map((token) => ({
    reviewer: token.reviewer,
    nonce: token.nonce.toString("base64"),
    token_hash: token.token_hash.toString("base64"),
  }));
  const result = await executeQualified(
    db,
    sql<ApprovalRow>`
    with created as (
      insert into ${t("approval")} (id, type, title, payload, requested_by, step_count, deadline, timeout_action,
        idempotency_key, fingerprint, editable, payload_schema, distinct_across_steps, warn_before_ms, actions, metadata, payload_digest,
        status, decided_by, decided_via, decision_comment, decided_at, trace_context)
      values (${a.id}, ${a.type}, ${a.title}, ${json(a.payload)}::json, ${a.requestedBy}, ${a.stepCount},
              now() + ${a.timeoutMs}::float8 * interval '1 millisecond', ${a.timeoutAction}, ${a.idempotencyKey}, ${a.fingerprint},
              ${json(a.editable)}::jsonb, ${a.payloadSchema === null ? null : json(a.payloadSchema)}::jsonb,
              ${a.distinctAcrossSteps}, ${a.warnBeforeMs}::bigint,
              ${a.actions === null ? null : json(a.actions)}::jsonb, ${a.metadata === null ? null : json(a.metadata)}::jsonb, ${a.payloadDigest},
              ${a.decided?.status ?? "pending"}, ${a.decided?.decidedBy ?? null}, ${a.decided?.via ?? null},
              ${a.decided?.comment ?? null}, ${a.decided ? sql`now()` : null},
              ${a.traceContext === null ? null : json(a.traceContext)}::jsonb)
      on conflict (idempotency_key) do nothing
      returning ${APPROVAL_RETURNING}
    ),
    steps as (
      insert into ${t("step")} (approval_id, position, name, quorum, schedule, escalation_levels, started_at)
      select c.id, s.position, s.name, s.quorum, s.schedule, s.escalation_levels, case when s.position = 0 then now() end
      from created c, json_to_recordset(${json(rows.steps)}::json)
        as s(position int, name text, quorum int, schedule jsonb, escalation_levels int)
    ),
    reviewers as (
      insert into ${t("reviewer")} (approval_id, position, reviewer, level)
      select c.id, r.position, r.reviewer, r.level
      from created c, json_to_recordset(${json(rows.reviewers)}::json) as r(position int, reviewer text, level int)
    ),
    inbox as (
      insert into ${t("inbox")} (reviewer, approval_id, created_at)
      select distinct r.reviewer, c.id, c.created_at
      from created c, json_to_recordset(${json(rows.reviewers)}::json) as r(position int, reviewer text, level int)
    ),
    tokens as (
      insert into ${t("token")} (approval_id, reviewer, nonce, token_hash, expires_at)
      select c.id, k.reviewer, decode(k.nonce, 'base64'), decode(k.token_hash, 'base64'), c.deadline + interval '${sql.raw(TOKEN_GRACE)}'
      from created c, json_to_recordset(${json(tokens)}::json) as k(reviewer text, nonce text, token_hash text)
    ),
    events as (
      insert into ${t("event")} (approval_id, type, actor, channel, step, comment, data)
      select c.id, e.type, e.actor, e.channel, e.step, e.comment, e.data
      from created c, json_to_recordset(${json(rows.events)}::json)
        as e(type text, actor text, channel text, step int, comment text, data jsonb)
    )${sql.join(
      parts.map((part, i) => sql`, ${sql.raw(`alongside_${i}`)} as (${part})`),
      sql``,
    )}
    select created.*${sql.join(
      parts.map((_, i) => sql`, (select count(*) from ${sql.raw(`alongside_${i}`)}) as ${sql.raw(`alongside_${i}`)}`),
      sql``,
    )}
    from created`,
  );
  return result.rows[0];
}

/**
 * The parts of one change (see `statement.ts`), as SQL for the given schema. `approval` is the guard:
 * it updates the row only while it is still the version the change was planned from, and every other
 * part writes only when it did (each selects from the guard, named `updated`): a change that lost the
 * race writes nothing and is planned again.
 */
export const GUARD = sql.id("updated");

/** A second vote by the same slot or person: the unique constraints that refuse it, failing the whole change. */
export function isDuplicateVote(error: unknown): boolean {
  const { code, constraint } = error as { code?: string; constraint?: string };
  return (
    code === "23505" &&
    (constraint === "vote_pkey" || constraint === "vote_one_per_person_idx" || constraint === "vote_once_idx")
  );
}

export const changeParts = {
  approval(
    schema: string,
    id: string,
    version: number,
    set: {
      status?: string;
      currentStep?: number;
      deadline?: Date;
      decision?: { decidedBy: string | null; onBehalfOf: string | null; via: string; comment: string | null };
      /** A new payload revision and the edits that made it (appended to the approval's). */
      revision?: { revision: number; payload: JsonValue; digest: string; edits: PayloadEdit[] };
    },
  ) {
    const { decision, revision } = set;
    const changes = [
      sql`version = version + 1`,
      sql`updated_at = now()`,
      ...(set.status !== undefined ? [sql`status = ${set.status}`] : []),
      ...(set.currentStep !== undefined ? [sql`current_step = ${set.currentStep}`] : []),
      ...(set.deadline !== undefined ? [sql`deadline = ${set.deadline}`] : []),
      ...(revision
        ? [
            sql`payload = ${JSON.stringify(revision.payload)}::json`,
            sql`revision = ${revision.revision}`,
            sql`payload_digest = ${revision.digest}`,
            sql`edits = edits || ${JSON.stringify(revision.edits)}::jsonb`,
          ]
        : []),
      ...(decision
        ? [
            sql`decided_by = ${decision.decidedBy}`,
            sql`decided_on_behalf_of = ${decision.onBehalfOf}`,
            sql`decided_via = ${decision.via}`,
            sql`decision_comment = ${decision.comment}`,
            sql`decided_at = now()`,
          ]
        : []),
    ];
    return sql`update ${sql.id(schema, "approval")} set ${sql.join(changes)}
      where id = ${id} and version = ${version}
      returning ${APPROVAL_RETURNING}`;
  },
  vote(
    schema: string,
    vote: {
      approvalId: string;
      step: number;
      reviewer: string;
      voter: string;
      onBehalfOf: string | null;
      outcome: string;
      comment: string | null;
      via: string;
      revision: number;
      onceKey: string;
      actions: Record<string, ActionVote> | null;
    },
  ) {
    const actions = vote.actions === null ? null : JSON.stringify(vote.actions);
    return sql`insert into ${sql.id(schema, "vote")}
        (approval_id, position, reviewer, voter, on_behalf_of, outcome, comment, via, revision, once_key, actions)
      select ${vote.approvalId}::uuid, ${vote.step}::int, ${vote.reviewer}::text, ${vote.voter}::text,
        ${vote.onBehalfOf}::text, ${vote.outcome}::text, ${vote.comment}::text, ${vote.via}::text,
        ${vote.revision}::int, ${vote.onceKey}::text, ${actions}::jsonb
      from ${GUARD}
      returning ${VOTE_RETURNING}`;
  },
  /** The revisions an edit writes: the payload as requested too, the first time anyone edits it. */
  revisions(
    schema: string,
    approvalId: string,
    rows: { revision: number; payload: JsonValue; digest: string; edits: unknown[]; createdBy: string }[],
  ) {
    return sql`insert into ${sql.id(schema, "payload_revision")} (approval_id, revision, payload, digest, edits, created_by)
      select ${approvalId}::uuid, r.revision, r.payload, r.digest, r.edits, r.created_by
      from ${GUARD}, json_to_recordset(${JSON.stringify(rows.map((r) => ({ ...r, created_by: r.createdBy })))}::json)
        as r(revision int, payload json, digest text, edits jsonb, created_by text)
      returning revision`;
  },
  /** Links stay usable for the grace period after the deadline, wherever the deadline moves. */
  tokensExpire(schema: string, approvalId: string, deadline: Date) {
    return sql`update ${sql.id(schema, "token")}
      set expires_at = ${deadline}::timestamptz + interval '${sql.raw(TOKEN_GRACE)}'
      where approval_id = ${approvalId} and exists (select 1 from ${GUARD})
      returning reviewer`;
  },
  stepPassed(schema: string, approvalId: string, step: number) {
    return sql`update ${sql.id(schema, "step")} set passed_at = now()
      where approval_id = ${approvalId} and position = ${step} and exists (select 1 from ${GUARD})
      returning position, passed_at`;
  },
  /** A step starts, already at `level` when four-eyes made it escalate at once (one UPDATE of the row). */
  stepStarted(schema: string, approvalId: string, step: number, level?: number) {
    return sql`update ${sql.id(schema, "step")} set started_at = now()${level !== undefined ? sql`, escalation_level = ${level}` : sql``}
      where approval_id = ${approvalId} and position = ${step} and exists (select 1 from ${GUARD})
      returning position, started_at, escalation_level`;
  },
  escalated(schema: string, approvalId: string, step: number, level: number) {
    return sql`update ${sql.id(schema, "step")} set escalation_level = ${level}
      where approval_id = ${approvalId} and position = ${step} and exists (select 1 from ${GUARD})
      returning position, escalation_level`;
  },
};
