import { sql } from "kysely";
import { resolveOptions, type ApprovalsOptions } from "../config.ts";
import { ApprovalError, ERROR_CODES, NotFoundError, ValidationError, WaitTimeoutError } from "../errors.ts";
import { createFetchHandler, type FetchHandler } from "../http/handler.ts";
import { toNodeHandler, type NodeHandler } from "../http/node.ts";
import { assertSupportedNode } from "../runtime.ts";
import { listApprovalIds, loadApproval, loadApprovals } from "../store/approval-store.ts";
import { createDatabase, isConnectionFailure, type WriteOptions } from "../store/connection.ts";
import { openConnections } from "../store/connections.ts";
import { listEvents } from "../store/event-store.ts";
import { migrate, migrationSql } from "../store/migrate.ts";
import { toDecision } from "../store/rows.ts";
import { parseInput } from "../validation.ts";
import { startWorker, type RunningWorker } from "../worker/run-worker.ts";
import { ChangeListener } from "./change-listener.ts";
import { cancel, decide, fireTimeout, requestApproval, type EngineContext } from "./engine.ts";
import {
  approvalId,
  cancelSchema,
  decideSchema,
  listSchema,
  waitSchema,
  type ApprovalRequest,
  type CancelInput,
  type DecideInput,
  type ListQuery,
  type WaitOptions,
} from "./inputs.ts";
import { isFinal } from "./lifecycle.ts";
import { setLongTimeout } from "./long-timer.ts";
import type { Approval, AuditEvent, Decision } from "./types.ts";

