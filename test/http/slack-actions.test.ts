import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackChannel } from "../../src/index.ts";
import { ADAPTERS, startServer, type RunningServer } from "../support/http-servers.ts";
import { slackInteraction, startSlackStandIn, type SlackStandIn } from "../support/slack-standin.ts";
import { eventually, readJson, useTestBed } from "../support/test-bed.ts";

const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn();
  slack.users.set("cfo@company.com", "U0CFO");
  slack.users.set("mallory@company.com", "U0MALLORY");
});
afterAll(() => slack.close());
const bed = useTestBed("slack_actions", () => ({
  channels: [slackChannel({ token: "xoxb-test-token", signingSecret: SIGNING_SECRET, slackApiUrl: slack.apiUrl })],
}));

const click = (
  approvalId: string,
  reviewer: string,
  action: "approve" | "reject",
  user = "U0CFO",
  responseName = "r",
) => ({
  type: "block_actions",
  user: { id: user, username: user.toLowerCase(), team_id: "T0001" },
  trigger_id: `trigger-${Math.random()}`,
  response_url: slack.responseUrl(responseName),
  actions: [
    {
      action_id: `countersign:${action}`,
      block_id: "countersign",
      value: JSON.stringify({ a: approvalId, r: reviewer }),
    },
  ],
});

const newApproval = (reviewers = ["cfo@company.com"]) =>
  bed.approvals.requestApproval({
    type: "pay.v1",
    title: "Pay ACME invoice",
    requestedBy: "agent://ap",
    reviewers,
    reminders: [],
  });

