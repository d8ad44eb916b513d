/**
 * Channels whose far end misbehaves: an SMTP server and Slack's Web API that stall past the timeout,
 * refuse connections, answer 451/500, or refuse for good. Every notification is retried, every attempt
 * is an audit event, permanent failures escalate, and nothing is lost or sent twice.
 */
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailChannel, slackChannel, type AuditEvent, type Channel } from "../../src/index.ts";
import { startFlakyProxy, type FlakyProxy } from "../support/flaky-proxy.ts";
import { startSlackStandIn, type SlackStandIn } from "../support/slack-standin.ts";
import { startSmtpSink, type SmtpSink } from "../support/smtp-sink.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

let smtp: SmtpSink;
const slack: Record<"stall" | "refused" | "failing" | "down", SlackStandIn> = {} as never;
const proxies: Record<"smtpStall" | "smtpRefused" | "slackStall" | "slackRefused", FlakyProxy> = {} as never;
beforeAll(async () => {
  smtp = await startSmtpSink();
  smtp.deferTimes.set("deferred@temp.test", 1);
  smtp.refuse.add("gone@perm.test");
  for (const name of ["stall", "refused", "failing", "down"] as const) slack[name] = await startSlackStandIn();
  slack.failing.failNext("chat.postMessage", 1, 500);
  slack.down.failNext("chat.postMessage", 100, 500);
  proxies.smtpStall = await startFlakyProxy(smtp.port, ["stall"]);
  proxies.smtpRefused = await startFlakyProxy(smtp.port, [], { closed: true });
  proxies.slackStall = await startFlakyProxy(Number(new URL(slack.stall.apiUrl).port), ["stall"]);
  proxies.slackRefused = await startFlakyProxy(Number(new URL(slack.refused.apiUrl).port), [], { closed: true });
});
afterAll(async () => {
  await Promise.all([
    smtp.close(),
    ...Object.values(slack).map((s) => s.close()),
    ...Object.values(proxies).map((p) => p.close()),
  ]);
});

/** A channel that only takes reviewers matching `pattern`, so each fault has its own path. */
const only = (pattern: RegExp, channel: Channel): Channel => ({
  ...channel,
  accepts: (reviewer) => pattern.test(reviewer),
});
const mail = (name: string, port: number, pattern: RegExp) =>
  only(
    pattern,
    emailChannel({
      name,
      from: "approvals@company.com",
      transport: nodemailer.createTransport({
        host: "127.0.0.1",
        port,
        secure: false,
        ignoreTLS: true,
        connectionTimeout: 500,
        greetingTimeout: 500,
        socketTimeout: 1000,
      }),
    }),
  );
const slackVia = (name: string, apiUrl: string, pattern: RegExp) =>
  only(
    pattern,
    slackChannel({
      name,
      token: "xoxb-test",
      signingSecret: "0123456789abcdef0123456789abcdef",
      slackApiUrl: apiUrl,
      timeoutMs: 500,
    }),
  );
const proxied = (proxy: FlakyProxy) => `http://127.0.0.1:${proxy.port}/api/`;

const bed = useTestBed("channel_outages", () => ({
  delivery: { maxAttempts: 2 },
  worker: { pollInterval: 50 },
  channels: [
    mail("smtp-stall", proxies.smtpStall.port, /@stall\.test$/),
    mail("smtp-refused", proxies.smtpRefused.port, /@refused\.test$/),
    mail("smtp", smtp.port, /@(temp|perm|ok)\.test$/),
    slackVia("slack-stall", proxied(proxies.slackStall), /^slack:USTALL$/),
    slackVia("slack-refused", proxied(proxies.slackRefused), /^slack:UREFUSED$/),
    slackVia("slack-failing", slack.failing.apiUrl, /^slack:UFAILING$/),
    slackVia("slack-down", slack.down.apiUrl, /^slack:UDOWN$/),
  ],
}));

const attempts = (events: AuditEvent[], reviewer: string) =>
  events
    .filter(
      (e) =>
        (e.type === "notified" || e.type === "notify_failed") &&
        e.data.reviewer === reviewer &&
        e.data.kind === "request",
    )
    .map((e) => ({ type: e.type, channel: e.channel, attempt: e.data.attempt, final: e.data.final ?? null }));

