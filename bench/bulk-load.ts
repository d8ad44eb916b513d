/**
 * Loads many pending approvals by SQL (generate_series straight into the real tables), shaped like the
 * ones the API writes: each with its step, 1-3 reviewers and their tokens, the `requested` event, and its
 * graphile-worker jobs. Created over the last 30 days, due in 60; 5,000 distinct reviewers, plus
 * "hot@x.com" on 1,000 approvals spread over the range. One in six is a two-signature step that has its
 * first sign-off (a vote and its `approved` event), so the vote table is as big as the reads it serves:
 * left empty, every plan may read it whole and still look fast. What only countersign knows (the step's
 * schedule, the events' data, which jobs a request schedules and their payloads, what a vote records) is
 * copied from template approvals created through the API, so the load follows countersign as it changes.
 * A table of countersign's that the templates have rows in but this loader does not know is reported, not
 * guessed at.
 */
import type pg from "pg";
import type { Approvals } from "../src/index.ts";
import { withClient } from "./instance.ts";

export const HOT_REVIEWER = "hot@x.com";
export const HOT_APPROVALS = 1_000;
export const BULK_TYPES = 20;
/** Rows per statement: big enough to be fast, small enough to keep memory and WAL in check. */
const CHUNK = 50_000;

/** A v4-shaped UUID computed from the row number, so every table can find its approval's id again. */
const ID = (seed: string) =>
  `overlay(overlay(md5('${seed}' || g::text) placing '4' from 13) placing '8' from 17)::uuid`;
/** $4 is the load's start, one instant for every table. */
const CREATED = "$4::timestamptz - interval '30 days' * (1 - g::float8 / $3)";
/** 1 to 3 reviewers per approval, out of 5,000 people. */
const REVIEWERS = `(select array_agg(case when k = 1 and g % ($3 / ${HOT_APPROVALS}) = 0 then '${HOT_REVIEWER}'
                     else 'user' || ((g * 7 + k * 13) % 5000) || '@x.com' end)
                   from generate_series(1, 1 + g % 3) k)`;

/**
 * The approvals with a first sign-off: those with 2 or 3 reviewers (`1 + g % 3`) and `g % 4 = 1`, one in
 * six. Their step needs two approvals, and the first reviewer has approved.
 */
const SIGNED_ONCE = "(g % 4 = 1 and g % 3 <> 0)";
/** When the first sign-off came: an hour after the request, or at the load's start if that is sooner. */
const SIGNED_AT = `least(${CREATED} + interval '1 hour', $4::timestamptz)`;

interface Template {
  id: string;
  /** countersign's tables, and those of them holding rows of the templates. */
  tables: string[];
  tablesWithRows: string[];
  schedule: string;
  eventData: string;
  jobs: { identifier: string; payload: string; key: string; offset_ms: number; max_attempts: number }[];
  /** The first sign-off of a two-signature step, as the API wrote it. */
  signOff: { via: string; revision: number; eventType: string; eventChannel: string | null; eventData: string };
}

export async function bulkLoadPending(
  url: string,
  schema: string,
  approvals: Approvals,
  count: number,
  onProgress: (loaded: number) => void = () => {},
): Promise<{ notLoaded: string[] }> {
  const template = await createTemplate(url, schema, approvals);
  const seed = schema;
  return withClient(url, async (client) => {
    await client.query("set synchronous_commit = off");
    const { rows } = await client.query<{ now: Date }>("select now()");
    const start = rows[0]?.now;
    for (let lo = 0; lo < count; lo += CHUNK) {
      const hi = Math.min(count, lo + CHUNK);
      for (const { sql, params } of chunkStatements(schema, seed, template, template.tables)) {
        // PostgreSQL wants exactly the parameters a statement refers to; only some use the start time.
        const rows = sql.includes("$4") ? [lo, hi - 1, count, start] : [lo, hi - 1, count];
        await client.query(sql, [...rows, ...params]);
      }
      await addJobs(client, schema, seed, template, [lo, hi - 1, count, start]);
      onProgress(hi);
    }
    for (const table of [...LOADED].filter((name) => template.tables.includes(name))) {
      await client.query(`vacuum analyze "${schema}".${table}`);
    }
    await client.query(`vacuum analyze "${schema}_worker"._private_jobs`);
    return { notLoaded: template.tablesWithRows.filter((table) => !LOADED.has(table)) };
  });
}

