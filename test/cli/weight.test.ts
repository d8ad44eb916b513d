import { describe, expect, it } from "vitest";
import { z } from "zod";
import { cliFor } from "../support/cli.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("cli_weight");
const cli = cliFor(bed);

const wire = () =>
  bed.approvals.requestApproval({
    type: "payment.release.v1",
    title: "Wire $48,000 to ACME GmbH",
    payload: { amount: 48000, currency: "USD", memo: "Q1 invoice", urgent: false },
    requestedBy: "alice@co.com",
    editable: ["amount", "memo", "urgent"],
    payloadSchema: z.object({
      amount: z.number().positive().max(50000),
      currency: z.enum(["USD", "EUR"]),
      memo: z.string(),
      urgent: z.boolean(),
    }),
    reviewers: ["controller@co.com"],
    reminders: [],
  });

describe("the CLI for edits, delegation, extensions and handlers", () => {
  it("approve --set edits typed fields, and show lists the edit, the revision and the vote's revision", async () => {
    const approval = await wire();
    const approved = await cli(
      "approve",
      approval.id,
      "--as",
      "controller@co.com",
      "--set",
      "amount=45000",
      "--set",
      "memo=Q1 invoice, less the credit note",
      "--set",
      "urgent=true",
    );
    expect(approved.code).toBe(0);
    expect(approved.stderr).toBe(
      `Approved "Wire $48,000 to ACME GmbH" as controller@co.com with amount 48000 → 45000, ` +
        `memo "Q1 invoice" → "Q1 invoice, less the credit note", urgent false → true (revision 2).\n`,
    );
    const decision = await bed.approvals.waitForDecision(approval.id);
    // Typed as the schema says: a number and a boolean, not the strings typed on the command line.
    expect(decision.payload).toEqual({
      amount: 45000,
      currency: "USD",
      memo: "Q1 invoice, less the credit note",
      urgent: true,
    });
    expect(decision.revision).toBe(2);

    const shown = (await cli("show", approval.id)).stdout;
    expect(shown).toContain("revision:     2");
    expect(shown).toContain("Payload (revision 2)");
    expect(shown).toContain("amount: 48000 → 45000 (controller@co.com, revision 2)");
    expect(shown).toMatch(/controller@co\.com approved via cli on revision 1/);
    expect(shown).toMatch(/approved\s+controller@co\.com\s+cli\s+on revision 1; amount: 48000 → 45000/);
  });

  it("refuses a --set that is not field=value or does not parse (usage, exit 2) and a field that is not editable (exit 1), writing nothing", async () => {
    const approval = await wire();
    const malformed = await cli("approve", approval.id, "--as", "controller@co.com", "--set", "amount");
    expect(malformed).toMatchObject({ code: 2, stdout: "" });
    expect(malformed.stderr).toBe("countersign: --set amount: expected field=value, e.g. --set amount=45000\n");
    const notNumber = await cli("approve", approval.id, "--as", "controller@co.com", "--set", "amount=lots");
    expect(notNumber).toMatchObject({ code: 2, stderr: "countersign: --set amount: must be a number\n" });
    const notEditable = await cli("approve", approval.id, "--as", "controller@co.com", "--set", "currency=EUR");
    expect(notEditable.code).toBe(1);
    expect(notEditable.stderr).toBe(
      `countersign: Invalid edits of approval ${approval.id}:\n  - edits.currency: may not be changed; editable fields: amount, memo, urgent\n`,
    );
    const tooMuch = await cli("approve", approval.id, "--as", "controller@co.com", "--set", "amount=60000");
    expect(tooMuch.code).toBe(1);
    expect(tooMuch.stderr).toContain("  - amount: Too big: expected number to be <=50000\n");
    const untouched = await bed.approvals.get(approval.id);
    expect(untouched).toMatchObject({ status: "pending", revision: 1, payload: { amount: 48000 } });
    expect(untouched.steps[0]?.reviewers[0]?.vote).toBeNull();
  });

  it("delegate, delegations and revoke-delegation; a delegate's approval shows on whose behalf", async () => {
    const created = await cli(
      "delegate",
      "cfo@co.com",
      "deputy@co.com",
      "--until",
      "2099-12-31",
      "--reason",
      "vacation",
    );
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.stderr).toBe("deputy@co.com now decides for cfo@co.com until 2099-12-31T00:00:00.000Z.\n");

    const listed = await cli("delegations");
    expect(listed.stdout).toMatch(
      new RegExp(`^${id}\\s+cfo@co\\.com\\s+deputy@co\\.com\\s+until in .*\\s+vacation$`, "m"),
    );

    const approval = await bed.approvals.requestApproval({
      type: "payment.release.v1",
      title: "Pay the auditors",
      requestedBy: "alice@co.com",
      reviewers: ["cfo@co.com"],
      reminders: [],
    });
    expect((await cli("approve", approval.id, "--as", "deputy@co.com")).code).toBe(0);
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision).toMatchObject({ status: "approved", decidedBy: "deputy@co.com", onBehalfOf: "cfo@co.com" });
    const shown = (await cli("show", approval.id)).stdout;
    expect(shown).toContain("decision:     approved by deputy@co.com on behalf of cfo@co.com via cli");
    expect(shown).toContain("cfo@co.com approved by deputy@co.com via cli");

    const revoked = await cli("revoke-delegation", id, "--by", "cfo@co.com");
    expect(revoked).toMatchObject({ code: 0, stderr: "deputy@co.com no longer decides for cfo@co.com.\n" });
    expect(await cli("delegations")).toMatchObject({ code: 0, stdout: "", stderr: "No delegations in force.\n" });
    expect((await cli("delegations", "--all", "--json")).stdout).toContain(`"revokedAt":"`);
    const bad = await cli("delegate", "cfo@co.com", "cfo@co.com", "--until", "2099-12-31");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("must differ from `from`");
  });

  it("extend moves the deadline forward only, and show lists the extension, made through the cli", async () => {
    const approval = await wire();
    const extended = await cli(
      "extend",
      approval.id,
      "--by",
      "4h",
      "--reason",
      "waiting on the bank",
      "--as",
      "ops@co.com",
    );
    expect(extended.code).toBe(0);
    const after = await bed.approvals.get(approval.id);
    expect(after.deadline.getTime() - approval.deadline.getTime()).toBe(4 * 3_600_000);
    expect(extended.stderr).toBe(`"Wire $48,000 to ACME GmbH" is now due ${after.deadline.toISOString()} (in 12h).\n`);
    const earlier = await cli("extend", approval.id, "--until", new Date(Date.now() + 60_000).toISOString());
    expect(earlier.code).toBe(1);
    const shown = (await cli("show", approval.id)).stdout;
    expect(shown).toMatch(
      new RegExp(
        `extended\\s+ops@co\\.com\\s+cli\\s+waiting on the bank deadline ${approval.deadline.toISOString()} → ${after.deadline.toISOString()}`,
      ),
    );
  });

  it("handlers lists the registered onDecision handlers with their queued jobs, and retire-handler retires one", async () => {
    expect(await cli("handlers")).toMatchObject({
      code: 0,
      stdout: "",
      stderr: "No onDecision handlers are registered.\n",
    });
    const gone = bed.create();
    gone.onDecision("payment.release.v1", () => {}, { name: "ledger" });
    await gone.start();
    await gone.stop();
    const approval = await wire();
    await bed.approvals.decide(approval.id, { reviewer: "controller@co.com", outcome: "approve" });
    const listed = await cli("handlers");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+TYPE\s+REGISTERED\s+QUEUED\nledger\s+payment\.release\.v1\s+.+\s+1\n$/);
    const retired = await cli("retire-handler", "ledger", "--drop-queued");
    expect(retired).toMatchObject({
      code: 0,
      stderr: 'Retired "ledger", 1 waiting jobs deleted; 0 of its jobs left.\n',
    });
    expect((await cli("handlers", "--json")).stdout).toBe("[]\n");
    const again = await cli("retire-handler", "ledger");
    expect(again.stderr).toBe('"ledger" was not registered; 0 of its jobs left.\n');
  });
});
