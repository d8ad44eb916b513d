/**
 * The composition root: `createApprovals()` is the one place that wires the store, the engine, the HTTP
 * handler, the worker and the change listener together. Everything here delegates.
 */
import { tracedCancel, tracedDecide, tracedRequest } from "./core/traced.ts";
import { createTelemetry } from "./core/telemetry.ts";
import { type PruneOptions, type PruneResult, prune } from "./core/retention.ts";
import { type PolicyReportRow, policyReport } from "./core/policy-report.ts";
import {
  type AuditVerification,
  type ExportedEvent,
  exportAudit,
  type VerifyAuditOptions,
  verifyAudit,
} from "./core/audit.ts";
import type { ApprovalPage } from "./core/queries.ts";
import { approvalEvents, getApproval, listApprovals, payloadRevisions } from "./core/queries.ts";
import type { EngineContext } from "./core/context.ts";
import { delegate, delegations, revokeDelegation } from "./core/delegation.ts";
import { extend } from "./core/engine.ts";
import type { ApprovalRequest } from "./core/request-input.ts";
import {
  approvalId,
  type CancelInput,
  type DecideInput,
  type DelegateInput,
  type ExtendInput,
  extendSchema,
  type ListQuery,
  type WaitOptions,
} from "./core/inputs.ts";
import { type ApprovalsOptions, resolveOptions } from "./core/options.ts";
import {
  type DecisionHandler,
  type HandlerRegistration,
  listHandlers,
  publishHandlers,
  type RegisteredHandler,
  type RetiredHandler,
  registerHandler,
  retireHandler,
  tooLate,
} from "./core/resume.ts";
import { createReviewerPort } from "./core/reviewer-port.ts";
import { createWaiter } from "./core/waiter.ts";
import type { Approval, AuditEvent, Decision, Delegation, PayloadRevision } from "./domain/types.ts";
import { ApprovalError, ERROR_CODES } from "./errors.ts";
import { createFetchHandler, type FetchHandler } from "./http/handler.ts";
import { TASKS } from "./scheduler/jobs.ts";
import { type NodeHandler, toNodeHandler } from "./http/node.ts";
import { assertSupportedNode } from "./runtime.ts";
import { ChangeListener } from "./store/change-listener.ts";
import { createDatabase, type WriteOptions } from "./store/connection.ts";
import { openConnections } from "./store/connections.ts";
import { migrate, migrationSql } from "./store/migrate.ts";
import { parseInput } from "./validation.ts";
import { type RunningWorker, startWorker } from "./worker/run-worker.ts";

