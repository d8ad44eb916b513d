import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runScript, runToEnd } from "../support/child-process.ts";
import { eventually, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

/** The built bin, as `npx countersign` runs it (npm test builds before testing). */
const BIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const bed = useTestBed("cli");
const env = () => ({ DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema, COUNTERSIGN_SECRET: TEST_SECRET, NO_COLOR: "1" });
const cli = (...args: string[]) => runToEnd(BIN, args, env());

const newApproval = (title = "Deploy v2 to prod", reviewers = ["sre@company.com"]) =>
  bed.approvals.requestApproval({ type: "deploy.v1", title, requestedBy: "agent://ci", reviewers, reminders: [] });

describe("the countersign CLI", () => {
  it("request --wait prints the id, waits, and exits 0 when approved from another process", async () => {
    const requester = runScript(BIN, env(), ["request", "--title", "Deploy v2 to prod", "--reviewer", "sre@company.com", "--timeout", "1h", "--wait"]);
    const first = await requester.next((line) => typeof line.text === "string" && /^[0-9a-f-]{36}$/.test(line.text as string));
    const id = first.text as string;
    expect((await bed.approvals.get(id)).deadline.getTime() - (await bed.approvals.get(id)).createdAt.getTime()).toBe(3_600_000);
    const approved = await cli("approve", id, "--as", "sre@company.com", "--comment", "go");
    expect(approved).toMatchObject({ code: 0, stderr: "" });
    expect(approved.stdout).toBe(`Approved "Deploy v2 to prod" as sre@company.com. The approval is approved.\n`);
    const { code } = await requester.exited;
    expect(code).toBe(0);
    expect(requester.lines.at(-1)?.text).toMatch(/^approved by sre@company\.com via cli at .*: go$/);
  });

  it("request --wait exits 3 when rejected, and wait exits 4 on a timeout", async () => {
    const requester = runScript(BIN, env(), ["request", "--title", "Drop table", "--reviewer", "dba@company.com", "--wait", "--json"]);
    const { id } = (await requester.next((line) => typeof line.id === "string")) as { id: string };
    expect((await cli("reject", id, "--as", "dba@company.com", "--comment", "numbers off")).code).toBe(0);
    expect((await requester.exited).code).toBe(3);
    expect(requester.lines.at(-1)).toMatchObject({ status: "rejected", comment: "numbers off" });

    const timing = await bed.approvals.requestApproval({ type: "t", title: "Soon", requestedBy: "a", reviewers: ["x@company.com"], timeout: { after: "1s" } });
    const waited = await cli("wait", timing.id);
    expect(waited.code).toBe(4);
    expect(waited.stdout).toMatch(/^timed out via timeout at /);
    const still = await newApproval("Later");
    expect((await cli("wait", still.id, "--timeout", "300ms")).code).toBe(5);
  });

  it("lists pending approvals as a table or JSON, with data on stdout and no colour off a TTY", async () => {
    const approval = await newApproval("Rotate keys", ["sec@company.com"]);
    const text = await cli("pending", "--reviewer", "sec@company.com");
    expect(text.code).toBe(0);
    const [header, row] = text.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+TITLE\s+TYPE\s+WAITING ON\s+DEADLINE$/);
    expect(row).toMatch(new RegExp(`^${approval.id}\\s+Rotate keys\\s+deploy\\.v1\\s+sec@company\\.com\\s+in 8h$`));
    expect(text.stdout).not.toContain("\x1b[");
    const asJson = await cli("pending", "--json", "--reviewer", "sec@company.com");
    expect(JSON.parse(asJson.stdout).map((a: { id: string }) => a.id)).toEqual([approval.id]);
  });

  it("shows an approval with its audit trail", async () => {
    const approval = await newApproval("Audit me");
    await cli("approve", approval.id, "--as", "sre@company.com");
    const shown = await cli("show", approval.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("status:       approved");
    expect(shown.stdout).toMatch(/requested\s+agent:\/\/ci/);
    expect(shown.stdout).toMatch(/approved\s+sre@company\.com\s+cli/);
    const asJson = JSON.parse((await cli("show", approval.id, "--json")).stdout);
    expect(asJson.events.map((e: { type: string }) => e.type)).toEqual(["requested", "approved"]);
  });

  it("explains a wrong id, a reviewer not on the approval, and usage mistakes", async () => {
    const unknown = await cli("show", "00000000-0000-4000-8000-000000000000");
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toBe("countersign: Approval 00000000-0000-4000-8000-000000000000 was not found.\n");
    expect((await cli("show", "nope")).stderr).toContain("must be an approval id (a UUID)");
    const approval = await newApproval();
    const stranger = await cli("approve", approval.id, "--as", "intern@company.com");
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain("intern@company.com is not a reviewer of the current step");
    expect((await cli("approve", approval.id)).code).toBe(2); // --as is required
    expect((await cli("reject", approval.id, "--as", "sre@company.com")).code).toBe(2); // so is a reason
    expect((await cli("frobnicate")).code).toBe(2);
    const noDatabase = await runToEnd(BIN, ["pending"], { DATABASE_URL: "" });
    expect(noDatabase).toMatchObject({ code: 2, stderr: "countersign: no database: pass --database-url or set DATABASE_URL\n" });
  });

  it("migrate --dry-run prints the SQL without a database", async () => {
    const dry = await runToEnd(BIN, ["migrate", "--dry-run", "--schema", "acme_approvals"], { DATABASE_URL: "" });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('create table "acme_approvals".approval');
    expect((await cli("migrate")).stderr).toBe(`Schema ${bed.schema} is up to date.\n`);
  });

  it("watch prints each change as it happens", async () => {
    const watcher = runScript(BIN, env(), ["watch", "--json"]);
    try {
      await eventually(async () => {
        const { rows } = await bed.pool.query("select 1 from pg_stat_activity where application_name = $1", [`countersign:listen:${bed.schema}`.slice(0, 63)]);
        return rows.length > 0;
      });
      const approval = await newApproval("Watched");
      await watcher.next((line) => line.id === approval.id && line.status === "pending");
      await bed.approvals.decide(approval.id, { reviewer: "sre@company.com", outcome: "approve" });
      await watcher.next((line) => line.id === approval.id && line.status === "approved");
    } finally {
      watcher.process.kill("SIGINT");
    }
    expect((await watcher.exited).code).toBe(0);
  });

  it("worker runs the worker until Ctrl-C, printing notifications with the console channel", async () => {
    const worker = runScript(BIN, env(), ["worker"]);
    try {
      const approval = await newApproval("Worked on");
      await worker.next((line) => String(line.text).includes("[countersign] Approval requested: Worked on (deploy.v1)"));
      expect(worker.lines.some((l) => String(l.text).includes(`review:    http://localhost/approvals/r/`))).toBe(true);
      expect(approval.status).toBe("pending");
    } finally {
      worker.process.kill("SIGINT");
    }
    expect((await worker.exited).code).toBe(0);
  });
});
