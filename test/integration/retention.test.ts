/** prune (issue 15): final approvals go in bounded batches, pending ones never, the audit stays verifiable. */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { cliFor } from "../support/cli.ts";
import type { Channel, ValidationError } from "../../src/index.ts";
import { eventually, statementsSentDuring, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("retention");

/** `count` approvals decided (or left pending) and, with `daysAgo`, decided that long ago. */
async function approvals(count: number, how: "approve" | "pending", daysAgo = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const req = await bed.approvals.requestApproval({
      type: "retention.v1",
      title: `R${i}`,
      requestedBy: "agent://r",
      steps: [{ name: "one", reviewers: ["a@co.com", "b@co.com"], quorum: 2 }],
      reminders: [],
    });
    if (how === "approve") {
      await bed.approvals.decide(req.id, { reviewer: "a@co.com", outcome: "approve" });
      await bed.approvals.decide(req.id, { reviewer: "b@co.com", outcome: "approve" });
    }
    ids.push(req.id);
  }
  if (daysAgo > 0) {
    await bed.pool.query(
      `update "${bed.schema}".approval set decided_at = now() - $2::int * interval '1 day', created_at = now() - $2::int * interval '1 day' where id = any($1)`,
      [ids, daysAgo],
    );
  }
  return ids;
}

const count = async (table: string, ids: string[]) =>
  Number(
    (await bed.pool.query(`select count(*) from "${bed.schema}".${table} where approval_id = any($1)`, [ids])).rows[0]
      .count,
  );