export type { ApprovalPage };

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
  /**
   * Records a reviewer's vote; the first final decision wins. An approval may carry `edits` to fields
   * the request made `editable`, which make the payload's next revision.
   */
  decide(id: string, input: DecideInput, options?: WriteOptions): Promise<Approval>;
  cancel(id: string, input: CancelInput, options?: WriteOptions): Promise<Approval>;
  /**
   * Moves a pending approval's deadline later (`by` a duration or `until` a time): the timeout and the
   * `expiring` warning move with it, and the current step's reviewers who have not decided are told.
   */
  extend(id: string, input: ExtendInput, options?: WriteOptions): Promise<Approval>;
  /**
   * Runs `handler` in the worker once an approval of `type` (or of any type, with `"*"`) is final: at
   * least once, never again after it succeeded, retried with backoff while it throws. Register before
   * `start()`; `name` (default: the type, `"all-types"` for `"*"`) names its jobs and must stay stable across deploys.
   */
  onDecision(type: string, handler: DecisionHandler, options?: { name?: string }): void;
  /** The onDecision handlers that decisions add jobs for (registered by any process), with their queued jobs. */
  handlers(): Promise<HandlerRegistration[]>;
  /**
   * Stops decisions adding jobs for a handler no process runs any more. Its waiting jobs go with
   * `dropQueued`, else they stay for a worker that still has it. A process that registers it again brings it back.
   */
  retireHandler(name: string, options?: { dropQueued?: boolean }): Promise<RetiredHandler>;
  /** While active, `to` is asked alongside `from` and may decide wherever `from` could (one hop). */
  delegate(input: DelegateInput): Promise<Delegation>;
  revokeDelegation(id: string, input?: { by?: string }): Promise<Delegation>;
  /** Newest first; `active: true` for those in force now. */
  delegations(query?: { active?: boolean; reviewer?: string; limit?: number }): Promise<Delegation[]>;
  get(id: string): Promise<Approval>;
  /** Every revision of the payload, oldest first: revision 1 as requested, then one per approval with edits. */
  revisions(id: string): Promise<PayloadRevision[]>;
  /** Newest first. */
  list(query?: ListQuery): Promise<ApprovalPage>;
  /** The audit trail, oldest first. */
  events(id: string): Promise<AuditEvent[]>;
  /**
   * Checks the audit chains (one approval's with `id`, else all): every event's hash against its stored
   * content and the previous event's hash. Reads a page at a time: constant memory.
   */
  verifyAudit(options?: VerifyAuditOptions): Promise<AuditVerification>;
  /** The chains with an event since `since` (whole, in chain order), each event with the text its hash covers. */
  exportAudit(options?: { since?: Date; id?: string }): AsyncGenerator<ExportedEvent>;
  /** Per policy: what it answered since `since` (default 30 days) and whether humans then agreed. */
  policyReport(options?: { since?: string | number | Date }): Promise<PolicyReportRow[]>;
  /**
   * Deletes final approvals decided longer ago than `finalOlderThan`, with what hangs off them, in
   * bounded batches; their audit events stay as verifiable chains unless `keepAudit: false`. Pending
   * approvals are never touched. Returns what it removed.
   */
  prune(options: PruneOptions): Promise<PruneResult>;
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
  const { schema, workerSchema, logger } = resolved;
  const connections = openConnections(resolved);
  const database = createDatabase(connections.queries, schema, workerSchema, connections.prepare.queries);
  const ctx: EngineContext = {
    database,
    options: resolved,
    telemetry: createTelemetry(resolved.telemetry, () => database),
  };
  const listener = new ChangeListener(
    () => connections.ownClient(`countersign:listen:${schema}`.slice(0, 63)),
    schema,
    logger,
  );
  const waiter = createWaiter(ctx, listener);
  const fetch = createFetchHandler(createReviewerPort(ctx), resolved);
  const handlers = new Map<string, RegisteredHandler>();
  let worker: Promise<RunningWorker> | undefined;
  let stopped = false;
  const stoppedError = () =>
    new ApprovalError(ERROR_CODES.STOPPED, "This approvals instance was stopped; create a new one.");
  const refuseWhenStopped = () => {
    if (stopped) throw stoppedError();
  };

  return {
    schema,
    migrate: () => migrate({ connections, schema, workerSchema, logger, tasks: Object.values(TASKS) }),
    async start() {
      refuseWhenStopped();
      worker ??= ctx.database
        .run((db) => publishHandlers(db, [...handlers.values()]))
        .then(() => startWorker(ctx, connections, [...handlers.values()]));
      await worker;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      waiter.endAll(new ApprovalError(ERROR_CODES.STOPPED, "countersign was stopped while waiting for a decision."));
      // In-flight jobs finish and are marked complete before any connection of countersign's is closed.
      await worker?.then((running) => running.stop()).catch(() => {});
      await listener.stop();
      await connections.end();
    },
    requestApproval: (request, writeOptions) => tracedRequest(ctx, request, writeOptions?.db),
    decide: (id, input, writeOptions) => tracedDecide(ctx, id, input, writeOptions?.db),
    cancel: (id, input, writeOptions) => tracedCancel(ctx, id, input, writeOptions?.db),
    async extend(id, input, writeOptions) {
      parseInput(approvalId, id, "approval id");
      const parsed = parseInput(extendSchema, input, "extend input");
      const change = {
        until: parsed.until ?? null,
        byMs: parsed.by ?? null,
        reason: parsed.reason ?? null,
        actor: parsed.actor,
        via: parsed.via,
      };
      return extend(ctx, id, change, writeOptions?.db);
    },
    onDecision(type, handler, handlerOptions) {
      if (worker || stopped) throw tooLate();
      registerHandler(handlers, type, handler, handlerOptions?.name);
    },
    handlers: () => listHandlers(ctx),
    retireHandler: (name, retireOptions) => retireHandler(ctx, handlers, name, retireOptions),
    delegate: (input) => delegate(ctx, input),
    revokeDelegation: (id, input) => revokeDelegation(ctx, id, input),
    delegations: (query) => delegations(ctx, query),
    get: (id) => getApproval(ctx, id),
    revisions: (id) => payloadRevisions(ctx, id),
    list: (query) => listApprovals(ctx, query),
    events: (id) => approvalEvents(ctx, id),
    verifyAudit: (options) => verifyAudit(ctx, options),
    exportAudit: (options) => exportAudit(ctx, options),
    policyReport: (options) => policyReport(ctx, options),
    prune: (options) => prune(ctx, options),
    // Not async: an async wrapper adds three turns of the microtask queue to every wake-up.
    waitForDecision: (id, waitOptions) => (stopped ? Promise.reject(stoppedError()) : waiter.wait(id, waitOptions)),
    migrationSql: () => migrationSql({ schema }),
    fetch,
    nodeHandler: toNodeHandler(fetch),
  };
}
