/** A batch on the page: one card per action with its own choice, reason and edits; one submission; JSON too. */
import { describe, expect, it } from "vitest";
import { tokenFor } from "../support/http-servers.ts";
import { PUBLIC_URL, readJson, TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const bed = useTestBed("batch_page");

const request = () =>
  bed.approvals.requestApproval({
    type: "agent.tool_calls.v1",
    title: "Support agent wants to run 2 tools",
    actions: [
      {
        id: "call_1",
        name: "refundOrder",
        input: { orderId: "A-1042", amount: 129 },
        editable: ["amount"],
        description: "Refund to the original card",
      },
      { id: "call_2", name: "sendEmail", input: { to: "customer@x.com", body: "<b>Refund</b> on its way" } },
    ],
    requestedBy: "agent://support",
    reviewers: ["billing-lead@company.com"],
    reminders: [],
  });

const link = async (id: string) =>
  `${PUBLIC_URL}/r/${await tokenFor(bed.pool, bed.schema, TEST_SECRET, id, "billing-lead@company.com")}`;
const post = (url: string, body: string, type: string) =>
  bed.approvals.fetch(new Request(url, { method: "POST", headers: { "content-type": type, accept: type }, body }));
const form = (url: string, fields: Record<string, string>) =>
  post(url, new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded");

describe("a batch on the approval page", () => {
  it("shows one card per action, in order, each with its own choice, reason and typed edit inputs", async () => {
    const req = await request();
    const page = await (await bed.approvals.fetch(new Request(await link(req.id)))).text();
    const first = page.indexOf("1. refundOrder");
    const second = page.indexOf("2. sendEmail");
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(page).toContain("Refund to the original card");
    expect(page).toContain('<input type="radio" name="action.0" value="approve" required> Approve');
    expect(page).toContain('<input type="radio" name="action.1" value="reject"> Reject');
    expect(page).toContain('name="edit.0.amount" type="number" step="any" value="129"');
    expect(page).not.toContain('name="edit.1.');
    expect(page).toContain('name="reason.1"');
    // The agent's text is escaped.
    expect(page).toContain("&lt;b&gt;Refund&lt;/b&gt; on its way");
    expect(page).toContain('<button type="submit" name="decision" value="actions" class="approve">Submit decisions');
  });

  it("records one vote from the form: one action approved with an edit, the other rejected with its reason", async () => {
    const req = await request();
    const url = await link(req.id);
    const response = await form(url, {
      revision: "1",
      "action.0": "approve",
      "edit.0.amount": "100",
      "reason.0": "",
      "action.1": "reject",
      "reason.1": "we do not e-mail customers about refunds",
      comment: "",
      decision: "actions",
    });
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(page).toContain("You decided on each action of this request.");
    expect(page).toContain("we do not e-mail customers about refunds");
    const decision = await bed.approvals.waitForDecision(req.id);
    expect(decision.actions?.map((a) => [a.id, a.outcome, a.input, a.comment])).toEqual([
      ["call_1", "approve", { orderId: "A-1042", amount: 100 }, null],
      [
        "call_2",
        "reject",
        { to: "customer@x.com", body: "<b>Refund</b> on its way" },
        "we do not e-mail customers about refunds",
      ],
    ]);
    expect(decision.via).toBe("http");
  });

  it("refuses a form that leaves an action undecided or types a bad number, naming it, and records nothing", async () => {
    const req = await request();
    const url = await link(req.id);
    const undecided = await form(url, { "action.0": "approve", decision: "actions" });
    expect(undecided.status).toBe(400);
    expect(await undecided.text()).toContain("decide every open action in one vote; missing: call_2");
    const badNumber = await form(url, {
      "action.0": "approve",
      "edit.0.amount": "lots",
      "action.1": "approve",
      decision: "actions",
    });
    expect(badNumber.status).toBe(400);
    expect(await badNumber.text()).toContain("actions.call_1.edits.amount");
    expect((await bed.approvals.get(req.id)).steps[0]?.reviewers[0]?.vote).toBeNull();
  });

  it("takes the same decisions as JSON, and Reject all from the form", async () => {
    const req = await request();
    const json = await post(
      await link(req.id),
      JSON.stringify({
        actions: { call_1: { outcome: "approve", edits: { amount: 120 } }, call_2: { outcome: "approve" } },
      }),
      "application/json",
    );
    expect(json.status).toBe(200);
    const body = await readJson(json);
    expect(body.approval.actions.map((a: { outcome: string }) => a.outcome)).toEqual(["approve", "approve"]);
    expect(body.approval.actions[0].input.amount).toBe(120);

    const other = await request();
    const rejected = await form(await link(other.id), { decision: "reject", comment: "not today" });
    expect(rejected.status).toBe(200);
    const decision = await bed.approvals.waitForDecision(other.id);
    expect(decision).toMatchObject({ status: "rejected", comment: "not today" });
    expect(decision.actions?.map((a) => a.outcome)).toEqual(["reject", "reject"]);
  });
});