describe("prune", () => {
  it("removes final approvals decided long ago, batch by batch, keeps pending and recent ones, and keeps a verifiable audit", async () => {
    const old = await approvals(5, "approve", 200);
    const recent = await approvals(2, "approve");
    const pending = await approvals(2, "pending");
    await bed.pool.query(
      `update "${bed.schema}".approval set created_at = now() - interval '400 days' where id = any($1)`,
      [pending],
    );
    // A job left behind by one of them (a delivery that failed for good, say).
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:deliver', '{}'::json, job_key := $1)`, [
      `countersign:${old[0]}:deliver:test`,
    ]);
    const eventsBefore = await count("event", old);

    const dry = await bed.approvals.prune({ finalOlderThan: "180d", dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, approvals: 5, events: 0 });
    expect(await count("step", old)).toBe(5);

    const result = await bed.approvals.prune({ finalOlderThan: "180d", batchSize: 2 });
    expect(result).toMatchObject({ dryRun: false, approvals: 5, events: 0 });
    // The one left behind, and the notifications nobody ran (no worker here): none is left for them, and
    // the dry run counted them.
    expect(result.jobs).toBeGreaterThanOrEqual(1);
    expect(dry.jobs).toBe(result.jobs);
    const left = await bed.pool.query(
      `select count(*) from "${bed.workerSchema}"._private_jobs where key like any($1)`,
      [old.map((id) => `countersign:${id}:%`)],
    );
    expect(Number(left.rows[0].count)).toBe(0);
    for (const table of ["step", "reviewer", "vote", "token", "inbox"]) expect(await count(table, old), table).toBe(0);
    // The jobs of the approvals that stay are theirs still (their timeouts).
    const kept = await bed.pool.query(`select count(*) from "${bed.workerSchema}"._private_jobs where key = any($1)`, [
      pending.map((id) => `countersign:${id}:timeout`),
    ]);
    expect(Number(kept.rows[0].count)).toBe(pending.length);
    expect(
      Number(
        (await bed.pool.query(`select count(*) from "${bed.schema}".approval where id = any($1)`, [old])).rows[0].count,
      ),
    ).toBe(0);
    expect(await count("event", old)).toBe(eventsBefore);
    for (const id of old) expect(await bed.approvals.verifyAudit({ id })).toMatchObject({ ok: true });
    for (const id of [...recent, ...pending]) expect((await bed.approvals.get(id)).id).toBe(id);
    expect((await bed.approvals.get(pending[0]!)).status).toBe("pending");
  });

  it("reads the worker's jobs table once per prune, however many batches it takes", async () => {
    const old = await approvals(6, "approve", 300);
    // The jobs table has no index to find an approval's jobs by, so each statement that names it reads all of it.
    const { result, sent } = await statementsSentDuring(() =>
      bed.approvals.prune({ finalOlderThan: "250d", batchSize: 2 }),
    );
    expect(result.approvals).toBe(old.length);
    expect(result.jobs).toBe(2 * old.length); // the request's and the outcome's notifications, which no worker ran
    expect(sent.filter((s) => s.text.includes("_private_jobs"))).toHaveLength(1);
  });

  it("removes the jobs without a notification each, and leaves alone a job a worker is running", async () => {
    const old = await approvals(3, "approve", 360);
    const jobs = `"${bed.workerSchema}"._private_jobs`;
    // A job a worker holds right now: it will find its approval gone and do nothing.
    const runningKey = `countersign:${old[0]}:deliver:running`;
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:deliver', '{}'::json, job_key := $1)`, [
      runningKey,
    ]);
    await bed.pool.query(`update ${jobs} set locked_at = now(), locked_by = 'a worker' where key = $1`, [runningKey]);
    const listener = new pg.Client({ connectionString: bed.url });
    await listener.connect();
    // graphile-worker's remove_job announces each removal on this channel ("count":-1), waking every
    // worker of the database once per job; other test files' add_jobs use the channel too.
    const removals: string[] = [];
    listener.on("notification", (n) => {
      if (n.payload?.includes('"count":-1')) removals.push(n.payload);
    });
    try {
      await listener.query('listen "jobs:insert"');
      const dry = await bed.approvals.prune({ finalOlderThan: "350d", dryRun: true });
      const result = await bed.approvals.prune({ finalOlderThan: "350d" });
      // A round trip after the prune committed: notifications it sent arrive before the answer.
      await listener.query("select 1");
      expect(removals).toEqual([]);
      expect(result).toMatchObject({ approvals: old.length, jobs: 2 * old.length });
      expect(dry.jobs).toBe(result.jobs);
    } finally {
      await listener.end();
    }
    const running = await bed.pool.query(
      `select key, attempts, max_attempts from ${jobs} where locked_by = 'a worker'`,
    );
    expect(running.rows).toEqual([{ key: runningKey, attempts: 0, max_attempts: 25 }]);
    await bed.pool.query(`delete from ${jobs} where key = $1`, [runningKey]);
  });

  it("sweeps the jobs with a hash join even when the job table's statistics know no keys", async () => {
    const jobs = `"${bed.workerSchema}"._private_jobs`;
    // Statistics gathered while the table held only keyless jobs: the planner then expects one row to
    // match "key like 'countersign:%'", and a nested loop read every doomed approval once per job.
    await bed.pool.query(`delete from ${jobs}`);
    await bed.pool.query(`select "${bed.workerSchema}".add_job('other', '{}'::json) from generate_series(1, 50)`);
    await bed.pool.query(`analyze ${jobs}`);
    await bed.pool.query(`delete from ${jobs}`);
    const old = await approvals(170, "approve", 340);
    await approvals(280, "pending");
    await bed.pool.query(`analyze "${bed.schema}".approval`);
    const { result, sent } = await statementsSentDuring(() => bed.approvals.prune({ finalOlderThan: "330d" }));
    expect(result).toMatchObject({ approvals: old.length, jobs: 2 * old.length });
    // The sweep as prune sent it, after whatever it sent before it in its transaction, explained.
    const sweep = sent.findIndex((s) => s.text.includes("_private_jobs"));
    const begun = sent.slice(0, sweep).findLastIndex((s) => /^\s*begin/i.test(s.text));
    const client = new pg.Client({ connectionString: bed.url });
    await client.connect();
    try {
      await client.query("begin");
      for (const s of begun < 0 ? [] : sent.slice(begun + 1, sweep)) await client.query(s.text, s.values);
      const { rows } = await client.query(`explain (format json) ${sent[sweep]?.text}`, sent[sweep]?.values);
      const joins = JSON.stringify(rows[0]["QUERY PLAN"]).match(/"Node Type":"[^"]*(Join|Loop)[^"]*"/g);
      expect(joins).toEqual(['"Node Type":"Hash Join"']);
    } finally {
      await client.query("rollback");
      await client.end();
    }
  });

  it("a notify job that runs after its approval was pruned writes nothing for it", async () => {
    // A worker was running the round when prune took the approval: here, a round of an approval gone.
    const gone = randomUUID();
    const jobs = `"${bed.workerSchema}"._private_jobs`;
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:notify', $1::json, job_key := $2)`, [
      JSON.stringify({ approvalId: gone, kind: "request", round: "ask:0", step: 0, recipients: ["a@co.com"] }),
      `countersign:${gone}:notify:ask:0`,
    ]);
    // A channel that reaches nobody: an unreachable reviewer is audited (notify_failed) on a live approval.
    const nowhere: Channel = { name: "nowhere", accepts: () => false, async send() {} };
    const worker = bed.create({ channels: [nowhere] });
    await worker.start();
    try {
      await eventually(async () => {
        const { rows } = await bed.pool.query(`select count(*)::int as n from ${jobs} where key like $1`, [
          `countersign:${gone}:notify:%`,
        ]);
        return rows[0].n === 0;
      });
    } finally {
      await worker.stop();
    }
    expect(await count("event", [gone])).toBe(0);
    const left = await bed.pool.query(`select count(*)::int as n from ${jobs} where key like $1`, [
      `countersign:${gone}:%`,
    ]);
    expect(left.rows[0].n).toBe(0);
  });

  it("takes the audit events along with keepAudit: false, and only then", async () => {
    const old = await approvals(2, "approve", 30);
    expect(await count("event", old)).toBeGreaterThan(0);
    const result = await bed.approvals.prune({ finalOlderThan: "7d", keepAudit: false });
    expect(result.approvals).toBeGreaterThanOrEqual(2);
    expect(await count("event", old)).toBe(0);
    // Outside prune the trail still refuses deletions.
    await expect(bed.pool.query(`delete from "${bed.schema}".event where true`)).rejects.toThrow(/append-only/);
  });

  it("refuses bad options of prune, verifyAudit and policyReport with typed errors naming them", async () => {
    const issues = (promise: Promise<unknown>) =>
      promise.then(
        () => [],
        (error: ValidationError) => error.issues.map((i) => i.path),
      );
    expect(await issues(bed.approvals.prune({ finalOlderThan: "soon" }))).toEqual(["finalOlderThan"]);
    expect(await issues(bed.approvals.prune({ finalOlderThan: "1d", batchSize: 0 }))).toEqual(["batchSize"]);
    expect(await issues(bed.approvals.verifyAudit({ id: "nope" }))).toEqual(["id"]);
    expect(await issues(bed.approvals.policyReport({ since: "a while" }))).toEqual(["since"]);
    const progress: number[] = [];
    const verified = await bed.approvals.verifyAudit({ onProgress: (n) => progress.push(n) });
    expect(verified.ok).toBe(true);
    expect(progress.at(-1)).toBe(verified.checked);
  });

  it("countersign prune --dry-run says what would go", async () => {
    await approvals(1, "approve", 400);
    const dry = await cliFor(bed)("prune", "--final-older-than", "365d", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(
      /^Would remove 1 final approvals decided before \S+ \(their audit events stay\), 2 worker jobs\.\n$/,
    );
  });
});
