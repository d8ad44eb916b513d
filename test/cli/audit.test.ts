import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cliFor } from "../support/cli.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("cli_audit");
const cli = cliFor(bed);

describe("countersign audit", () => {
  it("verifies the chains, exports them as JSON lines an outsider can check, and names the first broken link", async () => {
    const req = await bed.approvals.requestApproval({
      type: "t",
      title: "Audited",
      requestedBy: "agent://a",
      reviewers: ["r@co.com"],
      reminders: [],
    });
    await bed.approvals.decide(req.id, { reviewer: "r@co.com", outcome: "approve", comment: "ok" });
    const verified = await cli("audit", "verify");
    expect(verified).toMatchObject({ code: 0, stdout: "" });
    expect(verified.stderr).toMatch(/^The audit trail is whole: \d+ events checked\.\n$/);

    const exported = await cli("audit", "export", "--since", "1h");
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const mine = lines.filter((e) => e.approvalId === req.id);
    expect(mine.map((e) => e.seq)).toEqual([1, 2]);
    for (const e of mine) expect(createHash("sha256").update(e.content).digest("hex")).toBe(e.hash);
    expect(mine[1].prevHash).toBe(mine[0].hash);
    expect(exported.stderr).toBe(`Exported ${lines.length} events.\n`);

    const client = await bed.pool.connect();
    try {
      await client.query(`alter table "${bed.schema}".event disable trigger user`);
      await client.query(`update "${bed.schema}".event set comment = 'not ok' where approval_id = $1 and seq = 2`, [
        req.id,
      ]);
      await client.query(`alter table "${bed.schema}".event enable trigger user`);
    } finally {
      client.release();
    }
    const broken = await cli("audit", "verify", "--id", req.id);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      new RegExp(
        `^The audit trail is broken at approval ${req.id}, event 2 \\(id \\d+\\): its content does not match its hash \\(it was changed\\)\\.\\n$`,
      ),
    );
    expect((await cli("audit", "export", "--format", "csv")).code).toBe(2);
  });

  it("policy report prints each policy's answers and how humans then decided", async () => {
    const withPolicy = bed.create({
      policies: [{ name: "guess", version: "1", mode: "shadow", decide: () => ({ outcome: "approve", reason: "g" }) }],
    });
    try {
      const req = await withPolicy.requestApproval({
        type: "t",
        title: "Guessed",
        requestedBy: "agent://a",
        reviewers: ["r@co.com"],
        reminders: [],
      });
      await withPolicy.decide(req.id, { reviewer: "r@co.com", outcome: "reject", comment: "no" });
    } finally {
      await withPolicy.stop();
    }
    const report = await cli("policy", "report", "--since", "1h");
    expect(report.code).toBe(0);
    const [header, row] = report.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^POLICY\s+VERSION\s+MODE\s+EVALUATED\s+APPROVE\s+REJECT\s+ERRORS\s+AGREED\s+DISAGREED\s+UNDECIDED$/,
    );
    expect(row).toMatch(/^guess\s+1\s+shadow\s+1\s+1\s+0\s+0\s+0\s+1\s+0$/);
  });
});
