/**
 * Migrations: numbered, append-only files in sql/ (inlined at build into migrations.generated.ts), applied
 * in one transaction under an advisory lock and recorded in `<schema>.migration`. A migration whose file
 * starts with `--! breaking-change` makes older versions of countersign refuse the database.
 */
import { runMigrations as runWorkerMigrations } from "graphile-worker";
import type pg from "pg";
import { ApprovalError, ERROR_CODES } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { toWorkerLogger } from "../logger.ts";
import type { Connections } from "./connections.ts";
import { MIGRATIONS } from "./migrations.generated.ts";

interface Migration {
  id: number;
  name: string;
  breaking: boolean;
  /** With `:COUNTERSIGN_SCHEMA` where the schema goes. */
  sql: string;
}

/** The schema countersign's tables live in unless told otherwise. */
export const DEFAULT_SCHEMA = "countersign";

const SCHEMA_PLACEHOLDER = /:COUNTERSIGN_SCHEMA\b/g;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function migrationTableSql(schema: string): string {
  return [
    `create schema if not exists ${quoteIdent(schema)};`,
    `create table if not exists ${quoteIdent(schema)}.migration (`,
    "  id integer primary key,",
    "  name text not null,",
    "  breaking boolean not null default false,",
    "  applied_at timestamptz not null default now()",
    ");",
  ].join("\n");
}

function migrationBody(migration: Migration, schema: string): string {
  return migration.sql.replace(SCHEMA_PLACEHOLDER, quoteIdent(schema));
}

/**
 * The SQL of countersign's migrations after `after` (default: all), for hosts that run their own
 * migration tool. Apply it in one transaction. graphile-worker installs its own schema when the worker
 * starts (`approvals.start()` or `countersign worker`).
 */
export function migrationSql(options: { schema?: string; after?: number } = {}): string {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const after = options.after ?? 0;
  const parts = [
    `-- countersign migrations ${after + 1}..${MIGRATIONS.length} for schema ${schema}`,
    migrationTableSql(schema),
  ];
  for (const migration of MIGRATIONS.filter((m) => m.id > after)) {
    parts.push(
      `-- ${migration.name}`,
      migrationBody(migration, schema),
      `insert into ${quoteIdent(schema)}.migration (id, name, breaking) values (${migration.id}, '${migration.name}', ${migration.breaking});`,
    );
  }
  return `${parts.join("\n\n")}\n`;
}

export interface MigrateTarget {
  connections: Connections;
  schema: string;
  workerSchema: string;
  logger: Logger;
  /** The worker task identifiers every instance uses, registered ahead of use (see registerTasksSql). */
  tasks: string[];
}

/**
 * Applies pending migrations of countersign and of its graphile-worker schema. Idempotent; concurrent
 * callers wait for each other on a session advisory lock. Runs on connections of its own (two at most,
 * closed afterwards), so it works beside a host pool of any size.
 */
export async function migrate(target: MigrateTarget): Promise<{ applied: string[] }> {
  const { connections, schema, logger } = target;
  const client = connections.ownClient(`countersign:migrate:${schema}`.slice(0, 63));
  await client.connect();
  const workerPool = connections.ownPool(`countersign:migrate:${schema}`.slice(0, 63), 1);
  try {
    await client.query("select pg_advisory_lock(hashtext('countersign'), hashtext($1))", [schema]);
    const applied = await applyMigrations(client, schema, logger);
    await runWorkerMigrations({ pgPool: workerPool, schema: target.workerSchema, logger: toWorkerLogger(logger) });
    await tuneWorkerSchema(client, target.workerSchema);
    await client.query(registerTasksSql(target.workerSchema), [target.tasks]);
    if (applied.length > 0) logger.info({ schema, applied }, "countersign: migrations applied");
    return { applied };
  } finally {
    // Ending the session releases the advisory lock.
    await Promise.all([client.end().catch(() => {}), workerPool.end().catch(() => {})]);
  }
}

/**
 * What countersign adds to graphile-worker's schema, re-applied on every migrate since graphile-worker's
 * own migrations may redefine what it touches. A role that may not alter graphile-worker's objects keeps
 * them as they are (only slower).
 *
 * How `add_jobs` (called by every request and decision) plans its statements:
 * - Generic plans: it re-planned each statement on every call, because its parameter is the array of
 *   jobs: 0.28 ms of PostgreSQL time per call, more than the statements took to run. Its plans do not
 *   depend on the array's contents.
 * - No sequential scans: a connection keeps the plan it made at its first call until the job table is
 *   next analyzed, and one made while the table was (nearly) empty read every job to find the ones with
 *   the keys being added. On a new schema requests fell from 1,023 to 251 a second in 27 s as the table
 *   grew to 48,000 jobs (PostgreSQL CPU per request 1.0 -> 6.8 ms), until autovacuum analyzed it. Every
 *   table it reads has an index for what it looks up.
 *
 * An index of the locked jobs by when they were locked: the worker supervisor looks for jobs held by dead
 * workers on every tick (every 10 s by default), and graphile-worker for stale locks every few minutes,
 * and without it each look read the whole job table (82-92 ms at 1,000,000 waiting jobs). Only running
 * jobs are in it, so it stays as small as the workers' concurrency.
 */
