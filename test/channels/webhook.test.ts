import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkUrl, isNonPublicAddress, publicOnlyLookup } from "../../src/channels/webhook.ts";
import { UndeliverableError, verifyWebhook, webhookChannel } from "../../src/index.ts";
import { eventually, useTestBed } from "../support/test-bed.ts";

const SECRET = `whsec_${Buffer.from("a-webhook-secret-of-32-bytes!!!!").toString("base64")}`;
interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  verified: boolean;
}
const received: Received[] = [];
let failNext = 0;
let server: Server;
let url = "";

beforeAll(async () => {
  server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.url === "/moved") {
      res.writeHead(307, { location: "/hook" });
      return res.end();
    }
    received.push({
      headers: req.headers,
      body,
      verified: verifyWebhook({ secret: SECRET, headers: req.headers, body }).ok,
    });
    res.writeHead(failNext-- > 0 ? 503 : 204);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const bed = useTestBed("webhook_channel", () => ({
  channels: [webhookChannel({ url: `${url}/moved`, secret: SECRET, allowPrivateNetwork: true })],
  delivery: { maxAttempts: 3 },
}));
beforeAll(() => bed.approvals.start());

describe("the webhook channel", () => {
  it("POSTs each notification signed per Standard Webhooks, follows a redirect, and keeps its id across retries", async () => {
    failNext = 1;
    const approval = await bed.approvals.requestApproval({
      type: "deploy.v1",
      title: "Ship",
      requestedBy: "agent://ci",
      reviewers: ["sre@x.com"],
      reminders: [],
    });
    await eventually(() => received.filter((r) => r.body.includes(approval.id)).length === 2, 20_000);
    const [first, second] = received.filter((r) => r.body.includes(approval.id));
    expect(first?.verified).toBe(true);
    expect(second?.verified).toBe(true);
    expect(first?.headers["webhook-id"]).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    expect(second?.headers["webhook-id"]).toBe(first?.headers["webhook-id"]);
    expect(first?.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(first?.headers["content-type"]).toBe("application/json");
    const payload = JSON.parse(second?.body ?? "{}");
    expect(payload).toMatchObject({
      type: "approval.request",
      data: {
        reviewer: "sre@x.com",
        approval: { id: approval.id, title: "Ship" },
        links: { view: expect.stringContaining("/r/") },
      },
    });
    // The worker records the delivery after the webhook has answered: the second request can arrive first.
    const webhookEvents = async () => (await bed.approvals.events(approval.id)).filter((e) => e.channel === "webhook");
    const events = await eventually(async () => {
      const found = await webhookEvents();
      return found.length === 2 && found;
    });
    expect(events.map((e) => [e.type, e.data.attempt])).toEqual([
      ["notify_failed", 1],
      ["notified", 2],
    ]);
    expect(events[0]?.data.error).toBe("the webhook answered 503; only 2xx counts as delivered");
  });

  it("verifyWebhook refuses a tampered body, a wrong secret and an old timestamp", async () => {
    const delivery = received[0];
    if (!delivery) throw new Error("no delivery yet");
    expect(
      verifyWebhook({ secret: SECRET, headers: delivery.headers, body: delivery.body.replace("Ship", "Shop") }),
    ).toEqual({
      ok: false,
      reason: "signature does not match",
    });
    const other = `whsec_${Buffer.from("another-secret-another-secret-!!").toString("base64")}`;
    expect(verifyWebhook({ secret: other, headers: delivery.headers, body: delivery.body }).ok).toBe(false);
    expect(
      verifyWebhook({
        secret: SECRET,
        headers: delivery.headers,
        body: delivery.body,
        nowMs: Date.now() + 10 * 60_000,
      }),
    ).toEqual({
      ok: false,
      reason: "timestamp is more than 5 minutes old",
    });
  });
});

describe("webhook targets", () => {
  it("refuses private, loopback and link-local targets unless allowPrivateNetwork", () => {
    for (const target of [
      "http://127.0.0.1:9/hook",
      "http://localhost/hook",
      "http://10.1.2.3/",
      "http://169.254.169.254/latest",
      "http://[::1]/",
      "http://[fd00::1]/",
      "ftp://example.com/",
    ]) {
      expect(() => webhookChannel({ url: target, secret: SECRET }), target).toThrow(UndeliverableError);
    }
    expect(() =>
      webhookChannel({ url: "http://127.0.0.1:9/hook", secret: SECRET, allowPrivateNetwork: true }),
    ).not.toThrow();
    expect(() => checkUrl(new URL("https://hooks.company.com/approvals"), false)).not.toThrow();
  });

  it("classifies addresses, including IPv4 mapped into IPv6", () => {
    expect(
      ["192.168.1.1", "172.20.0.1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "fe80::1", "ff02::1"].every(
        isNonPublicAddress,
      ),
    ).toBe(true);
    expect(["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"].some(isNonPublicAddress)).toBe(false);
  });

  it("refuses a host name that resolves to a private address (checked on the address connected to)", async () => {
    const error = await new Promise<Error | null>((resolve) => publicOnlyLookup("localhost", {}, (e) => resolve(e)));
    expect(error).toBeInstanceOf(UndeliverableError);
    expect(error?.message).toMatch(/refused localhost: it resolves to a non-public address \((127\.0\.0\.1|::1)\)/);
  });
});
