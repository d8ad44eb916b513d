/**
 * Decisions that arrive together are written by one statement (see `core/change-batch.ts`). To make them
 * arrive together on purpose, the one write the pool runs at a time is held on a lock of the test's own
 * (the audit table's, which every decision writes); the decisions that come in meanwhile wait, and are
 * written when the lock goes. Everything is checked in the database: rows, audit chains, jobs and NOTIFYs.
 */
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApprovalError, type Approval } from "../../src/index.ts";
import { tokenFor } from "../support/http-servers.ts";
import {
  eventually,
  PUBLIC_URL,
  sleep,
  TEST_SECRET,
  testDatabaseUrl,
  useTestBed,
  watchStatements,
} from "../support/test-bed.ts";

const bed = useTestBed("change_batch");

/** The statement that writes a set of changes, told apart by its first CTE. */
const isChangeSet = (text: string) => text.includes("with input as (");

let changeSets = 0;
let reads = 0;
let linkReads = 0;
let stopWatching = () => {};
beforeEach(() => {
  changeSets = 0;
  reads = 0;
  linkReads = 0;
  stopWatching = watchStatements(({ text }) => {
    if (isChangeSet(text)) changeSets++;
    if (text.includes("json_array_elements_text")) linkReads++;
    else if (text.trimStart().toLowerCase().startsWith("select")) reads++;
  });
});
afterEach(() => stopWatching());

const request = (title: string, extra: Record<string, unknown> = {}) => ({
  type: "batch.v1",
  title,
  requestedBy: "agent://batcher",
  reviewers: ["r@x.com"],
  ...extra,
});

/** A transaction holding the audit table: every decision's write waits until `release`. */
async function holdWrites() {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  await client.query("begin");
  await client.query(`lock table "${bed.schema}".event in share mode`);
  return {
    async release() {
      await client.query("rollback");
      await client.end();
    },
  };
}

/** Statements of this schema's changes waiting on a row lock, and the other ones running. */
async function activity() {
  const { rows } = await bed.pool.query<{ waiting: number; running: number }>(
    `select count(*) filter (where wait_event_type = 'Lock')::int as waiting,
            count(*) filter (where wait_event_type is distinct from 'Lock')::int as running
     from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and query like $1`,
    [`%"${bed.schema}"%`],
  );
  return rows[0] ?? { waiting: 0, running: 0 };
}

/** Starts the decisions on `ids` while the write of `held` waits, and waits until each has read and planned. */
async function decideWhileHeld(
  held: string,
  ids: string[],
  decide: (id: string, i: number) => Promise<Approval>,
): Promise<PromiseSettledResult<Approval>[]> {
  const lock = await holdWrites();
  const first = bed.approvals.decide(held, { reviewer: "r@x.com", outcome: "approve" });
  await eventually(async () => (await activity()).waiting === 1);
  const readsBefore = reads;
  const rest = ids.map((id, i) => decide(id, i));
  // Every read sent and answered: the changes now wait for the write to end.
  await eventually(async () => reads - readsBefore >= ids.length && (await activity()).running === 0);
  await sleep(100);
  expect(changeSets).toBe(1);
  await lock.release();
  await first;
  return Promise.allSettled(rest);
}

/** The reviewers who voted on the first step. */
const votersOf = (approval: Approval) =>
  (approval.steps[0]?.reviewers ?? []).flatMap((r) => (r.vote ? [r.reviewer] : [])).sort();

async function jobKeys(id: string): Promise<string[]> {
  const { rows } = await bed.pool.query<{ key: string }>(
    `select key from "${bed.workerSchema}"._private_jobs where key like $1 order by key`,
    [`countersign:${id}:%`],
  );
  return rows.map((row) => row.key);
}

