/**
 * Links' reads for decisions, taken together when they arrive together: a decision through a link reads
 * its token and approval first, and under load a statement for each cost more than the rows it read. As
 * with the writes (`change-batch.ts`), nothing waits for a batch to fill: a read goes at once when none is
 * running, and those that arrive meanwhile go together in the next.
 */
import { type LinkFactsRead, readFactsByTokens } from "../store/approval-reads.ts";
import type { Database } from "../store/connection.ts";

/** At most this many tokens in one read. */
const MOST_PER_READ = 64;

interface Waiting {
  tokenHash: Buffer;
  resolve: (read: LinkFactsRead | undefined) => void;
  reject: (error: unknown) => void;
}

class LinkReads {
  private readonly waiting: Waiting[] = [];
  private reading = false;
  private readonly database: Database;

  constructor(database: Database) {
    this.database = database;
  }

  read(tokenHash: Buffer): Promise<LinkFactsRead | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ tokenHash, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.reading || this.waiting.length === 0) return;
    this.reading = true;
    const batch = this.waiting.splice(0, MOST_PER_READ);
    void this.database
      .run((db) =>
        readFactsByTokens(
          db,
          batch.map((member) => member.tokenHash),
        ),
      )
      .then(
        (reads) => {
          for (const member of batch) member.resolve(reads.get(member.tokenHash.toString("hex")));
        },
        (error: unknown) => {
          for (const member of batch) member.reject(error);
        },
      )
      .finally(() => {
        this.reading = false;
        this.next();
      });
  }
}

const reads = new WeakMap<Database, LinkReads>();

/** A link's token and the facts of its approval (see `readFactsByTokens`), read with those that arrive with it. */
export function readLink(database: Database, tokenHash: Buffer): Promise<LinkFactsRead | undefined> {
  let reader = reads.get(database);
  if (!reader) {
    reader = new LinkReads(database);
    reads.set(database, reader);
  }
  return reader.read(tokenHash);
}
