import pg from "pg";
import { describe, expect, it } from "vitest";
import { createApprovals, migrationSql, type Logger } from "../../src/index.ts";
import { MIGRATIONS } from "../../src/store/migrations.generated.ts";
import { PUBLIC_URL, TEST_SECRET, testDatabaseUrl } from "../support/test-bed.ts";
import { randomBytes } from "node:crypto";
import { afterAll } from "vitest";

const schemas: string[] = [];
const freshSchema = () => {
  const schema = `t_migrate_${randomBytes(4).toString("hex")}`;
  schemas.push(schema);
  return schema;
};
const instances: ReturnType<typeof createApprovals>[] = [];
const open = (schema: string, logger?: Logger, extra: Partial<Parameters<typeof createApprovals>[0]> = {}) => {
  const instance = createApprovals({
    connectionString: testDatabaseUrl(),
    schema,
    publicUrl: PUBLIC_URL,
    secret: TEST_SECRET,
    logger,
    ...extra,
  });
  instances.push(instance);
  return instance;
};
const query = async (text: string, values: unknown[] = []) => {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
};
afterAll(async () => {
  await Promise.all(instances.map((i) => i.stop()));
  for (const schema of schemas)
    await query(`drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_worker" cascade`);
});

const request = { type: "t", title: "t", requestedBy: "a", reviewers: ["r@x.com"] };

