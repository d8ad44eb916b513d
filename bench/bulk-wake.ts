/**
 * Figure 5b: 1,000 waiters decided in bulk. One instance awaits 1,000 pending approvals with
 * `waitForDecision`; another decides all of them inside ONE host transaction (`decide(id, input, { db })`
 * on a pg client inside BEGIN). Timed from sending COMMIT until every waiter has resolved. Baseline:
 * 1,000 hand-written waiters: one LISTEN client and a map from id to each waiter's promise, woken by
 * `pg_notify` of a JSON payload with the fields a waiter needs (the decision's, as countersign's carries),
 * parsed and resolved; all sent in one transaction that also INSERTs 1,000 rows (so its COMMIT flushes
 * WAL as the decisions' does), timed from COMMIT until every promise has resolved. Also reported: the bare
 * floor, 1,000 tiny notifications heard by a listener that only counts them.
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { atMost, type Figure, medianRun } from "./figure.ts";
import { migratedSchema, openInstance, rawNotifyPair, requestMany, typicalRequest } from "./instance.ts";
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

/** The payload a hand-written waiter would be sent: the fields of the decision it resolves with. */
const WAITER_PAYLOAD = `json_build_object('id', g::text, 'status', 'approved', 'decision', json_build_object(
  'decidedBy', 'alice@example.com', 'via', 'api', 'decidedAt', now(), 'approved', true, 'revision', 1))::text`;

/** `waiters`: hand-written waiters on JSON payloads; otherwise a listener that only counts tiny ones. */
async function rawBulkNotify(url: string, waiters: boolean): Promise<BulkResult> {
  const { table, listener, sender, close } = await rawNotifyPair(url, "bench_bulk");
  try {
    const heardAt: number[] = [];
    let done: Promise<unknown>;
    if (waiters) {
      const resolvers = new Map<string, (decision: unknown) => void>();
      const waits = Array.from({ length: WAITERS }, (_, i) =>
        new Promise((resolve) => resolvers.set(String(i + 1), resolve)).then(() => heardAt.push(performance.now())),
      );
      listener.on("notification", (message) => {
        const change = JSON.parse(message.payload ?? "{}") as { id: string; decision: { decidedAt: string } };
        resolvers.get(change.id)?.({ ...change.decision, decidedAt: new Date(change.decision.decidedAt) });
        resolvers.delete(change.id);
      });
      done = Promise.all(waits);
    } else {
      done = new Promise<void>((resolve) =>
        listener.on("notification", () => heardAt.push(performance.now()) === WAITERS && resolve()),
      );
    }
    await sender.query("begin");
    await sender.query(`insert into ${table} select generate_series(1, $1::int)`, [WAITERS]);
    await sender.query(
      `select pg_notify('bench_bulk', ${waiters ? WAITER_PAYLOAD : "g::text"}) from generate_series(1, $1::int) g`,
      [WAITERS],
    );
    const committing = performance.now();
    await sender.query("commit");
    await done;
    heardAt.sort((a, b) => a - b);
    return { all: (heardAt.at(-1) as number) - committing, p50: (heardAt[WAITERS / 2] as number) - committing };
  } finally {
    await close();
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

interface BulkRun {
  countersign: BulkResult & { decideMs: number };
  waiters: BulkResult;
  bare: BulkResult;
}

/** The burst whose COMMIT → all resolved is the median of those taken. */
function medianBurst<T extends BulkResult>(bursts: T[]): T {
  return [...bursts].sort((a, b) => a.all - b.all)[Math.floor(bursts.length / 2)] as T;
}

export async function measureBulkWake(url: string, mode: BenchMode): Promise<{ figures: Figure[]; lines: string[] }> {
  // Each run's figure is one burst of a few milliseconds, so a run takes the median of `samples` bursts
  // of each kind: with one, a single descheduling moved a run's ratio from 1.3× to 3.7×; with three, runs
  // on the same code still went from 1.42× to 2.89×, as bursts alone went from 4.1 to 8.7 ms.
  const samples = mode.pick(1, 5);
  const runs: BulkRun[] = [];
  for (let run = 0; run < mode.repeats; run++) {
    const taken: BulkRun[] = [];
    for (let sample = 0; sample < samples; sample++) {
      taken.push({
        bare: await rawBulkNotify(url, false),
        waiters: await rawBulkNotify(url, true),
        countersign: await countersignBulkWake(url),
      });
    }
    runs.push({
      bare: medianBurst(taken.map((t) => t.bare)),
      waiters: medianBurst(taken.map((t) => t.waiters)),
      countersign: medianBurst(taken.map((t) => t.countersign)),
    });
  }
  const n = WAITERS.toLocaleString("en-US");
  const versus = (baseline: "waiters" | "bare") => medianRun(runs, (r) => r.countersign.all / r[baseline].all);
  const overWaiters = versus("waiters");
  const overBare = versus("bare");
  const describe = (r: BulkResult) => `${ms(r.all)} (half by ${ms(r.p50)})`;
  return {
    figures: [
      {
        figure: `${n} waiters decided in one transaction: COMMIT → all resolved, vs hand-written waiters`,
        countersign: describe(overWaiters.run.countersign),
        baseline: `${n} JSON NOTIFY → one LISTEN → ${n} promises: ${describe(overWaiters.run.waiters)}`,
        ratio: overWaiters.ratio,
        ratios: overWaiters.ratios,
        target: atMost(2),
      },
      {
        figure: `${n} waiters decided in one transaction vs bare notifications (no waiters, no payload)`,
        countersign: describe(overBare.run.countersign),
        baseline: `${n} tiny NOTIFY → one LISTEN: ${describe(overBare.run.bare)}`,
        ratio: overBare.ratio,
        ratios: overBare.ratios,
      },
    ],
    lines: [
      `Bulk wake: ${n} approvals awaited by \`waitForDecision\` in one instance, all decided by another inside one host transaction; timed from sending COMMIT; each run shows the median of ${samples} bursts of each kind. Baselines in the same run: hand-written waiters (one LISTEN client, a map from id to each promise, a JSON payload with the decision's fields parsed per notification), and bare notifications counted by a listener.`,
      "",
      "| run | countersign: all resolved | half resolved | (deciding 1,000 inside the transaction took) | hand-written waiters: all | half | bare: all heard | ratio vs waiters | ratio vs bare |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...runs.map(
        (r, i) =>
          `| ${i + 1} | ${ms(r.countersign.all)} | ${ms(r.countersign.p50)} | ${ms(r.countersign.decideMs)} | ${ms(r.waiters.all)} | ${ms(r.waiters.p50)} | ${ms(r.bare.all)} | ${(r.countersign.all / r.waiters.all).toFixed(2)}× | ${(r.countersign.all / r.bare.all).toFixed(2)}× |`,
      ),
    ],
  };
}
