import { beforeAll, describe, expect, it } from "vitest";
import { AlreadyDecidedError, NotAReviewerError, type Notification } from "../../src/index.ts";
import pg from "pg";
import { eventually, recordingChannel, sleep, testDatabaseUrl, useTestBed } from "../support/test-bed.ts";

const channel = recordingChannel();
const bed = useTestBed("timers", { channels: [channel] });

beforeAll(() => bed.approvals.start());

const base = {
  type: "deploy.v1",
  title: "Deploy v2 to prod",
  requestedBy: "agent://ci",
};
const sentFor = (id: string, kind?: Notification["kind"]) =>
  channel.sent.filter((n) => n.approval.id === id && (kind === undefined || n.kind === kind));

async function eventTypes(id: string) {
  return (await bed.approvals.events(id)).map((e) => e.type);
}

describe("timers", () => {
  it("notifies the reviewers at once, then reminds the undecided ones at each reminder time", async () => {
    const approval = await bed.approvals.requestApproval({
      ...base,
      reviewers: ["sre@x.com", "oncall@x.com"],
      reminders: ["1s", "2s"],
    });
    const requests = await eventually(
      () => sentFor(approval.id, "request").length === 2 && sentFor(approval.id, "request"),
    );
    expect(requests.map((n) => n.reviewer).sort()).toEqual(["oncall@x.com", "sre@x.com"]);
    const reminders = await eventually(
      () => sentFor(approval.id, "reminder").length === 4 && sentFor(approval.id, "reminder"),
    );
    expect(
      reminders.every(
        (n) => n.approval.id === approval.id && n.links.view.startsWith("https://app.example.test/approvals/r/"),
      ),
    ).toBe(true);
    const events = await bed.approvals.events(approval.id);
    const reminded = events.filter((e) => e.type === "reminded");
    expect(reminded.map((e) => e.data.reminder)).toEqual([1, 2]);
    // Fired at their times by the database's clock, counted from the request.
    const offsets = reminded.map((e) => e.at.getTime() - approval.createdAt.getTime());
    expect(offsets[0]).toBeGreaterThanOrEqual(1000);
    expect(offsets[1]).toBeGreaterThanOrEqual(2000);
    expect(events.filter((e) => e.type === "notified")).toHaveLength(6);
  });

  it("reminds only reviewers who have not voted yet", async () => {
    const approval = await bed.approvals.requestApproval({
      ...base,
      steps: [{ name: "two-person", reviewers: ["a@x.com", "b@x.com"], quorum: 2 }],
      reminders: ["1s"],
    });
    await bed.approvals.decide(approval.id, { reviewer: "a@x.com", outcome: "approve" });
    await eventually(() => sentFor(approval.id, "reminder").length > 0);
    await sleep(300);
    expect(sentFor(approval.id, "reminder").map((n) => n.reviewer)).toEqual(["b@x.com"]);
  });

  it("escalates level by level; escalated reviewers may decide and earlier ones still can", async () => {
    const approval = await bed.approvals.requestApproval({
      ...base,
      reviewers: ["cfo@x.com"],
      escalation: [["deputy@x.com"], ["finance-team@x.com"]],
      escalateAfter: "1s",
      reminders: [],
    });
    await expect(
      bed.approvals.decide(approval.id, { reviewer: "deputy@x.com", outcome: "approve" }),
    ).rejects.toBeInstanceOf(NotAReviewerError);
    const first = await eventually(() => sentFor(approval.id, "escalation")[0]);
    expect(first.reviewer).toBe("deputy@x.com");
    const second = await eventually(() => sentFor(approval.id, "escalation")[1]);
    expect(second.reviewer).toBe("finance-team@x.com");
    const escalated = (await bed.approvals.events(approval.id)).filter((e) => e.type === "escalated");
    expect(escalated.map((e) => e.data)).toEqual([
      { level: 1, reviewers: ["deputy@x.com"] },
      { level: 2, reviewers: ["finance-team@x.com"] },
    ]);
    const current = await bed.approvals.get(approval.id);
    expect(current.steps[0]?.reviewers.map((r) => [r.reviewer, r.active])).toEqual([
      ["cfo@x.com", true],
      ["deputy@x.com", true],
      ["finance-team@x.com", true],
    ]);
    const decided = await bed.approvals.decide(approval.id, { reviewer: "cfo@x.com", outcome: "approve" });
    expect(decided.decision?.decidedBy).toBe("cfo@x.com");
  });

  it("times out with the configured action and tells everyone who was asked", async () => {
    const approval = await bed.approvals.requestApproval({
      ...base,
      reviewers: ["sre@x.com"],
      reminders: [],
      timeout: { after: "1s", action: "approve" },
    });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision).toMatchObject({ status: "timed_out", approved: true, decidedBy: null, via: "timeout" });
    expect(decision.decidedAt.getTime() - approval.deadline.getTime()).toBeGreaterThanOrEqual(0);
    const outcome = await eventually(() => sentFor(approval.id, "timed_out")[0]);
    expect(outcome.decision?.status).toBe("timed_out");
    expect(await eventTypes(approval.id)).toContain("timed_out");
  });

  it("gives each step its own reminder clock, starting when the step starts", async () => {
    const approval = await bed.approvals.requestApproval({
      ...base,
      steps: [
        { name: "finance", reviewers: ["fin@x.com"], reminders: [] },
        { name: "exec", reviewers: ["ceo@x.com"], reminders: ["1s"] },
      ],
    });
    await eventually(() => sentFor(approval.id, "request").length === 1);
    expect(sentFor(approval.id, "request")[0]?.reviewer).toBe("fin@x.com");
    await sleep(1200);
    expect(sentFor(approval.id, "reminder")).toEqual([]);
    const passedAt = Date.now();
    await bed.approvals.decide(approval.id, { reviewer: "fin@x.com", outcome: "approve" });
    const request = await eventually(() => sentFor(approval.id, "request").find((n) => n.reviewer === "ceo@x.com"));
    expect(request.approval.step).toMatchObject({ index: 1, name: "exec", count: 2 });
    const reminder = await eventually(() => sentFor(approval.id, "reminder")[0]);
    expect(reminder.reviewer).toBe("ceo@x.com");
    expect(Date.now() - passedAt).toBeGreaterThanOrEqual(1000);
  });
});

