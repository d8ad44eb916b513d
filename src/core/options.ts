import type pg from "pg";
import { z } from "zod";
import type { Channel } from "../channels/channel.ts";
import type { Duration } from "../domain/duration.ts";
import type { TimeoutAction } from "../domain/types.ts";
import { type Logger, SILENT_LOGGER } from "../logger.ts";
import { DEFAULT_SCHEMA } from "../store/migrate.ts";
import { type Policy, policySchema, type ResolvedPolicy } from "./policies.ts";
import type { TelemetryOptions } from "./telemetry.ts";
import { durationMs, parseInput, positiveDurationMs, secretSchema } from "../validation.ts";

/** Options of {@link createApprovals}. */
export interface ApprovalsOptions {
  /**
   * PostgreSQL connection URL (`postgres://user:password@host:5432/database`). Give this or `pool`.
   * Typed to take `process.env.DATABASE_URL` as it is: a missing or malformed one is refused here.
   */
  connectionString?: string | undefined;
  /** A `pg.Pool` owned by the host app; countersign uses it and never ends it. Give this or `connectionString`. */
  pool?: pg.Pool;
  /**
   * A direct connection URL for what needs a session of its own: the LISTEN that wakes `waitForDecision`,
   * the worker (graphile-worker's LISTEN and locks) and migrations. Set it when the queries go through a
   * transaction-mode pooler such as PgBouncer, where LISTEN silently never hears a NOTIFY.
   * @defaultValue the same settings as the queries
   */
  directConnectionString?: string | undefined;
  /**
   * `waitForDecision` also reads the approval this often, besides being woken by LISTEN/NOTIFY: for a
   * deployment where LISTEN cannot hear (a transaction pooler and no `directConnectionString`).
   * @defaultValue off (woken by NOTIFY alone)
   */
  waitPollInterval?: Duration;
  /**
   * Send every statement unnamed instead of preparing it once per connection. Needed where the queries go
   * through a transaction-mode pooler that does not keep prepared statements (PgBouncer before 1.21, or
   * with `max_prepared_statements = 0`): it runs a statement prepared on one server connection on another,
   * which fails ("prepared statement … does not exist"). Each statement is then planned on every call.
   * graphile-worker is told the same when the worker's connections go through the pooler too (no
   * `directConnectionString`).
   * @defaultValue `true` when `directConnectionString` is given (the queries then go through a pooler),
   * else `false`
   */
  noPreparedStatements?: boolean;
  /**
   * The schema countersign's tables live in.
   * @defaultValue `"countersign"`
   */
  schema?: string;
  /**
   * The schema of countersign's own graphile-worker queue.
   * @defaultValue `` `${schema}_worker` ``
   */
  workerSchema?: string;
  /**
   * Absolute URL where the HTTP handler is mounted; notification links point under it. Required; typed
   * to take an environment variable as it is, and refused with a clear error when it is missing.
   */
  publicUrl: string | undefined;
  /**
   * At least 32 characters; derives reviewer tokens and signs links and webhooks. Keep it stable. Required;
   * typed to take `process.env.COUNTERSIGN_SECRET` as it is, and refused with a clear error when missing.
   */
  secret: string | undefined;
  /**
   * Where reviewers are notified.
   * @defaultValue `[]`
   */
  channels?: Channel[];
  /** Receives what the library and its worker have to say. @defaultValue silent */
  logger?: Logger;
  /**
   * Asked in order before any human, for every request (a request may give its own first, or skip them
   * with `policy: false`): the first enforced answer decides. @defaultValue `[]`
   */
  policies?: Policy[];
  /**
   * OpenTelemetry providers for spans and metrics. @defaultValue the global ones of `@opentelemetry/api`
   * when the host installed it; nothing otherwise
   */
  telemetry?: TelemetryOptions;
  /** Defaults for requests that leave these out. */
  defaults?: {
    /** @defaultValue `["5m", "30m"]` (counted from the start of each step) */
    reminders?: Duration[];
    /** @defaultValue `"30m"` (each escalation level waits this long) */
    escalateAfter?: Duration;
    /** @defaultValue `{ after: "8h", action: "reject" }` */
    timeout?: { after?: Duration; action?: TimeoutAction };
  };
  /** The graphile-worker runner started by `start()`. */
  worker?: {
    /** @defaultValue `4` */
    concurrency?: number;
    /** How often future jobs (reminders, timeouts, retries) are looked for. @defaultValue `"1s"` */
    pollInterval?: Duration;
    /**
     * A job held by a worker that died (SIGKILL, OOM, power loss) is run by another live worker within
     * this long, and an approval whose timeout job was lost with it still times out within it. Live
     * workers heartbeat every sixth of it; one silent for half of it is taken for dead. @defaultValue `"60s"`
     */
    recoverWithin?: Duration;
  };
  /** The HTTP handler (`approvals.fetch`, `nodeHandler` and the framework adapters). */
  http?: {
    /** Larger request bodies are refused with 413. @defaultValue `131072` (128 KiB) */
    maxBodyBytes?: number;
  };
  /** Notification delivery. */
  delivery?: {
    /**
     * Attempts per (reviewer, channel, notification), with graphile-worker's exponential backoff
     * (e^attempt seconds: 3 s, 7 s, 20 s, 55 s, 2.5 min between the default six).
     * @defaultValue `6`
     */
    maxAttempts?: number;
  };
}

