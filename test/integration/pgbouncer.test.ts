/**
 * Where statements countersign prepared are lost. Behind a real PgBouncer in transaction mode (Debian's
 * 1.18, which keeps no prepared statements), each transaction gets whichever of its two server connections
 * is free: a statement prepared on one of them and then executed on the other failed ("prepared statement
 * … does not exist", or "already exists"). And on a host's connection whose session was reset.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApprovalError, type ApprovalRequest, type Approvals, ERROR_CODES } from "../../src/index.ts";
import { CLI_BIN, cliEnv } from "../support/cli.ts";
import { runToEnd } from "../support/child-process.ts";
import { PGBOUNCER_PATH, type RunningPgBouncer, startPgBouncer } from "../support/pgbouncer.ts";
import { eventually, recordingChannel, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("pgbouncer");
const REVIEWER = "r@co.com";
const request = (title: string): ApprovalRequest => ({
  type: "deploy",
  title,
  requestedBy: "agent://a",
  reviewers: [REVIEWER],
  reminders: [],
});

/** Every call a host makes, in lanes at once, so that transactions keep changing server connections. */
async function everyCallInLanes(approvals: Approvals, bouncerUrl: string, lanes: number, rounds: number) {
  return Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      const host = new pg.Client({ connectionString: bouncerUrl });
      await host.connect();
      const statuses: string[] = [];
      try {
        for (let round = 0; round < rounds; round++) {
          const { id } = await approvals.requestApproval(request(`lane ${lane} round ${round}`));
          const decision = approvals.waitForDecision(id, { timeout: "20s" });
          // Awaited below; a lane that fails first leaves it to be ended by stop(), which is no new failure.
          decision.catch(() => {});
          expect((await approvals.get(id))?.status).toBe("pending");
          const listed = await approvals.list({ reviewer: REVIEWER, status: "pending", limit: 100 });
          expect(listed.items.map((item) => item.id)).toContain(id);
          const outcome = round % 2 === 0 ? "approve" : "reject";
          if (round % 3 === 0) {
            // Inside the host's own transaction, on a connection through the pooler.
            await host.query("begin");
            await approvals.decide(id, { reviewer: REVIEWER, outcome }, { db: host });
            await host.query("commit");
          } else {
            await approvals.decide(id, { reviewer: REVIEWER, outcome });
          }
          statuses.push((await decision).status);
        }
      } finally {
        await host.end();
      }
      return statuses;
    }),
  );
}

describe("a host connection whose session was reset", () => {
  it("is answered PREPARED_STATEMENT_LOST, saying what happened, and nothing is written", async () => {
    const host = new pg.Client({ connectionString: bed.url });
    await host.connect();
    try {
      await bed.approvals.requestApproval(request("prepares on the host's connection"), { db: host });
      // pg still believes the statements are there; the server no longer has them.
      await host.query("deallocate all");
      const failed = bed.approvals.requestApproval(request("after the reset"), { db: host });
      await expect(failed).rejects.toBeInstanceOf(ApprovalError);
      await expect(failed).rejects.toMatchObject({
        code: ERROR_CODES.PREPARED_STATEMENT_LOST,
        message: expect.stringMatching(/does not exist.*DEALLOCATE ALL/),
      });
      const { rows } = await bed.pool.query(`select 1 from "${bed.schema}".approval where title = 'after the reset'`);
      expect(rows).toEqual([]);
    } finally {
      await host.end();
    }
  });
});

