import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript, runToEnd, type Child } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_openai_agents");
const main = fileURLToPath(new URL("../../examples/openai-agents/main.ts", import.meta.url));
const COMMENT = "Northwind's IBAN changed in March; call them to confirm it before paying.";
const INVOICE = {
  beneficiary: "Northwind Logistics GmbH",
  iban: "DE89370400440532013000",
  amount_eur: 48250,
  reference: "INV-2026-0417",
};

const env = () => ({
  DATABASE_URL: bed.url,
  COUNTERSIGN_SCHEMA: bed.schema,
  COUNTERSIGN_SECRET: TEST_SECRET,
  OPENAI_API_KEY: "",
  PORT: "0", // any free port: the example links to the page where it serves it
});
const texts = (agent: Child) => agent.lines.map((line) => String(line.text));

/** Starts main.ts and waits until its tool call is waiting for the CFO. */
async function startPaused(agent: Child): Promise<string> {
  const line = await agent.next((l) => /^Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  return /^Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
}

describe("examples/openai-agents", () => {
  it("asks the CFO about the needsApproval tool call, then runs the tool once approved", async () => {
    const agent = runScript(main, env());
    try {
      const id = await startPaused(agent);
      const approval = await bed.approvals.get(id);
      expect(approval).toMatchObject({
        status: "pending",
        type: "openai-agents.tool_calls.v1",
        title: "Treasury agent wants to call send_wire_transfer",
      });
      expect(approval.idempotencyKey).toMatch(/^openai-agents:[\w-]{43}$/);
      expect(approval.actions).toMatchObject([
        {
          id: expect.stringMatching(/^call_[0-9a-f]{24}$/),
          name: "send_wire_transfer",
          description: "Send a SEPA wire transfer from the company account.",
          input: INVOICE,
        },
      ]);
      // The paused run lives with the approval, in Postgres: no file, nothing in the process.
      expect(approval.metadata?.openaiAgentsRunState).toEqual(expect.stringContaining('"currentTurn"'));
      expect(texts(agent).some((t) => t.startsWith("Wire sent"))).toBe(false);

      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });
      const sent = await agent.next((l) =>
        String(l.text).startsWith("Wire sent: 48250 EUR to Northwind Logistics GmbH"),
      );
      const confirmation = /confirmation (WT-[0-9A-F]{8})\./.exec(String(sent.text))?.[1];
      expect(confirmation).toBeDefined();
      // The scripted model's answer quotes the tool's result, so the tool's output reached the model.
      await agent.next(
        (l) =>
          l.text ===
          `Agent finished: Paid invoice INV-2026-0417: 48250 EUR to Northwind Logistics GmbH, bank confirmation ${confirmation}.`,
      );
      expect((await agent.exited).code).toBe(0);
      expect(texts(agent).filter((t) => t.startsWith("Wire sent"))).toHaveLength(1);
    } finally {
      agent.process.kill();
    }
  });

  it("feeds a rejection's comment back to the model instead of running the tool", async () => {
    const agent = runScript(main, env());
    try {
      const id = await startPaused(agent);
      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "reject", comment: COMMENT });
      await agent.next(
        (l) =>
          l.text ===
          `Agent finished: I did not pay invoice INV-2026-0417. The transfer was refused: cfo@company.com rejected this call: "${COMMENT}"`,
      );
      expect((await agent.exited).code).toBe(0);
      expect(texts(agent).some((t) => t.startsWith("Wire sent"))).toBe(false);
      expect((await bed.approvals.get(id)).decision).toMatchObject({
        status: "rejected",
        approved: false,
        comment: COMMENT,
      });
    } finally {
      agent.process.kill();
    }
  });

  it("resumes through onDecision in a new process after a crash between request and decision", async () => {
    const first = runScript(main, env());
    let id: string;
    try {
      id = await startPaused(first);
    } finally {
      first.process.kill("SIGKILL");
    }
    expect((await first.exited).signal).toBe("SIGKILL");
    // Decided while no process runs: the decision's transaction queues the resume job for the handler.
    await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });

    const { code, stdout, stderr } = await runToEnd(main, ["--resume", id], env());
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    expect(lines).toContain(`Approval ${id} approved by cfo@company.com; the run resumed.`);
    // Nobody is asked twice: the new process only resumes.
    expect(lines.some((t) => t.startsWith("Approval ") && t.includes(" requested"))).toBe(false);
    expect(lines.filter((t) => t.startsWith("Wire sent: 48250 EUR to Northwind Logistics GmbH"))).toHaveLength(1);
    expect(
      lines.some((t) => /^Agent finished: Paid invoice INV-2026-0417: .* bank confirmation WT-[0-9A-F]{8}\.$/.test(t)),
    ).toBe(true);
    const handled = (await bed.approvals.events(id)).filter((e) => e.type === "handler_done");
    expect(handled).toHaveLength(1);
  });
});
