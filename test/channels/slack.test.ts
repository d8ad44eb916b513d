import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackChannel } from "../../src/index.ts";
import { startSlackStandIn, type SlackStandIn } from "../support/slack-standin.ts";
import { eventually, PUBLIC_URL, useTestBed } from "../support/test-bed.ts";
import type { WireJson } from "../support/test-bed.ts";

let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn();
  slack.users.set("cfo@company.com", "U0CFO");
  slack.users.set("deputy@company.com", "U0DEPUTY");
});
afterAll(() => slack.close());
const bed = useTestBed("slack_channel", () => ({
  channels: [slackChannel({ token: "xoxb-test-token", signingSecret: "s".repeat(32), slackApiUrl: slack.apiUrl })],
  delivery: { maxAttempts: 3 },
}));
beforeAll(() => bed.approvals.start());

const posts = (channel: string) => slack.callsOf("chat.postMessage").filter((call) => call.params.channel === channel);

describe("the Slack channel", () => {
  it("DMs the reviewer a Block Kit message, replies to it for reminders, and updates it when decided elsewhere", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "report.review_approval.v1",
      title: "Q1 Financial Summary",
      payload: { report: "Q1 Financial Summary", revenue: 4200000, pii_detected: false },
      requestedBy: "agent://myorg/report-generator",
      reviewers: ["cfo@company.com"],
      reminders: ["1s"],
    });
    const [first] = await eventually(() => posts("U0CFO").length > 0 && posts("U0CFO"));
    expect(slack.callsOf("users.lookupByEmail")[0]?.params).toMatchObject({ email: "cfo@company.com" });
    expect(first?.authorization).toBe("Bearer xoxb-test-token");
    expect(first?.params.text).toBe(`Approval needed by ${approval.deadline.toISOString()}: Q1 Financial Summary`);
    const blocks = first?.params.blocks as WireJson[];
    expect(blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "Q1 Financial Summary", emoji: true },
    });
    expect(blocks[2].fields.map((f: WireJson) => f.text)).toEqual([
      "*report*\nQ1 Financial Summary",
      "*revenue*\n4200000",
      "*pii_detected*\nfalse",
    ]);
    expect(blocks[3].elements[0].text).toContain(`<!date^${Math.floor(approval.deadline.getTime() / 1000)}^`);
    const [approve, reject, open] = blocks[4].elements;
    const value = JSON.stringify({ a: approval.id, r: "cfo@company.com", v: 1 });
    expect(approve).toEqual({
      type: "button",
      action_id: "countersign:approve",
      style: "primary",
      text: { type: "plain_text", text: "Approve", emoji: true },
      value,
    });
    expect(reject).toEqual({
      type: "button",
      action_id: "countersign:reject",
      style: "danger",
      text: { type: "plain_text", text: "Reject", emoji: true },
      value,
    });
    expect(open.url).toMatch(new RegExp(`^${PUBLIC_URL}/r/[A-Za-z0-9_-]{43}$`));

    const reply = await eventually(() => slack.callsOf("chat.postMessage").find((c) => c.params.thread_ts));
    expect(reply.params).toMatchObject({ channel: "D0CFO", thread_ts: expect.stringMatching(/^\d+\.000100$/) });
    expect(reply.params.blocks[0].text.text).toContain("Reminder: this approval is still waiting for you.");

    // Decided through the web page, not Slack: the Slack message still changes, losing its buttons.
    await bed.approvals.decide(approval.id, {
      reviewer: "cfo@company.com",
      outcome: "approve",
      comment: "good",
      via: "http",
    });
    const update = await eventually(() =>
      slack.callsOf("chat.update").find((c) => c.params.ts === reply.params.thread_ts),
    );
    expect(update.params.channel).toBe("D0CFO");
    expect(update.params.blocks.some((b: WireJson) => b.type === "actions")).toBe(false);
    expect(update.params.blocks.at(-1).text.text).toMatch(
      /^\*✅ Approved\* by cfo@company.com via http · <!date\^\d+\^/,
    );
    expect(update.params.blocks.at(-1).text.text).toContain("> good");
  });

  it("retries through a Slack outage and records each failed attempt", async () => {
    slack.failNext("chat.postMessage", 1, 500);
    const approval = await bed.approvals.requestApproval({
      type: "t",
      title: "Outage",
      requestedBy: "a",
      reviewers: ["deputy@company.com"],
      reminders: [],
    });
    const events = await eventually(async () => {
      const all = await bed.approvals.events(approval.id);
      return all.some((e) => e.type === "notified") && all;
    }, 20_000);
    const delivery = events.filter((e) => e.type === "notify_failed" || e.type === "notified");
    expect(delivery.map((e) => [e.type, e.data.attempt])).toEqual([
      ["notify_failed", 1],
      ["notified", 2],
    ]);
    expect(delivery[0]?.data).toMatchObject({ final: false, error: expect.stringContaining("500") });
    expect(delivery[1]?.data.receipt).toEqual({ channel: "D0DEPUTY", ts: expect.any(String) });
  });

  it("shows eight fields, says how many more the page has, and never clips inside an emoji", async () => {
    const payload: Record<string, string> = { note: `${"a".repeat(298)}👍👍` };
    for (let i = 1; i <= 13; i++) payload[`field_${i}`] = `value ${i}`;
    await bed.approvals.requestApproval({
      type: "t",
      title: "Many fields",
      payload,
      requestedBy: "a",
      reviewers: ["slack:#wide"],
      reminders: [],
    });
    const [post] = await eventually(() => posts("#wide").length > 0 && posts("#wide"));
    const blocks = post?.params.blocks as WireJson[];
    const fields = blocks[2].fields.map((f: WireJson) => f.text);
    expect(fields).toHaveLength(8);
    expect(fields[0]).toBe(`*note*\n${"a".repeat(298)}…`);
    expect(blocks[3]).toEqual({
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: expect.stringMatching(
            new RegExp(`^\\+6 more fields on <${PUBLIC_URL}/r/[A-Za-z0-9_-]{43}\\|the approval page>$`),
          ),
        },
      ],
    });
    expect(JSON.stringify(post?.params.blocks)).not.toContain("\uFFFD");
  });

  it("posts to a team channel named as a reviewer", async () => {
    await bed.approvals.requestApproval({
      type: "t",
      title: "Team",
      requestedBy: "a",
      reviewers: ["slack:#finance-approvals"],
      reminders: [],
    });
    const [post] = await eventually(() => posts("#finance-approvals").length > 0 && posts("#finance-approvals"));
    const actions = post?.params.blocks.find((b: WireJson) => b.type === "actions");
    expect(actions.elements[0].action_id).toBe("countersign:approve");
  });

  it("escalates at once when a reviewer cannot be reached on any channel", async () => {
    const approval = await bed.approvals.requestApproval({
      type: "t",
      title: "Nobody home",
      requestedBy: "a",
      reviewers: ["ghost@company.com"],
      escalation: [["deputy@company.com"]],
      escalateAfter: "1h",
      reminders: [],
    });
    const escalated = await eventually(async () =>
      (await bed.approvals.events(approval.id)).find((e) => e.type === "escalated"),
    );
    expect(escalated.data).toEqual({ level: 1, reviewers: ["deputy@company.com"] });
    const failed = (await bed.approvals.events(approval.id)).find((e) => e.type === "notify_failed");
    expect(failed?.data).toMatchObject({
      reviewer: "ghost@company.com",
      attempt: 1,
      final: true,
      error: "Slack refused: users_not_found",
    });
    await eventually(() =>
      slack
        .callsOf("chat.postMessage")
        .some((c) => c.params.channel === "U0DEPUTY" && c.params.text.includes("Nobody home")),
    );
  });

  it("escapes an agent-written title in every text Slack renders, the notification preview included", async () => {
    const title = "Pay <!channel> & <http://evil.example|click here>";
    const approval = await bed.approvals.requestApproval({
      type: "t",
      title,
      requestedBy: "agent://x",
      reviewers: ["cfo@company.com"],
      reminders: ["1s"],
    });
    const reminded = await eventually(() => {
      const calls = slack
        .callsOf("chat.postMessage")
        .filter((c) => c.params.thread_ts && c.params.text.includes("Pay"));
      return calls.length > 0 && calls;
    });
    await bed.approvals.decide(approval.id, { reviewer: "cfo@company.com", outcome: "approve" });
    const updated = await eventually(() =>
      slack.callsOf("chat.update").find((c) => c.params.text.includes("Pay &lt;")),
    );
    const first = slack
      .callsOf("chat.postMessage")
      .find((c) => c.params.text.includes(approval.deadline.toISOString()) && c.params.text.includes("Pay"));
    const escaped = "Pay &lt;!channel&gt; &amp; &lt;http://evil.example|click here&gt;";
    for (const call of [first, reminded[0], updated]) {
      expect(call?.params.text).toContain(escaped);
      expect(call?.params.text).not.toContain("<!channel>");
    }
  });
});
