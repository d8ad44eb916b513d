import { createHash } from "node:crypto";
import { Kysely, PostgresDialect, type PostgresPool } from "kysely";
import type pg from "pg";
import { ApprovalError, ERROR_CODES } from "../errors.ts";
import type { CountersignDatabase } from "./database.ts";

/** Queries run through this: schema-qualified, without the host's kysely plugins. */
export type Db = Kysely<CountersignDatabase>;

/**
 * The host's own transaction, so an approval commits or rolls back with the host's rows: a kysely
 * `Transaction` (or `Kysely` instance), or a `pg` client. A pg client outside `BEGIN` gets a transaction
 * of its own, so a write is never half done.
 */
// biome-ignore lint/suspicious/noExplicitAny: the host's database type is theirs, whatever it is
export type HostDb = Kysely<any> | pg.ClientBase;

/** The `{ db }` that every write method accepts. */
export interface WriteOptions {
  /** Run inside the host's transaction instead of a new one. */
  db?: HostDb;
}

export interface Database {
  readonly schema: string;
  readonly workerSchema: string;
  /** Runs `work` as one transaction: the host's when given, else a new one. */
  transaction<T>(work: (db: Db) => Promise<T>, host?: HostDb): Promise<T>;
  /** Runs work outside an explicit transaction: reads, or a single statement (atomic by itself). */
  run<T>(work: (db: Db) => Promise<T>): Promise<T>;
  /** As `run`, on one connection of the pool held until `work` ends (statements one after another). */
  session<T>(work: (db: Db) => Promise<T>): Promise<T>;
}

/**
 * The schema each Db handed to countersign's statements is scoped to. They differ only in the connection
 * they run on, so a statement compiled for one is the same text for every Db of its schema: compiled
 * statements are kept per schema (`compiledOnce`). Keyed by the Db itself, a host's transaction (a fresh
 * Db each time) compiled its statements again on every decision.
 */
const scopedTo = new WeakMap<Db, string>();

function scoped(db: Db, schema: string): Db {
  scopedTo.set(db, schema);
  return db;
}

/** The schema `db` is scoped to, when countersign made it. */
export function schemaOf(db: Db): string | undefined {
  return scopedTo.get(db);
}

/** `prepare`: whether statements may be prepared on `pool`'s connections (see `preparedQuery`). */
export function createDatabase(pool: pg.Pool, schema: string, workerSchema: string, prepare: boolean): Database {
  const db = scoped(
    new Kysely<CountersignDatabase>({ dialect: new PostgresDialect({ pool: preparing(pool, prepare) }) }).withSchema(
      schema,
    ),
    schema,
  );
  const inScope =
    <T>(work: (db: Db) => Promise<T>) =>
    (trx: Db) =>
      work(scoped(trx, schema));
  return {
    schema,
    workerSchema,
    transaction: (work, host) =>
      translateErrors(async () => {
        if (!host) return db.transaction().execute(inScope(work));
        const hostDb = isKysely(host) ? host : kyselyOverClient(host, prepare);
        const own = scoped((hostDb.withoutPlugins() as Kysely<CountersignDatabase>).withSchema(schema), schema);
        if (own.isTransaction || (!isKysely(host) && (await insideTransactionBlock(host)))) return work(own);
        return own.transaction().execute(inScope(work));
      }),
    run: (work) => translateErrors(() => work(db)),
    session: (work) => translateErrors(() => db.connection().execute(inScope(work))),
  };
}

/**
 * Every statement is prepared once per connection (named by a digest of its text) and then only bound
 * and executed: planning was a third of a decision's database time. Statements' texts are stable (lists
 * go in as one array parameter), so the number per connection stays small; columns are read by name, so
 * a migration that adds one does not invalidate a prepared plan's result type. A host's pg client is
 * treated the same way: the statements stay prepared on that connection for its next decision.
 * Without `prepare` (a transaction pooler that would run a statement prepared on one server connection
 * on another) every statement goes unnamed.
 */
function preparedQuery(client: pg.ClientBase, prepare: boolean) {
  if (!prepare) return ((text: string, values: unknown[]) => client.query(text, values)) as never;
  return ((text: string, values: unknown[]) => client.query({ name: statementName(text), text, values })) as never;
}

