import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { slackChannel } from "../../src/index.ts";
import { startServer, type RunningServer } from "../support/http-servers.ts";
import { slackInteraction, startSlackStandIn, type SlackStandIn } from "../support/slack-standin.ts";
import { eventually, readJson, useTestBed, type WireJson } from "../support/test-bed.ts";

/**
 * Slack's Edit button (issue 13): the message as posted carries Approve (one click, bound to the revision
 * it shows), Reject and Edit; Edit opens a modal of the editable fields whose submission approves with
 * edits. Every button value and view used here is the one countersign put on the wire.
 */
const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
let slack: SlackStandIn;
let server: RunningServer;
beforeAll(async () => {
  slack = await startSlackStandIn();
  slack.users.set("controller@co.com", "U0CTRL");
  slack.users.set("treasurer@co.com", "U0TREAS");
});
afterAll(() => slack.close());
const bed = useTestBed("slack_edit", () => ({
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

const wire = (title: string, reviewers: string[], quorum = 1) =>
  bed.approvals.requestApproval({
    type: "payment.release.v1",
    title,
    payload: { amount: 48000, currency: "USD", memo: "Q1 invoice", priority: "normal", urgent: false },
    requestedBy: "alice@co.com",
    editable: ["amount", "memo", "priority", "urgent"],
    payloadSchema: z.object({
      amount: z.number().positive().max(50000),
      currency: z.enum(["USD", "EUR"]),
      memo: z.string(),
      priority: z.enum(["low", "normal", "high"]),
      urgent: z.boolean(),
    }),
    steps: [{ name: "finance", reviewers, quorum }],
    reminders: [],
  });

/** The buttons of the message countersign posted to this Slack user about this approval. */
async function buttons(user: string, title: string): Promise<Record<string, WireJson>> {
  const message = await eventually(() =>
    slack.callsOf("chat.postMessage").find((call) => call.params.channel === user && call.params.text?.includes(title)),
  );
  const actions = (message.params.blocks as WireJson[]).find((block) => block.type === "actions");
  return Object.fromEntries(actions.elements.map((e: WireJson) => [e.action_id, e]));
}

const click = (user: string, button: WireJson, responseName = "r") => ({
  type: "block_actions",
  user: { id: user, username: user.toLowerCase(), team_id: "T0001" },
  trigger_id: `trigger-${Math.random()}`,
  response_url: slack.responseUrl(responseName),
  actions: [{ action_id: button.action_id, block_id: "countersign", value: button.value }],
});

/** Opens the Edit modal as Slack would, and returns the view countersign sent to views.open. */
async function openEdit(user: string, title: string): Promise<WireJson> {
  const payload = click(user, (await buttons(user, title))["countersign:edit"]);
  expect((await post(payload)).status).toBe(200);
  const opened = slack.callsOf("views.open").find((call) => call.params.trigger_id === payload.trigger_id);
  return opened?.params.view;
}

/** What Slack submits for the modal: each input's state, changed as the person typed. */
function submission(user: string, view: WireJson, typed: Record<string, string | null>, comment?: string) {
  const values: Record<string, WireJson> = {};
  for (const block of view.blocks as WireJson[]) {
    if (block.type !== "input") continue;
    const field = String(block.block_id).replace(/^field:/, "");
    const element = block.element;
    const initial = element.type === "static_select" ? (element.initial_option?.value ?? null) : element.initial_value;
    const text = block.block_id === "comment" ? (comment ?? null) : field in typed ? typed[field] : initial;
    values[block.block_id] = {
      value:
        element.type === "static_select"
          ? { type: "static_select", selected_option: text === null ? null : { value: text } }
          : { type: element.type, value: text ?? null },
    };
  }
  return {
    type: "view_submission",
    user: { id: user, username: user.toLowerCase() },
    view: { callback_id: view.callback_id, private_metadata: view.private_metadata, state: { values } },
  };
}

describe("Slack's Edit button", () => {
  it("posts Approve, Reject, Edit and Open; Edit opens a modal typed by the payload schema", async () => {
    const approval = await wire("Wire to ACME (modal)", ["controller@co.com"]);
    const byId = await buttons("U0CTRL", "Wire to ACME (modal)");
    expect(Object.keys(byId)).toEqual([
      "countersign:approve",
      "countersign:reject",
      "countersign:edit",
      "countersign:open",
    ]);
    expect(JSON.parse(byId["countersign:edit"].value)).toEqual({ a: approval.id, r: "controller@co.com", v: 1 });

    const view = await openEdit("U0CTRL", "Wire to ACME (modal)");
    expect(view).toMatchObject({ type: "modal", callback_id: "countersign:edit", submit: { text: "Approve" } });
    const inputs = Object.fromEntries(
      (view.blocks as WireJson[]).filter((b) => b.type === "input").map((b) => [b.block_id, b.element]),
    );
    expect(Object.keys(inputs)).toEqual(["field:amount", "field:memo", "field:priority", "field:urgent", "comment"]);
    expect(inputs["field:amount"]).toMatchObject({
      type: "number_input",
      is_decimal_allowed: true,
      initial_value: "48000",
    });
    expect(inputs["field:memo"]).toMatchObject({ type: "plain_text_input", initial_value: "Q1 invoice" });
    expect(inputs["field:priority"].options.map((o: WireJson) => o.value)).toEqual(["low", "normal", "high"]);
    expect(inputs["field:priority"].initial_option.value).toBe("normal");
    expect(inputs["field:urgent"].initial_option.value).toBe("false");
    // The non-editable currency is not an input.
    expect(JSON.stringify(view.blocks)).not.toContain("field:currency");
    expect((await bed.approvals.get(approval.id)).status).toBe("pending");
  });

  it("approves with the typed edits on submit; a value that does not parse or breaks the schema is refused on its input", async () => {
    const approval = await wire("Wire to ACME (submit)", ["controller@co.com"]);
    const view = await openEdit("U0CTRL", "Wire to ACME (submit)");

    const notNumber = await post(submission("U0CTRL", view, { amount: "lots" }));
    expect(await readJson(notNumber)).toEqual({
      response_action: "errors",
      errors: { "field:amount": "This must be a number." },
    });
    const tooMuch = await readJson(await post(submission("U0CTRL", view, { amount: "60000" })));
    expect(tooMuch.response_action).toBe("errors");
    expect(Object.keys(tooMuch.errors)).toEqual(["field:amount"]);
    expect(tooMuch.errors["field:amount"]).toContain("50000");
    expect(await bed.approvals.get(approval.id)).toMatchObject({ status: "pending", revision: 1 });

    const done = await post(
      submission("U0CTRL", view, { amount: "45000", priority: "high", urgent: "true" }, "less the credit note"),
    );
    expect(await readJson(done)).toEqual({ response_action: "clear" });
    const decision = await bed.approvals.waitForDecision(approval.id);
    expect(decision).toMatchObject({
      status: "approved",
      decidedBy: "controller@co.com",
      via: "slack",
      comment: "less the credit note",
      revision: 2,
      payload: { amount: 45000, currency: "USD", memo: "Q1 invoice", priority: "high", urgent: true },
    });
    expect(decision.edits.map(({ field, from, to }) => ({ field, from, to }))).toEqual([
      { field: "amount", from: 48000, to: 45000 },
      { field: "priority", from: "normal", to: "high" },
      { field: "urgent", from: false, to: true },
    ]);
  });

  it("refuses a one-click Approve and an Edit submission made on a revision another reviewer has since edited", async () => {
    const approval = await wire("Wire to ACME (stale)", ["controller@co.com", "treasurer@co.com"], 2);
    const treasurerButtons = await buttons("U0TREAS", "Wire to ACME (stale)");
    const treasurerView = await openEdit("U0TREAS", "Wire to ACME (stale)");
    const controllerView = await openEdit("U0CTRL", "Wire to ACME (stale)");
    expect(await readJson(await post(submission("U0CTRL", controllerView, { amount: "45000" })))).toEqual({
      response_action: "clear",
    });
    expect((await bed.approvals.get(approval.id)).revision).toBe(2);

    // The treasurer's message still shows revision 1: one click on it must not approve 45,000 unseen.
    expect((await post(click("U0TREAS", treasurerButtons["countersign:approve"], "stale-click"))).status).toBe(200);
    const answer = await eventually(() => slack.responses.find((r) => r.name === "stale-click"));
    expect(answer.body).toMatchObject({ response_type: "ephemeral" });
    expect(answer.body.text).toContain("Not recorded: ");
    expect(answer.body.text).toContain("changed since revision 1 was shown");
    const stale = await readJson(await post(submission("U0TREAS", treasurerView, { memo: "Q1" })));
    expect(stale).toEqual({
      response_action: "errors",
      errors: {
        comment:
          "Another reviewer changed this proposal since you opened it (now revision 2). Cancel, then press Edit again to see it.",
      },
    });
    const pending = await bed.approvals.get(approval.id);
    expect(pending.status).toBe("pending");
    expect(pending.steps[0]?.reviewers.find((r) => r.reviewer === "treasurer@co.com")?.vote).toBeNull();

    // Opened again, the modal shows revision 2, and approving it completes the quorum.
    const fresh = await openEdit("U0TREAS", "Wire to ACME (stale)");
    expect(JSON.parse(fresh.private_metadata).v).toBe(2);
    expect(await readJson(await post(submission("U0TREAS", fresh, {})))).toEqual({ response_action: "clear" });
    expect(await bed.approvals.waitForDecision(approval.id)).toMatchObject({
      status: "approved",
      revision: 2,
      payload: { amount: 45000 },
    });
  });
});
