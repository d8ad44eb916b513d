/**
 * Four worker processes on one schema, a few hundred approvals, reminders a second apart: every
 * notification reaches the sink exactly once and every timer fires exactly once, whichever worker runs it.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript, type Child } from "../support/child-process.ts";
import { startNotificationSink, type NotificationSink } from "../support/notification-sink.ts";
import { eventually, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const APPROVALS = 200;
const bed = useTestBed("fleet");
const script = fileURLToPath(new URL("./processes/worker.ts", import.meta.url));
let sink: NotificationSink;
const workers: Child[] = [];
beforeAll(async () => {
  sink = await startNotificationSink();
  const env = {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    SINK_URL: sink.url,
  };
  for (let i = 0; i < 4; i++) workers.push(runScript(script, env));
  await Promise.all(workers.map((w) => w.next((line) => line.ready === true)));
}, 60_000);
afterAll(async () => {
  for (const worker of workers) worker.process.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
  await sink.close();
});

describe("four workers on one schema", () => {
  it("deliver every notification exactly once and fire every timer exactly once", async () => {
    const approvals = await Promise.all(
      Array.from({ length: APPROVALS }, (_, i) =>
        bed.approvals.requestApproval({
          type: "fleet.v1",
          title: `Approval ${i}`,
          requestedBy: "agent://fleet",
          reviewers: [`reviewer${i % 7}@company.com`],
          reminders: ["1s", "2s"],
          timeout: { after: "8s", action: "reject" },
        }),
      ),
    );
    const ids = new Set(approvals.map((a) => a.id));
    const expected = APPROVALS * 4; // request, two reminders, the timeout
    // On a slow machine this may time out; the assertions below then say what is missing.
    await eventually(() => sink.delivered.filter((d) => ids.has(d.approvalId)).length >= expected, 60_000).catch(
      () => {},
    );
    // Let any duplicate arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    const mine = sink.delivered.filter((d) => ids.has(d.approvalId));
    const byKind = (list: { kind: string }[]) =>
      Object.fromEntries(["request", "reminder", "timed_out"].map((k) => [k, list.filter((d) => d.kind === k).length]));
    expect(byKind(mine)).toEqual({ request: APPROVALS, reminder: APPROVALS * 2, timed_out: APPROVALS });
    expect(mine).toHaveLength(expected);
    const counts = [...sink.deliveryCounts()].filter(([key]) => ids.has(key.split(":")[0] ?? ""));
    expect(counts.filter(([, n]) => n !== 1)).toEqual([]);
    for (const approval of approvals) {
      const kinds = mine
        .filter((d) => d.approvalId === approval.id)
        .map((d) => d.kind)
        .sort();
      expect(kinds, approval.id).toEqual(["reminder", "reminder", "request", "timed_out"]);
    }
    expect(new Set(mine.map((d) => d.worker)).size).toBeGreaterThan(1); // the work was shared

    const { rows } = await bed.pool.query<{ type: string; n: number }>(
      `select type, count(*)::int as n from "${bed.schema}".event where type in ('reminded', 'timed_out', 'notified') group by type order by type`,
    );
    expect(rows).toEqual([
      { type: "notified", n: expected },
      { type: "reminded", n: APPROVALS * 2 },
      { type: "timed_out", n: APPROVALS },
    ]);
    const left = await bed.pool.query(`select count(*)::int as n from "${bed.workerSchema}".jobs`);
    expect(left.rows[0].n).toBe(0);
  }, 120_000);
});
