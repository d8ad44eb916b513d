import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript, type Child } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_ai_sdk");
const main = fileURLToPath(new URL("../../examples/ai-sdk/main.ts", import.meta.url));
const REVIEWER = "billing-lead@company.com";

/** Starts the agent and returns it once it is waiting on countersign, with the approval's id. */
async function startAgent(): Promise<{ agent: Child; id: string }> {
  const agent = runScript(main, {
    DATABASE_URL: bed.url,
    COUNTERSIGN_SCHEMA: bed.schema,
    COUNTERSIGN_SECRET: TEST_SECRET,
    PORT: "0",
  });
  const line = await agent.next((l) => /Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  const id = /Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
  await agent.next((l) =>
    String(l.text).includes("[countersign] Approval requested: Support agent wants to run refundOrder"),
  );
  return { agent, id };
}

const printed = (agent: Child) => agent.lines.map((l) => String(l.text));

describe("examples/ai-sdk", () => {
  it("turns the SDK's tool-approval-request into a countersign approval and refunds once approved", async () => {
    const { agent, id } = await startAgent();
    try {
      const pending = await bed.approvals.get(id);
      expect(pending).toMatchObject({
        status: "pending",
        type: "ai-sdk.tool.refundOrder.v1",
        payload: {
          tool: "refundOrder",
          toolCallId: "call_refund_A-1042",
          input: { orderId: "A-1042", amount: 129, currency: "USD" },
        },
      });
      expect(pending.idempotencyKey).toMatch(/^ai-sdk:.+/);
      // Paused: the SDK returned an approval request instead of running the tool.
      expect(printed(agent).some((l) => l.startsWith("refundOrder executed"))).toBe(false);

      await bed.approvals.decide(id, { reviewer: REVIEWER, outcome: "approve" });
      await agent.next((l) => l.text === "refundOrder executed: refunded 129.00 USD on order A-1042");
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
      await bed.approvals.decide(id, { reviewer: REVIEWER, outcome: "reject", comment });
      await agent.next((l) => l.text === `Agent: I could not refund order A-1042: ${comment}.`);
      const { code, stderr } = await agent.exited;
      expect(code, stderr).toBe(0);
      expect(printed(agent)).toContain(`Decision: rejected by ${REVIEWER} ("${comment}")`);
      expect(printed(agent).some((l) => l.startsWith("refundOrder executed"))).toBe(false);
      expect(await bed.approvals.get(id)).toMatchObject({ status: "rejected", decision: { approved: false, comment } });
    } finally {
      agent.process.kill();
    }
  });
});
