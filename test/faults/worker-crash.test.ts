/**
 * Worker processes that die (SIGKILL: OOM, power loss) or are stopped during a deploy (SIGTERM), caught
 * in the middle of a job. Real child processes, a real sink on loopback.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript, type Child } from "../support/child-process.ts";
import { startNotificationSink, type NotificationSink } from "../support/notification-sink.ts";
import { eventually, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("worker_crash");
const script = fileURLToPath(new URL("./processes/worker.ts", import.meta.url));
let sink: NotificationSink;
beforeAll(async () => {
  sink = await startNotificationSink();
});
afterAll(() => sink.close());

const children: Child[] = [];
afterAll(() => {
  for (const child of children) child.process.kill("SIGKILL");
});

async function startWorker(): Promise<Child> {
  const child = runScript(script, {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    SINK_URL: sink.url,
    RECOVER_WITHIN: "6s",
  });
  children.push(child);
  await child.next((line) => line.ready === true);
  return child;
}

const lockedJobs = async () =>
  (
    await bed.pool.query<{ key: string; locked_by: string }>(
      `select key, locked_by from "${bed.workerSchema}".jobs where locked_by is not null`,
    )
  ).rows;

const request = (title: string, extra = {}) =>
  bed.approvals.requestApproval({
    type: "deploy.v1",
    title,
    requestedBy: "agent://deployer",
    reviewers: ["sre@company.com"],
    reminders: [],
    ...extra,
  });

describe("a worker killed or stopped mid-job", () => {
  it("SIGKILL mid-delivery: another live worker delivers it within the bound, exactly once", async () => {
    const first = await startWorker();
    sink.hold(true);
    const approval = await request("Killed mid-delivery");
    await eventually(() => sink.arrived.some((r) => r.approvalId === approval.id));
    first.process.kill("SIGKILL");
    await first.exited;
    sink.hold(false);
    expect(sink.delivered.filter((r) => r.approvalId === approval.id)).toHaveLength(0);
    expect((await lockedJobs()).length).toBeGreaterThan(0); // the dead worker still holds the job

    const second = await startWorker();
    const killedAt = Date.now();
    await eventually(() => sink.delivered.some((r) => r.approvalId === approval.id), 6_000);
    expect(Date.now() - killedAt).toBeLessThan(6_000);
    expect(sink.delivered.filter((r) => r.approvalId === approval.id).map((r) => r.worker)).toEqual([
      String(second.process.pid),
    ]);
    // Exactly once: nothing more arrives afterwards.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(sink.delivered.filter((r) => r.approvalId === approval.id)).toHaveLength(1);
    second.process.kill("SIGTERM");
    await second.exited;
  });

  it("SIGKILL while holding the timeout job: the approval still times out within the bound", async () => {
    const approval = await request("Killed holding the timeout", { timeout: { after: "1s", action: "reject" } });
    // Hold the approval's row so the worker's timeout job blocks inside its transaction.
    const blocker = await bed.pool.connect();
    await blocker.query("begin");
    await blocker.query(`select 1 from "${bed.schema}".approval where id = $1 for update`, [approval.id]);
    const first = await startWorker();
    await eventually(async () => (await lockedJobs()).some((j) => j.key.endsWith(":timeout")));
    first.process.kill("SIGKILL");
    await first.exited;
    await blocker.query("rollback");
    blocker.release();
    // The dead worker's statement may still complete on its server connection; either way its job stays
    // locked by a worker that will never finish it.
    expect((await lockedJobs()).some((j) => j.key.endsWith(":timeout"))).toBe(true);

    const second = await startWorker();
    const killedAt = Date.now();
    await eventually(async () => (await bed.approvals.get(approval.id)).status === "timed_out", 6_000);
    // The dead worker's job is released and run to completion (it finds nothing left to do).
    await eventually(async () => !(await lockedJobs()).some((j) => j.key.endsWith(":timeout")), 6_000);
    expect(Date.now() - killedAt).toBeLessThan(6_000);
    expect((await bed.approvals.events(approval.id)).filter((e) => e.type === "timed_out")).toHaveLength(1);
    second.process.kill("SIGTERM");
    await second.exited;
  });

  it("SIGTERM mid-delivery: the send finishes, the job is marked done, nothing is sent twice", async () => {
    const first = await startWorker();
    sink.hold(true);
    const approval = await request("Stopped mid-delivery");
    await eventually(() => sink.arrived.some((r) => r.approvalId === approval.id));
    first.process.kill("SIGTERM");
    await first.next((line) => line.stopping === true);
    setTimeout(() => {
      sink.hold(false);
      sink.release();
    }, 300);
    expect((await first.exited).code).toBe(0);
    expect(sink.delivered.filter((r) => r.approvalId === approval.id)).toHaveLength(1);
    const left = await bed.pool.query(`select key, locked_by from "${bed.workerSchema}".jobs where key like $1`, [
      `countersign:${approval.id}:deliver:%`,
    ]);
    expect(left.rows).toEqual([]);
    const locked = await bed.pool.query(
      `select key, task_identifier, locked_by from "${bed.workerSchema}".jobs where locked_by is not null`,
    );
    expect(locked.rows).toEqual([]);

    // A worker started afterwards finds nothing to repeat.
    const second = await startWorker();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(sink.delivered.filter((r) => r.approvalId === approval.id)).toHaveLength(1);
    second.process.kill("SIGTERM");
    await second.exited;
  });
});