describe.skipIf(!PGBOUNCER_PATH)("behind PgBouncer in transaction mode", () => {
  let bouncer: RunningPgBouncer;
  beforeAll(async () => {
    bouncer = await startPgBouncer(bed.url, 2);
  });
  afterAll(async () => {
    await bouncer?.stop();
  });

  const queriesThrough = async () => {
    const database = new URL(bed.url).pathname.slice(1);
    const row = (await bouncer.admin("show stats")).find((stats) => stats.database === database);
    return Number(row?.total_query_count ?? 0);
  };

  it("every call works with the queries through it and countersign's sessions past it (directConnectionString)", async () => {
    const pooled = bed.create({ connectionString: bouncer.url, directConnectionString: bed.url });
    const before = await queriesThrough();
    const lanes = await everyCallInLanes(pooled, bouncer.url, 6, 6);
    const expected = Array.from({ length: 6 }, (_, round) => (round % 2 === 0 ? "approved" : "rejected"));
    expect(lanes).toEqual(Array.from({ length: 6 }, () => expected));
    // 36 rounds of five calls each went through PgBouncer.
    expect((await queriesThrough()) - before).toBeGreaterThanOrEqual(36 * 5);
    await pooled.stop();
  });

  it("a worker whose connections go through it too runs its jobs (noPreparedStatements; waits poll)", async () => {
    const recording = recordingChannel();
    const behind = bed.create({
      connectionString: bouncer.url,
      noPreparedStatements: true,
      waitPollInterval: "200ms",
      channels: [recording],
    });
    try {
      await behind.start();
      const lanes = await everyCallInLanes(behind, bouncer.url, 3, 4);
      expect(lanes.flat()).toHaveLength(12);
      const { id } = await behind.requestApproval(request("delivered through the pooler"));
      await eventually(() => recording.sent.some((sent) => sent.approval.id === id && sent.kind === "request"));
      await behind.decide(id, { reviewer: REVIEWER, outcome: "approve" });
      await eventually(() => recording.sent.some((sent) => sent.approval.id === id && sent.kind === "decided"));
    } finally {
      await behind.stop();
    }
  });

  it("the CLI's commands work through it, run after run (a server connection keeps what a run prepared)", async () => {
    const cli = (...args: string[]) => runToEnd(CLI_BIN, args, { ...cliEnv(bed), DATABASE_URL: bouncer.url });
    const { id } = await bed.approvals.requestApproval(request("decided from a shell"));
    for (let run = 0; run < 3; run++) {
      const pending = await cli("pending", "--json");
      expect(pending.stderr).toBe("");
      expect(pending.stdout).toContain(id);
      expect((await cli("show", id, "--json")).code).toBe(0);
    }
    const decided = await cli("approve", id, "--as", REVIEWER);
    expect(decided).toMatchObject({ code: 0, stderr: `Approved "decided from a shell" as ${REVIEWER}.\n` });
    expect((await bed.approvals.get(id))?.status).toBe("approved");
  });

  it("left on prepared statements behind it, each call that fails says what to set, and writes nothing", async () => {
    const misconfigured = bed.create({ connectionString: bouncer.url, noPreparedStatements: false });
    const failures: unknown[] = [];
    let requested = 0;
    try {
      await Promise.all(
        Array.from({ length: 6 }, async (_, lane) => {
          for (let round = 0; round < 6; round++) {
            try {
              const { id } = await misconfigured.requestApproval(request(`misconfigured ${lane}.${round}`));
              requested++;
              await misconfigured.get(id);
              await misconfigured.decide(id, { reviewer: REVIEWER, outcome: "approve" });
            } catch (error) {
              failures.push(error);
            }
          }
        }),
      );
    } finally {
      await misconfigured.stop();
    }
    // Two server connections shared by six lanes: a statement prepared on one is soon run on the other.
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(ApprovalError);
      expect(failure).toMatchObject({
        code: ERROR_CODES.PREPARED_STATEMENT_LOST,
        message: expect.stringContaining("Set noPreparedStatements: true"),
      });
    }
    // A request that failed left no row behind.
    const { rows } = await bed.pool.query<{ n: number }>(
      `select count(*)::int as n from "${bed.schema}".approval where title like 'misconfigured %'`,
    );
    expect(rows[0]?.n).toBe(requested);
  });

  it("refuses a noPreparedStatements that is not a boolean", () => {
    expect(() => bed.create({ noPreparedStatements: "yes" as never })).toThrow(/noPreparedStatements/);
  });
});
