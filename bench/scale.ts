/**
 * Figure 7: scale. Every public read, the page GET, requestApproval and decide, timed (p50) on a schema
 * holding 1,000,000 pending approvals (quick: 50,000; bulk-loaded, see bulk-load.ts) and on a
 * near-empty one, in the same run. Both schemas get the same 60 approvals through the API (newest, so
 * each list returns a full page of 50 either way, and only the table size differs). Then the SQL behind
 * each operation is captured and EXPLAIN ANALYZEd on the big schema, with sequential scans flagged; disk
 * bytes per pending approval are reported; graphile-worker's periodic reset-locked sweep is explained;
 * prune() of the approvals the runs decided is timed on both.
 */
import { performance } from "node:perf_hooks";
import type { Approvals } from "../src/index.ts";
import { BULK_TYPES, bulkLoadPending, HOT_APPROVALS, HOT_REVIEWER } from "./bulk-load.ts";
import { explainedMarkdown, type Explained, explainStatements } from "./explain.ts";
import { atMost, type Figure, medianRun, type Section } from "./figure.ts";
import { migratedSchema, requestMany, reviewerPaths, typicalRequest, withClient } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { recordStatements } from "./statement-counter.ts";
import { count as formatCount, median, ms, sleep } from "./stats.ts";

const SEEDS = 60;
const SEED_TYPE = "bench.type.7";
const REVIEWER = "alice@example.com";
const WARMUP = 5;

interface ScaleSchema {
  schema: string;
  approvals: Approvals;
  seedIds: string[];
  pagePaths: string[];
  decidedId: string;
  /** Pending approvals for decide() to take, one per call, across runs. */
  toDecide: string[];
  decided: number;
  /** Tables of countersign's that a request writes to but the bulk loader does not know. */
  notLoaded: string[];
  drop(): Promise<void>;
}

interface Operation {
  name: string;
  run(index: number): Promise<unknown>;
}

export async function benchScale(url: string, mode: BenchMode): Promise<Section> {
  const pending = mode.pick(50_000, 1_000_000);
  const iterations = mode.pick(30, 100);
  const decisionsNeeded = (WARMUP + iterations) * mode.repeats + 1;
  const loadStarted = performance.now();
  const big = await prepare(url, "scalebig", pending, decisionsNeeded);
  const loadS = (performance.now() - loadStarted) / 1000;
  const empty = await prepare(url, "scaleempty", 0, decisionsNeeded);
  try {
    const runs: { big: Map<string, number>; empty: Map<string, number> }[] = [];
    for (let run = 0; run < mode.repeats; run++) {
      const first = run % 2 === 0 ? big : empty;
      const firstResult = await timeOperations(first, iterations);
      const secondResult = await timeOperations(first === big ? empty : big, iterations);
      runs.push(first === big ? { big: firstResult, empty: secondResult } : { big: secondResult, empty: firstResult });
    }
    // Before the EXPLAINs, which start the big schema's worker: prune then has the database to itself.
    const pruned = { big: await timePrune(big), empty: await timePrune(empty) };
    const explained = await explainAll(url, big);
    const disk = await diskUsage(url, big.schema, pending + SEEDS);
    const sweep = await explainResetLocked(url, big.schema);
    const label = formatCount(pending);
    return {
      title: "7. Scale",
      figures: [
        ...figuresOf(runs, label),
        seqScanFigure(explained, label, disk.tables),
        ...(big.notLoaded.length > 0
          ? [
              {
                figure: "scale: tables a request writes that the bulk load left empty",
                countersign: big.notLoaded.join(", "),
                baseline: "—",
              },
            ]
          : []),
        {
          figure: `scale: prune() of ${pruned.big.approvals} final approvals at ${label} pending vs near-empty`,
          countersign: ms(pruned.big.ms),
          baseline: `${ms(pruned.empty.ms)} (${pruned.empty.approvals} approvals)`,
          ratio: pruned.big.ms / pruned.empty.ms,
        },
        {
          figure: `disk bytes per pending approval (${label}, countersign tables + indexes + worker jobs)`,
          countersign: `${formatCount(disk.bytesPerApproval)} B`,
          baseline: "—",
        },
        {
          figure: `graphile-worker reset-locked sweep at ${label} (EXPLAIN ANALYZE)`,
          countersign: `${ms(sweep.executionMs ?? Number.NaN)}${sweep.seqScans.length ? `, Seq Scan on ${sweep.seqScans.join(", ")}` : ""}`,
          baseline: "—",
        },
      ],
      details: [
        `${label} pending approvals bulk-loaded by SQL in ${loadS.toFixed(0)} s (each with a step, 1-3 of 5,000 reviewers and their tokens, the \`requested\` event and its graphile-worker timers; one in six a two-signature step with its first sign-off, a vote and its event; ${BULK_TYPES} types; \`${HOT_REVIEWER}\` on ${HOT_APPROVALS}), vacuumed and analyzed. Near-empty schema: only the ${SEEDS} API-made approvals both schemas share (type \`${SEED_TYPE}\`, reviewers \`${HOT_REVIEWER}\` and \`${REVIEWER}\`). p50 of ${iterations} sequential calls after ${WARMUP} warm-up calls, per schema per run.`,
        ...(big.notLoaded.length > 0
          ? [
              "",
              `**Warning:** a request also writes to ${big.notLoaded.join(", ")}, which bench/bulk-load.ts does not fill: the reads that use ${big.notLoaded.length > 1 ? "them" : "it"} are not measured at scale. Teach the loader.`,
            ]
          : []),
        "",
        "| operation | run | p50 at scale | p50 near-empty | ratio |",
        "| --- | --- | --- | --- | --- |",
        ...runs.flatMap((r, i) =>
          [...r.big].map(
            ([name, p50]) =>
              `| ${name} | ${i + 1} | ${ms(p50)} | ${ms(r.empty.get(name) ?? Number.NaN)} | ${(p50 / (r.empty.get(name) ?? Number.NaN)).toFixed(2)}× |`,
          ),
        ),
        "",
        `Disk at ${label}: ${formatCount(disk.totalBytes / 2 ** 20)} MiB in all, ${formatCount(disk.bytesPerApproval)} bytes per pending approval.`,
        "",
        "| table | rows (estimate) | total size incl. indexes and TOAST |",
        "| --- | --- | --- |",
        ...disk.tables.map((t) => `| ${t.name} | ${formatCount(t.rows)} | ${formatCount(t.bytes / 2 ** 20)} MiB |`),
        "",
        `EXPLAIN ANALYZE at ${label}, each statement as countersign sent it (captured from the instrumented client), in a transaction that is rolled back:`,
        "",
        ...explained.flatMap(([name, plans]) => explainedMarkdown(name, plans)),
        ...explainedMarkdown("graphile-worker's periodic reset-locked sweep (report only)", [sweep]),
      ],
    };
  } finally {
    await Promise.all([big.drop(), empty.drop()]);
  }
}

