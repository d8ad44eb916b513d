/**
 * Figure 2: how many SQL statements each operation sends, counted (see statement-counter.ts), with
 * BEGIN/COMMIT included and each statement's kind listed. One operation at a time, on an instance whose
 * worker is not started, after one warm-up call of the same operation. Planning vs execution time per
 * decision comes from pg_stat_statements (plan-time.ts).
 */
import pg from "pg";
import type { Figure, Section } from "./figure.ts";
import { migratedSchema, PUBLIC_URL, MOUNT, requestMany, reviewerPaths, typicalRequest } from "./instance.ts";
import type { BenchMode } from "./mode.ts";
import { measurePlanTime } from "./plan-time.ts";
import { rawRequestWriter, typicalRawRequest } from "./raw-request.ts";
import { recordStatements, statementKind, type Statement } from "./statement-counter.ts";

const REVIEWER = "alice@example.com";

interface Counted {
  operation: string;
  statements: Statement[];
}

export async function benchStatementsPerOperation(url: string, mode: BenchMode): Promise<Section> {
  const { schema, approvals, drop } = await migratedSchema(url, "statements");
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const counted: Counted[] = [];
  let baseline: Statement[] = [];
  try {
    const ids = await requestMany(approvals, 8, typicalRequest, 1);
    const paths = await reviewerPaths(url, schema, ids, REVIEWER);
    const [warmPath, postPath, , getPath] = paths;
    const decision = { reviewer: REVIEWER, outcome: "approve" as const };
    const post = (path: string | undefined) =>
      approvals.fetch(
        new Request(`http://127.0.0.1${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({ decision: "approve" }),
        }),
      );
    const page = (path: string | undefined) => approvals.fetch(new Request(`http://127.0.0.1${path}`));
    const count = async (operation: string, warm: () => Promise<unknown>, work: () => Promise<unknown>) => {
      await warm();
      counted.push({ operation, statements: (await recordStatements(work)).statements });
    };

    await count(
      "requestApproval",
      () => approvals.requestApproval(typicalRequest(100)),
      () => approvals.requestApproval(typicalRequest(101)),
    );
    const writeRaw = rawRequestWriter(pool, schema, `${schema}_worker`);
    const raw = typicalRawRequest(102);
    await writeRaw(raw);
    baseline = (await recordStatements(() => writeRaw(raw))).statements;
    await count(
      "decide() (API)",
      () => approvals.decide(ids[4] as string, decision),
      () => approvals.decide(ids[5] as string, decision),
    );
    await count(
      "HTTP POST decision (JSON, approvals.fetch)",
      () => post(warmPath),
      () => expectOk(post(postPath)),
    );
    await count(
      "page GET /r/:token (first view)",
      () => page(paths[2]),
      () => expectOk(page(getPath)),
    );
    await count(
      "page GET /r/:token (reload)",
      () => page(getPath),
      () => expectOk(page(getPath)),
    );
  } finally {
    await pool.end();
    await drop();
  }
  const planTime = await measurePlanTime(url, mode);
  return {
    title: "2. Statements per operation",
    figures: [...counted.map((c) => figureOf(c, baseline)), planTime.figure],
    details: [
      `Counted by wrapping pg's \`Client.prototype.query\` in the bench process, one operation at a time after one warm-up call, worker not started; BEGIN and COMMIT count. Links are mounted at \`${MOUNT}\` (publicUrl ${PUBLIC_URL}).`,
      "",
      "| operation | statements | kinds, in order |",
      "| --- | --- | --- |",
      ...[...counted, { operation: "baseline: requestApproval by hand (raw-request.ts)", statements: baseline }].map(
        (c) =>
          `| ${c.operation} | ${c.statements.length} | ${c.statements.map((s) => statementKind(s.text)).join("; ")} |`,
      ),
      "",
      ...planTime.lines,
    ],
  };
}

/** Only the request has a hand-written baseline; the other operations are reported as counted. */
function figureOf(counted: Counted, baseline: Statement[]): Figure {
  const compared = counted.operation === "requestApproval" && baseline.length > 0;
  return {
    figure: `statements per ${counted.operation}`,
    countersign: String(counted.statements.length),
    baseline: compared ? `${baseline.length} (by hand)` : "—",
    ratio: compared ? counted.statements.length / baseline.length : undefined,
  };
}

async function expectOk(response: Promise<Response>): Promise<void> {
  const answer = await response;
  if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status}: ${await answer.text()}`);
  await answer.arrayBuffer();
}