function preparing(pool: pg.Pool, prepare: boolean): PostgresPool {
  return {
    options: pool.options,
    async connect() {
      const client = await pool.connect();
      return {
        query: preparedQuery(client, prepare),
        release: () => client.release(),
      };
    },
    // The pool belongs to whoever made it (the host, or `Connections`), which ends it.
    end: async () => {},
  };
}

/** How countersign's prepared statements are named, so an error about one of them is recognised. */
const STATEMENT_PREFIX = "cs_";

/** Statement texts are few and fixed: each one's name is computed once per process. */
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `${STATEMENT_PREFIX}${createHash("sha1").update(text).digest("base64url")}`;
    // A bound, in case a caller builds texts without end (they would only lose the cache, not break).
    if (names.size < 10_000) names.set(text, name);
  }
  return name;
}

function isKysely(host: HostDb): host is Kysely<unknown> {
  return typeof (host as Kysely<unknown>).selectFrom === "function";
}

/**
 * Whether the host's client is inside BEGIN. pg records the server's transaction status from every
 * ReadyForQuery, which is current while nothing is in flight on the client; otherwise (a query queued, or a
 * client that does not record it) the server is asked: inside BEGIN, now() is the transaction's start,
 * earlier than this statement's own timestamp.
 */
async function insideTransactionBlock(client: pg.ClientBase): Promise<boolean> {
  const idle = (client as { readyForQuery?: unknown }).readyForQuery === true;
  const status = idle && typeof client.getTransactionStatus === "function" ? client.getTransactionStatus() : null;
  if (status === "I") return false;
  if (status === "T" || status === "E") return true;
  const result = await client.query<{ inside: boolean }>("select now() <> statement_timestamp() as inside");
  return result.rows[0]?.inside === true;
}

function kyselyOverClient(client: pg.ClientBase, prepare: boolean): Kysely<unknown> {
  const pool: PostgresPool = {
    options: {},
    connect: async () => ({
      query: preparedQuery(client, prepare),
      release: () => {},
    }),
    end: async () => {},
  };
  return new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
}

const MISSING_SCHEMA_CODES = new Set(["42P01", "3F000", "42883"]);
/** A named statement the server does not have (26000), or has already (42P05). */
const LOST_STATEMENT_CODES = new Set(["26000", "42P05"]);
/** Node socket errors, and SQLSTATEs for a server that is shutting down, starting or full. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** The database could not be reached or dropped the connection: worth retrying, not a bug. */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof ApprovalError) return error.code === ERROR_CODES.UNAVAILABLE;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === "string" &&
    (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith("08"))
  )
    return true;
  // pg reports a dropped socket with these messages and no code.
  return /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect/i.test(
    error.message,
  );
}

async function translateErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ApprovalError) && isConnectionFailure(error)) {
      throw new ApprovalError(
        ERROR_CODES.UNAVAILABLE,
        `The database cannot be reached (${(error as Error).message}). A write either committed whole or not at all; check or retry when it is back.`,
        {},
        { cause: error },
      );
    }
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (
      typeof code === "string" &&
      LOST_STATEMENT_CODES.has(code) &&
      message.includes(`prepared statement "${STATEMENT_PREFIX}`)
    ) {
      throw new ApprovalError(
        ERROR_CODES.PREPARED_STATEMENT_LOST,
        `PostgreSQL refused a statement countersign prepared on this connection (${message}). The connection most likely goes through a transaction pooler such as PgBouncer that does not keep prepared statements, or its session was reset (DISCARD ALL, DEALLOCATE ALL). Set noPreparedStatements: true, or give directConnectionString (see PgBouncer in the README). Nothing of this call was written.`,
        {},
        { cause: error },
      );
    }
    if (typeof code === "string" && MISSING_SCHEMA_CODES.has(code)) {
      throw new ApprovalError(
        ERROR_CODES.NOT_MIGRATED,
        `countersign's tables are missing (${message}). Call approvals.migrate() once, or apply migrationSql() with your own migration tool.`,
        {},
        { cause: error },
      );
    }
    throw error;
  }
}
