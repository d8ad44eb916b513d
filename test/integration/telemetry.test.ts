/** OpenTelemetry (issue 15), with the SDK's in-memory exporters: spans linked to the requesting trace, and metrics. */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Approvals, UndeliverableError } from "../../src/index.ts";
import { eventually, recordingChannel, useTestBed } from "../support/test-bed.ts";

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });

const failing = {
  name: "pager",
  accepts: (reviewer: string) => reviewer.startsWith("pager:"),
  async send() {
    throw new UndeliverableError("no such pager");
  },
};
const bed = useTestBed("telemetry", () => ({
  channels: [recordingChannel(), failing],
  telemetry: { tracerProvider, meterProvider },
}));
let worker: Approvals;
beforeAll(async () => {
  worker = bed.create({ channels: [recordingChannel(), failing], telemetry: { tracerProvider, meterProvider } });
  worker.onDecision("*", () => {});
  await worker.start();
});
afterAll(async () => {
  await worker.stop();
  await meterProvider.shutdown();
});

const finished = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
const attribute = (name: string, key: string, value: string) => finished(name).find((s) => s.attributes[key] === value);

async function metricPoints(name: string) {
  await reader.forceFlush();
  const all = metrics.getMetrics().flatMap((m) => m.scopeMetrics.flatMap((s) => s.metrics));
  return all.filter((m) => m.descriptor.name === name).at(-1)?.dataPoints ?? [];
}

describe("OpenTelemetry", () => {
  it("spans a request, its deliveries, the decision and the onDecision run, each linked to the requesting trace", async () => {
    const req = await bed.approvals.requestApproval({
      type: "otel.v1",
      title: "Traced",
      requestedBy: "agent://otel",
      reviewers: ["cfo@co.com", "pager:ops"],
      reminders: [],
    });
    const requestSpan = attribute("countersign.request", "countersign.approval.id", req.id);
    expect(requestSpan?.attributes["countersign.approval.type"]).toBe("otel.v1");
    const traceId = requestSpan?.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve" });
    const linked = (name: string) =>
      finished(name).filter(
        (s) => s.attributes["countersign.approval.id"] === req.id && s.links.some((l) => l.context.traceId === traceId),
      );
    expect(linked("countersign.decide")).toHaveLength(1);
    await eventually(() => linked("countersign.deliver").length >= 2);
    await eventually(() => linked("countersign.on_decision").length === 1);
    const failed = linked("countersign.deliver").find((s) => s.attributes["countersign.channel"] === "pager");
    expect(failed).toBeDefined();
  });

  it("counts requests, decisions by status and type, time to decision, pending now and failed deliveries", async () => {
    const timing = await bed.approvals.requestApproval({
      type: "otel.v1",
      title: "Times out",
      requestedBy: "agent://otel",
      reviewers: ["cfo@co.com"],
      reminders: [],
      timeout: { after: "1s" },
    });
    await bed.approvals.requestApproval({
      type: "otel.pending.v1",
      title: "Waits",
      requestedBy: "agent://otel",
      reviewers: ["cfo@co.com"],
      reminders: [],
    });
    await worker.waitForDecision(timing.id);
    await eventually(() => attribute("countersign.timer", "countersign.approval.id", timing.id));

    const requested = await metricPoints("countersign.approvals.requested");
    expect(
      requested.find((p) => p.attributes["countersign.approval.type"] === "otel.v1")?.value,
    ).toBeGreaterThanOrEqual(2);
    const decided = await metricPoints("countersign.approvals.decided");
    const status = (s: string) => decided.find((p) => p.attributes["countersign.approval.status"] === s)?.value;
    expect(status("approved")).toBe(1);
    await eventually(async () =>
      (await metricPoints("countersign.approvals.decided")).some(
        (p) => p.attributes["countersign.approval.status"] === "timed_out",
      ),
    );
    const times = await metricPoints("countersign.approval.decision_time");
    expect(times.length).toBeGreaterThan(0);
    const pending = await metricPoints("countersign.approvals.pending");
    expect(Number(pending[0]?.value)).toBeGreaterThanOrEqual(1);
    const failures = await metricPoints("countersign.deliveries.failed");
    expect(failures.find((p) => p.attributes["countersign.channel"] === "pager")?.value).toBeGreaterThanOrEqual(1);
  });
});
