import { describe, expect, it } from "vitest";
import { cliFor } from "../support/cli.ts";
import { useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("cli_batch");
const cli = cliFor(bed);

const batch = () =>
  bed.approvals.requestApproval({
    type: "agent.tool_calls.v1",
    title: "Support agent wants to run 3 tools",
    actions: [
      { id: "call_1", name: "refundOrder", input: { orderId: "A-1042", amount: 129 }, editable: ["amount"] },
      { id: "call_2", name: "sendEmail", input: { to: "customer@x.com" } },
      { id: "call_3", name: "closeTicket", input: { ticket: 77 } },
    ],
    requestedBy: "agent://support",
    reviewers: ["lead@company.com"],
    reminders: [],
  });

describe("the CLI on a batch", () => {
  it("approve --action approves only the actions named, --reject gives a reason, --set edits one action", async () => {
    const req = await batch();
    const done = await cli(
      "approve",
      req.id,
      "--as",
      "lead@company.com",
      "--action",
      "call_1",
      "--action",
      "call_3",
      "--reject",
      "call_2:we do not e-mail customers about refunds",
      "--set",
      "call_1.amount=100",
    );
    expect(done.code).toBe(0);
    expect(done.stderr).toBe(
      `Decided "Support agent wants to run 3 tools" as lead@company.com (call_1: approved, call_2: rejected, call_3: approved) with call_1.amount 129 → 100 (revision 2).\n`,
    );
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision.actions?.map((a) => [a.id, a.outcome, a.input, a.comment])).toEqual([
      ["call_1", "approve", { orderId: "A-1042", amount: 100 }, null],
      ["call_2", "reject", { to: "customer@x.com" }, "we do not e-mail customers about refunds"],
      ["call_3", "approve", { ticket: 77 }, null],
    ]);
    const shown = (await cli("show", req.id)).stdout;
    expect(shown).toContain("Actions (revision 2)");
    expect(shown).toContain(
      "  2. sendEmail [call_2]: to: customer@x.com — rejected: we do not e-mail customers about refunds",
    );
    expect(shown).toContain("call_1.amount: 129 → 100 (lead@company.com, revision 2)");
  });

  it("approve without --action approves all but the rejected; unknown ids and --action on a plain approval are usage errors", async () => {
    const req = await batch();
    const unknown = await cli("approve", req.id, "--as", "lead@company.com", "--reject", "call_9");
    expect(unknown).toMatchObject({
      code: 2,
      stderr: "countersign: --reject call_9: not an action of this batch (call_1, call_2, call_3)\n",
    });
    expect((await cli("approve", req.id, "--as", "lead@company.com", "--reject", "call_3")).code).toBe(0);
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision.actions?.map((a) => a.outcome)).toEqual(["approve", "approve", "reject"]);

    const plain = await bed.approvals.requestApproval({
      type: "t",
      title: "Plain",
      requestedBy: "a",
      reviewers: ["lead@company.com"],
      reminders: [],
    });
    const refused = await cli("approve", plain.id, "--as", "lead@company.com", "--action", "call_1");
    expect(refused).toMatchObject({
      code: 2,
      stderr: "countersign: --action and --reject decide the actions of a batch; this approval is not one\n",
    });
  });
});
