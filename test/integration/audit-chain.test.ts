/** The audit chain (issue 15): every tampering a superuser can do around the triggers is caught. */
import { createHash } from "node:crypto";
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExportedEvent } from "../../src/index.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("audit_chain");
beforeAll(() => bed.approvals.start());

/** An approval with a few events: requested, two votes of a chain, a comment to tamper with. */
async function decided(): Promise<string> {
  const req = await bed.approvals.requestApproval({
    type: "pay.v1",
    title: "Pay ACME",
    payload: { amount: 48000 },
    requestedBy: "agent://ap",
    steps: [
      { name: "finance", reviewers: ["fin@co.com"] },
      { name: "exec", reviewers: ["cfo@co.com"] },
    ],
    reminders: [],
  });
  await bed.approvals.decide(req.id, { reviewer: "fin@co.com", outcome: "approve", comment: "numbers check out" });
  await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve", comment: "go" });
  return req.id;
}

/** As the tables' owner, around the append-only and chain triggers: what an attacker with the database can do. */
async function tamper(statement: string, params: unknown[] = []): Promise<void> {
  const event = `"${bed.schema}".event`;
  await inTransaction(async (client) => {
    await client.query(`alter table ${event} disable trigger user`);
    await client.query(statement.replaceAll("$event", event), params);
    await client.query(`alter table ${event} enable trigger user`);
  });
}

async function inTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await bed.pool.connect();
  try {
    await client.query("begin");
    await work(client);
    await client.query("commit");
  } catch (error) {
    await client.query("rollback");
    throw error;
  } finally {
    client.release();
  }
}

describe("the audit chain", () => {
  it("links every event to the one before it, and verifies whole", async () => {
    const id = await decided();
    const events = await bed.approvals.events(id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    expect(await bed.approvals.verifyAudit({ id })).toEqual({ ok: true, checked: events.length });
    const all = await bed.approvals.verifyAudit();
    expect(all.ok).toBe(true);
    expect(all.checked).toBeGreaterThanOrEqual(events.length);
  });

  it("stays whole under concurrent writers on one approval", async () => {
    const reviewers = Array.from({ length: 12 }, (_, i) => `r${i}@co.com`);
    const req = await bed.approvals.requestApproval({
      type: "pay.v1",
      title: "Many hands",
      requestedBy: "agent://ap",
      steps: [{ name: "all", reviewers, quorum: 12 }],
      reminders: [],
    });
    await Promise.all(reviewers.map((reviewer) => bed.approvals.decide(req.id, { reviewer, outcome: "approve" })));
    const events = await bed.approvals.events(req.id);
    expect(events.filter((e) => e.type === "approved")).toHaveLength(12);
    expect(await bed.approvals.verifyAudit({ id: req.id })).toMatchObject({ ok: true, checked: events.length });
  });

  it("chains events for tens of thousands of approvals in one transaction without running out of locks", async () => {
    // More approvals than PostgreSQL's shared lock table holds (max_locks_per_transaction × connections):
    // a chain lock per approval must not be an entry there.
    const t = (table: string) => `"${bed.schema}".${table}`;
    await inTransaction(async (client) => {
      await client.query(
        `insert into ${t("approval")} (id, type, title, payload, requested_by, step_count, deadline, timeout_action, fingerprint)
         select md5('bulk' || g)::uuid, 'bulk.v1', 'Bulk ' || g, '{}', 'agent://bulk', 1, now() + interval '1 day', 'reject', 'f'
         from generate_series(1, 20000) g`,
      );
      await client.query(
        `insert into ${t("event")} (approval_id, type, actor, data)
         select md5('bulk' || g)::uuid, 'requested', 'agent://bulk', '{}' from generate_series(1, 20000) g`,
      );
    });
    const { rows } = await bed.pool.query(
      `select count(*)::int as n, min(seq) as lo, max(seq) as hi from ${t("event")} where actor = 'agent://bulk'`,
    );
    expect(rows[0]).toEqual({ n: 20000, lo: 1, hi: 1 });
  });

  it("catches a changed comment", async () => {
    const id = await decided();
    await tamper("update $event set comment = 'numbers are fine' where approval_id = $1 and seq = 2", [id]);
    expect(await bed.approvals.verifyAudit({ id })).toMatchObject({
      ok: false,
      checked: 1,
      firstBroken: { approvalId: id, seq: 2, reason: "its content does not match its hash (it was changed)" },
    });
  });

  it("catches a deleted event in the middle", async () => {
    const id = await decided();
    await tamper("delete from $event where approval_id = $1 and seq = 2", [id]);
    expect((await bed.approvals.verifyAudit({ id })).firstBroken).toMatchObject({
      seq: 3,
      reason: "event 2 is missing (the chain jumps from 1 to 3)",
    });
  });

  it("catches two events swapped", async () => {
    const id = await decided();
    await tamper("update $event set seq = -2 where approval_id = $1 and seq = 2", [id]);
    await tamper("update $event set seq = 2 where approval_id = $1 and seq = 3", [id]);
    await tamper("update $event set seq = 3 where approval_id = $1 and seq = -2", [id]);
    const result = await bed.approvals.verifyAudit({ id });
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(2);
  });

  it("catches a forged event appended with the chain's own fields filled in by hand", async () => {
    const id = await decided();
    const [last] = (
      await bed.pool.query(
        `select seq, hash from "${bed.schema}".event where approval_id = $1 order by seq desc limit 1`,
        [id],
      )
    ).rows;
    const forged = createHash("sha256").update("approved by the CEO").digest("hex");
    await tamper(
      `insert into $event (approval_id, type, actor, comment, data, seq, prev_hash, hash)
       values ($1, 'approved', 'ceo@co.com', 'fine by me', '{}', $2, $3, $4)`,
      [id, last.seq + 1, last.hash, forged],
    );
    expect((await bed.approvals.verifyAudit({ id })).firstBroken).toMatchObject({
      seq: last.seq + 1,
      reason: "its content does not match its hash (it was changed)",
    });
    // …and one without a place in the chain at all.
    const other = await decided();
    await tamper(`alter table $event alter column seq drop not null, alter column hash drop not null`);
    await tamper(`insert into $event (approval_id, type, actor, data) values ($1, 'approved', 'ceo@co.com', '{}')`, [
      other,
    ]);
    expect((await bed.approvals.verifyAudit({ id: other })).firstBroken?.reason).toContain("no place in the chain");
    await tamper(`delete from $event where seq is null`);
    await tamper(`alter table $event alter column seq set not null, alter column hash set not null`);
  });

  it("exports chains an outsider can check: sha256(content) is the hash, and each links to the one before", async () => {
    const id = await decided();
    const exported: ExportedEvent[] = [];
    for await (const event of bed.approvals.exportAudit({ id })) exported.push(event);
    expect(exported.length).toBeGreaterThanOrEqual(3);
    exported.forEach((event, i) => {
      expect(createHash("sha256").update(event.content).digest("hex")).toBe(event.hash);
      expect(event.prevHash).toBe(i === 0 ? null : exported[i - 1]?.hash);
      expect(JSON.parse(event.content)[0]).toBe(id);
    });
  });
});
