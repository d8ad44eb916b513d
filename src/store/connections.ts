/**
 * The connections countersign opens. Queries of the public API go through one pool: the host's (`pool`)
 * or one countersign creates (`connectionString`). Everything that holds a connection for long is kept
 * off that pool, on connections of countersign's own made with the same settings: the LISTEN client of
 * `waitForDecision`, the worker's pool (graphile-worker keeps one of its connections for LISTEN), and the
 * migration lock. A host pool of `max: 1` therefore never deadlocks against countersign.
 */
import pg from "pg";
import type { Logger } from "../logger.ts";

export interface Connections {
  /** The pool the public API queries through. */
  readonly queries: pg.Pool;
  /**
   * Whether statements may be prepared (named) on the query pool, and on countersign's own connections:
   * not through a transaction pooler that runs each statement on whichever server connection is free.
   */
  readonly prepare: { queries: boolean; own: boolean };
  /** A new pool of countersign's own, ended by {@link Connections.end} unless the caller ends it first. */
  ownPool(applicationName: string, max: number): pg.Pool;
  /** A new client of countersign's own (not connected yet); the caller ends it. */
  ownClient(applicationName: string): pg.Client;
  /** Ends countersign's own pools, and the query pool when countersign created it. */
  end(): Promise<void>;
}

export function openConnections(options: {
  connectionString?: string | undefined;
  pool?: pg.Pool | undefined;
  /** For countersign's own connections: a direct one when the queries go through a transaction pooler. */
  directConnectionString?: string | undefined;
  /** The queries go through a pooler that cannot keep prepared statements. */
  noPreparedStatements: boolean;
  logger: Logger;
}): Connections {
  const { logger } = options;
  const settings: pg.PoolConfig = options.pool
    ? { ...options.pool.options }
    : { connectionString: options.connectionString };
  // Settings that shape the host's pool, not a connection.
  for (const key of ["max", "min", "maxUses", "allowExitOnIdle", "Client", "Promise"] as const) delete settings[key];

  const queries = options.pool ?? guard(new pg.Pool({ ...settings, max: 10 }), logger);
  // LISTEN, graphile-worker and the migration lock need a session of their own: not through PgBouncer.
  const direct = options.directConnectionString;
  const own: pg.PoolConfig = direct ? { connectionString: direct } : settings;
  // Host pools that already handle errors are left alone; one without a handler would crash the host.
  if (options.pool) guard(options.pool, logger);
  const owned: pg.Pool[] = [];

  return {
    queries,
    prepare: {
      queries: !options.noPreparedStatements,
      own: !options.noPreparedStatements || Boolean(direct),
    },
    ownPool(applicationName, max) {
      const pool = guard(new pg.Pool({ ...own, application_name: applicationName, max }), logger);
      owned.push(pool);
      return pool;
    },
    ownClient(applicationName) {
      const client = new pg.Client({ ...own, application_name: applicationName });
      client.on("error", (error) => logger.warn({ error: error.message }, "countersign: database connection failed"));
      return client;
    },
    async end() {
      await Promise.all(
        owned.splice(0).map((pool) => (pool.ended || pool.ending ? undefined : pool.end().catch(() => {}))),
      );
      if (!options.pool) await queries.end().catch(() => {});
    },
  };
}

/** Without these handlers pg throws a dropped connection (a restarted server) as an unhandled 'error' event. */
function guard(pool: pg.Pool, logger: Logger): pg.Pool {
  if (pool.listenerCount("error") === 0) {
    pool.on("error", (error) => logger.warn({ error: error.message }, "countersign: idle database connection failed"));
  }
  if (pool.listenerCount("connect") === 0) {
    pool.on("connect", (client) =>
      client.on("error", (error) => logger.warn({ error: error.message }, "countersign: database connection failed")),
    );
  }
  return pool;
}
