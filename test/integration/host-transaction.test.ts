import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("hosttx");

interface HostDatabase {
  invoice: { id: string; approval_id: string };
}
let host: Kysely<HostDatabase>;
let hostPool: pg.Pool;

beforeAll(async () => {
  hostPool = new pg.Pool({ connectionString: bed.url, max: 3 });
  host = new Kysely<HostDatabase>({ dialect: new PostgresDialect({ pool: hostPool }) });
  await sql`create table ${sql.id(bed.schema, "invoice")} (id text primary key, approval_id uuid not null)`.execute(
    host,
  );
});
afterAll(() => host.destroy());

const request = (key: string) => ({
  type: "invoice.pay.v1",
  title: "Pay invoice",
  requestedBy: "agent://billing",
  reviewers: ["ap@x.com"],
  idempotencyKey: key,
});

async function stateOf(key: string) {
  const approval = await bed.pool.query(`select id from "${bed.schema}".approval where idempotency_key = $1`, [key]);
  const id: string | undefined = approval.rows[0]?.id;
  const jobs = id
    ? (await bed.pool.query(`select key from "${bed.workerSchema}".jobs where key like $1`, [`countersign:${id}:%`]))
        .rows.length
    : 0;
  const events = id
    ? (await bed.pool.query(`select 1 from "${bed.schema}".event where approval_id = $1`, [id])).rows.length
    : 0;
  return { exists: id !== undefined, jobs, events };
}

/** Collects NOTIFYs on the schema's channel, to show they are sent only on commit. */
async function listen() {
  const client = new pg.Client({ connectionString: bed.url });
  await client.connect();
  const heard: string[] = [];
  client.on("notification", (message) => heard.push(JSON.parse(message.payload ?? "{}").id));
  await client.query(`listen "countersign:${bed.schema}"`);
  return { heard, close: () => client.end() };
}

describe("writes inside the host's transaction", () => {
  it("a kysely transaction that rolls back leaves no approval, no jobs, no events and no NOTIFY", async () => {
    const listener = await listen();
    let createdId = "";
    await host
      .transaction()
      .execute(async (trx) => {
        const approval = await bed.approvals.requestApproval(request("k-rollback"), { db: trx });
        createdId = approval.id;
        await trx
          .withSchema(bed.schema)
          .insertInto("invoice")
          .values({ id: "inv-1", approval_id: approval.id })
          .execute();
        throw new Error("host failed after creating the approval");
      })
      .catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(createdId).not.toBe("");
    expect(await stateOf("k-rollback")).toEqual({ exists: false, jobs: 0, events: 0 });
    expect(listener.heard).not.toContain(createdId);
    await listener.close();
  });

  it("a kysely transaction that commits keeps the approval with the host's rows, its jobs and one NOTIFY", async () => {
    const listener = await listen();
    const id = await host.transaction().execute(async (trx) => {
      const approval = await bed.approvals.requestApproval(request("k-commit"), { db: trx });
      await trx
        .withSchema(bed.schema)
        .insertInto("invoice")
        .values({ id: "inv-2", approval_id: approval.id })
        .execute();
      return approval.id;
    });
    const state = await stateOf("k-commit");
    expect(state.exists).toBe(true);
    expect(state.jobs).toBeGreaterThanOrEqual(2);
    expect(state.events).toBe(1);
    await expect.poll(() => listener.heard).toContain(id);
    await listener.close();
  });

  it("a pg client inside BEGIN rolls back and commits with the host", async () => {
    const client = await hostPool.connect();
    try {
      await client.query("begin");
      const approval = await bed.approvals.requestApproval(request("pg-rollback"), { db: client });
      expect(approval.status).toBe("pending");
      await client.query("rollback");
      expect(await stateOf("pg-rollback")).toEqual({ exists: false, jobs: 0, events: 0 });

      await client.query("begin");
      const kept = await bed.approvals.requestApproval(request("pg-commit"), { db: client });
      await client.query(`insert into "${bed.schema}".invoice (id, approval_id) values ('inv-3', $1)`, [kept.id]);
      await client.query("commit");
      expect((await stateOf("pg-commit")).exists).toBe(true);
    } finally {
      client.release();
    }
  });

  it("a pg client whose BEGIN is still in flight is treated as inside it", async () => {
    const { id } = await bed.approvals.requestApproval(request("pg-queued-begin"));
    const client = await hostPool.connect();
    try {
      const begun = client.query("begin"); // not awaited: the client's last known status is still idle
      await bed.approvals.decide(id, { reviewer: "ap@x.com", outcome: "approve" }, { db: client });
      await begun;
      await client.query("rollback");
      expect((await bed.approvals.get(id)).status).toBe("pending");
    } finally {
      client.release();
    }
  });

  it("a pg client outside BEGIN still gets all-or-nothing writes", async () => {
    const client = await hostPool.connect();
    try {
      const approval = await bed.approvals.requestApproval(request("pg-autocommit"), { db: client });
      const { rows } = await client.query("select now() <> statement_timestamp() as inside");
      expect(rows[0].inside).toBe(false); // countersign committed its own transaction
      expect((await stateOf("pg-autocommit")).exists).toBe(true);
      expect(approval.steps).toHaveLength(1);
    } finally {
      client.release();
    }
  });

  it("a decision inside a host transaction that rolls back leaves the approval pending", async () => {
    const { id } = await bed.approvals.requestApproval(request("decide-rollback"));
    await host
      .transaction()
      .execute(async (trx) => {
        await bed.approvals.decide(id, { reviewer: "ap@x.com", outcome: "approve" }, { db: trx });
        throw new Error("host changed its mind");
      })
      .catch(() => {});
    expect((await bed.approvals.get(id)).status).toBe("pending");
    expect((await bed.approvals.events(id)).map((e) => e.type)).toEqual(["requested"]);
  });
});
