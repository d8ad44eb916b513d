import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript } from "../support/child-process.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_report");
const main = fileURLToPath(new URL("../../examples/report-agent/main.ts", import.meta.url));

describe("examples/report-agent", () => {
  it("pauses for the CFO and emails the board once approved", async () => {
    const agent = runScript(main, { DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema, COUNTERSIGN_SECRET: TEST_SECRET });
    try {
      const line = await agent.next((l) => /Approval [0-9a-f-]{36} requested/.test(String(l.text)));
      const id = /Approval ([0-9a-f-]{36})/.exec(String(line.text))?.[1] ?? "";
      await agent.next((l) => String(l.text).includes("[countersign] Approval requested: Q1 Financial Summary"));
      await bed.approvals.decide(id, { reviewer: "cfo@company.com", outcome: "approve" });
      await agent.next((l) => l.text === 'Sent "Q1 Financial Summary" to board@company.com');
      expect((await agent.exited).code).toBe(0);
    } finally {
      agent.process.kill();
    }
  });
});
