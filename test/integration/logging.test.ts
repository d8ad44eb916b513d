import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Logger } from "../../src/index.ts";
import { eventually, recordingChannel, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("logging");

let written: string[] = [];
const originals = { out: process.stdout.write, err: process.stderr.write };
beforeEach(() => {
  written = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
});
afterEach(() => {
  process.stdout.write = originals.out;
  process.stderr.write = originals.err;
});

describe("logging", () => {
  it("prints nothing without a logger, through a whole lifecycle with the worker running", async () => {
    const channel = recordingChannel();
    const approvals = bed.create({ channels: [channel] });
    await approvals.start();
    const { id } = await approvals.requestApproval({
      type: "t",
      title: "quiet",
      requestedBy: "a",
      reviewers: ["r@x.com"],
      reminders: [300],
    });
    await eventually(() => channel.sent.some((n) => n.kind === "reminder"));
    await approvals.decide(id, { reviewer: "r@x.com", outcome: "approve" });
    await approvals.stop();
    expect(written).toEqual([]);
  });

  it("hands the library's and the worker's messages to the logger", async () => {
    const lines: { level: string; message: string; context: Record<string, unknown> }[] = [];
    const logger: Logger = {
      debug: (context, message) => lines.push({ level: "debug", message, context }),
      info: (context, message) => lines.push({ level: "info", message, context }),
      warn: (context, message) => lines.push({ level: "warn", message, context }),
      error: (context, message) => lines.push({ level: "error", message, context }),
    };
    const failing = { name: "down", send: async () => Promise.reject(new Error("unreachable")) };
    const approvals = bed.create({ logger, channels: [failing], delivery: { maxAttempts: 1 } });
    await approvals.start();
    await approvals.requestApproval({ type: "t", title: "loud", requestedBy: "a", reviewers: ["r@x.com"] });
    await eventually(() => lines.some((l) => l.level === "warn" && l.message.includes("notification failed for good")));
    await approvals.stop();
    expect(lines.some((l) => l.context.source === "graphile-worker")).toBe(true);
    expect(written).toEqual([]);
  });
});