/** The tables this loader fills (`inbox` from migration 000004 on, when it exists). */
const LOADED = new Set(["approval", "step", "reviewer", "token", "event", "inbox", "vote"]);

/** The statements for rows $1..$2 of $3 (created from $4 back), each with its further parameters. */
function chunkStatements(
  schema: string,
  seed: string,
  template: Template,
  tables: string[],
): { sql: string; params: (string | null)[] }[] {
  const s = `"${schema}"`;
  const id = ID(seed);
  const { signOff } = template;
  const statements = [
    {
      sql: `insert into ${s}.approval (id, type, title, payload, requested_by, step_count, deadline, timeout_action,
         idempotency_key, fingerprint, created_at, updated_at, version)
       select ${id}, 'bench.type.' || (g % ${BULK_TYPES}), 'Bulk approval #' || g,
         json_build_object('amount', (g % 9000) + 100, 'currency', 'EUR', 'invoice', 'INV-' || g),
         'agent://bench/bulk', 1, ${CREATED} + interval '60 days', 'reject',
         case when g % 2 = 0 then 'bulk-' || g end, md5(g::text), ${CREATED},
         case when ${SIGNED_ONCE} then ${SIGNED_AT} else ${CREATED} end, case when ${SIGNED_ONCE} then 1 else 0 end
       from generate_series($1::int, $2::int) g`,
      params: [],
    },
    {
      sql: `insert into ${s}.step (approval_id, position, name, quorum, schedule, escalation_levels, started_at)
       select ${id}, 0, 'approval', case when ${SIGNED_ONCE} then 2 else 1 end, $5::jsonb, 0, ${CREATED}
       from generate_series($1::int, $2::int) g`,
      params: [template.schedule],
    },
    {
      sql: `insert into ${s}.reviewer (approval_id, position, reviewer, level)
       select ${id}, 0, r, 0 from generate_series($1::int, $2::int) g, unnest(${REVIEWERS}) r`,
      params: [],
    },
    {
      // The nonce is drawn in a subquery so that it is drawn once per row and hashed as drawn.
      sql: `insert into ${s}.token (approval_id, reviewer, nonce, token_hash, expires_at)
       select ${id}, r, n, sha256(n), ${CREATED} + interval '67 days'
       from (select g, r, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()) as n
             from generate_series($1::int, $2::int) g, unnest(${REVIEWERS}) r) drawn`,
      params: [],
    },
    {
      sql: `insert into ${s}.event (approval_id, type, actor, data, created_at)
       select ${id}, 'requested', 'agent://bench/bulk', $5::jsonb, ${CREATED} from generate_series($1::int, $2::int) g`,
      params: [template.eventData],
    },
    {
      // After the `requested` events: the audit chain's trigger links each approval's events in order.
      sql: `insert into ${s}.event (approval_id, type, actor, channel, step, data, created_at)
       select ${id}, $5, (${REVIEWERS})[1], $6, 0, $7::jsonb, ${SIGNED_AT}
       from generate_series($1::int, $2::int) g where ${SIGNED_ONCE}`,
      params: [signOff.eventType, signOff.eventChannel, signOff.eventData],
    },
    {
      sql: `insert into ${s}.vote (approval_id, position, reviewer, voter, outcome, via, revision, once_key, created_at)
       select ${id}, 0, r, r, 'approve', $5, $6::int, r, ${SIGNED_AT}
       from (select g, (${REVIEWERS})[1] as r from generate_series($1::int, $2::int) g where ${SIGNED_ONCE}) signed`,
      params: [signOff.via, String(signOff.revision)],
    },
  ];
  if (tables.includes("inbox")) {
    // Each reviewer's approvals in list order (see sql/000004_inbox.sql).
    statements.push({
      sql: `insert into ${s}.inbox (reviewer, approval_id, created_at)
       select r, ${id}, ${CREATED} from generate_series($1::int, $2::int) g, unnest(${REVIEWERS}) r`,
      params: [],
    });
  }
  return statements;
}

