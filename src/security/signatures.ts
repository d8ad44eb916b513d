/**
 * Request signatures: Slack's v0 scheme for inbound button clicks, and the Standard Webhooks scheme
 * (https://www.standardwebhooks.com) for outbound webhooks. Both compare in constant time and refuse
 * timestamps more than five minutes away from now, in either direction.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { webhookKey, type WebhookSecret } from "./secrets.ts";

/** How far a signed timestamp may be from now. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60_000;

function equalConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

function checkTimestamp(seconds: number, nowMs: number): SignatureCheck {
  if (!Number.isInteger(seconds)) return { ok: false, reason: "missing or malformed timestamp" };
  const skew = nowMs - seconds * 1000;
  if (skew > SIGNATURE_TOLERANCE_MS) return { ok: false, reason: "timestamp is more than 5 minutes old" };
  if (skew < -SIGNATURE_TOLERANCE_MS) return { ok: false, reason: "timestamp is more than 5 minutes in the future" };
  return { ok: true };
}

/** Verifies `X-Slack-Signature` (v0 HMAC-SHA256 over `v0:timestamp:rawBody`). */
export function verifySlackSignature(input: {
  signingSecret: string;
  timestamp: string | null;
  signature: string | null;
  body: Uint8Array;
  nowMs?: number;
}): SignatureCheck {
  const seconds = input.timestamp && /^\d{1,12}$/.test(input.timestamp) ? Number(input.timestamp) : Number.NaN;
  const fresh = checkTimestamp(seconds, input.nowMs ?? Date.now());
  if (!fresh.ok) return fresh;
  if (!input.signature) return { ok: false, reason: "missing signature" };
  const expected = `v0=${createHmac("sha256", input.signingSecret)
    .update(`v0:${input.timestamp}:`)
    .update(input.body)
    .digest("hex")}`;
  return equalConstantTime(expected, input.signature)
    ? { ok: true }
    : { ok: false, reason: "signature does not match" };
}

/** Signs as Slack does; for tests and tools that act as Slack. */
export function signSlackRequest(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

/** Standard Webhooks headers for one delivery, signed with the key of a parsed secret (see `secrets.ts`). */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): Record<string, string> {
  const signature = createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64");
  return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": `v1,${signature}` };
}

/**
 * Verifies a Standard Webhooks request (for receivers of countersign's webhook channel).
 *
 * @example
 * const check = verifyWebhook({ secret: process.env.WEBHOOK_SECRET, headers: req.headers, body: rawBody });
 * if (!check.ok) return res.status(401).end(check.reason);
 */
export function verifyWebhook(input: {
  /** `whsec_<base64>` (at least 24 bytes of key), or the raw key bytes; anything else throws a ValidationError. */
  secret: WebhookSecret;
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The raw body, exactly as received. */
  body: string | Uint8Array;
  nowMs?: number;
}): SignatureCheck {
  const key = webhookKey(input.secret, "verifyWebhook secret");
  const header = (name: string) => {
    const value = input.headers instanceof Headers ? input.headers.get(name) : input.headers[name];
    return Array.isArray(value) ? value[0] : (value ?? null);
  };
  const id = header("webhook-id");
  const timestamp = header("webhook-timestamp");
  const signatures = header("webhook-signature");
  if (!id || !signatures) return { ok: false, reason: "missing webhook-id or webhook-signature" };
  const seconds = timestamp && /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  const fresh = checkTimestamp(seconds, input.nowMs ?? Date.now());
  if (!fresh.ok) return fresh;
  const body = typeof input.body === "string" ? input.body : Buffer.from(input.body).toString("utf8");
  const expected = signWebhook(key, id, seconds, body)["webhook-signature"] ?? "";
  const match = signatures.split(" ").some((candidate) => equalConstantTime(candidate, expected));
  return match ? { ok: true } : { ok: false, reason: "signature does not match" };
}
