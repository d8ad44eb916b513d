/**
 * The baseline for creating an approval: the same rows countersign writes (see sql/*.sql), written by
 * hand on a plain `pg` pool in one transaction of three statements: the approval; its step, reviewers,
 * tokens and `requested` event in one statement; graphile-worker's `add_jobs` for the notify job, the
 * reminder timers and the timeout, together with the `pg_notify`. Tokens are derived and hashed as
 * countersign does (HMAC of a random nonce, SHA-256 stored), so the crypto costs the same.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { deriveToken } from "../src/security/tokens.ts";
import { SECRET, typicalRequest } from "./instance.ts";

const MINUTE = 60_000;
const REMINDERS_MS = [5 * MINUTE, 30 * MINUTE];
const TIMEOUT_MS = 8 * 60 * MINUTE;
const TOKEN_GRACE_MS = 7 * 24 * 60 * MINUTE;

export interface RawRequest {
  type: string;
  title: string;
  payload: unknown;
  requestedBy: string;
  reviewers: string[];
}

/** The same request as {@link typicalRequest}, for writing by hand. */
export function typicalRawRequest(index: number, reviewers?: string[]): RawRequest {
  const { type, title, payload, requestedBy, reviewers: listed } = typicalRequest(index, reviewers);
  return { type, title, payload: payload ?? {}, requestedBy, reviewers: listed ?? [] };
}

/** Prepared SQL for one schema; `write` creates one approval and returns its id. */
export function rawRequestWriter(pool: pg.Pool, schema: string, workerSchema: string) {
  const s = `"${schema}"`;
  const w = `"${workerSchema}"`;
  const insertApproval = `insert into ${s}.approval
      (id, type, title, payload, requested_by, step_count, deadline, timeout_action, fingerprint)
    values ($1, $2, $3, $4::json, $5, 1, now() + $6::float8 * interval '1 millisecond', 'reject', $7)
    returning *`;
  const insertChildren = `with step as (
      insert into ${s}.step (approval_id, position, name, quorum, schedule, escalation_levels, started_at)
      values ($1, 0, 'approval', 1, $2::jsonb, 0, now())
    ), reviewer as (
      insert into ${s}.reviewer (approval_id, position, reviewer, level) select $1, 0, r, 0 from unnest($3::text[]) r
    ), token as (
      insert into ${s}.token (approval_id, reviewer, nonce, token_hash, expires_at)
      select $1, t.reviewer, t.nonce, t.hash, now() + $6::float8 * interval '1 millisecond'
      from unnest($3::text[], $4::bytea[], $5::bytea[]) as t(reviewer, nonce, hash)
    )
    insert into ${s}.event (approval_id, type, actor, data) values ($1, 'requested', $7, $8::jsonb)`;
  const scheduleAndNotify = `select pg_notify($2, $3) from (
      select count(*) from ${w}.add_jobs(array(
        select (s.identifier, s.payload, null, now() + s.delay_ms * interval '1 millisecond', s.max_attempts,
                s.job_key, null, null)::${w}.job_spec
        from json_to_recordset($1::json) as s(identifier text, job_key text, payload json, delay_ms float8, max_attempts int)
      ))
    ) added`;

  return async function write(request: RawRequest): Promise<string> {
    const id = randomUUID();
    const nonces = request.reviewers.map(() => randomBytes(32));
    const hashes = request.reviewers.map((reviewer, i) =>
      createHash("sha256")
        .update(deriveToken(SECRET, id, reviewer, nonces[i] as Buffer))
        .digest(),
    );
    const fingerprint = createHash("sha256").update(JSON.stringify(request)).digest("base64url");
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(insertApproval, [
        id,
        request.type,
        request.title,
        JSON.stringify(request.payload),
        request.requestedBy,
        TIMEOUT_MS,
        fingerprint,
      ]);
      await client.query(insertChildren, [
        id,
        JSON.stringify({ remindersMs: REMINDERS_MS, escalateAfterMs: 30 * MINUTE }),
        request.reviewers,
        nonces,
        hashes,
        TIMEOUT_MS + TOKEN_GRACE_MS,
        request.requestedBy,
        JSON.stringify({ type: request.type, steps: [{ name: "approval", quorum: 1, reviewers: request.reviewers }] }),
      ]);
      await client.query(scheduleAndNotify, [
        JSON.stringify(jobsFor(id, request.reviewers)),
        `countersign:${schema}`,
        JSON.stringify({ id, status: "pending" }),
      ]);
      await client.query("commit");
      return id;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };
}

/** The notify job, one job per reminder, and the timeout: what a request with the defaults schedules. */
function jobsFor(id: string, recipients: string[]) {
  const prefix = `countersign:${id}`;
  return [
    {
      identifier: "countersign:notify",
      job_key: `${prefix}:notify:request:0`,
      payload: { approvalId: id, kind: "request", round: "request:0", step: 0, recipients },
      delay_ms: 0,
      max_attempts: 10,
    },
    ...REMINDERS_MS.map((delay, reminder) => ({
      identifier: "countersign:reminder",
      job_key: `${prefix}:reminder:0:${reminder}`,
      payload: { approvalId: id, step: 0, reminder },
      delay_ms: delay,
      max_attempts: 10,
    })),
    {
      identifier: "countersign:timeout",
      job_key: `${prefix}:timeout`,
      payload: { approvalId: id },
      delay_ms: TIMEOUT_MS,
      max_attempts: 10,
    },
  ];
}
