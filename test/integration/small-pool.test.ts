/** A host pool of one connection works for everything: countersign's long-held connections are its own. */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApprovals, type Approvals } from "../../src/index.ts";
import { recordingChannel, TEST_SECRET, testDatabaseUrl } from "../support/test-bed.ts";

const schema = `t_small_pool_${Date.now().toString(36)}`;
let pool: pg.Pool;
let approvals: Approvals;
const channel = recordingChannel();
beforeAll(() => {
  pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
  approvals = createApprovals({
    pool,
    schema,
    publicUrl: "https://app.example.test/approvals",
    secret: TEST_SECRET,
    channels: [channel],
    worker: { pollInterval: 50 },
  });
});
afterAll(async () => {
  await approvals.stop();
  await pool.query(`drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_worker" cascade`);
  await pool.end();
});

const withinSeconds = <T>(promise: Promise<T>, seconds: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: still waiting after ${seconds} s (deadlock)`)), seconds * 1000),
    ),
  ]);

describe("a host pool with max: 1", () => {
  it("runs migrate, requests, waits, decisions and the worker without deadlock", async () => {
    await withinSeconds(approvals.migrate(), 20, "migrate()");
    await withinSeconds(approvals.start(), 10, "start()");
    const approval = await withinSeconds(
      approvals.requestApproval({
        type: "t.v1",
        title: "Small pool",
        requestedBy: "agent://x",
        reviewers: ["a@x.com"],
        reminders: [],
      }),
      10,
      "requestApproval()",
    );
    const waiting = approvals.waitForDecision(approval.id);
    await withinSeconds(
      (async () => {
        while (!channel.sent.some((n) => n.approval.id === approval.id)) await new Promise((r) => setTimeout(r, 25));
      })(),
      10,
      "the request notification",
    );
    await withinSeconds(approvals.decide(approval.id, { reviewer: "a@x.com", outcome: "approve" }), 10, "decide()");
    expect(await withinSeconds(waiting, 10, "waitForDecision()")).toMatchObject({ status: "approved" });
    // The host pool still holds one connection at most; countersign's are its own, and named.
    expect(pool.totalCount).toBeLessThanOrEqual(1);
    const { rows } = await pool.query<{ application_name: string }>(
      "select application_name from pg_stat_activity where application_name like $1 order by 1",
      [`countersign:%:${schema}`],
    );
    expect(new Set(rows.map((r) => r.application_name))).toEqual(
      new Set([`countersign:listen:${schema}`, `countersign:worker:${schema}`]),
    );
  });

  it("waits with a timeout beyond what one Node timer holds (30 days) without firing early", async () => {
    const approval = await approvals.requestApproval({
      type: "t.v1",
      title: "Long wait",
      requestedBy: "agent://x",
      reviewers: ["a@x.com"],
      reminders: [],
      timeout: { after: "60d" },
    });
    const settled: unknown[] = [];
    const waiting = approvals.waitForDecision(approval.id, { timeout: "30d" }).then(
      (d) => settled.push(d),
      (e) => settled.push(e),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toEqual([]);
    await approvals.decide(approval.id, { reviewer: "a@x.com", outcome: "reject", comment: "no" });
    await waiting;
    expect(settled[0]).toMatchObject({ status: "rejected" });
  });
});
