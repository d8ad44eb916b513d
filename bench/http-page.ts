/**
 * Throughput and latency of the approval page (GET /r/:token through `approvals.nodeHandler`), which
 * verifies the token, loads the approval and its history, records a `viewed` event and renders HTML.
 *
 * Two baselines, loaded the same way in the same run: a bare Node server answering the same page bytes
 * from memory (the HTTP floor), and the same server committing one audit-like INSERT per request first
 * (the floor for any page that records a view durably). The ratios show what countersign adds.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import pg from "pg";
import { createApprovals } from "../src/index.ts";
import { deriveToken } from "../src/security/tokens.ts";
import { benchDatabase, ms } from "./database.ts";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 10;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function load(url: string) {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export async function benchHttpPage(url: string) {
  const schema = `bench_http_${randomBytes(3).toString("hex")}`;
  const secret = "bench-secret-0123456789-0123456789";
  const approvals = createApprovals({ connectionString: url, schema, publicUrl: "http://127.0.0.1/approvals", secret });
  await approvals.migrate();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const servers: Server[] = [];
  try {
    const approval = await approvals.requestApproval({
      type: "report.review_approval.v1",
      title: "Q1 Financial Summary",
      payload: {
        report: "Q1 Financial Summary",
        revenue: "4,200,000 EUR",
        costs: "3,100,000 EUR",
        pii_detected: false,
      },
      requestedBy: "agent://bench",
      reviewers: ["cfo@company.com"],
    });
    const { rows } = await pool.query(`select nonce from "${schema}".token where approval_id = $1`, [approval.id]);
    const path = `/approvals/r/${deriveToken(secret, approval.id, "cfo@company.com", rows[0].nonce)}`;

    const real = createServer(approvals.nodeHandler);
    servers.push(real);
    const realBase = await listen(real);
    const page = Buffer.from(await (await fetch(`${realBase}${path}`)).arrayBuffer());
    const bare = createServer((_req, res) =>
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page),
    );
    servers.push(bare);
    const bareBase = await listen(bare);
    await pool.query(
      `create table "${schema}".bench_view (id bigint generated always as identity, at timestamptz default now())`,
    );
    const writePool = new pg.Pool({ connectionString: url, max: 10 });
    const writing = createServer((_req, res) => {
      writePool
        .query(`insert into "${schema}".bench_view default values`)
        .then(() => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page))
        .catch(() => res.writeHead(500).end());
    });
    servers.push(writing);
    const writingBase = await listen(writing);

    const baseline = await load(`${bareBase}${path}`);
    const floor = await load(`${writingBase}${path}`);
    await writePool.end();
    const measured = await load(`${realBase}${path}`);
    const { rows: viewed } = await pool.query(`select count(*)::int as n from "${schema}".event where type = 'viewed'`);
    const row = (name: string, r: Awaited<ReturnType<typeof load>>) =>
      `| ${name} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.non2xx + r.errors} |`;
    return {
      name: "Approval page throughput (GET /r/:token)",
      lines: [
        `autocannon, ${CONNECTIONS} connections, ${DURATION_S} s each, page of ${page.length} bytes.`,
        "",
        "| | requests/s | p50 | p99 | errors |",
        "| --- | --- | --- | --- | --- |",
        row("baseline 1: bare Node server, same bytes", baseline),
        row("baseline 2: same, after one committed INSERT", floor),
        row("countersign: token check, load, `viewed` event, render", measured),
        "",
        `countersign serves ${(measured.rps / floor.rps).toFixed(2)}× baseline 2's requests per second and ${(measured.rps / baseline.rps).toFixed(3)}× baseline 1's (${Math.round(measured.rps)} vs ${Math.round(floor.rps)} vs ${Math.round(baseline.rps)}); ${viewed[0].n} \`viewed\` events were written.`,
      ],
    };
  } finally {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await approvals.stop();
    await pool.query(`drop schema "${schema}" cascade; drop schema "${schema}_worker" cascade`);
    await pool.end();
  }
}

if (import.meta.main) {
  const database = await benchDatabase();
  try {
    console.log((await benchHttpPage(database.url)).lines.join("\n"));
  } finally {
    await database.stop();
  }
}
