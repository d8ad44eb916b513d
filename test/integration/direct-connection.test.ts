/**
 * Behind a transaction pooler the queries go through the pooler, and countersign's own sessions (LISTEN,
 * the worker, migrations) through `directConnectionString`. Here the "pooler" is a TCP proxy that
 * records the connections it made to the server.
 */
import { describe, expect, it } from "vitest";
import { startFlakyProxy } from "../support/flaky-proxy.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("direct_connection");

describe("directConnectionString", () => {
  it("keeps LISTEN off the query path: the queries go through the pooler, the LISTEN session does not", async () => {
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
      const listening = await eventually(async () => {
        const { rows } = await bed.pool.query<{ client_port: number }>(
          "select client_port from pg_stat_activity where application_name = $1",
          [`countersign:listen:${bed.schema}`.slice(0, 63)],
        );
        return rows[0];
      });
      // The request went through the "pooler"; the LISTEN session came straight to the server.
      expect(proxy.upstreamPorts.length).toBeGreaterThan(0);
      expect(proxy.upstreamPorts).not.toContain(listening.client_port);
      await bed.approvals.decide(req.id, { reviewer: "r@co.com", outcome: "approve" });
      expect(await decision).toMatchObject({ status: "approved", decidedBy: "r@co.com" });
    } finally {
      await waiting.stop();
      await proxy.close();
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