/** The template's timers (not its immediate notify job) for every approval whose timer is still ahead. */
async function addJobs(
  client: pg.Client,
  schema: string,
  seed: string,
  template: Template,
  rows: [number, number, number, Date | undefined],
): Promise<void> {
  const w = `"${schema}_worker"`;
  const timers = template.jobs.filter((job) => job.offset_ms > 0);
  await client.query(
    `select count(*) from ${w}.add_jobs(array(
       select (t.identifier, replace(t.payload, $5, ${ID(seed)}::text)::json, null,
               ${CREATED} + t.offset_ms * interval '1 millisecond', t.max_attempts, replace(t.key, $5, ${ID(seed)}::text),
               null, null)::${w}.job_spec
       from generate_series($1::int, $2::int) g, json_to_recordset($6::json)
         as t(identifier text, payload text, key text, offset_ms float8, max_attempts int)
       where ${CREATED} + t.offset_ms * interval '1 millisecond' > now()))`,
    [...rows, template.id, JSON.stringify(timers)],
  );
}

/**
 * Approvals through the API with the bulk rows' settings, whose rows and jobs are the pattern: one as
 * requested, and one with a two-signature step that its first reviewer has approved.
 */
async function createTemplate(url: string, schema: string, approvals: Approvals): Promise<Template> {
  const request = {
    type: "bench.type.template",
    title: "Template",
    payload: { amount: 100, currency: "EUR", invoice: "INV-0" },
    requestedBy: "agent://bench/bulk",
    timeout: { after: "60d" },
  };
  const { id } = await approvals.requestApproval({ ...request, reviewers: ["user1@x.com", "user2@x.com"] });
  const signed = await approvals.requestApproval({
    ...request,
    steps: [{ name: "approval", reviewers: ["user1@x.com", "user2@x.com"], quorum: 2 }],
  });
  await approvals.decide(signed.id, { reviewer: "user1@x.com", outcome: "approve" });
  return withClient(url, async (client) => {
    const vote = await client.query<{ via: string; revision: number }>(
      `select via, revision from "${schema}".vote where approval_id = $1`,
      [signed.id],
    );
    const signOffEvent = await client.query<{ type: string; channel: string | null; data: string }>(
      `select type, channel, data::text from "${schema}".event where approval_id = $1 and type <> 'requested'`,
      [signed.id],
    );
    const [signOffVote, signOffRecord] = [vote.rows[0], signOffEvent.rows[0]];
    if (vote.rows.length !== 1 || signOffEvent.rows.length !== 1 || !signOffVote || !signOffRecord) {
      throw new Error("bench: a first sign-off no longer writes one vote and one event; teach bulk-load.ts");
    }
    const step = await client.query(`select schedule::text from "${schema}".step where approval_id = $1`, [id]);
    const event = await client.query(`select data::text from "${schema}".event where approval_id = $1`, [id]);
    const jobs = await client.query(
      `select t.identifier, j.payload::text as payload, j.key, j.max_attempts,
              extract(epoch from j.run_at - a.created_at) * 1000 as offset_ms
       from "${schema}_worker"._private_jobs j
       join "${schema}_worker"._private_tasks t on t.id = j.task_id
       join "${schema}".approval a on a.id = $1::uuid
       where j.key like '%' || $1::text || '%'`,
      [id],
    );
    const tables = await client.query<{ name: string; has_approval_id: boolean }>(
      `select table_name::text as name, bool_or(column_name = 'approval_id') as has_approval_id
       from information_schema.columns where table_schema = $1 group by table_name`,
      [schema],
    );
    const tablesWithRows: string[] = [];
    for (const table of tables.rows.filter((t) => t.has_approval_id)) {
      const found = await client.query(
        `select 1 from "${schema}"."${table.name}" where approval_id = any($1::uuid[]) limit 1`,
        [[id, signed.id]],
      );
      if (found.rows.length > 0) tablesWithRows.push(table.name);
    }
    return {
      id,
      tables: tables.rows.map((t) => t.name),
      tablesWithRows,
      schedule: step.rows[0]?.schedule ?? "{}",
      eventData: event.rows[0]?.data ?? "{}",
      jobs: jobs.rows.map((row) => ({ ...row, offset_ms: Number(row.offset_ms) })),
      signOff: {
        via: signOffVote.via,
        revision: signOffVote.revision,
        eventType: signOffRecord.type,
        eventChannel: signOffRecord.channel,
        eventData: signOffRecord.data,
      },
    };
  });
}
