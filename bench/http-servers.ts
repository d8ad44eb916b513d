/**
 * The HTTP servers under load, each in a child process of its own so that autocannon (in the bench
 * process) does not share its event loop and `process.cpuUsage()` measures the server alone. All three are
 * Express apps, so the framework costs the same everywhere:
 * - `countersign`: `expressHandler(approvals)` mounted at /approvals (worker not started);
 * - `insert`: commits one INSERT per request, then answers (the floor for anything that writes durably);
 * - `notify`: the same INSERT with a NOTIFY in its transaction (the floor for anything that schedules a
 *   graphile-worker job, whose `add_jobs` always NOTIFYs, or wakes a LISTENer when it commits);
 * - `static`: answers 200 with fixed bytes (the HTTP floor).
 * This file is both the parent's handle (`startServer`) and, run with `--serve`, the child.
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import express from "express";
import pg from "pg";
import { expressHandler } from "../src/http/express.ts";
import { MOUNT, openInstance } from "./instance.ts";

export type ServerKind = "countersign" | "insert" | "notify" | "static";

interface ServerConfig {
  kind: ServerKind;
  databaseUrl: string;
  schema: string;
  /** What the baselines answer a GET with (the countersign page's bytes), base64. */
  page: string;
}

export interface ServerProcess {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** CPU time the server process has used so far, in milliseconds. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export async function startServer(config: ServerConfig): Promise<ServerProcess> {
  // BENCH_CPU_PROF=<dir> writes a CPU profile of each server process there (open it in Chrome's devtools).
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = fork(fileURLToPath(import.meta.url), ["--serve", JSON.stringify(config)], {
    stdio: "inherit",
    execArgv: [...process.execArgv, ...profile],
  });
  const [ready] = (await once(child, "message")) as [{ port: number }];
  return {
    origin: `http://127.0.0.1:${ready.port}`,
    async cpuMs() {
      child.send("cpu");
      const [usage] = (await once(child, "message")) as [NodeJS.CpuUsage];
      return (usage.user + usage.system) / 1000;
    },
    async stop() {
      const exited = once(child, "exit");
      child.send("stop");
      await exited;
    },
  };
}

/** A table for the `insert` server to write to, in the schema it is given. */
export const insertTableSql = (schema: string) =>
  `create table if not exists "${schema}".bench_http_write (id bigint generated always as identity primary key, path text not null, at timestamptz not null default now())`;

async function serve(config: ServerConfig): Promise<void> {
  const app = express();
  const page = Buffer.from(config.page, "base64");
  let close = async () => {};
  if (config.kind === "countersign") {
    const approvals = openInstance(config.databaseUrl, config.schema);
    app.use(MOUNT, expressHandler(approvals));
    close = () => approvals.stop();
  } else if (config.kind === "insert" || config.kind === "notify") {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
    const table = `"${config.schema}".bench_http_write`;
    const insert =
      config.kind === "insert"
        ? `insert into ${table} (path) values ($1)`
        : `with written as (insert into ${table} (path) values ($1) returning id) select pg_notify('bench_http_write', id::text) from written`;
    // The body is parsed as countersign parses it: the baseline reads what it is sent, too.
    app.use(express.json(), (req, res) => {
      pool.query(insert, [req.url]).then(
        () => (req.method === "GET" ? res.type("html").send(page) : res.json({ ok: true })),
        () => res.sendStatus(500),
      );
    });
    close = () => pool.end();
  } else {
    app.use((req, res) => (req.method === "GET" ? res.type("html").send(page) : res.json({ ok: true })));
  }
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  process.on("message", async (message) => {
    if (message === "cpu") process.send?.(process.cpuUsage());
    if (message === "stop") {
      server.closeAllConnections();
      server.close();
      await close();
      process.exit(0);
    }
  });
  // Should the bench process die, the server goes with it.
  process.on("disconnect", () => process.exit(0));
  process.send?.({ port: (server.address() as AddressInfo).port });
}

if (process.argv[2] === "--serve") await serve(JSON.parse(process.argv[3] ?? "{}") as ServerConfig);
