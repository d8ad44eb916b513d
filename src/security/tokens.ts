/**
 * Reviewer tokens: one per reviewer per approval, 32 bytes, base64url (43 characters).
 *
 * A token is HMAC-SHA256 under the host's secret of 32 random bytes (the nonce) bound to the approval and
 * the reviewer. The database keeps the nonce and the token's SHA-256 digest, never the token: the worker
 * that sends a reminder hours later re-derives the link from the secret, while a stolen database alone
 * yields no working link. Rotating the secret invalidates outstanding links.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const DOMAIN = "countersign/reviewer-token/v1";

export function createTokenNonce(): Buffer {
  return randomBytes(TOKEN_BYTES);
}

export function deriveToken(secret: string, approvalId: string, reviewer: string, nonce: Buffer): string {
  return createHmac("sha256", secret)
    .update(DOMAIN)
    .update("\0")
    .update(approvalId)
    .update("\0")
    .update(reviewer)
    .update("\0")
    .update(nonce)
    .digest("base64url");
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** Cheap shape check before any database lookup. */
export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** Constant-time comparison of a presented token with a stored digest. */
export function tokenMatches(token: string, storedHash: Uint8Array): boolean {
  const presented = hashToken(token);
  return presented.length === storedHash.length && timingSafeEqual(presented, storedHash);
}
