/**
 * Figure 5a: how soon `waitForDecision` wakes after a decision commits. Both sides are timed from the
 * moment COMMIT is sent. Baseline: a raw INSERT + `pg_notify` committed on one connection and heard by a
 * LISTEN on another, the floor for any LISTEN-based waiter (the INSERT makes COMMIT flush WAL, as a
 * decision's does). countersign: `decide()` inside our own transaction,
 * committed the same way, until `waitForDecision` resolves in another instance (which re-reads the row).
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { atMost, type Figure, medianRun } from "./figure.ts";
import { bareSchema, migratedSchema, openInstance, typicalRequest } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { type LatencySummary, ms, sleep, summarize } from "./stats.ts";

const REVIEWER = "alice@example.com";

async function rawNotify(url: string, rounds: number): Promise<number[]> {
  const { schema, drop } = await bareSchema(url, "wakeraw");
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  await listener.query("listen bench_wake");
  await sender.query(`create table "${schema}".bench_wake (id int primary key)`);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const heard = new Promise<number>((resolve) => listener.once("notification", () => resolve(performance.now())));
      await sender.query("begin");
      await sender.query(`insert into "${schema}".bench_wake (id) values ($1)`, [i]);
      await sender.query("select pg_notify('bench_wake', $1)", [String(i)]);
      const committing = performance.now();
      await sender.query("commit");
      latencies.push((await heard) - committing);
    }
  } finally {
    await Promise.all([listener.end(), sender.end()]);
    await drop();
  }
  return latencies;
}

async function countersignWake(url: string, rounds: number): Promise<number[]> {
  const { schema, approvals: decider, drop } = await migratedSchema(url, "wake");
  const waiter = openInstance(url, schema);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const latencies: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const { id } = await decider.requestApproval(typicalRequest(i, [REVIEWER]));
      const waiting = waiter.waitForDecision(id).then(() => performance.now());
      await sleep(5); // let the wait subscribe and make its first check, so only the wake-up is timed
      await client.query("begin");
      await decider.decide(id, { reviewer: REVIEWER, outcome: "approve" }, { db: client });
      const committing = performance.now();
      await client.query("commit");
      latencies.push((await waiting) - committing);
    }
  } finally {
    await Promise.all([waiter.stop(), client.end()]);
    await drop();
  }
  return latencies;
}

export async function measureWakeLatency(url: string, mode: BenchMode): Promise<{ figure: Figure; lines: string[] }> {
  const rounds = mode.pick(100, 300);
  const runs: { countersign: LatencySummary; baseline: LatencySummary }[] = [];
  for (let run = 0; run < mode.repeats; run++) {
    const baseline = summarize(await rawNotify(url, rounds));
    const countersign = summarize(await countersignWake(url, rounds));
    runs.push({ countersign, baseline });
  }
  const { run, ratio, ratios } = medianRun(runs, (r) => r.countersign.p99 / r.baseline.p99);
  const describe = (s: LatencySummary) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;
  return {
    figure: {
      figure: "wake latency p99: decide() COMMIT → waitForDecision resolves (other instance)",
      countersign: describe(run.countersign),
      baseline: `raw INSERT + NOTIFY → LISTEN: ${describe(run.baseline)}`,
      ratio,
      ratios,
      target: atMost(3),
    },
    lines: [
      `Wake latency: ${rounds} rounds per run, timed from sending COMMIT; baseline a raw INSERT + \`pg_notify\` in one transaction, heard by a LISTEN on another connection.`,
      "",
      "| run | countersign p50 | p99 | max | baseline p50 | p99 | max | p99 ratio |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...runs.map(
        (r, i) =>
          `| ${i + 1} | ${ms(r.countersign.p50)} | ${ms(r.countersign.p99)} | ${ms(r.countersign.max)} | ${ms(r.baseline.p50)} | ${ms(r.baseline.p99)} | ${ms(r.baseline.max)} | ${(r.countersign.p99 / r.baseline.p99).toFixed(2)}× |`,
      ),
    ],
  };
}