export interface ResolvedOptions {
  connectionString: string | undefined;
  pool: pg.Pool | undefined;
  directConnectionString: string | undefined;
  waitPollIntervalMs: number | undefined;
  noPreparedStatements: boolean;
  schema: string;
  workerSchema: string;
  publicUrl: string;
  secret: string;
  channels: Channel[];
  logger: Logger;
  policies: ResolvedPolicy[];
  telemetry: TelemetryOptions | undefined;
  defaults: { remindersMs: number[]; escalateAfterMs: number; timeoutMs: number; timeoutAction: TimeoutAction };
  worker: { concurrency: number; pollIntervalMs: number; recoverWithinMs: number };
  delivery: { maxAttempts: number };
  http: { maxBodyBytes: number };
}

const DEFAULTS = {
  reminders: ["5m", "30m"],
  escalateAfter: "30m",
  timeout: { after: "8h", action: "reject" },
  workerConcurrency: 4,
  pollInterval: "1s",
  recoverWithin: "60s",
  deliveryAttempts: 6,
  maxBodyBytes: 128 * 1024,
} as const;

/** `countersign:<schema>` names the NOTIFY channel, and PostgreSQL identifiers stop at 63 bytes. */
const MAX_SCHEMA_LENGTH = 63 - "countersign:".length;

const schemaName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/, { error: "must be a lower-case SQL identifier (letters, digits and _)" })
  .max(MAX_SCHEMA_LENGTH, { error: `must be at most ${MAX_SCHEMA_LENGTH} characters` })
  .refine((name) => name !== "public" && name !== "information_schema" && !name.startsWith("pg_"), {
    error: "is reserved (public, information_schema and pg_*); countersign needs a schema of its own",
  });

/**
 * What pg can connect with: a URL, or a Unix socket path. Anything else pg reads as a path relative to a
 * host named "base", and the user sees `getaddrinfo ENOTFOUND base` at the first query.
 */
function isPostgresUrl(value: string): boolean {
  if (value.startsWith("/")) return true;
  if (!URL.canParse(value)) return false;
  return ["postgres:", "postgresql:", "socket:"].includes(new URL(value).protocol);
}

const CHANNEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const channel = z.custom<Channel>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as Channel).name === "string" &&
    typeof (value as Channel).send === "function",
  { error: "must be a channel: { name: string; send(notification): Promise<void> }" },
);

const logger = z.custom<Logger>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    ["debug", "info", "warn", "error"].every(
      (level) => typeof (value as Record<string, unknown>)[level] === "function",
    ),
  { error: "must have debug, info, warn and error methods" },
);

