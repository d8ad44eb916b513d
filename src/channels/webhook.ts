/**
 * A signed outbound webhook: every notification POSTed as JSON, signed per Standard Webhooks, with the
 * same `webhook-id` on every retry so receivers can deduplicate. Only a 2xx answer counts. Private,
 * loopback and link-local targets are refused (checked on the address actually connected to, so DNS
 * rebinding does not slip past), and so are redirects to them, unless `allowPrivateNetwork` is set.
 */
import { createHash } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";
import type { Notification } from "../domain/types.ts";
import { webhookKey, type WebhookSecret } from "../security/secrets.ts";
import { signWebhook } from "../security/signatures.ts";
import { UndeliverableError, type Channel } from "./channel.ts";

/** Options of {@link webhookChannel}. */
export interface WebhookChannelOptions {
  url: string;
  /**
   * `whsec_<base64>` of at least 24 bytes (or the raw key bytes), shared with the receiver, who checks
   * requests with `verifyWebhook`. Anything else, a missing one included, is refused with a ValidationError
   * (typed to take `process.env.WEBHOOK_SECRET` as it is).
   */
  secret: WebhookSecret | undefined;
  /** @defaultValue `"webhook"` */
  name?: string;
  /** @defaultValue `10_000` */
  timeoutMs?: number;
  /** Allow private, loopback and link-local targets (a receiver inside your network). @defaultValue `false` */
  allowPrivateNetwork?: boolean;
  /** Redirects followed (each target checked like the first). @defaultValue `3` */
  maxRedirects?: number;
}

const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv6");
}

/** True for loopback, private, link-local, unique-local, multicast and unspecified addresses. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NON_PUBLIC.check(address, "ipv4");
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    return mapped ? NON_PUBLIC.check(mapped, "ipv4") : NON_PUBLIC.check(address, "ipv6");
  }
  return true;
}

class RefusedTarget extends UndeliverableError {}

/** A DNS lookup that refuses non-public answers: the check happens on the address we connect to. */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "", 0);
    const list = addresses as LookupAddress[];
    const refused = list.find((entry) => isNonPublicAddress(entry.address));
    if (refused)
      return callback(
        new RefusedTarget(`refused ${hostname}: it resolves to a non-public address (${refused.address})`),
        "",
        0,
      );
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const [first] = list;
    return callback(null, first?.address ?? "", first?.family ?? 4);
  });
};

/** Refuses non-http(s) URLs and, unless allowed, literal private addresses and localhost names. */
export function checkUrl(target: URL, allowPrivate: boolean): void {
  if (target.protocol !== "https:" && target.protocol !== "http:")
    throw new RefusedTarget(`refused ${target.href}: only http(s) URLs`);
  const host = target.hostname.replace(/^\[|\]$/g, "");
  if (!allowPrivate && (isIP(host) ? isNonPublicAddress(host) : host === "localhost" || host.endsWith(".localhost"))) {
    throw new RefusedTarget(
      `refused ${target.href}: private, loopback and link-local targets need allowPrivateNetwork`,
    );
  }
}

function post(target: URL, body: string, headers: Record<string, string>, timeoutMs: number, allowPrivate: boolean) {
  return new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      target,
      {
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "countersign-webhook",
        },
        timeout: timeoutMs,
        ...(allowPrivate ? {} : { lookup: publicOnlyLookup }),
      },
      (res) => {
        res.resume(); // the answer's body is not needed; drain it so the socket is freed
        res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The JSON every receiver gets: `{ type, timestamp, data }` as Standard Webhooks suggests. */
function webhookPayload(n: Notification): Record<string, unknown> {
  return {
    type: `approval.${n.kind}`,
    timestamp: new Date().toISOString(),
    data: {
      key: n.key,
      reviewer: n.reviewer,
      approval: n.approval,
      links: n.links,
      decision: n.decision,
      attempt: n.attempt,
    },
  };
}

/**
 * @example
 * webhookChannel({ url: "https://hooks.company.com/approvals", secret: process.env.WEBHOOK_SECRET })
 */
export function webhookChannel(options: WebhookChannelOptions): Channel {
  const key = webhookKey(options.secret, "webhookChannel options");
  const start = new URL(options.url);
  const allowPrivate = options.allowPrivateNetwork ?? false;
  checkUrl(start, allowPrivate);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxRedirects = options.maxRedirects ?? 3;
  return {
    name: options.name ?? "webhook",
    async send(n) {
      // Stable across retries: receivers deduplicate on it.
      const id = `msg_${createHash("sha256").update(`${n.key}\0${n.reviewer}`).digest("base64url").slice(0, 32)}`;
      const body = JSON.stringify(webhookPayload(n));
      let target = start;
      for (let hop = 0; ; hop++) {
        const headers = signWebhook(key, id, Math.floor(Date.now() / 1000), body);
        let answer: { status: number; location: string | undefined };
        try {
          answer = await post(target, body, headers, timeoutMs, allowPrivate);
        } catch (error) {
          if (error instanceof RefusedTarget) throw error;
          const cause = (error as { cause?: unknown }).cause;
          if (cause instanceof RefusedTarget) throw cause;
          throw error;
        }
        if (answer.status >= 200 && answer.status < 300) return;
        if (answer.status >= 300 && answer.status < 400 && answer.location) {
          if (hop >= maxRedirects) throw new Error(`the webhook redirected more than ${maxRedirects} times`);
          target = new URL(answer.location, target);
          checkUrl(target, allowPrivate);
          continue;
        }
        throw new Error(`the webhook answered ${answer.status}; only 2xx counts as delivered`);
      }
    },
  };
}
