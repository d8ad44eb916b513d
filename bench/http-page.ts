/**
 * Figure 4: the approval page (GET /approvals/r/:token through Express), which verifies the token,
 * records a `viewed` event (once per reviewer and step), loads the approval and its history and renders
 * HTML. autocannon, 50 connections, rotating over pending approvals' links. Baselines in the same run:
 * an Express server that commits one INSERT and answers the same page bytes, and one answering the bytes
 * from memory. Servers run in child processes (see http-servers.ts).
 */
import { atLeast, type Figure, medianRun, type Section } from "./figure.ts";
import { CONNECTIONS, LOAD_HEADER, load, type LoadResult, loadRow } from "./http-load.ts";
import { insertTableSql, type ServerKind, type ServerProcess, startServer } from "./http-servers.ts";
import { migratedSchema, requestMany, reviewerPaths, typicalRequest, withClient } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { ms, perSecond } from "./stats.ts";

const REVIEWER = "alice@example.com";
const LINKS = 300;

type Run = Record<Exclude<ServerKind, "notify">, LoadResult>;

export async function benchHttpPage(url: string, mode: BenchMode): Promise<Section> {
  const durationS = mode.pick(1, 6);
  const warmupS = mode.pick(0.3, 0.5);
  const { schema, approvals, drop } = await migratedSchema(url, "page");
  await withClient(url, (client) => client.query(insertTableSql(schema)));
  const servers: Partial<Record<ServerKind, ServerProcess>> = {};
  const runs: Run[] = [];
  const details: string[] = [];
  try {
    const ids = await requestMany(approvals, LINKS, (i) => typicalRequest(i, [REVIEWER, "bob@example.com"]));
    const paths = await reviewerPaths(url, schema, ids, REVIEWER);
    const page = Buffer.from(await (await approvals.fetch(new Request(`http://127.0.0.1${paths[0]}`))).arrayBuffer());
    for (const kind of ["countersign", "insert", "static"] as const) {
      servers[kind] = await startServer({ kind, databaseUrl: url, schema, page: page.toString("base64") });
    }
    details.push(
      `autocannon, ${CONNECTIONS} connections, ${durationS} s per server per run after ${warmupS} s of warm-up, GET over the links of ${LINKS} pending approvals in turn (the first GET of each records its \`viewed\` event, later ones find it recorded); page of ${page.length} bytes.`,
      "",
    );
    const get = (server: ServerProcess, seconds: number) => load(server, { method: "GET", paths, durationS: seconds });
    for (let run = 0; run < mode.repeats; run++) {
      const order: (keyof Run)[] =
        run % 2 === 0 ? ["insert", "static", "countersign"] : ["countersign", "static", "insert"];
      const results: Partial<Run> = {};
      for (const kind of order) {
        const server = servers[kind] as ServerProcess;
        await get(server, warmupS);
        results[kind] = await get(server, durationS);
      }
      runs.push(results as Run);
      details.push(
        `Run ${run + 1}:`,
        "",
        ...LOAD_HEADER,
        loadRow("countersign: token, `viewed` event, load, history, render", results.countersign as LoadResult),
        loadRow("baseline: one committed INSERT, same bytes", results.insert as LoadResult),
        loadRow("baseline: same bytes from memory", results.static as LoadResult),
        "",
      );
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await drop();
  }
  return { title: "4. Approval page GET", figures: figuresOf(runs), details };
}

function figuresOf(runs: Run[]): Figure[] {
  const describe = (r: LoadResult) => `${perSecond(r.requestsPerSecond)}, p99 ${ms(r.p99)}`;
  const overInsert = medianRun(runs, (r) => r.countersign.requestsPerSecond / r.insert.requestsPerSecond);
  const overStatic = medianRun(runs, (r) => r.countersign.requestsPerSecond / r.static.requestsPerSecond);
  return [
    {
      figure: "page GET /r/:token requests/s (Express, 50 connections) vs one-INSERT server",
      countersign: describe(overInsert.run.countersign),
      baseline: describe(overInsert.run.insert),
      ratio: overInsert.ratio,
      ratios: overInsert.ratios,
      target: atLeast(0.4),
    },
    {
      figure: "page GET requests/s vs static server",
      countersign: describe(overStatic.run.countersign),
      baseline: describe(overStatic.run.static),
      ratio: overStatic.ratio,
      ratios: overStatic.ratios,
    },
  ];
}
