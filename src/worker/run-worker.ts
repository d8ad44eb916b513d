/**
 * The worker: graphile-worker's runner on a pool of countersign's own, plus the supervisor that recovers
 * from dead workers. Its jobs' queries go through that pool too, never through the host's.
 */
import { EventEmitter } from "node:events";
import { run, runMigrations, type WorkerEvents } from "graphile-worker";
import type pg from "pg";
import type { EngineContext } from "../core/context.ts";
import type { RegisteredHandler } from "../core/resume.ts";
import { createTaskList } from "./tasks.ts";
import { toWorkerLogger } from "../logger.ts";
import type { Connections } from "../store/connections.ts";
import { createDatabase } from "../store/connection.ts";
import { checkSchema, registerTasksSql } from "../store/migrate.ts";
import { superviseWorkers } from "./supervisor.ts";

export interface RunningWorker {
  /** Lets in-flight jobs finish and be marked complete, then stops. */
  stop(): Promise<void>;
}

export async function startWorker(
  ctx: EngineContext,
  connections: Connections,
  handlers: RegisteredHandler[],
): Promise<RunningWorker> {
  const { options } = ctx;
  // One connection per concurrent job, one for graphile-worker's LISTEN, one for polling and the supervisor.
  const pool = connections.ownPool(`countersign:worker:${options.schema}`.slice(0, 63), options.worker.concurrency + 2);
  const prepare = connections.prepare.own;
  const workerCtx: EngineContext = {
    ...ctx,
    database: createDatabase(pool, options.schema, options.workerSchema, prepare),
  };
  await checkSchema(pool, options.schema, options.logger);
  const events: WorkerEvents = new EventEmitter();
  let poolId: string | undefined;
  events.on("pool:create", ({ workerPool }) => {
    poolId = workerPool.id;
  });
  const taskList = createTaskList(workerCtx, handlers);
  // Before the runner's first poll registers them in an order of its own (see registerTasksSql); the
  // worker schema first, for hosts that applied only countersign's own SQL (run() would install it).
  await runMigrations({ pgPool: pool, schema: options.workerSchema, logger: toWorkerLogger(options.logger) });
  await pool.query(registerTasksSql(options.workerSchema), [Object.keys(taskList)]);
  const runner = await run({
    pgPool: pool,
    schema: options.workerSchema,
    taskList,
    concurrency: options.worker.concurrency,
    pollInterval: options.worker.pollIntervalMs,
    noHandleSignals: true,
    noPreparedStatements: !prepare,
    crontab: "",
    logger: toWorkerLogger(options.logger),
    events,
  });
  runner.promise.catch((error: unknown) =>
    options.logger.error({ error: String(error) }, "countersign: the worker stopped with an error"),
  );
  if (!poolId) throw new Error("graphile-worker did not report its worker pool id");
  // Which deliveries this worker takes: every worker on a schema should say the same here.
  const channels = options.channels.map((channel) => channel.name);
  options.logger.info(
    { schema: options.schema, channels },
    channels.length > 0
      ? `countersign: worker started; it delivers through ${channels.join(", ")}`
      : "countersign: worker started; it has no channels, so it delivers no notifications (other workers on this schema may)",
  );
  const supervisor = superviseWorkers(workerCtx, poolId, options.worker.recoverWithinMs);
  return {
    async stop() {
      await runner
        .stop()
        .catch((error: unknown) =>
          options.logger.warn({ error: String(error) }, "countersign: the worker did not stop cleanly"),
        );
      // graphile-worker marks a finished job complete without awaiting it: let those statements finish
      // before the pool ends, or a job that ran during a graceful stop stays locked and runs again later.
      await idle(pool);
      await supervisor.stop();
    },
  };
}

/** Resolves once every connection of `pool` is back and nobody waits for one (or after `limitMs`). */
async function idle(pool: pg.Pool, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while ((pool.waitingCount > 0 || pool.idleCount < pool.totalCount) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