describe("deadlines and removed timers", () => {
  const idle = () => bed.create(); // an instance with no worker running
  /** A pending approval with a reminder, an escalation and a timeout job waiting. */
  const withEveryTimer = (approvals: ReturnType<typeof idle>) =>
    approvals.requestApproval({
      ...base,
      reviewers: ["sre@x.com"],
      escalation: [["boss@x.com"]],
      reminders: ["1h", "2h"],
      escalateAfter: "3h",
    });
  /** The approval's jobs still queued, by the part of their key after the approval's id (`timeout`, …). */
  const queuedJobs = async (id: string) =>
    (
      await bed.pool.query<{ key: string }>(
        `select key from "${bed.workerSchema}".jobs where key like $1 order by key`,
        [`countersign:${id}:%`],
      )
    ).rows.map((r) => r.key.split(":").slice(2).join(":"));
  const isTimer = (key: string) => /^(reminder|escalation|timeout)/.test(key);

  it("refuses a decision after the deadline even before the timeout job has run", async () => {
    const approvals = idle();
    const approval = await approvals.requestApproval({
      ...base,
      reviewers: ["sre@x.com"],
      timeout: { after: "400ms", action: "reject" },
    });
    // Hold the timeout job back so only the database's clock can end the approval.
    await bed.pool.query(
      `update "${bed.workerSchema}"._private_jobs set run_at = now() + interval '1 hour' where key = $1`,
      [`countersign:${approval.id}:timeout`],
    );
    await sleep(600);
    const error = await approvals
      .decide(approval.id, { reviewer: "sre@x.com", outcome: "approve" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AlreadyDecidedError);
    expect((error as AlreadyDecidedError).data.status).toBe("timed_out");
    expect((await approvals.get(approval.id)).decision).toMatchObject({ status: "timed_out", approved: false });
  });

  it("removes pending reminder, escalation and timeout jobs when decided", async () => {
    const approvals = idle();
    const approval = await withEveryTimer(approvals);
    const before = await queuedJobs(approval.id);
    expect(before).toEqual(expect.arrayContaining(["reminder:0:0", "reminder:0:1", "escalation:0:1", "timeout"]));
    await approvals.decide(approval.id, { reviewer: "sre@x.com", outcome: "approve" });
    expect((await queuedJobs(approval.id)).filter(isTimer)).toEqual([]);
  });

  it("leaves a timer that a worker is running to that worker, and removes the others", async () => {
    const approvals = idle();
    const approval = await withEveryTimer(approvals);
    const running = `countersign:${approval.id}:timeout`;
    // As a worker holds a job it is running: deleting it under the worker would lose its completion.
    await bed.pool.query(
      `update "${bed.workerSchema}"._private_jobs set locked_at = now(), locked_by = 'another-worker' where key = $1`,
      [running],
    );
    await approvals.decide(approval.id, { reviewer: "sre@x.com", outcome: "approve" });
    expect((await queuedJobs(approval.id)).filter(isTimer)).toEqual(["timeout"]);
  });

  it("removes the timers of a decided approval without a NOTIFY per job removed", async () => {
    const approvals = idle();
    const approval = await withEveryTimer(approvals);
    const listener = new pg.Client({ connectionString: testDatabaseUrl() });
    const decider = new pg.Client({ connectionString: testDatabaseUrl() });
    await Promise.all([listener.connect(), decider.connect()]);
    try {
      const heard: string[] = [];
      listener.on("notification", (message) => {
        // Other test files share the channel: only the decider's own transaction counts.
        if (message.processId === (decider as unknown as { processID: number }).processID)
          heard.push(message.payload ?? "");
      });
      await listener.query(`listen "jobs:insert"`);
      await decider.query("begin");
      await approvals.decide(approval.id, { reviewer: "sre@x.com", outcome: "approve" }, { db: decider });
      await decider.query("commit");
      await sleep(200);
      // The outcome's notification job wakes the workers once; each timer removed used to add another.
      expect(heard.map((payload) => JSON.parse(payload).count)).toEqual([1]);
      expect((await queuedJobs(approval.id)).filter(isTimer)).toEqual([]);
    } finally {
      await Promise.all([listener.end(), decider.end()]);
    }
  });

  it("does nothing when a timer fires for an approval that is already final", async () => {
    const approvals = idle();
    // "dba" has not voted and there is an escalation level: a timer that skipped the check would act.
    const approval = await approvals.requestApproval({
      ...base,
      reviewers: ["sre@x.com", "dba@x.com"],
      escalation: [["boss@x.com"]],
      reminders: [],
    });
    await approvals.decide(approval.id, { reviewer: "sre@x.com", outcome: "reject" });
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:reminder', $1::json)`, [
      JSON.stringify({ approvalId: approval.id, step: 0, reminder: 0 }),
    ]);
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:escalation', $1::json)`, [
      JSON.stringify({ approvalId: approval.id, step: 0, level: 1 }),
    ]);
    await bed.pool.query(`select "${bed.workerSchema}".add_job('countersign:timeout', $1::json)`, [
      JSON.stringify({ approvalId: approval.id }),
    ]);
    await eventually(async () => {
      const { rows } = await bed.pool.query(
        `select count(*)::int as n from "${bed.workerSchema}"._private_jobs where payload->>'approvalId' = $1`,
        [approval.id],
      );
      return rows[0].n === 0;
    });
    expect(await eventTypes(approval.id)).toEqual(expect.not.arrayContaining(["reminded", "escalated", "timed_out"]));
    expect((await approvals.get(approval.id)).decision?.status).toBe("rejected");
  });
});