async function prepare(url: string, label: string, pending: number, decisions: number): Promise<ScaleSchema> {
  const { schema, approvals, drop } = await migratedSchema(url, label);
  const { notLoaded } = pending > 0 ? await bulkLoadPending(url, schema, approvals, pending) : { notLoaded: [] };
  const toDecide = await requestMany(approvals, decisions, (i) => typicalRequest(i, [REVIEWER]), 4);
  const decidedId = await decidedApproval(approvals);
  const seedIds = await requestMany(
    approvals,
    SEEDS,
    (i) => ({ ...typicalRequest(i, [HOT_REVIEWER, REVIEWER]), type: SEED_TYPE }),
    1,
  );
  const pagePaths = await reviewerPaths(url, schema, seedIds, REVIEWER);
  return {
    schema,
    approvals,
    seedIds,
    pagePaths,
    decidedId,
    toDecide,
    decided: 0,
    notLoaded,
    drop,
  };
}

async function decidedApproval(approvals: Approvals): Promise<string> {
  const [id] = await requestMany(approvals, 1, (i) => typicalRequest(i, [REVIEWER]), 1);
  await approvals.decide(id as string, { reviewer: REVIEWER, outcome: "approve" });
  return id as string;
}

/**
 * prune() of every approval the runs decided (one batch of the default 500 or a few), timed; the waiter
 * check then gets a decided approval anew. At scale each batch reads the worker's jobs once, for the
 * pruned approvals' own.
 */
async function timePrune(target: ScaleSchema): Promise<{ ms: number; approvals: number }> {
  await sleep(1_100);
  const started = performance.now();
  const { approvals } = await target.approvals.prune({ finalOlderThan: "1s" });
  const elapsed = performance.now() - started;
  target.decidedId = await decidedApproval(target.approvals);
  return { ms: elapsed, approvals };
}

function operationsOf(target: ScaleSchema): Operation[] {
  const { approvals, seedIds, pagePaths, decidedId, toDecide } = target;
  const at = <T>(list: T[], index: number) => list[index % list.length] as T;
  return [
    { name: "list({ status: pending, limit: 50 })", run: () => approvals.list({ status: "pending", limit: 50 }) },
    {
      name: `list({ reviewer: ${HOT_REVIEWER}, status: pending, limit: 50 })`,
      run: () => approvals.list({ reviewer: HOT_REVIEWER, status: "pending", limit: 50 }),
    },
    { name: `list({ type, limit: 50 })`, run: () => approvals.list({ type: SEED_TYPE, limit: 50 }) },
    { name: "get(id)", run: (i) => approvals.get(at(seedIds, i)) },
    { name: "waiter check (waitForDecision on a decided approval)", run: () => approvals.waitForDecision(decidedId) },
    {
      name: "page GET /r/:token (approvals.fetch)",
      run: async (i) => {
        const response = await approvals.fetch(new Request(`http://127.0.0.1${at(pagePaths, i)}`));
        if (response.status !== 200) throw new Error(`page answered ${response.status}`);
        await response.arrayBuffer();
      },
    },
    { name: "requestApproval", run: (i) => approvals.requestApproval(typicalRequest(i)) },
    {
      name: "decide()",
      run: () => approvals.decide(toDecide[target.decided++] as string, { reviewer: REVIEWER, outcome: "approve" }),
    },
  ];
}

