import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { killGroup, readerEnv, runCommand } from "../support/child-process.ts";
import { freePort } from "../support/embedded-postgres.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("ex_report");
const root = fileURLToPath(new URL("../../", import.meta.url));

describe("examples/report-agent", () => {
  it("runs as its README says (npm start -w), pauses for the CFO on the page it serves, and emails the board once approved", async () => {
    // The README's command, from a shell whose own Node may be older than the library needs: npm runs
    // the example with the Node the repository pins.
    const env = {
      ...readerEnv(),
      DATABASE_URL: bed.url,
      COUNTERSIGN_SCHEMA: bed.schema,
      COUNTERSIGN_SECRET: TEST_SECRET,
      PORT: String(await freePort()),
    };
    const agent = runCommand("npm", ["start", "-w", "examples/report-agent"], env, { cwd: root, detached: true });
    try {
      await agent.next((l) => /Approval [0-9a-f-]{36} requested/.test(String(l.text)));
      await agent.next((l) => String(l.text).includes("[countersign] Approval requested: Q1 Financial Summary"));
      const review = await agent.next((l) => /review: +http/.test(String(l.text)));
      const link = /review: +(\S+)/.exec(String(review.text))?.[1] ?? "";
      expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${env.PORT}/approvals/r/[A-Za-z0-9_-]{43}$`));
      expect((await fetch(link)).status).toBe(200);
      const answer = await fetch(link, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "decision=approve",
      });
      expect(answer.status).toBe(200);
      await agent.next((l) => l.text === 'Sent "Q1 Financial Summary" to board@company.com');
      expect((await agent.exited).code).toBe(0);
    } finally {
      killGroup(agent, "SIGKILL");
    }
  });
});
