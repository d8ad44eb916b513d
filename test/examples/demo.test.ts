import { existsSync } from "node:fs";
import { execFileSync, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readerEnv, runScript, runToEnd } from "../support/child-process.ts";
import { useTestBed } from "../support/test-bed.ts";

const DEMO = fileURLToPath(new URL("../../demo/main.ts", import.meta.url));
const bed = useTestBed("demo");
const cliBed = useTestBed("demo_cli");
const noDatabase = { DATABASE_URL: "", NO_COLOR: "1" };

describe("npm run demo", () => {
  it("--yes runs the whole story on an embedded PostgreSQL and exits 0 once the agent resumed", async () => {
    const { code, stdout } = await runToEnd(DEMO, ["--yes"], noDatabase);
    expect(code).toBe(0);
    expect(stdout).toContain("Starting an embedded PostgreSQL");
    expect(stdout).toMatch(/open http:\/\/127\.0\.0\.1:\d+\/approvals\/r\/[A-Za-z0-9_-]{43} and press Approve/);
    expect(stdout).toMatch(
      /run {2}\/\S+\/node \/\S+\/dist\/cli\/main\.js approve [0-9a-f-]{36} --as cfo@company\.com --database-url \S+ --schema countersign_demo\n/,
    );
    expect(stdout).not.toContain("npx countersign");
    expect(stdout).toContain('Reminder sent to cfo@company.com: "Q1 Financial Summary" is still waiting.');
    expect(stdout).toContain("--yes: the CFO opens the page (HTTP 200) and presses Approve.");
    expect(stdout).toContain("Agent resumed: approved by cfo@company.com via http.");
    expect(stdout).toContain("Subject: Q1 Financial Summary (2026-01-01 to 2026-03-31)");
    expect(stdout).toContain("│ Reviewed and approved by the CFO.");
    const folder = /data in (\S+), removed on exit/.exec(stdout)?.[1] ?? "";
    expect(folder).not.toBe("");
    expect(existsSync(folder)).toBe(false);
  });

  it("uses DATABASE_URL when set", async () => {
    const { code, stdout } = await runToEnd(DEMO, ["--yes"], {
      DATABASE_URL: bed.url,
      COUNTERSIGN_SCHEMA: bed.schema,
      NO_COLOR: "1",
    });
    expect(code).toBe(0);
    expect(stdout).toContain("Using the database in DATABASE_URL.");
    const { rows } = await bed.pool.query(`select status, decided_via from "${bed.schema}".approval`);
    expect(rows).toEqual([{ status: "approved", decided_via: "http" }]);
  });

  it("prints a CLI command that approves from any directory, whatever Node comes first on PATH", async () => {
    const demo = runScript(DEMO, { DATABASE_URL: cliBed.url, COUNTERSIGN_SCHEMA: cliBed.schema, NO_COLOR: "1" });
    try {
      const line = await demo.next((l) => String(l.text).includes("• run  "));
      const command = /• run {2}(.+)$/.exec(String(line.text))?.[1] ?? "";
      const approved = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        // A reader's shell in another directory, with the machine's own Node first on PATH.
        const child = spawn("sh", ["-c", command], {
          cwd: tmpdir(),
          env: readerEnv(),
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("close", (code) => resolve({ code, stderr }));
      });
      expect(approved.stderr).toContain('Approved "Q1 Financial Summary" as cfo@company.com.');
      expect(approved.code).toBe(0);
      await demo.next((l) => String(l.text).includes("Agent resumed: approved by cfo@company.com via cli."));
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.process.kill("SIGINT");
    }
  });

  it("stops everything cleanly on Ctrl-C", async () => {
    const demo = runScript(DEMO, noDatabase);
    const line = await demo.next((l) => /data in \S+, removed on exit/.test(String(l.text)));
    const folder = /data in (\S+),/.exec(String(line.text))?.[1] ?? "";
    await demo.next((l) => String(l.text).includes("press Approve"));
    expect(existsSync(folder)).toBe(true);
    demo.process.kill("SIGINT");
    expect((await demo.exited).code).toBe(130);
    expect(existsSync(folder)).toBe(false);
    const processes = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
    expect(processes).not.toContain(folder);
  });
});
