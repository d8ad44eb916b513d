/** Closed-loop load: `concurrency` callers each run `op` back to back for a while; every call is timed. */
import { performance } from "node:perf_hooks";
import { type LatencySummary, summarize } from "./stats.ts";

export interface LoopResult extends LatencySummary {
  opsPerSecond: number;
}

export async function closedLoop(
  op: (index: number) => Promise<unknown>,
  options: { concurrency: number; durationMs: number; warmupMs?: number },
): Promise<LoopResult> {
  if (options.warmupMs) await run(op, options.concurrency, options.warmupMs);
  const { latencies, elapsed } = await run(op, options.concurrency, options.durationMs);
  return { ...summarize(latencies), opsPerSecond: (latencies.length / elapsed) * 1000 };
}

async function run(op: (index: number) => Promise<unknown>, concurrency: number, durationMs: number) {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationMs;
  let next = 0;
  const caller = async () => {
    while (performance.now() < until) {
      const begin = performance.now();
      await op(next++);
      latencies.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return { latencies, elapsed: performance.now() - started };
}