describe.each(ADAPTERS)("POST /slack/actions through the %s adapter", (adapter) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(adapter, bed.approvals);
  });
  afterAll(() => server.close());

  const post = (request: { headers: Record<string, string>; body: string }) =>
    fetch(`${server.base}/slack/actions`, { method: "POST", headers: request.headers, body: request.body });

  it("records an Approve click by the listed reviewer, mapped from Slack user to e-mail", async () => {
    const { id } = await newApproval();
    const response = await post(slackInteraction(SIGNING_SECRET, click(id, "cfo@company.com", "approve")));
    expect(response.status).toBe(200);
    const approval = await bed.approvals.get(id);
    expect(approval.decision).toMatchObject({ status: "approved", decidedBy: "cfo@company.com", via: "slack" });
    const vote = (await bed.approvals.events(id)).find((e) => e.type === "approved");
    expect(vote?.data.context).toEqual({ slackUserId: "U0CFO", slackUserName: "u0cfo", slackTeamId: "T0001" });
  });

  it("refuses forged, stale, future-dated and replayed requests before anything else", async () => {
    const { id } = await newApproval();
    const payload = click(id, "cfo@company.com", "approve");
    const now = Math.floor(Date.now() / 1000);
    const forged = await post(slackInteraction("not-the-signing-secret-000000000000", payload));
    const stale = await post(slackInteraction(SIGNING_SECRET, payload, { timestamp: now - 6 * 60 }));
    const future = await post(slackInteraction(SIGNING_SECRET, payload, { timestamp: now + 6 * 60 }));
    const unsigned = await fetch(`${server.base}/slack/actions`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "payload=%7B%7D",
    });
    expect([forged.status, stale.status, future.status, unsigned.status]).toEqual([401, 401, 401, 401]);
    expect((await readJson(forged)).error.message).toBe("Slack signature refused: signature does not match");
    expect((await readJson(stale)).error.message).toBe("Slack signature refused: timestamp is more than 5 minutes old");
    expect((await readJson(future)).error.message).toBe(
      "Slack signature refused: timestamp is more than 5 minutes in the future",
    );
    expect((await bed.approvals.get(id)).status).toBe("pending");

    const genuine = slackInteraction(SIGNING_SECRET, payload);
    expect((await post(genuine)).status).toBe(200);
    const replay = await post(genuine);
    expect(replay.status).toBe(401);
    expect((await readJson(replay)).error.message).toContain("already received (replay)");
  });

  it("answers a click on a decided approval with the final state and never decides twice", async () => {
    const { id } = await newApproval();
    await bed.approvals.decide(id, {
      reviewer: "cfo@company.com",
      outcome: "reject",
      comment: "duplicate invoice",
      via: "email",
    });
    const name = `final-${adapter}`;
    const response = await post(
      slackInteraction(SIGNING_SECRET, click(id, "cfo@company.com", "approve", "U0CFO", name)),
    );
    expect(response.status).toBe(200);
    const answer = await eventually(() => slack.responses.find((r) => r.name === name));
    expect(answer.body.replace_original).toBe(true);
    expect(answer.body.text).toContain("*❌ Rejected* by cfo@company.com via email");
    expect(answer.body.text).toContain("duplicate invoice");
    expect((await bed.approvals.events(id)).filter((e) => e.data.final === true)).toHaveLength(1);
  });

  it("does not let a Slack user who is not the listed reviewer decide", async () => {
    const { id } = await newApproval();
    const name = `mallory-${adapter}`;
    const response = await post(
      slackInteraction(SIGNING_SECRET, click(id, "cfo@company.com", "approve", "U0MALLORY", name)),
    );
    expect(response.status).toBe(200);
    const answer = await eventually(() => slack.responses.find((r) => r.name === name));
    expect(answer.body).toMatchObject({ response_type: "ephemeral", text: expect.stringContaining("not a reviewer") });
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("opens a modal for Reject, and records the reason when it is submitted", async () => {
    const { id } = await newApproval();
    const payload = click(id, "cfo@company.com", "reject");
    expect((await post(slackInteraction(SIGNING_SECRET, payload))).status).toBe(200);
    const opened = slack.callsOf("views.open").find((call) => call.params.trigger_id === payload.trigger_id);
    expect(opened?.authorization).toBe("Bearer xoxb-test-token");
    expect(opened?.params.view).toMatchObject({ type: "modal", callback_id: "countersign:reject" });
    expect((await bed.approvals.get(id)).status).toBe("pending");

    const submit = (reason: string) => ({
      type: "view_submission",
      user: { id: "U0CFO", username: "cfo" },
      view: {
        callback_id: "countersign:reject",
        private_metadata: opened?.params.view.private_metadata,
        state: { values: { reason: { reason: { type: "plain_text_input", value: reason } } } },
      },
    });
    const empty = await post(slackInteraction(SIGNING_SECRET, submit("  ")));
    expect(await readJson(empty)).toEqual({ response_action: "errors", errors: { reason: "Please give a reason." } });
    const done = await post(slackInteraction(SIGNING_SECRET, submit("figures are from Q4")));
    expect(await readJson(done)).toEqual({ response_action: "clear" });
    expect((await bed.approvals.get(id)).decision).toMatchObject({
      status: "rejected",
      comment: "figures are from Q4",
      via: "slack",
    });
  });

  it("lets a member of a team channel decide for the team", async () => {
    const { id } = await newApproval(["slack:#finance-approvals"]);
    const response = await post(
      slackInteraction(SIGNING_SECRET, click(id, "slack:#finance-approvals", "approve", "U0ANYONE")),
    );
    expect(response.status).toBe(200);
    expect((await bed.approvals.get(id)).decision?.decidedBy).toBe("slack:#finance-approvals");
    const vote = (await bed.approvals.events(id)).find((e) => e.type === "approved");
    expect(vote?.data.context).toMatchObject({ slackUserId: "U0ANYONE" });
  });

  it("counts one Slack user once, even when they click the messages of two team channels", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "pay.v1",
      title: "Two teams",
      requestedBy: "agent://ap",
      steps: [{ name: "teams", reviewers: ["slack:#finance", "slack:#treasury"], quorum: 2 }],
      reminders: [],
    });
    expect((await post(slackInteraction(SIGNING_SECRET, click(id, "slack:#finance", "approve", "U0CFO")))).status).toBe(
      200,
    );
    const name = `twice-${adapter}`;
    expect(
      (await post(slackInteraction(SIGNING_SECRET, click(id, "slack:#treasury", "approve", "U0CFO", name)))).status,
    ).toBe(200);
    const answer = await eventually(() => slack.responses.find((r) => r.name === name));
    expect(answer.body).toMatchObject({
      response_type: "ephemeral",
      text: expect.stringContaining("cfo@company.com (for slack:#treasury) already voted"),
    });
    const approval = await bed.approvals.get(id);
    expect(approval.status).toBe("pending");
    expect(approval.steps[0]?.reviewers.filter((r) => r.vote)).toHaveLength(1);
  });

  it("does not let the requester approve their own request through a team channel", async () => {
    const { id } = await bed.approvals.requestApproval({
      type: "pay.v1",
      title: "Mine",
      requestedBy: "cfo@company.com",
      reviewers: ["slack:#finance"],
      reminders: [],
    });
    const name = `self-${adapter}`;
    expect(
      (await post(slackInteraction(SIGNING_SECRET, click(id, "slack:#finance", "approve", "U0CFO", name)))).status,
    ).toBe(200);
    const answer = await eventually(() => slack.responses.find((r) => r.name === name));
    expect(answer.body.text).toContain("cannot decide it");
    expect((await bed.approvals.get(id)).status).toBe("pending");
  });

  it("answers 400 to a signed request that is not an interaction", async () => {
    const body = `hello=${adapter}`; // unique per adapter: the same signed bytes twice would be a replay
    const timestamp = Math.floor(Date.now() / 1000);
    const { signSlackRequest } = await import("../../src/security/signatures.ts");
    const response = await fetch(`${server.base}/slack/actions`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(timestamp),
        "x-slack-signature": signSlackRequest(SIGNING_SECRET, timestamp, body),
      },
      body,
    });
    expect(response.status).toBe(400);
  });
});
