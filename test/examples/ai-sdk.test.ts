import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Child, runScript } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_ai_sdk");
const main = fileURLToPath(new URL("../../examples/ai-sdk/main.ts", import.meta.url));
const REVIEWER = "billing-lead@company.com";
const EXECUTED = "refundOrder executed: refunded 129.00 USD on order A-1042";

function runAgent(args: string[] = []): Child {
  const env = { DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema, COUNTERSIGN_SECRET: TEST_SECRET, PORT: "0" };
  return runScript(main, env, args);
}

/** Starts the agent and returns it once it is waiting on countersign, with the approval's id. */
async function startAgent(): Promise<{ agent: Child; id: string }> {
  const agent = runAgent();
  const line = await agent.next((l) => /Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  const id = /Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
  await agent.next((l) =>
    String(l.text).startsWith("[countersign] Approval requested: Agent wants to run refundOrder"),
  );
  return { agent, id };
}

const printed = (agent: Child) => agent.lines.map((l) => String(l.text));
const runs = (agent: Child) => printed(agent).filter((l) => l === EXECUTED).length;

describe("examples/ai-sdk", () => {
  it("turns the SDK's tool-approval-request into a countersign batch and refunds once approved", async () => {
    const { agent, id } = await startAgent();
    try {
      const pending = await bed.approvals.get(id);
      expect(pending).toMatchObject({
        status: "pending",
        type: "ai-sdk.tool_calls.v1",
        title: "Agent wants to run refundOrder",
        requestedBy: "agent://acme/support/refund-agent",
        actions: [
          {
            name: "refundOrder",
            input: { orderId: "A-1042", amount: 129, currency: "USD", reason: "Arrived damaged" },
            editable: [],
            outcome: "pending",
          },
        ],
      });
      expect(pending.idempotencyKey).toMatch(/^ai-sdk:[0-9a-f]{64}$/);
      // The conversation so far, kept for the onDecision handler: the user's ask and the model's tool call.
      const messages = pending.metadata?.messages as { role: string }[];
      expect(messages.map((message) => message.role)).toEqual(["user", "assistant"]);
      // Paused: the SDK returned an approval request instead of running the tool.
      expect(runs(agent)).toBe(0);

      await bed.approvals.decide(id, { reviewer: REVIEWER, outcome: "approve" });
      await agent.next((l) => l.text === EXECUTED);
      await agent.next((l) => l.text === "Agent: Your refund of 129.00 USD for order A-1042 is on its way.");
      expect((await agent.exited).code).toBe(0);
      expect((await bed.approvals.get(id)).status).toBe("approved");
    } finally {
      agent.process.kill();
    }
  });

  it("does not run the tool when rejected, and the model reads the reviewer's comment as the reason", async () => {
    const { agent, id } = await startAgent();
    try {
      const comment = "Customer already received a replacement unit";
      const [action] = (await bed.approvals.get(id)).actions ?? [];
      await bed.approvals.decide(id, {
        reviewer: REVIEWER,
        actions: { [action?.id ?? ""]: { outcome: "reject", comment } },
      });
      await agent.next((l) => l.text === `Agent: I could not refund order A-1042: ${comment}.`);
      const { code, stderr } = await agent.exited;
      expect(code, stderr).toBe(0);
      expect(printed(agent)).toContain(`Decision: rejected by ${REVIEWER}`);
      expect(runs(agent)).toBe(0);
      expect(await bed.approvals.get(id)).toMatchObject({
        status: "rejected",
        decision: { approved: false, actions: [{ outcome: "reject", comment }] },
      });
    } finally {
      agent.process.kill();
    }
  });

  it("survives a crash between the request and the decision: a new process resumes through onDecision", async () => {
    const { agent: first, id } = await startAgent();
    first.process.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    // Decided while no agent runs: the decision's transaction queues the handler's job.
    await bed.approvals.decide(id, { reviewer: REVIEWER, outcome: "approve" });
    const second = runAgent(["--resume"]);
    try {
      await second.next((l) => l.text === "Agent: Your refund of 129.00 USD for order A-1042 is on its way.");
      const { code, stderr } = await second.exited;
      expect(code, stderr).toBe(0);
      // The tool ran exactly once, in the process that resumed, and the handler is recorded as done.
      expect([runs(first), runs(second)]).toEqual([0, 1]);
      const events = await bed.approvals.events(id);
      expect(events.filter((event) => event.type === "handler_done")).toHaveLength(1);
    } finally {
      second.process.kill();
    }
  });
});
