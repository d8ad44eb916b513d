/**
 * Figure 1: `requestApproval` throughput at 1 and 8 concurrent callers, against the same rows written by
 * hand (see raw-request.ts) on a plain `pg` pool of the same size, in the same schema, in the same run.
 */
import pg from "pg";
import { atLeast, type Figure, medianRun, type Section } from "./figure.ts";
import { migratedSchema, typicalRequest } from "./instance.ts";
import { closedLoop, type LoopResult } from "./load-loop.ts";
import type { BenchMode } from "./mode.ts";
import { rawRequestWriter, typicalRawRequest } from "./raw-request.ts";
import { ms, perSecond } from "./stats.ts";

const CALLERS = [1, 8];
/** countersign's own pool is 10 connections; the baseline gets the same. */
const POOL_SIZE = 10;

export async function benchRequestThroughput(url: string, mode: BenchMode): Promise<Section> {
  const durationMs = mode.pick(1_000, 8_000);
  const warmupMs = mode.pick(300, 1_000);
  const { schema, approvals, drop } = await migratedSchema(url, "request");
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const writeRaw = rawRequestWriter(pool, schema, `${schema}_worker`);
  const figures: Figure[] = [];
  const details = [
    `Closed loop, ${durationMs / 1000} s per measurement after ${warmupMs} ms of warm-up, ${mode.repeats} paired run(s) per caller count (countersign and baseline alternate, the order flips each run). Request: one step, two reviewers, the default reminders (5m, 30m) and timeout (8h): 4 jobs each. Baseline: the same rows by hand, BEGIN + 3 statements + COMMIT on a pg pool of ${POOL_SIZE}.`,
    "",
    "| callers | run | countersign ops/s | p50 | p99 | baseline ops/s | p50 | p99 | ratio |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  try {
    for (const concurrency of CALLERS) {
      const options = { concurrency, durationMs, warmupMs };
      const runs: { countersign: LoopResult; baseline: LoopResult }[] = [];
      for (let run = 0; run < mode.repeats; run++) {
        const measure = {
          countersign: () => closedLoop((i) => approvals.requestApproval(typicalRequest(i)), options),
          baseline: () => closedLoop((i) => writeRaw(typicalRawRequest(i)), options),
        };
        const first = run % 2 === 0 ? "baseline" : "countersign";
        const second = first === "baseline" ? "countersign" : "baseline";
        const results = { [first]: await measure[first](), [second]: await measure[second]() } as (typeof runs)[0];
        runs.push(results);
        details.push(
          `| ${concurrency} | ${run + 1} | ${perSecond(results.countersign.opsPerSecond)} | ${ms(results.countersign.p50)} | ${ms(results.countersign.p99)} | ${perSecond(results.baseline.opsPerSecond)} | ${ms(results.baseline.p50)} | ${ms(results.baseline.p99)} | ${(results.countersign.opsPerSecond / results.baseline.opsPerSecond).toFixed(2)}× |`,
        );
      }
      const { run, ratio, ratios } = medianRun(runs, (r) => r.countersign.opsPerSecond / r.baseline.opsPerSecond);
      const describe = (r: LoopResult) => `${perSecond(r.opsPerSecond)} (p50 ${ms(r.p50)}, p99 ${ms(r.p99)})`;
      figures.push({
        figure: `requestApproval throughput, ${concurrency} caller${concurrency > 1 ? "s" : ""}`,
        countersign: describe(run.countersign),
        baseline: describe(run.baseline),
        ratio,
        ratios,
        target: atLeast(0.85),
      });
    }
  } finally {
    await pool.end();
    await drop();
  }
  return { title: "1. requestApproval throughput", figures, details };
}
