/**
 * Planning vs execution time per decision, from pg_stat_statements with `track_planning` on. The bench
 * database is used when it preloads the extension; otherwise an embedded PostgreSQL is started for this
 * measurement alone with `shared_preload_libraries = pg_stat_statements` (the server version differs, and
 * the report says so). When neither works the figure is "n/a".
 */
import type pg from "pg";
import { type RunningPostgres, startEmbeddedPostgres } from "../test/support/embedded-postgres.ts";
import type { Figure } from "./figure.ts";
import { migratedSchema, requestMany, typicalRequest, withClient } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { statementKind } from "./statement-counter.ts";
import { ms } from "./stats.ts";

interface StatRow {
  query: string;
  calls: string;
  total_plan_time: number;
  total_exec_time: number;
}

export async function measurePlanTime(url: string, mode: BenchMode): Promise<{ lines: string[]; figure: Figure }> {
  const decisions = mode.pick(50, 300);
  let server: RunningPostgres | undefined;
  let where = "the bench database";
  try {
    if (!(await preloaded(url))) {
      server = await startEmbeddedPostgres({
        settings: { shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track_planning": "on" },
      });
      where = "an embedded PostgreSQL started for this (the bench database does not preload pg_stat_statements)";
    }
    const target = server?.url ?? url;
    await withClient(target, (client) => client.query("create extension if not exists pg_stat_statements"));
    const version = await withClient(target, (client) =>
      client.query<{ v: string }>("select current_setting('server_version') as v"),
    );
    const rows = await statsOfDecisions(target, decisions);
    return report(rows, decisions, `${where}, PostgreSQL ${version.rows[0]?.v}`);
  } catch (error) {
    return {
      lines: [`Planning vs execution per decision: n/a (pg_stat_statements unavailable: ${(error as Error).message}).`],
      figure: { figure: "decide(): planning / execution per decision", countersign: "n/a", baseline: "—" },
    };
  } finally {
    await server?.stop();
  }
}

/** Whether the server already loads pg_stat_statements with planning tracked; changes nothing. */
async function preloaded(url: string): Promise<boolean> {
  return withClient(url, async (client) => {
    await client.query("begin");
    try {
      await client.query("create extension if not exists pg_stat_statements");
      await client.query("select 1 from pg_stat_statements limit 1");
      const { rows } = await client.query<{ on: string }>(
        "select current_setting('pg_stat_statements.track_planning') as on",
      );
      return rows[0]?.on === "on";
    } catch {
      return false;
    } finally {
      await client.query("rollback");
    }
  });
}

async function statsOfDecisions(url: string, decisions: number): Promise<StatRow[]> {
  const { approvals, drop } = await migratedSchema(url, "plantime");
  try {
    const ids = await requestMany(approvals, decisions + 3, typicalRequest, 4);
    const decide = (id: string | undefined) =>
      approvals.decide(id as string, { reviewer: "alice@example.com", outcome: "approve" });
    for (const id of ids.slice(0, 3)) await decide(id);
    await withClient(url, (client) => client.query("select pg_stat_statements_reset()"));
    for (const id of ids.slice(3)) await decide(id);
    return await withClient(url, (client: pg.Client) =>
      client
        .query<StatRow>(
          `select query, calls, total_plan_time, total_exec_time from pg_stat_statements
           where dbid = (select oid from pg_database where datname = current_database())
             and query not ilike '%pg_stat_statements%'
           order by total_plan_time + total_exec_time desc`,
        )
        .then((result) => result.rows),
    );
  } finally {
    await drop();
  }
}

function report(rows: StatRow[], decisions: number, where: string): { lines: string[]; figure: Figure } {
  const sum = (pick: (row: StatRow) => number) => rows.reduce((total, row) => total + pick(row), 0) / decisions;
  const plan = sum((row) => row.total_plan_time);
  const exec = sum((row) => row.total_exec_time);
  const calls = sum((row) => Number(row.calls));
  return {
    figure: {
      figure: "decide(): server planning / execution per decision",
      countersign: `${ms(plan)} / ${ms(exec)} (planning ${((100 * plan) / (plan + exec)).toFixed(0)}%)`,
      baseline: "—",
    },
    lines: [
      `Planning vs execution per decide(), from pg_stat_statements (track_planning on) on ${where}: ${decisions} decisions after a reset, ${calls.toFixed(1)} statements each as the server counts them; per decision ${ms(plan)} planning and ${ms(exec)} execution.`,
      "",
      "| statement | calls per decision | planning per call | execution per call |",
      "| --- | --- | --- | --- |",
      ...rows.map((row) => {
        const n = Number(row.calls);
        return `| ${statementKind(row.query)} | ${(n / decisions).toFixed(2)} | ${ms(row.total_plan_time / n)} | ${ms(row.total_exec_time / n)} |`;
      }),
    ],
  };
}
