import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runScript, runToEnd, type Child } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_openai_agents");
const main = fileURLToPath(new URL("../../examples/openai-agents/main.ts", import.meta.url));
const COMMENT = "Northwind's IBAN changed in March; call them to confirm it before paying.";

let runsDir = "";
beforeEach(async () => {
  runsDir = await mkdtemp(join(tmpdir(), "countersign-openai-agents-test-"));
});
afterEach(async () => {
  await rm(runsDir, { recursive: true, force: true });
});

const env = () => ({
  DATABASE_URL: bed.url,
  COUNTERSIGN_SCHEMA: bed.schema,
  COUNTERSIGN_SECRET: TEST_SECRET,
  AGENT_RUNS_DIR: runsDir,
  OPENAI_API_KEY: "",
  PORT: "0", // any free port: the example links to the page where it serves it
});
const texts = (agent: Child) => agent.lines.map((line) => String(line.text));

/** Starts main.ts and waits until the run is saved and its tool call is waiting for the CFO. */
async function startPaused(agent: Child) {
  const saved = await agent.next((l) => /^Run run_\S+ paused; its state is saved in /.test(String(l.text)));
  const [, runId = "", file = ""] =
    /^Run (run_\S+) paused; its state is saved in (.+)\.$/.exec(String(saved.text)) ?? [];
  const line = await agent.next((l) => /^Approval [0-9a-f-]{36} requested/.test(String(l.text)));
  const id = /^Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
  return { runId, file, id };
}

describe("examples/openai-agents", () => {
  it("asks the CFO about the needsApproval tool call, then runs the tool once approved", async () => {
    const agent = runScript(main, env());
    try {
      const { runId, file, id } = await startPaused(agent);
      expect(existsSync(file)).toBe(true);
      const approval = await bed.approvals.get(id);
      expect(approval.status).toBe("pending");
      expect(approval.type).toBe("agent_tool.send_wire_transfer.v1");
      expect(approval.idempotencyKey).toMatch(/^openai-agents:call_[0-9a-f]{24}$/);
      expect(approval.payload).toEqual({
        tool: "send_wire_transfer",
        arguments: {
          beneficiary: "Northwind Logistics GmbH",
          iban: "DE89370400440532013000",
          amount_eur: 48250,
          reference: "INV-2026-0417",
        },
        agent: "Treasury agent",
        agent_run: runId,
      });
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
      expect(await readdir(runsDir)).toEqual([]);
    } finally {
      agent.process.kill();
    }
  });

  it("feeds a rejection's comment back to the model instead of running the tool", async () => {
    const agent = runScript(main, env());
    try {
      const { id } = await startPaused(agent);
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

  it("resumes the saved run in a new process after the first one died while waiting", async () => {
    const first = runScript(main, env());
    let paused: Awaited<ReturnType<typeof startPaused>>;
    try {
      paused = await startPaused(first);
    } finally {
      first.process.kill("SIGKILL");
    }
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(existsSync(paused.file)).toBe(true);
    await bed.approvals.decide(paused.id, { reviewer: "cfo@company.com", outcome: "approve" });

    const { code, stdout, stderr } = await runToEnd(main, ["--resume", paused.id], env());
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.split("\n");
    // The same approval, found again through its idempotency key: nobody is asked twice.
    expect(lines).toContain(`Approval ${paused.id} approved by cfo@company.com`);
    expect(lines.some((t) => t.startsWith("Approval ") && t.includes(" requested"))).toBe(false);
    expect(lines.filter((t) => t.startsWith("Wire sent: 48250 EUR to Northwind Logistics GmbH"))).toHaveLength(1);
    expect(
      lines.some((t) => /^Agent finished: Paid invoice INV-2026-0417: .* bank confirmation WT-[0-9A-F]{8}\.$/.test(t)),
    ).toBe(true);
    const { rows } = await bed.pool.query(`select id from "${bed.schema}".approval where payload->>'agent_run' = $1`, [
      paused.runId,
    ]);
    expect(rows).toEqual([{ id: paused.id }]);
    expect(existsSync(paused.file)).toBe(false);
  });
});