describe("decisions written together", () => {
  it("a host's open transaction on one approval holds up no decision of another", async () => {
    const shared = await bed.approvals.requestApproval(
      request("shared", {
        reviewers: undefined,
        steps: [{ name: "two", reviewers: ["h@x.com", "p@x.com"], quorum: 2 }],
      }),
    );
    const others = await Promise.all([1, 2, 3].map((i) => bed.approvals.requestApproval(request(`other ${i}`))));
    const host = new pg.Client({ connectionString: testDatabaseUrl() });
    await host.connect();
    try {
      await host.query("begin");
      await bed.approvals.decide(shared.id, { reviewer: "h@x.com", outcome: "approve" }, { db: host });
      // The host's transaction holds the approval's row until it commits.
      const onShared = bed.approvals.decide(shared.id, { reviewer: "p@x.com", outcome: "approve" });
      const decided = await Promise.all(
        others.map(({ id }) => bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "approve" })),
      );
      expect(decided.map((a) => a.status)).toEqual(["approved", "approved", "approved"]);
      await eventually(async () => (await activity()).waiting === 1);
      await host.query("commit");
      const final = await onShared;
      expect(final.status).toBe("approved");
      expect(votersOf(final)).toEqual(["h@x.com", "p@x.com"]);
      expect(await bed.approvals.verifyAudit({ id: shared.id })).toMatchObject({ ok: true, checked: 3 });
    } finally {
      await host.end();
    }
  });

  it("decisions that arrive while the writes are busy go in one statement, each written whole", async () => {
    const held = await bed.approvals.requestApproval(request("held"));
    const queued = await Promise.all(
      Array.from({ length: 10 }, (_, i) => bed.approvals.requestApproval(request(`queued ${i}`))),
    );
    expect((await jobKeys(queued[0]!.id)).some((key) => key.endsWith(":timeout"))).toBe(true);
    const listener = new pg.Client({ connectionString: testDatabaseUrl() });
    await listener.connect();
    const notified = new Map<string, { status: string; d?: unknown[] }>();
    listener.on("notification", ({ payload }) => {
      const change = JSON.parse(payload ?? "{}");
      notified.set(change.id, change);
    });
    await listener.query(`listen "countersign:${bed.schema}"`);
    try {
      const results = await decideWhileHeld(
        held.id,
        queued.map((a) => a.id),
        (id, i) => bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "approve", comment: `ok ${i}` }),
      );
      // The held write, then one for the ten that waited.
      expect(changeSets).toBe(2);
      expect(results.map((r) => r.status)).toEqual(queued.map(() => "fulfilled"));
      for (const [i, { id }] of queued.entries()) {
        const result = results[i] as PromiseFulfilledResult<Approval>;
        expect(result.value.status).toBe("approved");
        expect(result.value.decision?.comment).toBe(`ok ${i}`);
        const approval = await bed.approvals.get(id);
        expect(approval.status).toBe("approved");
        expect(approval.decision).toMatchObject({ decidedBy: "r@x.com", via: "api", comment: `ok ${i}` });
        expect(votersOf(approval)).toEqual(["r@x.com"]);
        const events = await bed.approvals.events(id);
        expect(events.map((e) => e.type)).toEqual(["requested", "approved"]);
        expect(await bed.approvals.verifyAudit({ id })).toMatchObject({ ok: true, checked: 2 });
        const keys = await jobKeys(id);
        expect(keys.some((key) => key.includes(":outcome"))).toBe(true);
        expect(keys.filter((key) => key.includes(":reminder:") || key.endsWith(":timeout"))).toEqual([]);
      }
      await eventually(() => queued.every(({ id }) => notified.has(id)));
      for (const [i, { id }] of queued.entries()) {
        const { status, d } = notified.get(id) ?? {};
        expect(status).toBe("approved");
        expect(d?.slice(0, 3)).toEqual(["r@x.com", "api", `ok ${i}`]);
      }
    } finally {
      await listener.end();
    }
  });

  it("a second change of one approval waits for the next statement and is planned again on the first", async () => {
    const held = await bed.approvals.requestApproval(request("held"));
    const pair = await bed.approvals.requestApproval(
      request("pair", { reviewers: undefined, steps: [{ name: "two", reviewers: ["x@x.com", "y@x.com"], quorum: 2 }] }),
    );
    const other = await bed.approvals.requestApproval(request("other"));
    const results = await decideWhileHeld(held.id, [pair.id, pair.id, other.id], (id, i) =>
      bed.approvals.decide(id, {
        reviewer: id === other.id ? "r@x.com" : i === 0 ? "x@x.com" : "y@x.com",
        outcome: "approve",
      }),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    const after = await bed.approvals.get(pair.id);
    expect(after.status).toBe("approved");
    expect(votersOf(after)).toEqual(["x@x.com", "y@x.com"]);
    expect((await bed.approvals.get(other.id)).status).toBe("approved");
    expect(await bed.approvals.verifyAudit({ id: pair.id })).toMatchObject({ ok: true, checked: 3 });
  });

  it("a change whose write fails fails alone: the others of its statement are written one by one", async () => {
    const trigger = `"${bed.schema}".refuse_boom`;
    await bed.pool.query(`create function ${trigger}() returns trigger language plpgsql as $$
      begin if new.comment = 'boom' then raise exception 'refused by the test''s trigger'; end if; return new; end $$;
      create trigger refuse_boom before insert on "${bed.schema}".vote for each row execute function ${trigger}()`);
    try {
      const held = await bed.approvals.requestApproval(request("held"));
      const queued = await Promise.all(
        Array.from({ length: 4 }, (_, i) => bed.approvals.requestApproval(request(`queued ${i}`))),
      );
      const results = await decideWhileHeld(
        held.id,
        queued.map((a) => a.id),
        (id, i) =>
          bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "approve", comment: i === 1 ? "boom" : "fine" }),
      );
      // The held write and the set that failed whole; then each of its four alone.
      expect(changeSets).toBe(2);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
      const refused = (results[1] as PromiseRejectedResult).reason;
      expect(String(refused)).toMatch(/refused by the test's trigger/);
      expect(refused).not.toBeInstanceOf(ApprovalError);
      const failed = await bed.approvals.get(queued[1]!.id);
      expect(failed.status).toBe("pending");
      expect(votersOf(failed)).toEqual([]);
      expect((await bed.approvals.events(failed.id)).map((e) => e.type)).toEqual(["requested"]);
      expect((await jobKeys(failed.id)).some((key) => key.endsWith(":timeout"))).toBe(true);
      for (const i of [0, 2, 3]) expect((await bed.approvals.get(queued[i]!.id)).status).toBe("approved");
    } finally {
      await bed.pool.query(`drop trigger refuse_boom on "${bed.schema}".vote; drop function ${trigger}()`);
    }
  });
});

