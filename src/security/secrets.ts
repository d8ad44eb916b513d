/**
 * Secrets handed to channels, checked where they are given: an empty or garbage secret would let anyone
 * sign a request that countersign then trusts.
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { parseInput, secretSchema } from "../validation.ts";

/** Slack's signing secrets are 32 hex characters; anything much shorter is a mistake, not a secret. */
const SLACK_SIGNING_SECRET_MIN = 20;
/** Standard Webhooks keys are 24 to 64 random bytes. */
const WEBHOOK_KEY_MIN_BYTES = 24;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The Slack app's signing secret, or a ValidationError naming `what`. */
export function parseSlackSigningSecret(secret: unknown, what = "slackChannel options"): string {
  return parseInput(
    z.object({ signingSecret: secretSchema(SLACK_SIGNING_SECRET_MIN) }),
    { signingSecret: secret },
    what,
  ).signingSecret;
}

/** A webhook secret as `whsec_<base64>`, or raw key bytes, is at least 24 bytes of key. */
export type WebhookSecret = string | Uint8Array;

/** The HMAC key of a webhook secret, or a ValidationError saying what a good one looks like. */
export function webhookKey(secret: unknown, what: string): Buffer {
  const refuse = (message: string) => new ValidationError(what, [{ path: "secret", message }]);
  if (secret instanceof Uint8Array) {
    if (secret.byteLength < WEBHOOK_KEY_MIN_BYTES) throw refuse(`must be at least ${WEBHOOK_KEY_MIN_BYTES} bytes`);
    return Buffer.from(secret);
  }
  if (typeof secret !== "string" || secret === "")
    throw refuse('is required: "whsec_" followed by base64, or raw key bytes');
  if (!secret.startsWith("whsec_"))
    throw refuse('must be "whsec_" followed by base64 (as Standard Webhooks prints them), or raw key bytes');
  const encoded = secret.slice("whsec_".length);
  if (!BASE64.test(encoded)) throw refuse('must be "whsec_" followed by valid base64');
  const key = Buffer.from(encoded, "base64");
  if (key.byteLength < WEBHOOK_KEY_MIN_BYTES)
    throw refuse(`must decode to at least ${WEBHOOK_KEY_MIN_BYTES} bytes (this one has ${key.byteLength})`);
  return key;
}
