/**
 * What keeps a fleet of workers honest when one dies without a word (SIGKILL, OOM, power loss).
 * graphile-worker releases a dead worker's jobs only after four hours; countersign promises `recoverWithin`.
 *
 * Every live worker records a heartbeat. On each tick one of them (an advisory lock elects it) releases
 * the jobs held by workers whose heartbeat went stale, with graphile-worker's own `force_unlock_workers`,
 * and every worker times out pending approvals that are past their deadline by more than the stale
 * window, in case their timeout job was lost with its worker.
 *
 * Timing, for `recoverWithin` R: a heartbeat every R/6, a worker is dead after R/2 without one, ticks
 * every R/6; a job held by a worker that died is released within R/2 + R/6 and then taken at the next
 * poll. A live worker whose event loop is blocked for R/2 is taken for dead (and its job may run twice).
 */
import { hostname } from "node:os";
import { sql } from "kysely";
import type { EngineContext } from "../core/context.ts";
import { fireTimeout } from "../core/engine.ts";

export interface Supervisor {
  stop(): Promise<void>;
}

const SWEEP_BATCH = 100;

export function superviseWorkers(ctx: EngineContext, poolId: string, recoverWithinMs: number): Supervisor {
  const { database, options } = ctx;
  const { logger } = options;
  const staleMs = Math.round(recoverWithinMs / 2);
  const intervalMs = Math.max(100, Math.round(recoverWithinMs / 6));
  const jobs = sql.id(database.workerSchema, "jobs");
  const forceUnlock = sql.id(database.workerSchema, "force_unlock_workers");
  const heartbeats = sql.id(database.schema, "worker_heartbeat");
  const stale = sql<Date>`now() - ${staleMs}::float8 * interval '1 millisecond'`;

  const beat = () =>
    database.run((db) =>
      db
        .insertInto("worker_heartbeat")
        .values({ pool_id: poolId, hostname: hostname(), pid: process.pid })
        .onConflict((oc) => oc.column("pool_id").doUpdateSet({ beat_at: sql<Date>`now()` }))
        .execute(),
    );

  /** Releases the jobs of silent workers; only the worker that wins the advisory lock does it per tick. */
  const releaseDeadWorkersJobs = () =>
    database.transaction(async (db) => {
      const { rows } = await sql<{
        elected: boolean;
      }>`select pg_try_advisory_xact_lock(hashtext('countersign:sweep'), hashtext(${database.schema})) as elected`.execute(
        db,
      );
      if (!rows[0]?.elected) return;
      const dead = await sql<{ locked_by: string }>`
        select distinct j.locked_by from ${jobs} j
        where j.locked_by is not null and j.locked_at < ${stale}
          and not exists (
            select 1 from ${heartbeats} h where h.pool_id = j.locked_by and h.beat_at >= ${stale}
          )`.execute(db);
      const poolIds = dead.rows.map((row) => row.locked_by);
      if (poolIds.length > 0) {
        await sql`select ${forceUnlock}(${poolIds}::text[])`.execute(db);
        logger.warn({ workers: poolIds }, "countersign: released the jobs of workers that stopped sending heartbeats");
      }
      await db.deleteFrom("worker_heartbeat").where("beat_at", "<", stale).execute();
    });

  /** Pending approvals past their deadline by more than the stale window: their timeout job is lost. */
  const timeOutOverdue = async () => {
    const overdue = await database.run((db) =>
      db
        .selectFrom("approval")
        .select("id")
        // A literal, not a parameter: the partial index on pending deadlines only serves `status = 'pending'`.
        .where(sql<boolean>`status = 'pending'`)
        .where("deadline", "<", stale)
        .orderBy("deadline")
        .limit(SWEEP_BATCH)
        .execute(),
    );
    for (const { id } of overdue) await fireTimeout(ctx, id);
    if (overdue.length > 0)
      logger.warn({ approvals: overdue.length }, "countersign: timed out approvals whose timeout job was lost");
  };

  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      try {
        await beat();
        await releaseDeadWorkersJobs();
        await timeOutOverdue();
      } catch (error) {
        logger.warn({ error: String(error) }, "countersign: the worker supervisor's tick failed; retrying at the next");
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();

  return {
    async stop() {
      clearInterval(timer);
      await running;
      // Leaving cleanly: nobody needs to wait for this heartbeat to go stale.
      await database
        .run((db) => db.deleteFrom("worker_heartbeat").where("pool_id", "=", poolId).execute())
        .catch(() => {});
    },
  };
}
