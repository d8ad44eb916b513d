/**
 * Each test file gets its own schema (and worker schema) in the test database, dropped after the file
 * unless a test failed, so a failure can be inspected with psql.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import {
  type ActionRequest,
  type ApprovalRequest,
  createApprovals,
  type Approvals,
  type ApprovalsOptions,
  type Channel,
  type Notification,
} from "../../src/index.ts";

export const TEST_SECRET = "test-secret-that-is-long-enough-0123456789";
export const PUBLIC_URL = "https://app.example.test/approvals";

export function testDatabaseUrl(): string {
  return inject("databaseUrl");
}

export interface TestBed {
  readonly url: string;
  readonly schema: string;
  readonly workerSchema: string;
  /** For direct SQL in assertions. */
  readonly pool: pg.Pool;
  /** A migrated instance on this file's schema. */
  readonly approvals: Approvals;
  /** Another instance on the same schema (as another process would have), stopped after the file. */
  create(options?: Partial<ApprovalsOptions>): Approvals;
  options(overrides?: Partial<ApprovalsOptions>): ApprovalsOptions;
}

/**
 * `defaults` may be a function, evaluated when instances are created (after earlier `beforeAll` hooks),
 * for options that need a server started first.
 */
export function useTestBed(
  name: string,
  defaults: Partial<ApprovalsOptions> | (() => Partial<ApprovalsOptions>) = {},
): TestBed {
  const schema = `t_${name.replace(/[^a-z0-9]/g, "_")}_${randomBytes(3).toString("hex")}`;
  const instances: Approvals[] = [];
  let pool: pg.Pool | undefined;
  let approvals: Approvals | undefined;
  let failed = false;

  const bed: TestBed = {
    get url() {
      return testDatabaseUrl();
    },
    schema,
    workerSchema: `${schema}_worker`,
    get pool() {
      if (!pool) throw new Error("the test bed is not set up yet");
      return pool;
    },
    get approvals() {
      if (!approvals) throw new Error("the test bed is not set up yet");
      return approvals;
    },
    options: (overrides = {}) => ({
      connectionString: testDatabaseUrl(),
      schema,
      publicUrl: PUBLIC_URL,
      secret: TEST_SECRET,
      worker: { pollInterval: 50 },
      ...(typeof defaults === "function" ? defaults() : defaults),
      ...overrides,
    }),
    create(overrides = {}) {
      const instance = createApprovals(bed.options(overrides));
      instances.push(instance);
      return instance;
    },
  };

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
    approvals = bed.create();
    await approvals.migrate();
  });
  afterEach((context) => {
    if (context.task.result?.state === "fail") failed = true;
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    if (!failed)
      await pool?.query(`drop schema if exists "${schema}" cascade; drop schema if exists "${schema}_worker" cascade`);
    else console.warn(`kept schema ${schema} (and ${schema}_worker) for inspection`);
    await pool?.end();
  });
  return bed;
}

/** A channel that keeps what it was asked to send. */
export function recordingChannel(name = "recording"): Channel & { sent: Notification[] } {
  const sent: Notification[] = [];
  return {
    name,
    sent,
    async send(notification) {
      sent.push(notification);
    },
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** JSON as it arrived on the wire (a response body, a Slack call), read loosely in assertions. */
// biome-ignore lint/suspicious/noExplicitAny: assertions walk wire JSON without declaring its every shape
export type WireJson = any;

/** A JSON response body, read loosely for assertions. */
export const readJson = async (response: Response): Promise<WireJson> => response.json();

/** A support agent's batch of tool calls for one reviewer, without reminders; `extra` overrides any field. */
export function supportBatch(
  actions: ActionRequest[],
  reviewer: string,
  extra: Partial<ApprovalRequest> = {},
): ApprovalRequest {
  return {
    type: "agent.tool_calls.v1",
    title: "Support agent wants to run 2 tools",
    actions,
    requestedBy: "agent://support",
    reviewers: [reviewer],
    reminders: [],
    ...extra,
  };
}

/** A statement a pg client sent: its text and its bound values. */
export interface SentStatement {
  text: string;
  values: unknown[] | undefined;
}

/**
 * Hands every statement any pg client sends to `onStatement` (by wrapping pg's query) until the returned
 * function is called: what went over the wire, counted rather than estimated.
 */
export function watchStatements(onStatement: (statement: SentStatement) => void): () => void {
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as string | { text?: string; values?: unknown[] } | undefined;
    const text = typeof config === "string" ? config : config?.text;
    const values = (typeof config === "string" ? args[1] : config?.values) as unknown[] | undefined;
    if (text) onStatement({ text, values: Array.isArray(values) ? values : undefined });
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query;
  return () => {
    pg.Client.prototype.query = original;
  };
}

/** The statements sent while `work` ran, and its result. */
export async function statementsSentDuring<T>(work: () => Promise<T>): Promise<{ result: T; sent: SentStatement[] }> {
  const sent: SentStatement[] = [];
  const stop = watchStatements((statement) => sent.push(statement));
  try {
    return { result: await work(), sent };
  } finally {
    stop();
  }
}
