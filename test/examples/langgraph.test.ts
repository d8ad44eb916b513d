import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { BaseMessage } from "@langchain/core/messages";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createReportAgent, scriptedModel } from "../../examples/langgraph/report-agent.ts";
import { pendingInterrupt } from "../../src/adapters/langchain.ts";
import { type Child, runScript } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_langgraph");
const main = fileURLToPath(new URL("../../examples/langgraph/main.ts", import.meta.url));
const checkpointSchema = `${bed.schema}_langgraph`;
const SENT = 'Sent "Q1 financial summary" to board@company.com';

// The same agent as the example's, used here only to read the threads' checkpoints, never to run them.
let checkpointer: PostgresSaver;
let agent: ReturnType<typeof createReportAgent>;
let failed = false;
beforeAll(() => {
  checkpointer = PostgresSaver.fromConnString(bed.url, { schema: checkpointSchema });
  agent = createReportAgent({
    model: scriptedModel(),
    checkpointer,
    sendEmail: async () => {
      throw new Error("the test never runs the agent");
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

async function requestedApprovalId(child: Child): Promise<string> {
  const line = await child.next((l) => /^Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  return /^Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
}

const printed = (child: Child) => child.lines.map((line) => String(line.text));
const sent = (child: Child) => printed(child).filter((text) => text.startsWith("Sent"));

async function approvalsOfThread(threadId: string): Promise<number> {
  const { rows } = await bed.pool.query(
    `select count(*)::int as n from "${bed.schema}".approval where metadata->>'threadId' = $1`,
    [threadId],
  );
  return rows[0].n;
}

const toolMessagesOf = async (threadId: string): Promise<string[]> => {
  const state = await agent.graph.getState({ configurable: { thread_id: threadId } });
  return (state.values.messages as BaseMessage[]).filter((m) => m.type === "tool").map((m) => m.text);
};

describe("examples/langgraph", () => {
  it("pauses the agent's email until the CFO approves it with an edit, then the worker resumes the thread", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const child = start(threadId);
    try {
      const id = await requestedApprovalId(child);
      const approval = await bed.approvals.get(id);
      // Paused: the checkpoint says the thread waits on the middleware's interrupt, the one this batch is for.
      const paused = await pendingInterrupt(agent, threadId);
      expect(paused?.value.actionRequests.map((action) => action.name)).toEqual(["send_email"]);
      expect(approval).toMatchObject({
        status: "pending",
        idempotencyKey: `langchain:${threadId}:${paused?.id}`,
        metadata: { threadId, interruptId: paused?.id },
      });
      expect(approval.actions?.map(({ id, name, editable }) => ({ id, name, editable }))).toEqual([
        { id: "call-1", name: "send_email", editable: ["to", "subject", "body"] },
      ]);
      expect(approval.actions?.[0]?.input).toMatchObject({ to: "board@company.com", subject: "Q1 financial summary" });
      expect(sent(child)).toEqual([]);

      await bed.approvals.decide(id, {
        reviewer: "cfo@company.com",
        actions: { "call-1": { outcome: "approve", edits: { subject: "Q1 financial summary (unaudited)" } } },
      });
      await child.next((l) => String(l.text).startsWith("Agent: "));
      expect((await child.exited).code).toBe(0);
      expect(sent(child)).toEqual(['Sent "Q1 financial summary (unaudited)" to board@company.com']);
      expect(printed(child)).toContain('Agent: Done. Sent "Q1 financial summary (unaudited)" to board@company.com.');
      expect(await approvalsOfThread(threadId)).toBe(1);
      expect(await pendingInterrupt(agent, threadId)).toBeUndefined();
    } finally {
      child.process.kill();
    }
  });

  it("does not send when the CFO rejects, and the model reads the CFO's reason", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const child = start(threadId);
    try {
      const id = await requestedApprovalId(child);
      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "reject", comment: "Wait for the audit" });
      await child.next((l) => l.text === "Agent: Not sent: Wait for the audit");
      expect((await child.exited).code).toBe(0);
      expect(sent(child)).toEqual([]);
      expect(await toolMessagesOf(threadId)).toEqual(["Wait for the audit"]);
    } finally {
      child.process.kill();
    }
  });

  it("a crash between request and decision that resumes through onDecision: the email is sent once", async () => {
    const threadId = `board-report-${randomUUID()}`;
    const first = start(threadId);
    const id = await requestedApprovalId(first).finally(() => first.process.kill("SIGKILL"));
    expect((await first.exited).signal).toBe("SIGKILL");
    // The CFO decides while no agent process is running: the resume waits in the queue, for a worker.
    await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });

    // A new process: it finds the thread paused in its checkpoint, asks about it again (the same approval)
    // and its worker resumes the thread through the onDecision handler.
    const second = start(threadId);
    try {
      expect(await requestedApprovalId(second)).toBe(id);
      await second.next((l) => l.text === `Agent: Done. ${SENT}.`);
      expect((await second.exited).code).toBe(0);
      expect([...sent(first), ...sent(second)]).toEqual([SENT]);
      expect(await approvalsOfThread(threadId)).toBe(1);
      expect(await toolMessagesOf(threadId)).toEqual([`${SENT}.`]);
    } finally {
      second.process.kill();
    }
  });
});