/** p50 per operation, each run `iterations` times in a row after a warm-up. */
async function timeOperations(target: ScaleSchema, iterations: number): Promise<Map<string, number>> {
  const results = new Map<string, number>();
  for (const operation of operationsOf(target)) {
    for (let i = 0; i < WARMUP; i++) await operation.run(i);
    const latencies: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      await operation.run(WARMUP + i);
      latencies.push(performance.now() - started);
    }
    results.set(operation.name, median(latencies));
  }
  return results;
}

function figuresOf(runs: { big: Map<string, number>; empty: Map<string, number> }[], label: string): Figure[] {
  const names = [...(runs[0]?.big.keys() ?? [])];
  return names.map((name) => {
    const { run, ratio, ratios } = medianRun(runs, (r) => (r.big.get(name) ?? 0) / (r.empty.get(name) ?? 1));
    return {
      figure: `scale: ${name} p50 at ${label} vs near-empty`,
      countersign: ms(run.big.get(name) ?? Number.NaN),
      baseline: ms(run.empty.get(name) ?? Number.NaN),
      ratio,
      ratios,
      target: atMost(1.5),
    };
  });
}

/**
 * Which plans read a table sequentially at scale: the hot paths', then the worker's own statements'. Each
 * table is named with its size, so that a scan of a table that holds configuration (a few rows, whatever
 * the number of approvals) is told apart from one of a table that grows with them.
 */
function seqScanFigure(
  explained: [string, Explained[]][],
  label: string,
  tables: { name: string; rows: number }[],
): Figure {
  const rowsOf = new Map(tables.map((table) => [table.name.slice(table.name.lastIndexOf(".") + 1), table.rows]));
  const scannedIn = (plans: Explained[]) =>
    [...new Set(plans.flatMap((plan) => plan.seqScans))].map((table) => {
      const rows = rowsOf.get(table);
      return rows === undefined ? table : `${table} (${formatCount(rows)} rows)`;
    });
  const hot = explained.filter(([name]) => name !== WORKER_STATEMENTS);
  const hotFlagged = hot.flatMap(([name, plans]) => {
    const scanned = scannedIn(plans);
    return scanned.length ? [`${name}: ${scanned.join(", ")}`] : [];
  });
  const worker = scannedIn(explained.filter(([name]) => name === WORKER_STATEMENTS).flatMap(([, plans]) => plans));
  return {
    figure: `scale: Seq Scans in the plans at ${label}`,
    countersign: `hot paths: ${hotFlagged.length ? hotFlagged.join("; ") : "none"}; the worker's own statements: ${worker.length ? worker.join(", ") : "none"}`,
    baseline: "—",
  };
}

const WORKER_STATEMENTS = "the worker's own statements (2 s after start())";

/** The SQL behind each operation, captured from one call, and what the worker sends on its own. */
async function explainAll(url: string, target: ScaleSchema): Promise<[string, Explained[]][]> {
  const explained: [string, Explained[]][] = [];
  for (const operation of operationsOf(target)) {
    const { statements } = await recordStatements(() => operation.run(0));
    explained.push([operation.name, await explainStatements(url, statements)]);
  }
  const { statements } = await recordStatements(async () => {
    await target.approvals.start();
    await sleep(2_000);
  });
  explained.push([WORKER_STATEMENTS, await explainStatements(url, statements)]);
  return explained;
}

async function diskUsage(url: string, schema: string, pending: number) {
  const { rows } = await withClient(url, (client) =>
    client.query<{ name: string; rows: number; bytes: string }>(
      `select n.nspname || '.' || c.relname as name, greatest(c.reltuples, 0)::float8 as rows,
              pg_total_relation_size(c.oid)::text as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname::text in ($1::text, $1::text || '_worker') and c.relkind in ('r', 'p', 'm')
       order by pg_total_relation_size(c.oid) desc`,
      [schema],
    ),
  );
  const tables = rows.map((row) => ({
    name: row.name.replace(schema, "<schema>"),
    rows: row.rows,
    bytes: Number(row.bytes),
  }));
  const totalBytes = tables.reduce((sum, table) => sum + table.bytes, 0);
  return { tables, totalBytes, bytesPerApproval: totalBytes / pending };
}

/** graphile-worker 0.18's resetLockedAt query (src/sql/resetLockedAt.ts), run every 8-10 minutes per worker. */
async function explainResetLocked(url: string, schema: string): Promise<Explained> {
  const w = `"${schema}_worker"`;
  const text = `with j as (
update ${w}._private_jobs as jobs
set locked_at = null, locked_by = null, run_at = greatest(run_at, now())
where locked_at < now() - interval '4 hours'
)
update ${w}._private_job_queues as job_queues
set locked_at = null, locked_by = null
where locked_at < now() - interval '4 hours'`;
  const [explained] = await explainStatements(url, [{ text, values: [] }]);
  return explained as Explained;
}
