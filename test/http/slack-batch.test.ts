import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackChannel } from "../../src/index.ts";
import { startServer, type RunningServer } from "../support/http-servers.ts";
import { slackInteraction, startSlackStandIn, type SlackStandIn } from "../support/slack-standin.ts";
import { eventually, readJson, useTestBed, type WireJson } from "../support/test-bed.ts";

/** A batch in Slack (issue 14): each action with its own buttons, Approve all, and one review modal. */
const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
let slack: SlackStandIn;
let server: RunningServer;
beforeAll(async () => {
  slack = await startSlackStandIn();
  slack.users.set("billing-lead@company.com", "U0LEAD");
});
afterAll(() => slack.close());
const bed = useTestBed("slack_batch", () => ({
  channels: [slackChannel({ token: "xoxb-test-token", signingSecret: SIGNING_SECRET, slackApiUrl: slack.apiUrl })],
}));
beforeAll(async () => {
  await bed.approvals.start();
  server = await startServer("node", bed.approvals);
});
afterAll(() => server?.close());

const post = (payload: unknown) => {
  const signed = slackInteraction(SIGNING_SECRET, payload);
  return fetch(`${server.base}/slack/actions`, { method: "POST", headers: signed.headers, body: signed.body });
};

const batch = (title: string) =>
  bed.approvals.requestApproval({
    type: "agent.tool_calls.v1",
    title,
    actions: [
      { id: "call_1", name: "refundOrder", input: { orderId: "A-1042", amount: 129 }, editable: ["amount"] },
      { id: "call_2", name: "sendEmail", input: { to: "customer@x.com", body: "Refund <on its way>" } },
    ],
    requestedBy: "agent://support",
    reviewers: ["billing-lead@company.com"],
    reminders: [],
  });

async function message(title: string): Promise<WireJson[]> {
  const posted = await eventually(() =>
    slack
      .callsOf("chat.postMessage")
      .find((call) => call.params.channel === "U0LEAD" && call.params.text?.includes(title)),
  );
  return posted.params.blocks as WireJson[];
}

const click = (button: WireJson, name = "r") => ({
  type: "block_actions",
  user: { id: "U0LEAD", username: "lead", team_id: "T0001" },
  trigger_id: `trigger-${Math.random()}`,
  response_url: slack.responseUrl(name),
  actions: [{ action_id: button.action_id, block_id: "b", value: button.value }],
});

describe("a batch in Slack", () => {
  it("lists each action with its own buttons and ends with Approve all, Reject all and Open", async () => {
    await batch("Two tools (message)");
    const blocks = await message("Two tools (message)");
    const texts = blocks.filter((b) => b.type === "section").map((b) => b.text.text);
    expect(texts).toContain("*1. refundOrder*\n*orderId*: A-1042\n*amount*: 129");
    expect(texts).toContain("*2. sendEmail*\n*to*: customer@x.com\n*body*: Refund &lt;on its way&gt;");
    const buttons = blocks.filter((b) => b.type === "actions").map((b) => b.elements.map((e: WireJson) => e.text.text));
    expect(buttons).toEqual([
      ["Approve", "Reject…"],
      ["Approve", "Reject…"],
      ["Approve all", "Reject all", "Open"],
    ]);
  });

  it("opens the review modal from an action's button with that choice made, and records the submitted decisions as one vote", async () => {
    const approval = await batch("Two tools (modal)");
    const blocks = await message("Two tools (modal)");
    const rejectSecond = blocks.filter((b) => b.type === "actions")[1].elements[1];
    const payload = click(rejectSecond);
    expect((await post(payload)).status).toBe(200);
    const view = slack.callsOf("views.open").find((c) => c.params.trigger_id === payload.trigger_id)?.params.view;
    expect(view).toMatchObject({ callback_id: "countersign:batch", submit: { text: "Submit decisions" } });
    const inputs = Object.fromEntries(
      (view.blocks as WireJson[]).filter((b) => b.type === "input").map((b) => [b.block_id, b.element]),
    );
    expect(Object.keys(inputs)).toEqual(["act:0", "edit:0:amount", "reason:0", "act:1", "reason:1"]);
    expect(inputs["act:0"].initial_option).toBeUndefined();
    expect(inputs["act:1"].initial_option.value).toBe("reject");

    const submit = (values: Record<string, WireJson>) =>
      post({
        type: "view_submission",
        user: { id: "U0LEAD", username: "lead" },
        view: { callback_id: view.callback_id, private_metadata: view.private_metadata, state: { values } },
      });
    const undecided = await readJson(
      await submit({ "act:1": { value: { type: "radio_buttons", selected_option: { value: "reject" } } } }),
    );
    expect(undecided).toEqual({ response_action: "errors", errors: { "act:0": "Choose Approve or Reject." } });
    const done = await submit({
      "act:0": { value: { type: "radio_buttons", selected_option: { value: "approve" } } },
      "edit:0:amount": { value: { type: "plain_text_input", value: "100" } },
      "reason:0": { value: { type: "plain_text_input", value: null } },
      "act:1": { value: { type: "radio_buttons", selected_option: { value: "reject" } } },
      "reason:1": { value: { type: "plain_text_input", value: "we do not e-mail customers about refunds" } },
    });
    expect(await readJson(done)).toEqual({ response_action: "clear" });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision).toMatchObject({ status: "approved", via: "slack", decidedBy: "billing-lead@company.com" });
    expect(decision.actions?.map((a) => [a.outcome, a.input, a.comment])).toEqual([
      ["approve", { orderId: "A-1042", amount: 100 }, null],
      ["reject", { to: "customer@x.com", body: "Refund <on its way>" }, "we do not e-mail customers about refunds"],
    ]);
  });

  it("approves every action with one click on Approve all", async () => {
    const approval = await batch("Two tools (all)");
    const blocks = await message("Two tools (all)");
    const all = blocks.filter((b) => b.type === "actions").at(-1).elements[0];
    expect((await post(click(all))).status).toBe(200);
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision.actions?.map((a) => a.outcome)).toEqual(["approve", "approve"]);
  });
});
