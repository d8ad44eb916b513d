/**
 * Round trips per operation, counted on the wire (every statement a pg client sends, BEGIN and COMMIT
 * included): a count, not a timing, so it can be asserted.
 */
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { compiledOnce } from "../../src/store/compiled-once.ts";
import { createDatabase } from "../../src/store/connection.ts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { tokenFor } from "../support/http-servers.ts";
import { TEST_SECRET, testDatabaseUrl, useTestBed, watchStatements } from "../support/test-bed.ts";

const bed = useTestBed("statements");

let sent: string[] = [];
let stopWatching = () => {};
beforeEach(() => {
  sent = [];
  stopWatching = watchStatements(({ text }) => sent.push(text.trim().split(/\s+/)[0]?.toLowerCase() ?? ""));
});
afterEach(() => stopWatching());

const request = () => ({
  type: "count.v1",
  title: "Counted",
  requestedBy: "agent://counter",
  steps: [{ name: "pair", reviewers: ["a@x.com", "b@x.com"], quorum: 2 }],
});

describe("statements per operation", () => {
  it("requestApproval is one statement (with its jobs and NOTIFY)", async () => {
    await bed.approvals.requestApproval(request()); // warms the pool's connection
    sent = [];
    await bed.approvals.requestApproval(request());
    expect(sent).toEqual(["with"]);
  });

  it("a decision through the API is two: read the facts, write the change (no lock, no BEGIN/COMMIT)", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    sent = [];
    await bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "approve" });
    expect(sent).toEqual(["select", "with"]);
    sent = [];
    const final = await bed.approvals.decide(id, { reviewer: "b@x.com", outcome: "approve" });
    expect(final.status).toBe("approved");
    expect(sent).toEqual(["select", "with"]);
  });

  it("a decision on the host's pg client adds no statement to learn whether it is inside BEGIN", async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      const { id } = await bed.approvals.requestApproval(request());
      await client.query("begin");
      sent = [];
      await bed.approvals.decide(id, { reviewer: "a@x.com", outcome: "approve" }, { db: client });
      expect(sent).toEqual(["select", "with"]);
      await client.query("commit");
      sent = [];
      await bed.approvals.decide(id, { reviewer: "b@x.com", outcome: "approve" }, { db: client });
      expect(sent).toEqual(["begin", "select", "with", "commit"]);
    } finally {
      await client.end();
    }
  });

  it("a host's transactions compile countersign's statements once, not once per transaction", async () => {
    // Every host transaction gets a Db of its own; the statement compiled for one is the same for all.
    const database = createDatabase(bed.pool, bed.schema, bed.workerSchema, true);
    let builds = 0;
    const read = compiledOnce((db, p: { id: string }) => {
      builds++;
      return db.selectFrom("approval").select("id").where("id", "=", p.id);
    });
    const { id } = await bed.approvals.requestApproval(request());
    const client = await bed.pool.connect();
    try {
      for (let i = 0; i < 3; i++) {
        await client.query("begin");
        const rows = await database.transaction(async (db) => (await read(db, { id })).rows, client);
        await client.query("commit");
        expect(rows).toEqual([{ id }]);
      }
      // And a kysely transaction of the host's, and countersign's own pool.
      const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: bed.pool }) });
      await kysely.transaction().execute((trx) => database.transaction((db) => read(db, { id }), trx));
      await database.run((db) => read(db, { id }));
      await database.transaction((db) => read(db, { id }));
      expect(builds).toBe(1);
    } finally {
      client.release();
    }
  });

  it("a host's pg client keeps countersign's statements prepared: the next decision is bound, not planned", async () => {
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      const prepared = async () =>
        (
          await client.query<{ statement: string; plans: number }>(
            "select statement, (generic_plans + custom_plans)::int as plans from pg_prepared_statements order by name",
          )
        ).rows;
      const single = () => ({ ...request(), steps: [{ name: "one", reviewers: ["a@x.com"] }] });
      const first = await bed.approvals.requestApproval(single());
      const second = await bed.approvals.requestApproval(single());
      await bed.approvals.decide(first.id, { reviewer: "a@x.com", outcome: "approve" }, { db: client });
      const afterFirst = await prepared();
      await bed.approvals.decide(second.id, { reviewer: "a@x.com", outcome: "approve" }, { db: client });
      const afterSecond = await prepared();
      // begin, the facts read, the write, commit: the same four statements both times.
      expect(afterFirst).toHaveLength(4);
      expect(afterSecond.map((row) => row.statement)).toEqual(afterFirst.map((row) => row.statement));
      const planned = afterSecond.filter((row) => row.plans > 0);
      expect(planned.map((row) => row.statement.trim().split(/\s+/)[0])).toEqual(
        expect.arrayContaining(["select", "with"]),
      );
      for (const row of planned) expect(row.plans).toBe(2);
    } finally {
      await client.end();
    }
  });

  it("a decision over HTTP (JSON) is two, the link's token read with the approval, and the page one", async () => {
    const { id } = await bed.approvals.requestApproval(request());
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "a@x.com");
    const url = `https://app.example.test/approvals/r/${token}`;
    sent = [];
    const page = await bed.approvals.fetch(new Request(url, { headers: { "user-agent": "counter" } }));
    expect(page.status).toBe(200);
    expect(sent).toEqual(["with"]);
    sent = [];
    const posted = await bed.approvals.fetch(
      new Request(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ decision: "approve" }),
      }),
    );
    expect(posted.status).toBe(200);
    expect(sent).toEqual(["select", "with"]);
  });

  it("a form's approval with an edit types it against the link's read: no read of its own", async () => {
    const { id } = await bed.approvals.requestApproval({ ...request(), payload: { amount: 5 }, editable: ["amount"] });
    const token = await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "a@x.com");
    await bed.approvals.fetch(new Request(`https://app.example.test/approvals/r/${token}`)); // warms the pool
    sent = [];
    const posted = await bed.approvals.fetch(
      new Request(`https://app.example.test/approvals/r/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ decision: "approve", revision: "1", "edit.amount": "7" }),
      }),
    );
    expect(posted.status).toBe(200);
    // The link and the facts; the decision; the page's history.
    expect(sent).toEqual(["select", "with", "select"]);
    expect((await bed.approvals.get(id)).payload).toEqual({ amount: 7 });
  });
});
