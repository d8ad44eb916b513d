/**
 * Figure 5b: 1,000 waiters decided in bulk. One instance awaits 1,000 pending approvals with
 * `waitForDecision`; another decides all of them inside ONE host transaction (`decide(id, input, { db })`
 * on a pg client inside BEGIN). Timed from sending COMMIT until every waiter has resolved. Baseline:
 * 1,000 `pg_notify` in one transaction heard by one LISTEN client, from COMMIT until all are heard; the
 * transaction also INSERTs 1,000 rows, so its COMMIT flushes WAL as the decisions' does.
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { atMost, type Figure, medianRun } from "./figure.ts";
import { bareSchema, migratedSchema, openInstance, requestMany, typicalRequest } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { ms, sleep } from "./stats.ts";

const WAITERS = 1_000;
const REVIEWER = "alice@example.com";

interface BulkResult {
  /** COMMIT → the last waiter (or notification). */
  all: number;
  /** COMMIT → the median one. */
  p50: number;
}

async function rawBulkNotify(url: string): Promise<BulkResult> {
  const { schema, drop } = await bareSchema(url, "bulkraw");
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  await listener.query("listen bench_bulk");
  await sender.query(`create table "${schema}".bench_bulk (id int primary key)`);
  try {
    const heardAt: number[] = [];
    const allHeard = new Promise<void>((resolve) =>
      listener.on("notification", () => heardAt.push(performance.now()) === WAITERS && resolve()),
    );
    await sender.query("begin");
    await sender.query(`insert into "${schema}".bench_bulk select generate_series(1, $1::int)`, [WAITERS]);
    await sender.query("select pg_notify('bench_bulk', g::text) from generate_series(1, $1::int) g", [WAITERS]);
    const committing = performance.now();
    await sender.query("commit");
    await allHeard;
    return { all: (heardAt.at(-1) as number) - committing, p50: (heardAt[WAITERS / 2] as number) - committing };
  } finally {
    await Promise.all([listener.end(), sender.end()]);
    await drop();
  }
}

async function countersignBulkWake(url: string): Promise<BulkResult & { decideMs: number }> {
  const { schema, approvals: decider, drop } = await migratedSchema(url, "bulkwake");
  const waiter = openInstance(url, schema);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const ids = await requestMany(decider, WAITERS, (i) => typicalRequest(i, [REVIEWER]));
    const resolvedAt: number[] = [];
    const waits = ids.map((id) => waiter.waitForDecision(id).then(() => resolvedAt.push(performance.now())));
    await sleep(2_000); // every wait subscribes and makes its first check before anything is decided
    const deciding = performance.now();
    await client.query("begin");
    for (const id of ids) await decider.decide(id, { reviewer: REVIEWER, outcome: "approve" }, { db: client });
    const committing = performance.now();
    await client.query("commit");
    await Promise.all(waits);
    resolvedAt.sort((a, b) => a - b);
    return {
      all: (resolvedAt.at(-1) as number) - committing,
      p50: (resolvedAt[WAITERS / 2] as number) - committing,
      decideMs: committing - deciding,
    };
  } finally {
    await Promise.all([waiter.stop(), client.end()]);
    await drop();
  }
}

export async function measureBulkWake(url: string, mode: BenchMode): Promise<{ figure: Figure; lines: string[] }> {
  const runs: { countersign: BulkResult & { decideMs: number }; baseline: BulkResult }[] = [];
  for (let run = 0; run < mode.repeats; run++) {
    runs.push({ baseline: await rawBulkNotify(url), countersign: await countersignBulkWake(url) });
  }
  const { run, ratio, ratios } = medianRun(runs, (r) => r.countersign.all / r.baseline.all);
  return {
    figure: {
      figure: `${WAITERS.toLocaleString("en-US")} waiters decided in one transaction: COMMIT → all resolved`,
      countersign: `${ms(run.countersign.all)} (half by ${ms(run.countersign.p50)})`,
      baseline: `${WAITERS.toLocaleString("en-US")} NOTIFY → one LISTEN: ${ms(run.baseline.all)}`,
      ratio,
      ratios,
      target: atMost(2),
    },
    lines: [
      `Bulk wake: ${WAITERS} approvals awaited by \`waitForDecision\` in one instance, all decided by another inside one host transaction; timed from sending COMMIT.`,
      "",
      "| run | countersign: all resolved | half resolved | (deciding 1,000 inside the transaction took) | baseline: all heard | half heard | ratio |",
      "| --- | --- | --- | --- | --- | --- | --- |",
      ...runs.map(
        (r, i) =>
          `| ${i + 1} | ${ms(r.countersign.all)} | ${ms(r.countersign.p50)} | ${ms(r.countersign.decideMs)} | ${ms(r.baseline.all)} | ${ms(r.baseline.p50)} | ${(r.countersign.all / r.baseline.all).toFixed(2)}× |`,
      ),
    ],
  };
}