describe("links read together", () => {
  it("decisions through links that arrive while a read runs are read by one statement; an unknown link among them is a 404", async () => {
    const held = await bed.approvals.requestApproval(request("held read"));
    const queued = await Promise.all(
      Array.from({ length: 6 }, (_, i) => bed.approvals.requestApproval(request(`link ${i}`))),
    );
    const tokens = await Promise.all(
      [held, ...queued].map(({ id }) => tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "r@x.com")),
    );
    const known = tokens[1] ?? "";
    const unknown = `${known.slice(0, -1)}${known.endsWith("A") ? "B" : "A"}`;
    const post = (token: string) =>
      bed.approvals.fetch(
        new Request(`${PUBLIC_URL}/r/${token}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ decision: "approve", comment: "read together" }),
        }),
      );
    const holder = new pg.Client({ connectionString: testDatabaseUrl() });
    await holder.connect();
    await holder.query("begin");
    await holder.query(`lock table "${bed.schema}".token in access exclusive mode`);
    const first = post(tokens[0] ?? "");
    await eventually(async () => (await activity()).waiting === 1);
    const rest = [...tokens.slice(1), unknown].map(post);
    // The requests reach the reader in well under this; none is read while the first read waits.
    await sleep(300);
    expect(linkReads).toBe(1);
    await holder.query("rollback");
    await holder.end();
    const responses = await Promise.all([first, ...rest]);
    expect(linkReads).toBe(2);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 404]);
    for (const { id } of queued) {
      const approval = await bed.approvals.get(id);
      expect(approval.status).toBe("approved");
      expect(approval.decision).toMatchObject({ decidedBy: "r@x.com", comment: "read together" });
    }
  });
});
