/**
 * countersign instances for benchmarks, each in a schema of its own that is dropped afterwards. Only the
 * public API is used (plus `deriveToken`, to build the links a notification would carry).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type ApprovalRequest, type Approvals, type ApprovalsOptions, createApprovals } from "../src/index.ts";
import { deriveToken } from "../src/security/tokens.ts";

export const SECRET = "bench-secret-0123456789-0123456789";
export const MOUNT = "/approvals";
export const PUBLIC_URL = `http://127.0.0.1${MOUNT}`;

export type ExtraOptions = Omit<ApprovalsOptions, "connectionString" | "schema" | "publicUrl" | "secret">;

/** A fresh schema name: benchmarks never share tables unless they mean to. */
export const newSchemaName = (label: string) => `bench_${label}_${randomBytes(3).toString("hex")}`;

/** An instance on an existing (or to be migrated) schema; its worker is not started. */
export function openInstance(url: string, schema: string, extra: ExtraOptions = {}): Approvals {
  return createApprovals({ connectionString: url, schema, publicUrl: PUBLIC_URL, secret: SECRET, ...extra });
}

export interface MigratedSchema {
  schema: string;
  approvals: Approvals;
  /** Stops the instance and drops its schema and worker schema. */
  drop(): Promise<void>;
}

export async function migratedSchema(url: string, label: string, extra: ExtraOptions = {}): Promise<MigratedSchema> {
  const schema = newSchemaName(label);
  const approvals = openInstance(url, schema, extra);
  await approvals.migrate();
  return {
    schema,
    approvals,
    async drop() {
      await approvals.stop();
      await dropSchema(url, schema);
    },
  };
}

/**
 * Drops the schemas an interrupted run left behind (named as {@link newSchemaName} names them). Benchmarks
 * run one at a time under the CPU lock, so none of these is in use.
 */
export async function dropLeftoverSchemas(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      "select nspname::text as name from pg_namespace where nspname ~ '^bench_[a-z]+_[0-9a-f]{6}$'",
    );
    for (const { name } of rows) await dropSchema(url, name);
    return rows.map((row) => row.name);
  });
}

/** An empty schema of the bench's own, for baselines that need a table. */
async function bareSchema(url: string, label: string): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = newSchemaName(label);
  await withClient(url, (client) => client.query(`create schema "${schema}"`));
  return { schema, drop: () => dropSchema(url, schema) };
}

/**
 * The raw floor's two connections: `listener` LISTENs on `channel`, and `sender` has a table of its own
 * (`table`, one int key) to write to, so that its COMMIT flushes WAL as a decision's does.
 */
export async function rawNotifyPair(
  url: string,
  channel: string,
): Promise<{ table: string; listener: pg.Client; sender: pg.Client; close(): Promise<void> }> {
  const { schema, drop } = await bareSchema(url, channel.replace(/^bench_/, ""));
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  const table = `"${schema}".${channel}`;
  await listener.query(`listen ${channel}`);
  await sender.query(`create table ${table} (id int primary key)`);
  return {
    table,
    listener,
    sender,
    async close() {
      await Promise.all([listener.end(), sender.end()]);
      await drop();
    },
  };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await withClient(url, (client) =>
    client.query(`drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_worker" cascade`),
  );
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A typical request: one step, two reviewers, the default reminders, escalation and timeout. */
export function typicalRequest(index: number, reviewers = ["alice@example.com", "bob@example.com"]): ApprovalRequest {
  return {
    type: "bench.payment.v1",
    title: `Payment run #${index}`,
    payload: { amount: "12,400 EUR", beneficiary: "ACME GmbH", invoices: 14, note: "monthly supplier run" },
    requestedBy: "agent://bench/payments",
    reviewers,
  };
}

/** Creates `total` approvals through the API, `concurrency` at a time; ids in creation order. */
export async function requestMany(
  approvals: Approvals,
  total: number,
  request: (index: number) => ApprovalRequest,
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = new Array(total);
  let next = 0;
  const caller = async () => {
    for (let index = next++; index < total; index = next++)
      ids[index] = (await approvals.requestApproval(request(index))).id;
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return ids;
}

/**
 * The reviewer link paths (`/approvals/r/<token>`) a notification would carry, derived from the nonce
 * stored in the token table, in the order of `ids`.
 */
export async function reviewerPaths(url: string, schema: string, ids: string[], reviewer: string): Promise<string[]> {
  const { rows } = await withClient(url, (client) =>
    client.query<{ approval_id: string; nonce: Buffer }>(
      `select approval_id, nonce from "${schema}".token where approval_id = any($1::uuid[]) and reviewer = $2`,
      [ids, reviewer],
    ),
  );
  const nonces = new Map(rows.map((row) => [row.approval_id, row.nonce]));
  return ids.map((id) => {
    const nonce = nonces.get(id);
    if (!nonce) throw new Error(`no token for ${reviewer} on approval ${id}`);
    return `${MOUNT}/r/${deriveToken(SECRET, id, reviewer, nonce)}`;
  });
}