/** A page of {@link Approvals.list}. */
export interface ApprovalPage {
  items: Approval[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** What {@link createApprovals} returns. Write methods take `{ db }` to join the host's transaction. */
export interface Approvals {
  /** The schema countersign's tables live in. */
  readonly schema: string;
  /** Creates or upgrades countersign's tables and its worker schema. Idempotent and safe to run concurrently. */
  migrate(): Promise<{ applied: string[] }>;
  /** Runs the graphile-worker runner (notifications, reminders, escalation, timeouts) in this process. */
  start(): Promise<void>;
  /** Stops the runner and the listener, ends the pool if countersign created it, and ends pending waits. */
  stop(): Promise<void>;
  /** Creates an approval, its tokens, first audit event and timers, in one transaction. */
  requestApproval(request: ApprovalRequest, options?: WriteOptions): Promise<Approval>;
  /** Resolves when the approval is decided, times out or is cancelled. */
  waitForDecision(id: string, options?: WaitOptions): Promise<Decision>;
  /** Records a reviewer's vote; the first final decision wins. */
  decide(id: string, input: DecideInput, options?: WriteOptions): Promise<Approval>;
  cancel(id: string, input: CancelInput, options?: WriteOptions): Promise<Approval>;
  get(id: string): Promise<Approval>;
  /** Newest first. */
  list(query?: ListQuery): Promise<ApprovalPage>;
  /** The audit trail, oldest first. */
  events(id: string): Promise<AuditEvent[]>;
  /** The SQL of countersign's migrations for this instance's schema, for the host's own migration tool. */
  migrationSql(): string;
  /**
   * The HTTP handler, fetch-style: mount it where `publicUrl` points (e.g. `honoApp.mount("/approvals",
   * approvals.fetch)`). See `countersign/express` and `countersign/fastify` for those frameworks.
   */
  readonly fetch: FetchHandler;
  /** The same handler for bare Node: `http.createServer(approvals.nodeHandler)`. */
  readonly nodeHandler: NodeHandler;
}

/**
 * Creates the approvals service, backed by the host's PostgreSQL.
 *
 * @example
 * const approvals = createApprovals({
 *   connectionString: process.env.DATABASE_URL,
 *   publicUrl: "https://app.example.com/approvals",
 *   secret: process.env.COUNTERSIGN_SECRET,
 *   channels: [consoleChannel()],
 * });
 * await approvals.migrate();
 * await approvals.start();
 */
export function createApprovals(options: ApprovalsOptions): Approvals {
  assertSupportedNode();
  const resolved = resolveOptions(options);
  const connections = openConnections(resolved);
  const database = createDatabase(connections.queries, resolved.schema, resolved.workerSchema);
  const ctx: EngineContext = { database, options: resolved };
  const listener = new ChangeListener(
    () => connections.ownClient(`countersign:listen:${resolved.schema}`.slice(0, 63)),
    resolved.schema,
    resolved.logger,
  );
  const waits = new Set<(error: Error) => void>();
  let worker: Promise<RunningWorker> | undefined;
  let stopped = false;

  const get = async (id: string): Promise<Approval> => {
    parseInput(approvalId, id, "approval id");
    const approval = await database.run((db) => loadApproval(db, id));
    if (!approval) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
    return approval;
  };

  const approvals: Approvals = {
    schema: resolved.schema,

    migrate: () =>
      migrate({ connections, schema: resolved.schema, workerSchema: resolved.workerSchema, logger: resolved.logger }),

    async start() {
      if (stopped)
        throw new ApprovalError(ERROR_CODES.STOPPED, "This approvals instance was stopped; create a new one.");
      worker ??= startWorker(ctx, connections);
      await worker;
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      for (const end of waits)
        end(new ApprovalError(ERROR_CODES.STOPPED, "countersign was stopped while waiting for a decision."));
      // In-flight jobs finish and are marked complete before any connection of countersign's is closed.
      await worker?.then((running) => running.stop()).catch(() => {});
      await listener.stop();
      await connections.end();
    },

    requestApproval: (request, writeOptions) => requestApproval(ctx, request, writeOptions?.db),

    async decide(id, input, writeOptions) {
      parseInput(approvalId, id, "approval id");
      const vote = parseInput(decideSchema, input, "decide input");
      return decide(ctx, id, vote, writeOptions?.db);
    },

    async cancel(id, input, writeOptions) {
      parseInput(approvalId, id, "approval id");
      return cancel(ctx, id, parseInput(cancelSchema, input, "cancel input"), writeOptions?.db);
    },

    get,

    async list(query = {}) {
      const { cursor, ...filter } = parseInput(listSchema, query, "list query");
      return database.run(async (db) => {
        const rows = await listApprovalIds(db, {
          ...filter,
          limit: filter.limit + 1,
          after: cursor ? decodeCursor(cursor) : undefined,
        });
        const page = rows.slice(0, filter.limit);
        const last = page.at(-1);
        return {
          items: await loadApprovals(
            db,
            page.map((row) => row.id),
          ),
          nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null,
        };
      });
    },

    async events(id) {
      parseInput(approvalId, id, "approval id");
      return database.run(async (db) => {
        const events = await listEvents(db, id);
        // Every approval has at least its `requested` event, so none means no such approval.
        if (events.length === 0) throw new NotFoundError(`Approval ${id}`, { approvalId: id });
        return events;
      });
    },

    async waitForDecision(id, waitOptions = {}) {
      parseInput(approvalId, id, "approval id");
      const { timeout, signal } = parseInput(waitSchema, waitOptions, "waitForDecision options");
      if (stopped) throw new ApprovalError(ERROR_CODES.STOPPED, "This approvals instance was stopped.");
      return waitForDecision(ctx, listener, waits, id, timeout, signal);
    },

    migrationSql: () => migrationSql({ schema: resolved.schema }),
    fetch: (request) => handler(request),
    nodeHandler: (req, res) => nodeHandler(req, res),
  };
  const handler = createFetchHandler({
    ctx,
    get: approvals.get,
    decide: (id, input) => approvals.decide(id, input),
  });
  const nodeHandler = toNodeHandler(handler);
  return approvals;
}

/** How long a waiter waits before looking again while the database cannot be reached. */
const RETRY_MS = { first: 250, max: 5_000 };

/** The error a waiter rejects with: countersign's own, or an unexpected one wrapped so callers can branch on `code`. */
function typedError(error: unknown): unknown {
  if (error instanceof ApprovalError || (error instanceof Error && error.name === "AbortError")) return error;
  return new ApprovalError(
    ERROR_CODES.INTERNAL,
    `Waiting for a decision failed: ${String(error)}`,
    {},
    { cause: error },
  );
}

/**
 * Resolves with the decision. Wakes on the change notification, re-reads on every (re)connection of the
 * listener, and enforces the deadline itself (so a wait ends on time with no worker running). While the
 * database cannot be reached it keeps looking with backoff instead of failing: an approval that timed out
 * during an outage resolves as timed out once the database is back.
 */
function waitForDecision(
  ctx: EngineContext,
  listener: ChangeListener,
  waits: Set<(error: Error) => void>,
  id: string,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<Decision> {
  const { database } = ctx;
  return new Promise<Decision>((resolve, reject) => {
    let settled = false;
    let failures = 0;
    let cancelDeadline: (() => void) | undefined;
    let cancelRetry: (() => void) | undefined;
    let cancelWait: (() => void) | undefined;
    const settle = (outcome: { decision: Decision } | { error: unknown }) => {
      if (settled) return;
      settled = true;
      unsubscribe();
      for (const cancel of [cancelWait, cancelDeadline, cancelRetry]) cancel?.();
      signal?.removeEventListener("abort", onAbort);
      waits.delete(end);
      if ("decision" in outcome) resolve(outcome.decision);
      else reject(outcome.error);
    };
    const end = (error: Error) => settle({ error });
    const onAbort = () => settle({ error: signal?.reason });
    const onFailure = (error: unknown) => {
      if (!isConnectionFailure(error)) return settle({ error: typedError(error) });
      cancelRetry?.();
      cancelRetry = setLongTimeout(check, Math.min(RETRY_MS.first * 2 ** failures++, RETRY_MS.max));
    };
    const check = () => {
      if (settled) return;
      database
        .run((db) =>
          db
            .selectFrom("approval")
            .selectAll()
            .select(sql<Date>`statement_timestamp()`.as("db_now"))
            .where("id", "=", id)
            .executeTakeFirst(),
        )
        .then((row) => {
          failures = 0;
          if (!row) return settle({ error: new NotFoundError(`Approval ${id}`, { approvalId: id }) });
          const decision = toDecision(row);
          if (decision) return settle({ decision });
          cancelDeadline?.();
          const untilDeadline = Math.max(0, row.deadline.getTime() - row.db_now.getTime()) + 50;
          cancelDeadline = setLongTimeout(() => fireTimeout(ctx, id).then(check, onFailure), untilDeadline);
        })
        .catch(onFailure);
    };
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    waits.add(end);
    if (timeoutMs !== undefined)
      cancelWait = setLongTimeout(() => settle({ error: new WaitTimeoutError(id, timeoutMs) }), timeoutMs);
    // Subscribing first and checking once LISTEN is active leaves no gap for a decision to slip through.
    const unsubscribe = listener.subscribe(id, {
      onChange: (change) => isFinal(change.status) && check(),
      onListening: check,
    });
  });
}

function encodeCursor(position: { id: string; createdAtMicros: string }): string {
  return Buffer.from(`${position.createdAtMicros}.${position.id}`).toString("base64url");
}

function decodeCursor(cursor: string): { createdAtMicros: string; id: string } {
  // At most 18 digits keeps the position inside PostgreSQL's bigint and timestamp ranges.
  const match = /^(\d{1,18})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
    Buffer.from(cursor, "base64url").toString(),
  );
  if (!match?.[1] || !match[2])
    throw new ValidationError("list query", [{ path: "cursor", message: "is not a cursor returned by list()" }]);
  return { createdAtMicros: match[1], id: match[2] };
}
