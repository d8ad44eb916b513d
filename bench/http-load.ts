/** One autocannon load against a server process, with the server's CPU time per request. */
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import type { ServerProcess } from "./http-servers.ts";
import { machineCpu, postgresCpuMs } from "./machine.ts";
import { ms } from "./stats.ts";

export const CONNECTIONS = 50;

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, socket errors and timeouts. */
  failures: number;
  cpuMsPerRequest: number;
  /** CPU time of this machine's PostgreSQL processes per request (undefined where /proc is not). */
  databaseCpuMsPerRequest: number | undefined;
  /** How busy the machine's CPUs were during the load, 0 to 1 (everything on it: server, database, load generator). */
  machineBusy: number | undefined;
}

export interface LoadOptions {
  method: "GET" | "POST";
  /** Paths handed out in turn, one per request. */
  paths: string[];
  body?: string;
  /** Stop after this many requests… */
  amount?: number;
  /** …or after this many seconds. */
  durationS?: number;
}

export async function load(server: ServerProcess, options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  const nextPath = () => options.paths[next++ % options.paths.length] as string;
  const cpuBefore = await server.cpuMs();
  const postgresBefore = postgresCpuMs();
  // The machine's CPU, read every 100 ms: autocannon returns up to a second after the last answer, and
  // the busy share is taken up to the last reading before it.
  const readings: { at: number; cpu: ReturnType<typeof machineCpu> }[] = [{ at: performance.now(), cpu: machineCpu() }];
  const reading = setInterval(() => readings.push({ at: performance.now(), cpu: machineCpu() }), 100);
  // autocannon notices it is done only on its once-a-second tick: the rate is taken up to the last answer.
  let lastAnswer = 0;
  const started = performance.now();
  const result = await autocannon({
    url: server.origin,
    connections: CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationS ?? 2 }),
    headers: options.body ? { "content-type": "application/json", accept: "application/json" } : {},
    requests: [
      {
        method: options.method,
        ...(options.body ? { body: options.body } : {}),
        setupRequest: (request) => ({ ...request, path: nextPath() }),
        onResponse: () => {
          lastAnswer = performance.now();
        },
      },
    ],
  });
  const elapsedS = ((lastAnswer || performance.now()) - started) / 1000;
  clearInterval(reading);
  const postgresAfter = postgresCpuMs();
  const cpuMs = (await server.cpuMs()) - cpuBefore;
  const requests = result.requests.total;
  const first = readings[0]?.cpu;
  const last = readings.filter((r) => r.at <= (lastAnswer || Number.POSITIVE_INFINITY)).at(-1)?.cpu;
  const machine = {
    databaseCpuMsPerRequest:
      postgresBefore === undefined || postgresAfter === undefined
        ? undefined
        : (postgresAfter - postgresBefore) / Math.max(1, requests),
    machineBusy:
      first && last && last.totalMs > first.totalMs
        ? (last.busyMs - first.busyMs) / (last.totalMs - first.totalMs)
        : undefined,
  };
  return {
    requests,
    requestsPerSecond: requests / elapsedS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    cpuMsPerRequest: cpuMs / Math.max(1, requests),
    ...machine,
  };
}

export function loadRow(name: string, result: LoadResult): string {
  const database =
    result.databaseCpuMsPerRequest === undefined ? "—" : `${result.databaseCpuMsPerRequest.toFixed(3)} ms`;
  const busy = result.machineBusy === undefined ? "—" : `${Math.round(result.machineBusy * 100)}%`;
  return `| ${name} | ${Math.round(result.requestsPerSecond).toLocaleString("en-US")} | ${ms(result.p50)} | ${ms(result.p99)} | ${result.cpuMsPerRequest.toFixed(3)} ms | ${database} | ${busy} | ${result.requests} | ${result.failures} |`;
}

export const LOAD_HEADER = [
  "| server | requests/s | p50 | p99 | server CPU per request | PostgreSQL CPU per request | machine CPU busy | requests | failures |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];
