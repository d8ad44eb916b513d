/**
 * Who a reviewer or requester is. Ids are opaque strings chosen by the host, but two strings that a
 * person reads as the same id must be the same id, or one person could count twice towards a quorum or
 * approve their own request under a second spelling. Every id is normalised once, at the edge.
 */

/** Characters that render as nothing: a copy with one inside looks identical to a person. */
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

/**
 * Trims, composes (NFC), removes invisible characters, and lower-cases e-mail addresses. `+tags` are
 * kept: `alice+ops@x.com` is another mailbox, and its owner chose to use it.
 */
export function normalizeIdentity(id: string): string {
  const cleaned = id.normalize("NFC").replace(INVISIBLE, "").trim();
  return EMAIL.test(cleaned) ? cleaned.toLowerCase() : cleaned;
}
