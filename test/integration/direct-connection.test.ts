/**
 * Behind a transaction pooler the queries go through the pooler, and countersign's own sessions (LISTEN,
 * the worker, migrations) through `directConnectionString`. Here the "pooler" is a TCP proxy that is cut
 * while a wait is under way: the wait still wakes, because its LISTEN never went through it.
 */
import { describe, expect, it } from "vitest";
import { startFlakyProxy } from "../support/flaky-proxy.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("direct_connection");

describe("directConnectionString", () => {
  it("keeps LISTEN off the query path: a wait wakes although every query connection was cut", async () => {
    const url = new URL(bed.url);
    const proxy = await startFlakyProxy(Number(url.port || 5432), []);
    const pooled = new URL(bed.url);
    pooled.port = String(proxy.port);
    const waiting = bed.create({ connectionString: pooled.toString(), directConnectionString: bed.url });
    try {
      const req = await waiting.requestApproval({
        type: "t",
        title: "Behind a pooler",
        requestedBy: "agent://a",
        reviewers: ["r@co.com"],
        reminders: [],
      });
      const decision = waiting.waitForDecision(req.id);
      await eventually(async () => {
        const { rows } = await bed.pool.query("select 1 from pg_stat_activity where application_name = $1", [
          `countersign:listen:${bed.schema}`.slice(0, 63),
        ]);
        return rows.length > 0;
      });
      const throughProxy = proxy.fates.length;
      expect(throughProxy).toBeGreaterThan(0);
      await proxy.close(); // every query connection is gone; the LISTEN connection was never one of them
      await bed.approvals.decide(req.id, { reviewer: "r@co.com", outcome: "approve" });
      expect(await decision).toMatchObject({ status: "approved", decidedBy: "r@co.com" });
      expect(proxy.fates.length).toBe(throughProxy);
    } finally {
      await waiting.stop();
    }
  });

  it("with waitPollInterval, a wait ends even when LISTEN never hears anything", async () => {
    const url = new URL(bed.url);
    // Every session of countersign's own goes to a peer that accepts and never answers: no LISTEN at all.
    const deaf = await startFlakyProxy(
      Number(url.port || 5432),
      Array.from({ length: 100 }, () => "stall" as const),
    );
    const direct = new URL(bed.url);
    direct.port = String(deaf.port);
    const polling = bed.create({ directConnectionString: direct.toString(), waitPollInterval: "200ms" });
    try {
      const req = await polling.requestApproval({
        type: "t",
        title: "Polled",
        requestedBy: "agent://a",
        reviewers: ["r@co.com"],
        reminders: [],
      });
      const decision = polling.waitForDecision(req.id, { timeout: "10s" });
      await bed.approvals.decide(req.id, { reviewer: "r@co.com", outcome: "approve" });
      expect(await decision).toMatchObject({ status: "approved" });
    } finally {
      await deaf.close();
      await polling.stop();
    }
  });

  it("refuses one that is not a PostgreSQL URL", () => {
    expect(() => bed.create({ directConnectionString: "db-primary:5432" })).toThrow(
      /directConnectionString: must be a PostgreSQL URL/,
    );
  });
});