const ask = (reviewer: string, escalation: string[][] = []) =>
  bed.approvals.requestApproval({
    type: "outage.v1",
    title: `For ${reviewer}`,
    requestedBy: "agent://x",
    reviewers: [reviewer],
    escalation,
    escalateAfter: "1h",
    reminders: [],
  });

describe("channels whose far end fails", () => {
  it("retries stalls, refused connections, 451s and 500s, records every attempt, and escalates on permanent failure", async () => {
    await bed.approvals.start();
    const transient = {
      "a@stall.test": await ask("a@stall.test"),
      "b@refused.test": await ask("b@refused.test"),
      "deferred@temp.test": await ask("deferred@temp.test"),
      "slack:USTALL": await ask("slack:USTALL"),
      "slack:UREFUSED": await ask("slack:UREFUSED"),
      "slack:UFAILING": await ask("slack:UFAILING"),
    };
    const gone = await ask("gone@perm.test", [["backup@ok.test"]]);
    const down = await ask("slack:UDOWN", [["deputy@ok.test"]]);

    // The refused ports start listening once their first attempt has failed.
    await eventually(
      async () => attempts(await bed.approvals.events(transient["b@refused.test"].id), "b@refused.test").length > 0,
    );
    await proxies.smtpRefused.open();
    await eventually(
      async () => attempts(await bed.approvals.events(transient["slack:UREFUSED"].id), "slack:UREFUSED").length > 0,
    );
    await proxies.slackRefused.open();

    for (const [reviewer, approval] of Object.entries(transient)) {
      const trail = await eventually(async () => {
        const found = attempts(await bed.approvals.events(approval.id), reviewer);
        return found.some((a) => a.type === "notified") && found;
      }, 20_000);
      expect(trail, reviewer).toEqual([
        { type: "notify_failed", channel: expect.any(String), attempt: 1, final: false },
        { type: "notified", channel: trail[0]?.channel, attempt: 2, final: null },
      ]);
    }
    const failures: string[] = (await Promise.all(Object.values(transient).map((a) => bed.approvals.events(a.id))))
      .flat()
      .filter((e) => e.type === "notify_failed")
      .map((e) => `${e.channel}: ${String(e.data.error)}`);
    expect(failures.join("\n")).toMatch(/smtp-stall: Greeting never received/);
    expect(failures.join("\n")).toMatch(/smtp-refused: .*ECONNREFUSED/);
    expect(failures.join("\n")).toMatch(/smtp: .*451/);
    expect(failures.join("\n")).toMatch(/slack-stall: .*(timeout|time)/i);
    expect(failures.join("\n")).toMatch(/slack-refused: .*ECONNREFUSED/);
    expect(failures.join("\n")).toMatch(/slack-failing: .*500/);

    // Delivered exactly once on the far end.
    const mailsTo = (address: string) =>
      smtp.messages.filter((m) => !Array.isArray(m.to) && m.to?.value[0]?.address === address);
    expect(mailsTo("a@stall.test")).toHaveLength(1);
    expect(mailsTo("b@refused.test")).toHaveLength(1);
    expect(mailsTo("deferred@temp.test")).toHaveLength(1);
    for (const [name, id] of [
      ["stall", "USTALL"],
      ["refused", "UREFUSED"],
      ["failing", "UFAILING"],
    ] as const) {
      const posted = slack[name].callsOf("chat.postMessage").filter((c) => c.params.channel === id);
      expect(posted.length, name).toBeGreaterThanOrEqual(1);
    }

    // Refused for good (550 at once; 500 until the attempts run out): the next level is asked.
    for (const [approval, reviewer, backup, finalAttempt] of [
      [gone, "gone@perm.test", "backup@ok.test", 1],
      [down, "slack:UDOWN", "deputy@ok.test", 2],
    ] as const) {
      const escalated = await eventually(
        async () => (await bed.approvals.events(approval.id)).find((e) => e.type === "escalated"),
        20_000,
      );
      expect(escalated.data).toEqual({ level: 1, reviewers: [backup] });
      const trail = attempts(await bed.approvals.events(approval.id), reviewer);
      expect(trail.at(-1), reviewer).toMatchObject({ type: "notify_failed", attempt: finalAttempt, final: true });
      await eventually(() => mailsTo(backup).length === 1);
    }
  }, 60_000);
});