describe("migrations", () => {
  it("five processes migrating a fresh database at once all succeed, each migration applied once", async () => {
    const schema = freshSchema();
    const results = await Promise.all(Array.from({ length: 5 }, () => open(schema).migrate()));
    expect(results.filter((r) => r.applied.length > 0)).toHaveLength(1);
    expect(await query(`select id, name from "${schema}".migration order by id`)).toEqual(
      MIGRATIONS.map(({ id, name }) => ({ id, name })),
    );
    expect(await open(schema).migrate()).toEqual({ applied: [] });
    await expect(open(schema).requestApproval(request)).resolves.toMatchObject({ status: "pending" });
  });

  it("gives every foreign key an index that leads with its columns, so deleting an approval never reads a whole table", async () => {
    const schema = freshSchema();
    await open(schema).migrate();
    // For each foreign key into or within the schema: is there an index whose first columns are its own?
    const unindexed = await query(
      `select c.conrelid::regclass::text as "table", c.conname as "constraint"
         from pg_constraint c join pg_namespace n on n.oid = c.connamespace
        where n.nspname = $1 and c.contype = 'f'
          and not exists (
            select 1 from pg_index i
             where i.indrelid = c.conrelid
               and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
               and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
        order by 1, 2`,
      [schema],
    );
    expect(unindexed).toEqual([]);
  });

  it("indexes an audit event once for its approval: by its place in the chain", async () => {
    const schema = freshSchema();
    await open(schema).migrate();
    // Every index is one more WAL record and index entry for each event written; reads by approval use
    // the chain's (approval_id, seq).
    const indexes = await query(
      `select indexname as name, indexdef as definition from pg_indexes where schemaname = $1 and tablename = 'event'
        order by 1`,
      [schema],
    );
    expect(indexes.map((index) => index.name)).toEqual(["event_chain_idx", "event_pkey", "event_viewed_once_idx"]);
    expect(indexes[0].definition).toContain("(approval_id, seq)");
  });

  it("a first request on a fresh schema is not held up by a worker registering its tasks", async () => {
    const schema = freshSchema();
    const approvals = open(schema);
    await approvals.migrate();
    // What graphile-worker's first poll sends (its getTaskDetails), held open in a transaction: the task
    // identifiers it inserts are locked until it commits, and an add_jobs inserting one of them waits.
    const worker = new pg.Client({ connectionString: testDatabaseUrl() });
    await worker.connect();
    try {
      await worker.query("begin");
      const tasks = `"${schema}_worker"._private_tasks`;
      await worker.query(
        `insert into ${tasks} as tasks (identifier) select i from unnest($1::text[]) as u(i)
          where not exists (select 1 from ${tasks} as existing where existing.identifier = u.i) on conflict do nothing`,
        [["countersign:warning", "countersign:timeout", "countersign:reminder", "countersign:notify"]],
      );
      const requested = approvals.requestApproval({ ...request, reminders: ["5m"] });
      const outcome = await Promise.race([
        requested.then((approval) => approval.status),
        new Promise((resolve) => setTimeout(() => resolve("still waiting for the worker's transaction"), 3_000)),
      ]);
      expect(outcome).toBe("pending");
    } finally {
      await worker.query("commit").catch(() => {});
      await worker.end();
    }
  });

  it("keeps graphile-worker's add_jobs on generic plans without sequential scans, and sets that again after the function is redefined", async () => {
    const schema = freshSchema();
    const settings = async () =>
      (
        await query(
          `select p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = $1 and p.proname = 'add_jobs'`,
          [`${schema}_worker`],
        )
      ).map((row) => row.proconfig);
    const approvals = open(schema);
    await approvals.migrate();
    expect(await settings()).toEqual([["plan_cache_mode=force_generic_plan", "enable_seqscan=off"]]);
    // As a graphile-worker upgrade would: CREATE OR REPLACE drops the setting.
    await query(`alter function "${schema}_worker".add_jobs reset all`);
    expect(await settings()).toEqual([null]);
    await approvals.migrate();
    expect(await settings()).toEqual([["plan_cache_mode=force_generic_plan", "enable_seqscan=off"]]);
    await expect(approvals.requestApproval(request)).resolves.toMatchObject({ status: "pending" });
  });

  it("add_jobs reads no job table whole, even on a connection that planned it while the table was empty", async () => {
    const schema = freshSchema();
    const approvals = open(schema);
    await approvals.migrate();
    const jobs = `"${schema}_worker"._private_jobs`;
    // An analyze would make the connection plan again and hide the plan this test is about.
    await query(`alter table ${jobs} set (autovacuum_enabled = off)`);
    const client = new pg.Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      // The connection's first request plans add_jobs while the job table is empty.
      await approvals.requestApproval(request, { db: client });
      // Then the table grows, as it does on a new deployment before autovacuum gets to it.
      await query(
        `insert into ${jobs} (task_id, payload, run_at, key)
          select t.id, '{}', now() + interval '1 day', 'filler:' || g
          from "${schema}_worker"._private_tasks t, generate_series(1, 20000) g
          where t.identifier = 'countersign:notify'`,
      );
      await client.query("begin");
      await approvals.requestApproval(request, { db: client });
      const { rows } = await client.query(
        "select seq_scan::int, seq_tup_read::int from pg_stat_xact_user_tables where relid = $1::regclass",
        [jobs],
      );
      await client.query("commit");
      expect(rows).toEqual([{ seq_scan: 0, seq_tup_read: 0 }]);
    } finally {
      await client.end();
    }
  });

  it("lets a worker find the jobs of dead workers, and graphile-worker its stale locks, without reading the job table whole", async () => {
    const schema = freshSchema();
    // Ticks every 200 ms: each looks for jobs locked by a worker whose heartbeat went stale.
    const approvals = open(schema, undefined, { worker: { recoverWithin: "1200ms" } });
    await approvals.migrate();
    const jobs = `"${schema}_worker"._private_jobs`;
    await query(
      `insert into ${jobs} (task_id, payload, run_at, key)
        select t.id, '{}', now() + interval '1 day', 'filler:' || g
        from "${schema}_worker"._private_tasks t, generate_series(1, 20000) g
        where t.identifier = 'countersign:notify'`,
    );
    await query(`analyze ${jobs}`);
    const stats = async () =>
      (
        await query(
          `select (select seq_scan::int from pg_stat_user_tables where relid = $1::regclass) as job_scans,
                  (select (n_tup_ins + n_tup_upd)::int from pg_stat_user_tables where relid = $2::regclass) as beats`,
          [jobs, `"${schema}".worker_heartbeat`],
        )
      )[0] as { job_scans: number; beats: number };
    const before = await stats();
    await approvals.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await approvals.stop();
    // A server process reports its counts as its connection ends: wait until the worker's are all gone.
    for (let i = 0; i < 50; i++) {
      const [{ open }] = (await query(
        "select count(*)::int as open from pg_stat_activity where application_name = $1",
        [`countersign:worker:${schema}`],
      )) as [{ open: number }];
      if (open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const after = await stats();
    expect(after.beats - before.beats).toBeGreaterThanOrEqual(3);
    expect(after.job_scans - before.job_scans).toBe(0);
  });

  it("refuses to use or start against a database migrated by a newer version with a breaking change", async () => {
    const schema = freshSchema();
    const approvals = open(schema);
    await approvals.migrate();
    await query(`insert into "${schema}".migration (id, name, breaking) values (999, '000999_future', true)`);
    const error = await approvals.migrate().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "SCHEMA_TOO_NEW" });
    expect((error as Error).message).toContain(
      "migrated by a newer countersign (migration 000999_future is a breaking change)",
    );
    await expect(open(schema).start()).rejects.toMatchObject({ code: "SCHEMA_TOO_NEW" });
  });

  it("warns through the logger, and continues, when the newer migrations are compatible", async () => {
    const schema = freshSchema();
    await open(schema).migrate();
    await query(`insert into "${schema}".migration (id, name, breaking) values (999, '000999_future', false)`);
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (_context, message) => warnings.push(message) };
    await expect(open(schema, logger).migrate()).resolves.toEqual({ applied: [] });
    expect(warnings.some((w) => w.includes("newer countersign"))).toBe(true);
  });

  it("hands hosts the SQL for their own migration tool, which yields a working schema", async () => {
    const schema = freshSchema();
    const text = migrationSql({ schema });
    expect(text).toContain(`create table "${schema}".approval`);
    expect(text).not.toContain(":COUNTERSIGN_SCHEMA");
    await query(`begin; ${text} commit;`);
    expect(await query(`select id from "${schema}".migration order by id`)).toEqual(
      MIGRATIONS.map(({ id }) => ({ id })),
    );
    const approvals = open(schema);
    await approvals.start(); // installs the worker schema; countersign's own tables came from the SQL above
    await expect(approvals.requestApproval(request)).resolves.toMatchObject({ status: "pending" });
    expect(await approvals.migrate()).toEqual({ applied: [] });
  });

  it("says to migrate first when the tables are missing", async () => {
    const approvals = open(freshSchema());
    await expect(approvals.requestApproval(request)).rejects.toMatchObject({ code: "NOT_MIGRATED" });
    await expect(approvals.start()).rejects.toMatchObject({ code: "NOT_MIGRATED" });
  });
});
