/**
 * A database outage under 100 waiters: the server the test owns is killed the way `pg_ctl stop -m
 * immediate` does it, stays down past some approvals' deadlines, and comes back. Every waiter resolves
 * with the real outcome; none rejects.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApprovals, type Approvals, type Decision } from "../../src/index.ts";
import { startEmbeddedPostgres, type RunningPostgres } from "../support/embedded-postgres.ts";
import { TEST_SECRET } from "../support/test-bed.ts";

let postgres: RunningPostgres;
let waiters: Approvals;
let deciders: Approvals;
beforeAll(async () => {
  postgres = await startEmbeddedPostgres({ database: "outage", settings: { fsync: "off" } });
  const options = {
    connectionString: postgres.url,
    schema: "outage",
    publicUrl: "https://app.example.test/approvals",
    secret: TEST_SECRET,
  };
  waiters = createApprovals(options);
  deciders = createApprovals({ ...options, worker: { pollInterval: 100 } });
  await waiters.migrate();
}, 120_000);
afterAll(async () => {
  await Promise.all([waiters?.stop(), deciders?.stop()]);
  await postgres?.stop();
});

describe("a PostgreSQL restart (-m immediate) under 100 waiters", () => {
  it("every waiter resolves with the real outcome, including timeouts that fell inside the outage", async () => {
    const ask = (i: number, after: string) =>
      deciders.requestApproval({
        type: "outage.v1",
        title: `Approval ${i}`,
        requestedBy: "agent://x",
        reviewers: ["ops@company.com"],
        reminders: [],
        timeout: { after, action: i % 4 === 0 ? "approve" : "reject" },
      });
    const expiring = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(i, "3s")));
    const lasting = await Promise.all(Array.from({ length: 50 }, (_, i) => ask(i, "1h")));
    const outcomes = new Map<string, Decision | Error>();
    const all = [...expiring, ...lasting].map((a) =>
      waiters.waitForDecision(a.id).then(
        (decision) => void outcomes.set(a.id, decision),
        (error: Error) => void outcomes.set(a.id, error),
      ),
    );
    // Let every waiter subscribe and read its row, then pull the plug past the 3 s deadlines.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await postgres.restart?.(4_000);
    expect(outcomes.size).toBe(0);

    await Promise.all(
      lasting.map((a, i) =>
        deciders.decide(a.id, { reviewer: "ops@company.com", outcome: i % 2 ? "approve" : "reject" }),
      ),
    );
    await Promise.all(all);
    const errors = [...outcomes.values()].filter((o) => o instanceof Error);
    expect(errors.map(String)).toEqual([]);
    expiring.forEach((a, i) => {
      expect(outcomes.get(a.id), a.id).toMatchObject({ status: "timed_out", approved: i % 4 === 0 });
    });
    lasting.forEach((a, i) => {
      expect(outcomes.get(a.id), a.id).toMatchObject({ status: i % 2 ? "approved" : "rejected" });
    });
  });
});
