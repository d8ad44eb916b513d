/**
 * Figure 3: HTTP POST decisions through Express (`expressHandler` mounted at /approvals), autocannon with
 * 50 connections, every POST deciding a different pending approval (created beforehand through the API,
 * their links derived as a notification would). Baselines in the same run: an Express server that commits
 * one INSERT per request, one that commits the same INSERT with a NOTIFY, and one that answers a static 200.
 * The servers run in child processes, so the server CPU per request is the server's alone.
 *
 * The NOTIFY baseline is there because a decision must NOTIFY (its waiters, and graphile-worker's
 * `add_jobs` for the job it schedules): PostgreSQL serializes every committing transaction that has
 * notifications on one lock held through its WAL flush, so such commits cannot share an fsync as plain
 * INSERTs do.
 */
import { atLeast, type Figure, medianRun, type Section } from "./figure.ts";
import { CONNECTIONS, LOAD_HEADER, load, type LoadResult, loadRow } from "./http-load.ts";
import { insertTableSql, type ServerKind, type ServerProcess, startServer } from "./http-servers.ts";
import { migratedSchema, requestMany, reviewerPaths, typicalRequest, withClient } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { ms, perSecond } from "./stats.ts";

const REVIEWER = "alice@example.com";
const BODY = JSON.stringify({ decision: "approve" });

type Run = Record<ServerKind, LoadResult>;

export async function benchHttpDecisions(url: string, mode: BenchMode): Promise<Section> {
  const decisions = mode.pick(1_000, 6_000);
  const warmup = mode.pick(200, 500);
  const baselineS = mode.pick(1, 5);
  const warmupS = mode.pick(0.3, 0.5);
  const { schema, approvals, drop } = await migratedSchema(url, "decisions");
  await withClient(url, (client) => client.query(insertTableSql(schema)));
  const servers: Partial<Record<ServerKind, ServerProcess>> = {};
  const runs: Run[] = [];
  const details = [
    `autocannon, ${CONNECTIONS} connections, JSON \`{"decision":"approve"}\` POSTed to /approvals/r/:token. countersign: ${decisions} requests per run, each deciding its own pending approval (one reviewer, so the vote decides it), after ${warmup} warm-up decisions. Baselines: ${baselineS} s each after ${warmupS} s of warm-up, the same paths. Servers run in child processes; CPU is the server process's user + system time over the run, divided by the requests.`,
    "",
  ];
  try {
    for (const kind of ["countersign", "insert", "notify", "static"] as const) {
      servers[kind] = await startServer({ kind, databaseUrl: url, schema, page: "" });
    }
    const { countersign, insert, notify, static: fixed } = servers as Record<ServerKind, ServerProcess>;
    for (let run = 0; run < mode.repeats; run++) {
      const ids = await requestMany(approvals, warmup + decisions + 2 * CONNECTIONS, (i) =>
        typicalRequest(i, [REVIEWER]),
      );
      const paths = await reviewerPaths(url, schema, ids, REVIEWER);
      const measured = paths.slice(warmup);
      const post = (server: ServerProcess, extra: { amount?: number; durationS?: number }, list = measured) =>
        load(server, { method: "POST", paths: list, body: BODY, ...extra });
      await post(countersign, { amount: warmup }, paths.slice(0, warmup));
      await post(insert, { durationS: warmupS });
      await post(notify, { durationS: warmupS });
      await post(fixed, { durationS: warmupS });
      const measure = {
        countersign: () => post(countersign, { amount: decisions }),
        insert: () => post(insert, { durationS: baselineS }),
        notify: () => post(notify, { durationS: baselineS }),
        static: () => post(fixed, { durationS: baselineS }),
      };
      const order: ServerKind[] =
        run % 2 === 0 ? ["insert", "notify", "static", "countersign"] : ["countersign", "static", "notify", "insert"];
      const results: Partial<Run> = {};
      for (const kind of order) results[kind] = await measure[kind]();
      runs.push(results as Run);
      details.push(
        `Run ${run + 1}:`,
        "",
        ...LOAD_HEADER,
        loadRow("countersign: decide through expressHandler", results.countersign as LoadResult),
        loadRow("baseline: one committed INSERT", results.insert as LoadResult),
        loadRow("baseline: one committed INSERT + NOTIFY", results.notify as LoadResult),
        loadRow("baseline: static 200", results.static as LoadResult),
        "",
      );
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await drop();
  }
  return { title: "3. HTTP POST decisions", figures: figuresOf(runs), details };
}

function figuresOf(runs: Run[]): Figure[] {
  const describe = (r: LoadResult) => `${perSecond(r.requestsPerSecond)}, p99 ${ms(r.p99)}`;
  const versus = (baseline: "insert" | "notify" | "static") =>
    medianRun(runs, (r) => r.countersign.requestsPerSecond / r[baseline].requestsPerSecond);
  const overInsert = versus("insert");
  const overNotify = versus("notify");
  const overStatic = versus("static");
  const cpu = medianRun(runs, (r) => r.countersign.cpuMsPerRequest / r.insert.cpuMsPerRequest);
  return [
    {
      figure: "HTTP POST decisions/s (Express, 50 connections) vs one-INSERT server",
      countersign: describe(overInsert.run.countersign),
      baseline: describe(overInsert.run.insert),
      ratio: overInsert.ratio,
      ratios: overInsert.ratios,
      target: atLeast(0.25),
    },
    {
      figure: "HTTP POST decisions/s vs one-INSERT + NOTIFY server (a decision's floor: see 3.)",
      countersign: describe(overNotify.run.countersign),
      baseline: describe(overNotify.run.notify),
      ratio: overNotify.ratio,
      ratios: overNotify.ratios,
    },
    {
      figure: "HTTP POST decisions/s vs static-200 server",
      countersign: describe(overStatic.run.countersign),
      baseline: describe(overStatic.run.static),
      ratio: overStatic.ratio,
      ratios: overStatic.ratios,
    },
    {
      figure: "server CPU per HTTP decision vs per one-INSERT request",
      countersign: `${cpu.run.countersign.cpuMsPerRequest.toFixed(3)} ms`,
      baseline: `${cpu.run.insert.cpuMsPerRequest.toFixed(3)} ms`,
      ratio: cpu.ratio,
      ratios: cpu.ratios,
    },
  ];
}
