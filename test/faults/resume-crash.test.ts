/**
 * onDecision across a crash: the worker running the handler is SIGKILLed mid-handler; the handler runs
 * again in another worker process and completes, and once it has, never runs again. Real processes.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Child, runScript } from "../support/child-process.ts";
import { type NotificationSink, startNotificationSink } from "../support/notification-sink.ts";
import { eventually, sleep, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("resume_crash");
const script = fileURLToPath(new URL("./processes/handler.ts", import.meta.url));
let sink: NotificationSink;
beforeAll(async () => {
  sink = await startNotificationSink();
});
afterAll(() => sink.close());

const children: Child[] = [];
afterAll(() => {
  for (const child of children) child.process.kill("SIGKILL");
});

async function startHandlerWorker(): Promise<Child> {
  const child = runScript(script, {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    SINK_URL: sink.url,
    HANDLER_TYPE: "payment.release.v1",
    RECOVER_WITHIN: "4s",
  });
  children.push(child);
  await child.next((line) => line.ready === true);
  return child;
}

describe("onDecision and a worker killed mid-handler", () => {
  it("runs the handler again in another process, which completes it, and never a third time", async () => {
    const first = await startHandlerWorker();
    const req = await bed.approvals.requestApproval({
      type: "payment.release.v1",
      title: "Wire $45,000",
      requestedBy: "agent://payments",
      reviewers: ["cfo@co.com"],
      reminders: [],
    });
    sink.hold(true);
    await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve" });
    const handling = await first.next((line) => line.handling === req.id);
    expect(handling.attempt).toBe(1);
    await eventually(() => sink.arrived.some((r) => r.approvalId === req.id));
    first.process.kill("SIGKILL");
    await first.exited;
    sink.hold(false);
    expect(sink.delivered.filter((r) => r.approvalId === req.id)).toHaveLength(0);

    const second = await startHandlerWorker();
    const killedAt = Date.now();
    const handled = await second.next((line) => line.handled === req.id, 15_000);
    // The dead worker's lock is released by the supervisor (recoverWithin 4 s), then the job runs again.
    expect(Date.now() - killedAt).toBeLessThan(12_000);
    expect(handled.attempt).toBe(2);
    const done = await eventually(async () => {
      const events = (await bed.approvals.events(req.id)).filter((e) => e.type === "handler_done");
      return events.length > 0 && events;
    });
    expect(done).toHaveLength(1);
    expect(done[0]?.data).toMatchObject({ handler: "payment.release.v1", attempt: 2 });
    // The host's side effect happened once, under the stable key both attempts were given.
    const completed = sink.delivered.filter((r) => r.approvalId === req.id);
    expect(completed.map((r) => [r.key, r.worker])).toEqual([
      [`countersign:${req.id}:resume:payment.release.v1`, String(second.process.pid)],
    ]);
    expect(handling.key).toBe(completed[0]?.key);
    // Nothing more: no job left, no third run.
    await sleep(1_000);
    const { rows } = await bed.pool.query(
      `select count(*)::int as n from "${bed.workerSchema}"._private_jobs where key like $1`,
      [`countersign:${req.id}:resume:%`],
    );
    expect(rows[0].n).toBe(0);
    expect(second.lines.filter((line) => line.handling === req.id)).toHaveLength(1);
    second.process.kill("SIGTERM");
    await second.exited;
  });
});
