/**
 * OpenTelemetry, optional: spans for requests, decisions, cancels, deliveries, timers and `onDecision`
 * runs, each linked to the trace that requested the approval (its context is stored with the approval),
 * and metrics. Given `telemetry: { tracerProvider, meterProvider }` it uses those; otherwise it tries the
 * global ones of `@opentelemetry/api` if the host installed it (an optional peer dependency), and without
 * it does nothing at all. The API's types are declared here, structurally, so nothing imports it.
 */
import { sql } from "kysely";
import type { Database } from "../store/connection.ts";

/** The parts of a span context that identify it (as `@opentelemetry/api` defines them). */
export interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
}
interface SpanLike {
  isRecording(): boolean;
  addLink?(link: { context: SpanContextLike }): unknown;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): unknown;
  end(): void;
  spanContext(): SpanContextLike;
}
interface SpanOptions {
  attributes?: Record<string, string | number | boolean>;
}
interface TracerLike {
  startActiveSpan<T>(name: string, options: SpanOptions, fn: (span: SpanLike) => T): T;
}
type Attributes = Record<string, string>;
interface MeterLike {
  createCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): { add(n: number, a?: Attributes): void };
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string },
  ): { record(n: number, a?: Attributes): void };
  createObservableGauge(
    name: string,
    options?: { description?: string },
  ): { addCallback(cb: (result: { observe(n: number, a?: Attributes): void }) => Promise<void> | void): void };
}

/** `createApprovals({ telemetry })`: an OpenTelemetry TracerProvider and MeterProvider (either may be left out). */
export interface TelemetryOptions {
  tracerProvider?: { getTracer(name: string, version?: string): unknown };
  meterProvider?: { getMeter(name: string, version?: string): unknown };
}

const SCOPE = "countersign";
const ERROR = 2; // SpanStatusCode.ERROR

interface Instruments {
  tracer: TracerLike | undefined;
  requested?: { add(n: number, a?: Attributes): void };
  decided?: { add(n: number, a?: Attributes): void };
  decisionTime?: { record(n: number, a?: Attributes): void };
  deliveryFailures?: { add(n: number, a?: Attributes): void };
}

/** What the engine, the worker and the public methods report to. A no-op without OpenTelemetry. */
export interface Telemetry {
  /** Runs `work` in a span; `approvalId` links it to the trace that requested that approval. */
  span<T>(
    name: string,
    attributes: Record<string, string | number | boolean>,
    approvalId: string | undefined,
    work: (current: { context: SpanContextLike | undefined; set(key: string, value: string): void }) => Promise<T>,
  ): Promise<T>;
  requested(type: string): void;
  decided(decision: { type: string; status: string; createdAt: Date; decidedAt: Date }): void;
  deliveryFailed(channel: string, final: boolean): void;
}

async function instruments(options: TelemetryOptions | undefined, countPending: () => Promise<number>) {
  let tracerProvider = options?.tracerProvider;
  let meterProvider = options?.meterProvider;
  if (!options) {
    try {
      // The package name in a variable: bundlers and type-checkers leave an optional peer alone.
      const name = "@opentelemetry/api";
      const api = (await import(name)) as {
        trace: { getTracerProvider(): NonNullable<TelemetryOptions["tracerProvider"]> };
        metrics: { getMeterProvider(): NonNullable<TelemetryOptions["meterProvider"]> };
      };
      tracerProvider = api.trace.getTracerProvider();
      meterProvider = api.metrics.getMeterProvider();
    } catch {
      return { tracer: undefined } satisfies Instruments;
    }
  }
  const found: Instruments = { tracer: tracerProvider?.getTracer(SCOPE) as TracerLike | undefined };
  const meter = meterProvider?.getMeter(SCOPE) as MeterLike | undefined;
  if (meter) {
    found.requested = meter.createCounter("countersign.approvals.requested", { description: "Approvals requested" });
    found.decided = meter.createCounter("countersign.approvals.decided", {
      description: "Approvals that became final, by status (approved, rejected, timed_out, cancelled) and type",
    });
    found.decisionTime = meter.createHistogram("countersign.approval.decision_time", {
      description: "From request to final decision",
      unit: "s",
    });
    found.deliveryFailures = meter.createCounter("countersign.deliveries.failed", {
      description: "Notification delivery attempts that failed, by channel",
    });
    meter
      .createObservableGauge("countersign.approvals.pending", { description: "Approvals waiting for a decision now" })
      .addCallback(async (result) => result.observe(await countPending()));
  }
  return found;
}

export function createTelemetry(options: TelemetryOptions | undefined, database: () => Database): Telemetry {
  const schema = () => database().schema;
  const countPending = async () =>
    database().run(async (db) => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.id(schema(), "approval")}
        where status = 'pending'`.execute(db);
      return rows[0]?.n ?? 0;
    });
  const ready = instruments(options, countPending);
  const requestContext = async (approvalId: string): Promise<SpanContextLike | undefined> =>
    database().run(async (db) => {
      const { rows } = await sql<{ trace_context: SpanContextLike | null }>`select trace_context
        from ${sql.id(schema(), "approval")} where id = ${approvalId}`.execute(db);
      return rows[0]?.trace_context ?? undefined;
    });

  return {
    async span(name, attributes, approvalId, work) {
      const { tracer } = await ready;
      if (!tracer) return work({ context: undefined, set() {} });
      return tracer.startActiveSpan(name, { attributes }, async (span) => {
        try {
          // Only a span that records is worth the read of the requesting trace's context.
          if (approvalId && span.isRecording() && span.addLink) {
            const link = await requestContext(approvalId).catch(() => undefined);
            if (link) span.addLink({ context: link });
          }
          return await work({ context: span.spanContext(), set: (key, value) => span.setAttribute(key, value) });
        } catch (error) {
          if (error instanceof Error) span.recordException(error);
          span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : String(error) });
          throw error;
        } finally {
          span.end();
        }
      });
    },
    requested(type) {
      void ready.then((i) => i.requested?.add(1, { "countersign.approval.type": type }));
    },
    decided({ type, status, createdAt, decidedAt }) {
      void ready.then((i) => {
        const attributes = { "countersign.approval.type": type, "countersign.approval.status": status };
        i.decided?.add(1, attributes);
        i.decisionTime?.record(Math.max(0, decidedAt.getTime() - createdAt.getTime()) / 1000, attributes);
      });
    },
    deliveryFailed(channel, final) {
      void ready.then((i) =>
        i.deliveryFailures?.add(1, { "countersign.channel": channel, "countersign.final": String(final) }),
      );
    },
  };
}
