import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createReportGraph } from "../../examples/langgraph/report-graph.ts";
import { runScript, type Child } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_langgraph");
const main = fileURLToPath(new URL("../../examples/langgraph/main.ts", import.meta.url));
const checkpointSchema = `${bed.schema}_langgraph`;

// The same graph as the example's, used here only to read the threads' checkpoints, never to run them.
let checkpointer: PostgresSaver;
let graph: ReturnType<typeof createReportGraph>;
let failed = false;
beforeAll(() => {
  checkpointer = PostgresSaver.fromConnString(bed.url, { schema: checkpointSchema });
  graph = createReportGraph({
    approvals: bed.approvals,
    model: new FakeListChatModel({ responses: ["unused"] }),
    checkpointer,
    sendEmail: async () => {
      throw new Error("the test never runs the graph");
    },
  });
});
afterEach((context) => {
  if (context.task.result?.state === "fail") failed = true;
});
afterAll(async () => {
  await checkpointer?.end();
  // The test bed drops its own schemas; the example created this one beside them.
  if (!failed) await bed.pool.query(`drop schema if exists "${checkpointSchema}" cascade`);
});

function start(threadId: string): Child {
  return runScript(main, {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    THREAD_ID: threadId,
    PORT: "0", // any free port: the example links to the page where it serves it
  });
}

async function requestedApprovalId(agent: Child): Promise<string> {
  const line = await agent.next((l) => /^Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  return /^Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
}

const printed = (agent: Child) => agent.lines.map((line) => String(line.text));

describe("examples/langgraph", () => {
  it("pauses the graph with interrupt() until the CFO approves, then resumes it and sends the report", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const agent = start(threadId);
    try {
      const id = await requestedApprovalId(agent);
      const approval = await bed.approvals.get(id);
      expect(approval).toMatchObject({
        status: "pending",
        idempotencyKey: `${threadId}:approve`,
        payload: { to: "board@company.com" },
      });

      // Paused: the checkpoint says the thread waits in "approve" on this approval, and nothing was sent.
      const paused = await graph.getState({ configurable: { thread_id: threadId } });
      expect(paused.next).toEqual(["approve"]);
      expect(paused.tasks.flatMap((task) => task.interrupts).map((i) => i.value)).toEqual([
        { approvalId: id, reviewers: ["cfo@company.com"] },
      ]);
      expect(paused.values.email).toContain("Q1 closed with revenue of 4.2M EUR");
      expect(paused.values.sentTo).toBeUndefined();
      expect(printed(agent).filter((text) => text.startsWith("Sent"))).toEqual([]);

      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });
      await agent.next((l) => l.text === "Sent report to board@company.com");
      expect((await agent.exited).code).toBe(0);

      // The approve node ran twice (paused, then resumed) and got the same approval both times.
      expect(printed(agent).filter((text) => text.startsWith("[approve]"))).toEqual([
        `[approve] approval ${id} is pending`,
        `[approve] approval ${id} is approved`,
      ]);
      const { rows } = await bed.pool.query(
        `select count(*)::int as n from "${bed.schema}".approval where idempotency_key = $1`,
        [`${threadId}:approve`],
      );
      expect(rows[0].n).toBe(1);

      const done = await graph.getState({ configurable: { thread_id: threadId } });
      expect(done.next).toEqual([]);
      expect(done.values).toMatchObject({
        approvalId: id,
        sentTo: "board@company.com",
        verdict: { approved: true, decidedBy: "cfo@company.com" },
      });
    } finally {
      agent.process.kill();
    }
  });

  it("ends the graph without sending when the CFO rejects", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const agent = start(threadId);
    try {
      const id = await requestedApprovalId(agent);
      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "reject", comment: "Wait for the audit" });
      await agent.next((l) => l.text === "Not sent: rejected (Wait for the audit).");
      expect((await agent.exited).code).toBe(0);
      expect(printed(agent).filter((text) => text.startsWith("Sent"))).toEqual([]);

      const done = await graph.getState({ configurable: { thread_id: threadId } });
      expect(done.next).toEqual([]);
      expect(done.values.sentTo).toBeUndefined();
      expect(done.values.verdict).toMatchObject({ approved: false, status: "rejected", comment: "Wait for the audit" });
    } finally {
      agent.process.kill();
    }
  });

  it("resumes a paused thread from its Postgres checkpoint in a new process after a crash", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const first = start(threadId);
    const id = await requestedApprovalId(first).finally(() => first.process.kill("SIGKILL"));
    expect((await first.exited).signal).toBe("SIGKILL");
    // The CFO decides while no agent process is running.
    await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });

    const second = start(threadId);
    try {
      expect(await requestedApprovalId(second)).toBe(id);
      await second.next((l) => l.text === "Sent report to board@company.com");
      expect((await second.exited).code).toBe(0);
      expect(printed(second).filter((text) => text.startsWith("[approve]"))).toEqual([
        `[approve] approval ${id} is approved`,
      ]);
      const { rows } = await bed.pool.query(
        `select count(*)::int as n from "${bed.schema}".approval where idempotency_key = $1`,
        [`${threadId}:approve`],
      );
      expect(rows[0].n).toBe(1);
    } finally {
      second.process.kill();
    }
  });
});
