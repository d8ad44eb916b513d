/**
 * Checking an approval's audit chain, link by link. Each event's hash covers its content and the previous
 * event's hash, so an edited event fails its own hash, a deleted or inserted one breaks the next link,
 * and a reordered pair fails both. Pure: rows in (as the store read them, in chain order), a verdict out.
 */

/** One event as the chain check needs it. */
export interface ChainLink {
  id: string;
  approvalId: string;
  seq: number;
  prevHash: string | null;
  hash: string | null;
  /** The hash the stored content gives now. */
  expected: string;
}

/** Where the chain breaks, and why, in words an auditor can act on. */
export interface BrokenLink {
  approvalId: string;
  eventId: string;
  seq: number;
  reason: string;
}

/** The state carried from one link to the next (across pages too). */
export interface ChainCursor {
  approvalId: string;
  seq: number;
  hash: string | null;
}

/** Checks `link` against the link before it in the same approval (`previous`, if any). */
export function checkLink(link: ChainLink, previous: ChainCursor | undefined): BrokenLink | undefined {
  const broken = (reason: string) => ({ approvalId: link.approvalId, eventId: link.id, seq: link.seq, reason });
  const before = previous && previous.approvalId === link.approvalId ? previous : undefined;
  if (!before) {
    if (link.seq !== 1) return broken(`the chain starts at event ${link.seq}: events 1 to ${link.seq - 1} are missing`);
    if (link.prevHash !== null) return broken("the first event links to an earlier one that does not exist");
  } else {
    if (link.seq !== before.seq + 1) {
      return broken(`event ${before.seq + 1} is missing (the chain jumps from ${before.seq} to ${link.seq})`);
    }
    if (link.prevHash !== before.hash) {
      return broken("it does not link to the event before it (events were deleted, inserted or reordered)");
    }
  }
  if (link.hash !== link.expected) return broken("its content does not match its hash (it was changed)");
  return undefined;
}
