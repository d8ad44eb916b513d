/**
 * EXPLAIN ANALYZE of statements captured from the instrumented client, each inside a transaction that is
 * rolled back (writes, jobs and NOTIFYs included), with the same parameters. Sequential scans are flagged.
 */
import type pg from "pg";
import type { Statement } from "./statement-counter.ts";
import { statementKind } from "./statement-counter.ts";
import { withClient } from "./instance.ts";

export interface Explained {
  kind: string;
  plan: string[];
  /** Tables read by a Seq Scan. */
  seqScans: string[];
  executionMs: number | undefined;
  error?: string;
}

const EXPLAINABLE = /^\s*(select|insert|update|delete|with)\b/i;

export async function explainStatements(url: string, statements: Statement[]): Promise<Explained[]> {
  const distinct = [...new Map(statements.filter((s) => EXPLAINABLE.test(s.text)).map((s) => [s.text, s])).values()];
  return withClient(url, async (client) => {
    const explained: Explained[] = [];
    for (const statement of distinct) {
      const kind = statementKind(statement.text);
      const analyzed = await explain(client, statement, "analyze, buffers");
      if (!("error" in analyzed)) {
        explained.push({ kind, plan: analyzed, seqScans: seqScans(analyzed), executionMs: executionMs(analyzed) });
        continue;
      }
      // Running it again can fail (an insert of the same id): the plan alone still shows how it would run.
      const planned = await explain(client, statement, "costs");
      explained.push(
        "error" in planned
          ? { kind, plan: [], seqScans: [], executionMs: undefined, error: planned.error }
          : {
              kind,
              plan: planned,
              seqScans: seqScans(planned),
              executionMs: undefined,
              error: `plan only; ANALYZE failed: ${analyzed.error}`,
            },
      );
    }
    return explained;
  });
}

async function explain(
  client: pg.Client,
  statement: Statement,
  options: string,
): Promise<string[] | { error: string }> {
  await client.query("begin");
  try {
    const { rows } = await client.query<{ "QUERY PLAN": string }>(
      `explain (${options}) ${statement.text}`,
      statement.values,
    );
    return rows.map((row) => row["QUERY PLAN"]);
  } catch (error) {
    return { error: (error as Error).message };
  } finally {
    await client.query("rollback");
  }
}

function seqScans(plan: string[]): string[] {
  return plan.flatMap((line) => {
    const table = /Seq Scan on (\S+)/.exec(line)?.[1];
    return table ? [table.split(".").at(-1)?.replaceAll('"', "") ?? table] : [];
  });
}

function executionMs(plan: string[]): number | undefined {
  const line = plan.find((l) => l.startsWith("Execution Time:"));
  return line ? Number(/([\d.]+) ms/.exec(line)?.[1]) : undefined;
}

/** One line per statement, and the plans folded away below. */
export function explainedMarkdown(label: string, explained: Explained[]): string[] {
  const summary = explained.map(
    (e) =>
      `  - \`${e.kind}\`: ${e.executionMs !== undefined ? `${e.executionMs.toFixed(3)} ms` : `(${e.error})`}${e.seqScans.length ? `, **Seq Scan on ${e.seqScans.join(", ")}**` : ""}`,
  );
  const plans = explained
    .filter((e) => e.plan.length > 0)
    .map((e) => [`${e.kind}:`, "```", ...e.plan, "```"].join("\n"));
  return [
    `- ${label}`,
    ...summary,
    "",
    `<details><summary>plans: ${label}</summary>`,
    "",
    ...plans,
    "",
    "</details>",
    "",
  ];
}
