import { describe, expect, it } from "vitest";
import { ApprovalError, WaitTimeoutError } from "../../src/index.ts";
import { eventually, sleep, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("wait");

const request = { type: "t.v1", title: "Wait for me", requestedBy: "agent://test", reviewers: ["r@x.com"] };

async function listenerBackends(): Promise<number[]> {
  const { rows } = await bed.pool.query<{ pid: number }>(
    "select pid from pg_stat_activity where application_name = $1",
    [`countersign:listen:${bed.schema}`.slice(0, 63)],
  );
  return rows.map((row) => row.pid);
}

describe("waitForDecision", () => {
  it("wakes when another process (its own pool) commits the decision", async () => {
    const waiter = bed.create();
    const decider = bed.create();
    const { id } = await decider.requestApproval(request);
    const waiting = waiter.waitForDecision(id);
    await eventually(async () => (await listenerBackends()).length > 0);
    await decider.decide(id, { reviewer: "r@x.com", outcome: "approve" });
    await expect(waiting).resolves.toMatchObject({ id, status: "approved", decidedBy: "r@x.com" });
  });

  it("resolves from the notification with the decision as the row has it, to the millisecond", async () => {
    const waiter = bed.create();
    const { id } = await bed.approvals.requestApproval(request);
    const waiting = waiter.waitForDecision(id);
    await eventually(async () => (await listenerBackends()).length > 0);
    await sleep(50);
    await bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "approve", comment: "ok, ship it" });
    const woken = await waiting;
    const read = await waiter.waitForDecision(id); // already final: read from the row
    expect(woken).toEqual(read);
    await waiter.stop();
  });

  it("shares one listening connection among all waits of an instance", async () => {
    const waiter = bed.create();
    const ids = await Promise.all(
      Array.from({ length: 8 }, () => bed.approvals.requestApproval(request).then((a) => a.id)),
    );
    const before = (await listenerBackends()).length;
    const waits = ids.map((id) => waiter.waitForDecision(id));
    await eventually(async () => (await listenerBackends()).length === before + 1);
    await Promise.all(ids.map((id) => bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "reject" })));
    const decisions = await Promise.all(waits);
    expect(decisions.map((d) => d.status)).toEqual(ids.map(() => "rejected"));
    expect((await listenerBackends()).length).toBe(before + 1);
    await waiter.stop();
  });

  it("re-checks after its connection drops, so a decision made meanwhile is not lost", async () => {
    const waiter = bed.create();
    const { id } = await bed.approvals.requestApproval(request);
    const waiting = waiter.waitForDecision(id);
    const [pid] = await eventually(async () => {
      const pids = await listenerBackends();
      return pids.length === 1 && pids;
    });
    await bed.pool.query("select pg_terminate_backend($1)", [pid]);
    // Decided while the waiter has no LISTEN connection: the NOTIFY goes to nobody.
    await bed.approvals.decide(id, { reviewer: "r@x.com", outcome: "approve" });
    await expect(waiting).resolves.toMatchObject({ id, status: "approved" });
    const pids = await eventually(async () => {
      const now = await listenerBackends();
      return now.length === 1 && now;
    });
    expect(pids[0]).not.toBe(pid);
    await waiter.stop();
  });

  it("resolves at once for an approval that is already final", async () => {
    const { id } = await bed.approvals.requestApproval(request);
    await bed.approvals.cancel(id, { reason: "not needed" });
    await expect(bed.approvals.waitForDecision(id)).resolves.toMatchObject({
      status: "cancelled",
      approved: false,
      comment: "not needed",
    });
  });

  it("rejects with WaitTimeoutError after its own timeout and leaves the approval pending", async () => {
    const { id } = await bed.approvals.requestApproval(request);
    const error = await bed.approvals.waitForDecision(id, { timeout: "200ms" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).code).toBe("WAIT_TIMEOUT");
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("ends at the deadline, by the database's clock, even with no worker running anywhere", async () => {
    const { id } = await bed.approvals.requestApproval({ ...request, timeout: { after: "500ms", action: "approve" } });
    const decision = await bed.create().waitForDecision(id);
    expect(decision).toMatchObject({ status: "timed_out", approved: true, via: "timeout" });
  });

  it("stops waiting when its AbortSignal fires", async () => {
    const { id } = await bed.approvals.requestApproval(request);
    const controller = new AbortController();
    const waiting = bed.approvals.waitForDecision(id, { signal: controller.signal });
    await sleep(50);
    controller.abort(new Error("agent shutting down"));
    await expect(waiting).rejects.toThrow("agent shutting down");
  });

  it("answers bad input and a stopped instance with a rejected promise of a typed error", async () => {
    const waiter = bed.create();
    const { id } = await bed.approvals.requestApproval(request);
    // Each call must return a promise that rejects, never throw where it is called.
    const badId = waiter.waitForDecision("not-an-id");
    await expect(badId).rejects.toMatchObject({ code: "VALIDATION", message: expect.stringContaining("approval id") });
    const badTimeout = waiter.waitForDecision(id, { timeout: "soon" as never });
    await expect(badTimeout).rejects.toMatchObject({ code: "VALIDATION", message: expect.stringContaining("timeout") });
    await waiter.stop();
    const afterStop = waiter.waitForDecision(id);
    await expect(afterStop).rejects.toMatchObject({ code: "STOPPED" });
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("ends pending waits with STOPPED when the instance stops", async () => {
    const waiter = bed.create();
    const { id } = await bed.approvals.requestApproval(request);
    const waiting = waiter.waitForDecision(id).catch((e: unknown) => e);
    await sleep(50);
    await waiter.stop();
    const error = await waiting;
    expect(error).toBeInstanceOf(ApprovalError);
    expect((error as ApprovalError).code).toBe("STOPPED");
  });
});
