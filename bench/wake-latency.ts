/**
 * How soon does `waitForDecision` wake after the decision commits?
 *
 * Both figures run from the moment COMMIT is sent. Baseline: a bare pg NOTIFY committed on one
 * connection and received on another, the floor any LISTEN-based waiter can reach. Measured: a
 * `decide()` committed in the same way, until `waitForDecision` resolves in another instance (which
 * adds the row re-read after the notification).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { createApprovals } from "../src/index.ts";
import { benchDatabase, ms, percentile } from "./database.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);

async function bareNotifyLatencies(url: string): Promise<number[]> {
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  await listener.query("listen bench_wake");
  const latencies: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const heard = new Promise<void>((resolve) => listener.once("notification", () => resolve()));
    await sender.query("begin");
    await sender.query("select pg_notify('bench_wake', $1)", [String(i)]);
    const started = performance.now();
    await sender.query("commit");
    await heard;
    latencies.push(performance.now() - started);
  }
  await Promise.all([listener.end(), sender.end()]);
  return latencies;
}

async function countersignLatencies(url: string): Promise<number[]> {
  const schema = `bench_${randomBytes(3).toString("hex")}`;
  const options = {
    connectionString: url,
    schema,
    publicUrl: "https://bench.example/approvals",
    secret: "bench-secret-0123456789-0123456789",
  };
  const waiter = createApprovals(options);
  const decider = createApprovals(options);
  await waiter.migrate();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const { id } = await decider.requestApproval({
        type: "bench",
        title: "wake",
        requestedBy: "bench",
        reviewers: ["r"],
      });
      let resolvedAt = 0;
      const waiting = waiter.waitForDecision(id).then(() => (resolvedAt = performance.now()));
      await new Promise((resolve) => setTimeout(resolve, 2)); // let the wait subscribe and do its first check
      // Decide inside our own transaction, so the clock starts exactly when COMMIT is sent, as in the baseline.
      await client.query("begin");
      await decider.decide(id, { reviewer: "r", outcome: "approve" }, { db: client });
      const committing = performance.now();
      await client.query("commit");
      await waiting;
      latencies.push(resolvedAt - committing);
    }
  } finally {
    await Promise.all([waiter.stop(), decider.stop(), client.end()]);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`drop schema "${schema}" cascade; drop schema "${schema}_worker" cascade`);
    await admin.end();
  }
  return latencies;
}

export async function benchWakeLatency(url: string) {
  const baseline = (await bareNotifyLatencies(url)).sort((a, b) => a - b);
  const measured = (await countersignLatencies(url)).sort((a, b) => a - b);
  const row = (name: string, values: number[]) =>
    `| ${name} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 95))} | ${ms(percentile(values, 99))} |`;
  return {
    name: "waitForDecision wake latency",
    lines: [
      `${ROUNDS} rounds each, timed from sending COMMIT. Baseline: a bare NOTIFY delivered to another connection.`,
      "",
      "| | p50 | p95 | p99 |",
      "| --- | --- | --- | --- |",
      row("baseline: bare NOTIFY", baseline),
      row("countersign: decide() commit → waitForDecision resolves", measured),
      "",
      `Ratio countersign / baseline at p50: ${(percentile(measured, 50) / percentile(baseline, 50)).toFixed(2)}×; at p95: ${(percentile(measured, 95) / percentile(baseline, 95)).toFixed(2)}×.`,
    ],
  };
}

if (import.meta.main) {
  const database = await benchDatabase();
  try {
    console.log((await benchWakeLatency(database.url)).lines.join("\n"));
  } finally {
    await database.stop();
  }
}
