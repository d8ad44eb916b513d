import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScript, runToEnd } from "../support/child-process.ts";
import { CLI_BIN, cliEnv, cliFor } from "../support/cli.ts";
import { eventually, PUBLIC_URL, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("cli");
const env = () => cliEnv(bed);
const cli = cliFor(bed);

const newApproval = (title = "Deploy v2 to prod", reviewers = ["sre@company.com"]) =>
  bed.approvals.requestApproval({ type: "deploy.v1", title, requestedBy: "agent://ci", reviewers, reminders: [] });

describe("the countersign CLI", () => {
  it("request --wait prints the id, waits, and exits 0 when approved from another process", async () => {
    const requester = runScript(CLI_BIN, env(), [
      "request",
      "--title",
      "Deploy v2 to prod",
      "--reviewer",
      "sre@company.com",
      "--timeout",
      "1h",
      "--wait",
    ]);
    const first = await requester.next(
      (line) => typeof line.text === "string" && /^[0-9a-f-]{36}$/.test(line.text as string),
    );
    const id = first.text as string;
    expect((await bed.approvals.get(id)).deadline.getTime() - (await bed.approvals.get(id)).createdAt.getTime()).toBe(
      3_600_000,
    );
    const approved = await cli("approve", id, "--as", "sre@company.com", "--comment", "go");
    // A confirmation is a message: stderr. Data (the approval, with --json) is what goes to stdout.
    expect(approved).toMatchObject({
      code: 0,
      stdout: "",
      stderr: `Approved "Deploy v2 to prod" as sre@company.com.\n`,
    });
    const { code } = await requester.exited;
    expect(code).toBe(0);
    expect(requester.lines.at(-1)?.text).toMatch(/^approved by sre@company\.com via cli at .*: go$/);
  });

  it("request --wait exits 3 when rejected, and wait exits 4 on a timeout", async () => {
    const requester = runScript(CLI_BIN, env(), [
      "request",
      "--title",
      "Drop table",
      "--reviewer",
      "dba@company.com",
      "--wait",
      "--json",
    ]);
    const { id } = (await requester.next((line) => typeof line.id === "string")) as { id: string };
    expect((await cli("reject", id, "--as", "dba@company.com", "--comment", "numbers off")).code).toBe(0);
    expect((await requester.exited).code).toBe(3);
    expect(requester.lines.at(-1)).toMatchObject({ status: "rejected", comment: "numbers off" });

    const timing = await bed.approvals.requestApproval({
      type: "t",
      title: "Soon",
      requestedBy: "a",
      reviewers: ["x@company.com"],
      timeout: { after: "1s" },
    });
    const waited = await cli("wait", timing.id);
    expect(waited.code).toBe(4);
    expect(waited.stdout).toMatch(/^timed out via timeout at /);
    const still = await newApproval("Later");
    expect((await cli("wait", still.id, "--timeout", "300ms")).code).toBe(5);
  });

  it("request --wait follows the approval's own timeout and exits as its timeout action says: approve 0, reject 4, cancel 4", async () => {
    const requests = (["approve", "reject", "cancel"] as const).map((action) =>
      runToEnd(
        CLI_BIN,
        [
          "request",
          "--title",
          `Times out (${action})`,
          "--reviewer",
          "sre@company.com",
          "--timeout",
          "1s",
          "--timeout-action",
          action,
          "--wait",
        ],
        env(),
      ),
    );
    const [approve, reject, cancel] = await Promise.all(requests);
    expect(approve?.code).toBe(0);
    expect(approve?.stdout).toMatch(/^[0-9a-f-]{36}\ntimed out via timeout at \S+ \(counts as approved\)\n$/);
    expect(reject?.code).toBe(4);
    expect(reject?.stdout).toMatch(/\ntimed out via timeout at \S+ \(not approved\)\n$/);
    expect(cancel?.code).toBe(4);
    for (const run of [approve, reject, cancel]) expect(run?.stderr).not.toContain("Still pending");
  });

  it("approve on a step that needs more approvals says what is still missing, and --json prints the approval", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "deploy.v1",
      title: "Rotate the root key",
      requestedBy: "agent://ci",
      steps: [
        { name: "security", reviewers: ["a@company.com", "b@company.com", "c@company.com"], quorum: 2 },
        { name: "cto", reviewers: ["cto@company.com"] },
      ],
      reminders: [],
    });
    const first = await cli("approve", approval.id, "--as", "a@company.com", "--json");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ id: approval.id, status: "pending" });
    expect(first.stderr).toBe(
      `Approved "Rotate the root key" as a@company.com. Still pending: step 1 of 2 ("security") needs 1 more approval.\n`,
    );
    const second = await cli("approve", approval.id, "--as", "b@company.com");
    expect(second.stderr).toBe(
      `Approved "Rotate the root key" as b@company.com. Still pending: step 2 of 2 ("cto") needs 1 more approval.\n`,
    );
  });

  it("keeps messages on stderr and data on stdout, command by command", async () => {
    expect(await cli("pending", "--reviewer", "nobody@company.com")).toEqual({
      code: 0,
      stdout: "",
      stderr: "No pending approvals.\n",
    });
    const approval = await newApproval("Split streams");
    const rejected = await cli("reject", approval.id, "--as", "sre@company.com", "--comment", "no", "--json");
    expect(JSON.parse(rejected.stdout)).toMatchObject({ id: approval.id, status: "rejected" });
    expect(rejected.stderr).toBe(`Rejected "Split streams" as sre@company.com.\n`);
    const waited = await cli("wait", approval.id);
    expect(waited).toMatchObject({ code: 3, stderr: "" });
    expect(waited.stdout).toMatch(/^rejected by sre@company\.com via cli at \S+: no\n$/);
    const shown = await cli("show", approval.id);
    expect(shown.stderr).toBe("");
    expect(shown.stdout).toContain("status:       rejected");
  });

  it("--version prints the package's version on stdout", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(await runToEnd(CLI_BIN, ["--version"], {})).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
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
    const noDatabase = await runToEnd(CLI_BIN, ["pending"], { DATABASE_URL: "" });
    expect(noDatabase).toMatchObject({
      code: 2,
      stderr: "countersign: no database: pass --database-url or set DATABASE_URL\n",
    });
  });

  it("refuses configuration it cannot work with, saying which option or variable to set", async () => {
    const badUrl = await runToEnd(CLI_BIN, ["pending", "--database-url", "not-a-url"], {});
    expect(badUrl).toMatchObject({ code: 2, stdout: "" });
    expect(badUrl.stderr).toBe(
      "countersign: --database-url (or DATABASE_URL): must be a PostgreSQL URL, e.g. postgres://user:password@localhost:5432/app\n",
    );

    const shortSecret = await runToEnd(CLI_BIN, ["request", "--title", "x", "--reviewer", "a@company.com"], {
      ...env(),
      COUNTERSIGN_SECRET: "short",
    });
    expect(shortSecret).toMatchObject({
      code: 2,
      stderr: "countersign: --secret (or COUNTERSIGN_SECRET): must be at least 32 characters\n",
    });

    // Without it, every link in every notification would point at http://localhost/approvals.
    const noPublicUrl = await runToEnd(CLI_BIN, ["worker"], { ...env(), COUNTERSIGN_PUBLIC_URL: "" });
    expect(noPublicUrl).toMatchObject({ code: 2, stdout: "" });
    expect(noPublicUrl.stderr).toMatch(
      /^countersign: no public URL: pass --public-url or set COUNTERSIGN_PUBLIC_URL to where your app mounts/,
    );
  });

  it("tells a CLI user to run countersign migrate when the tables are missing", async () => {
    for (const args of [["pending"], ["show", "00000000-0000-4000-8000-000000000000"], ["watch"], ["worker"]]) {
      const result = await runToEnd(CLI_BIN, args, { ...env(), COUNTERSIGN_SCHEMA: `${bed.schema}_never_migrated` });
      expect(result.code, args[0]).toBe(1);
      expect(result.stderr, args[0]).toContain(
        `countersign's tables are not in schema "${bed.schema}_never_migrated" of this database yet. Run \`countersign migrate\``,
      );
      expect(result.stderr, args[0]).not.toContain("approvals.migrate()");
    }
  });

  it("migrate --dry-run prints the SQL without a database", async () => {
    const dry = await runToEnd(CLI_BIN, ["migrate", "--dry-run", "--schema", "acme_approvals"], { DATABASE_URL: "" });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('create table "acme_approvals".approval');
    expect(await cli("migrate")).toEqual({ code: 0, stdout: "", stderr: `Schema ${bed.schema} is up to date.\n` });
    expect(JSON.parse((await cli("migrate", "--json")).stdout)).toEqual({ applied: [] });
  });

  it("watch prints each change as it happens", async () => {
    const watcher = runScript(CLI_BIN, env(), ["watch", "--json"]);
    try {
      await eventually(async () => {
        const { rows } = await bed.pool.query("select 1 from pg_stat_activity where application_name = $1", [
          `countersign:listen:${bed.schema}`.slice(0, 63),
        ]);
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
    const worker = runScript(CLI_BIN, env(), ["worker"]);
    try {
      const approval = await newApproval("Worked on");
      await worker.next((line) =>
        String(line.text).includes("[countersign] Approval requested: Worked on (deploy.v1)"),
      );
      expect(worker.lines.some((l) => String(l.text).includes(`review:    ${PUBLIC_URL}/r/`))).toBe(true);
      expect(approval.status).toBe("pending");
    } finally {
      worker.process.kill("SIGINT");
    }
    const { code, stderr } = await worker.exited;
    expect(code).toBe(0);
    expect(stderr).toContain(
      `countersign worker running on schema ${bed.schema}, delivering through console; Ctrl-C to stop.`,
    );
  });
});
