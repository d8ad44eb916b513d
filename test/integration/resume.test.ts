/** onDecision: a job per handler added with the decision, run at least once and never again after success. */
import { afterAll, describe, expect, it } from "vitest";
import {
  type Approvals,
  type ApprovalError,
  type Decision,
  ERROR_CODES,
  type ValidationError,
} from "../../src/index.ts";
import { eventually, sleep, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("resume");
const started: Approvals[] = [];
afterAll(() => Promise.all(started.map((a) => a.stop())));

const base = { title: "Wire", requestedBy: "agent://payments", reviewers: ["cfo@co.com"], reminders: [] };

async function handlerEvents(id: string) {
  return (await bed.approvals.events(id))
    .filter((e) => e.type === "handler_done" || e.type === "handler_failed")
    .map((e) => ({ type: e.type, ...e.data }));
}

async function jobsFor(id: string) {
  const { rows } = await bed.pool.query<{ task: string; attempts: number }>(
    `select t.identifier as task, j.attempts from "${bed.workerSchema}"._private_jobs j
       join "${bed.workerSchema}"._private_tasks t on t.id = j.task_id where j.key like $1`,
    [`countersign:${id}:resume:%`],
  );
  return rows;
}

describe("onDecision", () => {
  it("runs each matching handler once after the decision, with a stable key and the attempt; a throw is retried", async () => {
    const calls: { name: string; decision: Decision; attempt: number; key: string }[] = [];
    let failFirst = true;
    const worker = bed.create();
    worker.onDecision("payment.release.v1", async (decision, { attempt, key, approval }) => {
      calls.push({ name: "payments", decision, attempt, key });
      expect(approval.id).toBe(decision.id);
      if (failFirst) {
        failFirst = false;
        throw new Error("bank API down");
      }
    });
    worker.onDecision("*", (decision, { attempt, key }) => void calls.push({ name: "all", decision, attempt, key }), {
      name: "audit-log",
    });
    worker.onDecision(
      "other.v1",
      (decision, { attempt, key }) => void calls.push({ name: "other", decision, attempt, key }),
    );
    await worker.start();
    started.push(worker);

    const req = await bed.approvals.requestApproval({ ...base, type: "payment.release.v1" });
    await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "approve", comment: "ok" });
    // The first run of "payments" throws; graphile-worker retries it after its backoff (about 3 s).
    await eventually(() => calls.filter((c) => c.name === "payments").length === 2, 20_000);
    await eventually(async () => (await handlerEvents(req.id)).filter((e) => e.type === "handler_done").length === 2);
    await sleep(500);
    const payments = calls.filter((c) => c.name === "payments");
    expect(payments.map((c) => c.attempt)).toEqual([1, 2]);
    expect(payments[0]?.key).toBe(`countersign:${req.id}:resume:payment.release.v1`);
    expect(payments[1]?.key).toBe(payments[0]?.key);
    expect(payments[1]?.decision).toMatchObject({ id: req.id, status: "approved", approved: true, comment: "ok" });
    expect(calls.filter((c) => c.name === "all").map((c) => c.attempt)).toEqual([1]);
    expect(calls.filter((c) => c.name === "other")).toEqual([]);
    const events = await handlerEvents(req.id);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: "handler_failed",
          handler: "payment.release.v1",
          attempt: 1,
          error: "bank API down",
          final: false,
        }),
        expect.objectContaining({ type: "handler_done", handler: "payment.release.v1", attempt: 2 }),
        expect.objectContaining({ type: "handler_done", handler: "audit-log", attempt: 1 }),
      ]),
    );
    expect(events).toHaveLength(3);
    expect(await jobsFor(req.id)).toEqual([]);

    // Every final status resumes, a cancel too.
    const cancelled = await bed.approvals.requestApproval({ ...base, type: "other.v1" });
    await bed.approvals.cancel(cancelled.id, { reason: "not needed" });
    await eventually(() => calls.some((c) => c.name === "other" && c.decision.status === "cancelled"));
  });

  it("the job is added in the decision's own statement: no worker running, the job waits for one", async () => {
    const req = await bed.approvals.requestApproval({ ...base, type: "later.v1" });
    // A handler registered earlier (its worker has stopped) still gets its job.
    const registrar = bed.create();
    registrar.onDecision("later.v1", () => {});
    await registrar.start();
    await registrar.stop();
    await bed.approvals.decide(req.id, { reviewer: "cfo@co.com", outcome: "reject", comment: "no" });
    // (The "*" handler of the first test gets one too, and its worker is still running.)
    const later = async () => (await jobsFor(req.id)).filter((job) => job.task === "countersign:resume:later.v1");
    expect(await later()).toEqual([{ task: "countersign:resume:later.v1", attempts: 0 }]);
    // A worker without that handler never takes the job.
    const other = bed.create();
    other.onDecision("unrelated.v1", () => {});
    await other.start();
    started.push(other);
    await sleep(600);
    expect(await later()).toEqual([{ task: "countersign:resume:later.v1", attempts: 0 }]);
    // The worker that has it runs it.
    const seen: Decision[] = [];
    const owner = bed.create();
    owner.onDecision("later.v1", (decision) => void seen.push(decision));
    await owner.start();
    started.push(owner);
    await eventually(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ status: "rejected", approved: false, comment: "no" });
  });

  it("a handler no process runs any more is listed with its queued jobs, and retired: later decisions add none", async () => {
    // A worker that had it ran once (registering it) and is gone.
    const gone = bed.create();
    gone.onDecision("retired.v1", () => {}, { name: "old-ledger" });
    await gone.start();
    await gone.stop();
    const decideOne = async () => {
      const { id } = await bed.approvals.requestApproval({ ...base, type: "retired.v1" });
      await bed.approvals.decide(id, { reviewer: "cfo@co.com", outcome: "approve" });
      return id;
    };
    // Workers of the tests above still run ("audit-log" takes every type): only this handler's jobs count.
    const ledgerJobs = async (id: string) =>
      (await jobsFor(id)).filter((job) => job.task === "countersign:resume:old-ledger");
    const first = await decideOne();
    expect(await ledgerJobs(first)).toEqual([{ task: "countersign:resume:old-ledger", attempts: 0 }]);
    const listed = async () => (await bed.approvals.handlers()).find((h) => h.name === "old-ledger");
    expect(await listed()).toMatchObject({ name: "old-ledger", type: "retired.v1", queued: 1 });

    // The queued job stays for a worker that may still have it, unless asked to drop it.
    expect(await bed.approvals.retireHandler("old-ledger")).toEqual({ retired: true, dropped: 0, queued: 1 });
    expect(await listed()).toBeUndefined();
    const second = await decideOne();
    expect(await ledgerJobs(second)).toEqual([]);
    expect(await bed.approvals.retireHandler("old-ledger", { dropQueued: true })).toEqual({
      retired: false,
      dropped: 1,
      queued: 0,
    });
    expect(await ledgerJobs(first)).toEqual([]);

    // Refused: a handler this process registers (its start() would bring it back), and names that are none.
    const owner = bed.create();
    owner.onDecision("retired.v1", () => {}, { name: "kept" });
    const refused = (promise: Promise<unknown>) =>
      promise.then(
        () => [],
        (error: ValidationError) => error.issues.map((i) => `${i.path}: ${i.message}`),
      );
    expect(await refused(owner.retireHandler("kept"))).toEqual([
      "name: is registered by onDecision in this process, whose start() registers it again",
    ]);
    expect(await refused(owner.retireHandler("bad name!", { dropQueued: "yes" as never }))).toEqual([
      "name: must be a handler's name",
      "dropQueued: must be true or false",
    ]);
  });

  it("must be registered before start(), under a name no other handler has", async () => {
    const late = bed.create();
    await late.start();
    started.push(late);
    const error = (() => {
      try {
        late.onDecision("x.v1", () => {});
      } catch (e) {
        return e as ApprovalError;
      }
    })();
    expect(error?.code).toBe(ERROR_CODES.VALIDATION);
    expect(error?.message).toContain("must be called before start()");
    const fresh = bed.create();
    fresh.onDecision("x.v1", () => {});
    expect(() => fresh.onDecision("x.v1", () => {})).toThrow(/"x.v1" is taken/);
    expect(() => fresh.onDecision("x.v1", () => {}, { name: "bad name!" })).toThrow(/letters, digits/);
  });
});