const optionsSchema = z
  .strictObject({
    connectionString: z
      .string()
      .refine(isPostgresUrl, { error: "must be a PostgreSQL URL, e.g. postgres://user:password@localhost:5432/app" })
      .optional(),
    pool: z
      .custom<pg.Pool>(
        (value) => typeof value === "object" && value !== null && typeof (value as pg.Pool).connect === "function",
        {
          error: "must be a pg.Pool",
        },
      )
      .optional(),
    directConnectionString: z
      .string()
      .refine(isPostgresUrl, { error: "must be a PostgreSQL URL, e.g. postgres://user:password@db-primary:5432/app" })
      .optional(),
    waitPollInterval: durationMs.pipe(z.number().min(100, { error: "must be at least 100ms" })).optional(),
    noPreparedStatements: z.boolean().optional(),
    schema: schemaName.default(DEFAULT_SCHEMA),
    workerSchema: schemaName.optional(),
    publicUrl: z.url({ protocol: /^https?$/, error: "must be an absolute http(s) URL" }),
    secret: secretSchema(32),
    channels: z.array(channel).default([]),
    logger: logger.default(SILENT_LOGGER),
    policies: z.array(policySchema).max(50, { error: "at most 50 policies" }).default([]),
    telemetry: z
      .custom<TelemetryOptions>(
        (value) =>
          typeof value === "object" &&
          value !== null &&
          ["tracerProvider", "meterProvider"].some((key) => key in value) &&
          Object.keys(value).every((key) => key === "tracerProvider" || key === "meterProvider"),
        { error: "must be { tracerProvider?, meterProvider? } from the OpenTelemetry SDK" },
      )
      .optional(),
    defaults: z
      .strictObject({
        reminders: z
          .array(positiveDurationMs)
          .max(20)
          .prefault([...DEFAULTS.reminders]),
        escalateAfter: positiveDurationMs.prefault(DEFAULTS.escalateAfter),
        timeout: z
          .strictObject({
            after: positiveDurationMs.prefault(DEFAULTS.timeout.after),
            action: z.enum(["approve", "reject", "cancel"]).default(DEFAULTS.timeout.action),
          })
          .prefault({}),
      })
      .prefault({}),
    worker: z
      .strictObject({
        concurrency: z.int().min(1).max(100).default(DEFAULTS.workerConcurrency),
        pollInterval: durationMs.pipe(z.number().min(10).max(60_000)).prefault(DEFAULTS.pollInterval),
        recoverWithin: durationMs
          .pipe(z.number().min(1_000, { error: "must be at least 1s" }).max(3_600_000, { error: "must be at most 1h" }))
          .prefault(DEFAULTS.recoverWithin),
      })
      .prefault({}),
    delivery: z.strictObject({ maxAttempts: z.int().min(1).max(25).default(DEFAULTS.deliveryAttempts) }).prefault({}),
    http: z
      .strictObject({
        maxBodyBytes: z
          .int()
          .min(1024)
          .max(16 * 1024 * 1024)
          .default(DEFAULTS.maxBodyBytes),
      })
      .prefault({}),
  })
  .superRefine((options, ctx) => {
    if ((options.connectionString === undefined) === (options.pool === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["connectionString"],
        message: "give either connectionString or pool (exactly one)",
      });
    }
    const workerSchema = options.workerSchema ?? `${options.schema}_worker`;
    if (workerSchema === options.schema) {
      ctx.addIssue({ code: "custom", path: ["workerSchema"], message: "must differ from schema" });
    }
    const names = options.channels.map((c) => c.name);
    // A name becomes part of its worker jobs' task identifier and of its URL path (`<mount>/<name>/…`).
    const badName = names.findIndex((name) => !CHANNEL_NAME.test(name));
    if (badName >= 0) {
      ctx.addIssue({
        code: "custom",
        path: ["channels", badName, "name"],
        message: "must be 1 to 64 letters, digits, '.', '_' or '-'",
      });
    }
    const repeated = names.find((name, i) => names.indexOf(name) !== i);
    if (repeated !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["channels"],
        message: `two channels are named "${repeated}"; names must be unique`,
      });
    }
  });

/** Validates createApprovals' options once and fills in every default. */
export function resolveOptions(options: ApprovalsOptions): ResolvedOptions {
  const parsed = parseInput(optionsSchema, options, "createApprovals options");
  return {
    connectionString: parsed.connectionString,
    pool: parsed.pool,
    directConnectionString: parsed.directConnectionString,
    waitPollIntervalMs: parsed.waitPollInterval,
    noPreparedStatements: parsed.noPreparedStatements ?? parsed.directConnectionString !== undefined,
    schema: parsed.schema,
    workerSchema: parsed.workerSchema ?? `${parsed.schema}_worker`,
    publicUrl: parsed.publicUrl.replace(/\/+$/, ""),
    secret: parsed.secret,
    channels: parsed.channels,
    logger: parsed.logger,
    policies: parsed.policies,
    telemetry: parsed.telemetry,
    defaults: {
      remindersMs: parsed.defaults.reminders,
      escalateAfterMs: parsed.defaults.escalateAfter,
      timeoutMs: parsed.defaults.timeout.after,
      timeoutAction: parsed.defaults.timeout.action,
    },
    worker: {
      concurrency: parsed.worker.concurrency,
      pollIntervalMs: parsed.worker.pollInterval,
      recoverWithinMs: parsed.worker.recoverWithin,
    },
    delivery: parsed.delivery,
    http: parsed.http,
  };
}