const ADD_JOBS_SETTINGS = ["plan_cache_mode = force_generic_plan", "enable_seqscan = off"];
const LOCKED_JOBS_INDEX = "countersign_locked_jobs_idx";

async function tuneWorkerSchema(client: pg.ClientBase, workerSchema: string): Promise<void> {
  const { rows } = await client.query<{ signature: string }>(
    `select p.oid::regprocedure::text as signature from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = $1 and p.proname = 'add_jobs'`,
    [workerSchema],
  );
  const statements = [
    ...rows.flatMap(({ signature }) =>
      ADD_JOBS_SETTINGS.map((setting) => `alter function ${signature} set ${setting}`),
    ),
    `create index if not exists ${LOCKED_JOBS_INDEX} on ${quoteIdent(workerSchema)}._private_jobs (locked_at)
      where locked_at is not null`,
  ];
  for (const statement of statements) {
    try {
      await client.query(statement);
    } catch (error) {
      if ((error as { code?: string }).code !== "42501") throw error;
    }
  }
}

async function applyMigrations(client: pg.ClientBase, schema: string, logger: Logger): Promise<string[]> {
  await client.query("begin");
  try {
    await client.query(migrationTableSql(schema));
    const { rows } = await client.query<{ id: number; name: string; breaking: boolean }>(
      `select id, name, breaking from ${quoteIdent(schema)}.migration order by id`,
    );
    assertKnownVersion(rows, schema, logger);
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      // The row goes in first: a concurrent migrator that slipped past the lock fails on the primary key.
      await client.query(`insert into ${quoteIdent(schema)}.migration (id, name, breaking) values ($1, $2, $3)`, [
        migration.id,
        migration.name,
        migration.breaking,
      ]);
      await client.query(migrationBody(migration, schema));
      applied.push(migration.name);
    }
    await client.query("commit");
    return applied;
  } catch (error) {
    await client.query("rollback");
    throw error;
  }
}

/** Refuses a database migrated by a newer countersign with a breaking change; warns on a compatible one. */
function assertKnownVersion(rows: { id: number; name: string; breaking: boolean }[], schema: string, logger: Logger) {
  const latestKnown = MIGRATIONS.length;
  const newer = rows.filter((row) => row.id > latestKnown);
  if (newer.length === 0) return;
  const breaking = newer.find((row) => row.breaking);
  if (breaking) {
    throw new ApprovalError(
      ERROR_CODES.SCHEMA_TOO_NEW,
      `The database schema "${schema}" was migrated by a newer countersign (migration ${breaking.name} is a breaking change); this version knows migrations up to ${MIGRATIONS[latestKnown - 1]?.name}. Upgrade countersign in this process.`,
      { schema, newest: newer.at(-1)?.name, breaking: breaking.name, latestKnown },
    );
  }
  logger.warn(
    { schema, newer: newer.map((row) => row.name) },
    "countersign: the database has migrations from a newer countersign; they are backwards-compatible, continuing",
  );
}

/** Checks, without changing anything, that the schema exists and is not too new for this version. */
export async function checkSchema(pool: pg.Pool, schema: string, logger: Logger): Promise<void> {
  const { rows: exists } = await pool.query<{ found: boolean }>("select to_regclass($1) is not null as found", [
    `${quoteIdent(schema)}.migration`,
  ]);
  if (!exists[0]?.found) {
    throw new ApprovalError(
      ERROR_CODES.NOT_MIGRATED,
      `countersign's schema "${schema}" is not migrated. Call approvals.migrate() once, or apply migrationSql() with your own migration tool.`,
      { schema },
    );
  }
  const { rows } = await pool.query<{ id: number; name: string; breaking: boolean }>(
    `select id, name, breaking from ${quoteIdent(schema)}.migration order by id`,
  );
  assertKnownVersion(rows, schema, logger);
}

/**
 * Adds task identifiers to graphile-worker's task table ahead of use, in one order, once. A worker's first
 * poll registers its whole task list, and `add_jobs` the identifiers of the jobs it adds, each in its own
 * order: run at the same moment on a fresh schema, the two inserts deadlocked (PostgreSQL error 40P01 on
 * a `requestApproval` right after `start()`). Identifiers that exist are skipped by both without a lock.
 */
export function registerTasksSql(workerSchema: string): string {
  const tasks = `${quoteIdent(workerSchema)}._private_tasks`;
  return `insert into ${tasks} (identifier)
    select i from unnest($1::text[]) as u(i)
    where not exists (select 1 from ${tasks} t where t.identifier = u.i)
    order by i
    on conflict do nothing`;
}
