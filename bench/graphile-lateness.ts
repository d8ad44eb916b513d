/**
 * The baseline for timer lateness: graphile-worker itself, at its defaults (concurrency 1, 2 s poll),
 * running trivial jobs that record when they start. Jobs are added in bulk with `add_jobs`, due on the
 * same schedule as countersign's reminders; lateness = start time − run_at, on the database's clock.
 */
import { Logger, run } from "graphile-worker";
import { databaseClockOffset } from "./db-clock.ts";
import { dropSchema, newSchemaName, withClient } from "./instance.ts";

const silent = new Logger(() => () => {});

/** Runs `count` trivial jobs due at `firstDueInMs` from now, `spacingMs` apart; their lateness in ms. */
export async function graphileLateness(
  url: string,
  schedule: { count: number; firstDueInMs: number; spacingMs: number; giveUpMs: number },
): Promise<number[]> {
  const schema = newSchemaName("gw");
  const clock = await databaseClockOffset(url);
  const lateness: number[] = [];
  let done: () => void = () => {};
  const allRan = new Promise<void>((resolve) => (done = resolve));
  const runner = await run({
    connectionString: url,
    schema,
    logger: silent,
    noHandleSignals: true,
    crontab: "",
    taskList: {
      bench_trivial: async (_payload, helpers) => {
        lateness.push(Date.now() + clock - helpers.job.run_at.getTime());
        if (lateness.length === schedule.count) done();
      },
    },
  });
  try {
    await withClient(url, (client) =>
      client.query(
        `select count(*) from "${schema}".add_jobs(array(
           select ('bench_trivial', json_build_object('i', g), null,
                   now() + ($2::float8 + g * $3::float8) * interval '1 millisecond', 1, null, null, null)::"${schema}".job_spec
           from generate_series(0, $1::int - 1) g))`,
        [schedule.count, schedule.firstDueInMs, schedule.spacingMs],
      ),
    );
    // The give-up timer is cleared once all ran: a pending one kept the bench process alive for minutes.
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([allRan, new Promise<void>((resolve) => (giveUp = setTimeout(resolve, schedule.giveUpMs)))]);
    clearTimeout(giveUp);
  } finally {
    await runner.stop();
    await dropSchema(url, schema);
  }
  return lateness;
}
