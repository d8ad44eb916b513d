/**
 * One LISTEN connection per `createApprovals` instance, shared by every waiter, and never taken from the
 * host's pool (it is held for as long as anyone waits). When the connection drops it reconnects with
 * backoff and tells each subscriber, which re-reads its row: a decision that committed while nobody was
 * listening is still seen.
 */
import type pg from "pg";
import type { Logger } from "../logger.ts";
import { type Change, changeChannel, parseChange } from "./changes.ts";

export interface Subscriber {
  /** A change was announced for this approval (or for any, when subscribed to `*`). */
  onChange(change: Change): void;
  /** LISTEN is active (first time or after a reconnect): re-check anything that may have been missed. */
  onListening(): void;
}

const MAX_BACKOFF_MS = 5_000;

export class ChangeListener {
  readonly #newClient: () => pg.Client;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;

  /** `newClient` makes an unconnected client; name it (`application_name`) so operators can tell what it is. */
  constructor(newClient: () => pg.Client, schema: string, logger: Logger) {
    this.#newClient = newClient;
    this.#channel = changeChannel(schema);
    this.#logger = logger;
  }

  /** Whether LISTEN is active right now. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Subscribes to one approval's changes, or to all with `"*"`. Returns the unsubscribe function. */
  subscribe(id: string, subscriber: Subscriber): () => void {
    let set = this.#subscribers.get(id);
    if (!set) {
      set = new Set();
      this.#subscribers.set(id, set);
    }
    set.add(subscriber);
    if (this.#client) subscriber.onListening();
    else this.#ensureConnected();
    return () => {
      set.delete(subscriber);
      if (set.size === 0) this.#subscribers.delete(id);
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners("notification");
      await client.end().catch(() => {});
    }
  }

  #ensureConnected(): void {
    if (this.#client || this.#connecting || this.#retryTimer || this.#stopped) return;
    this.#connecting = this.#connect().finally(() => {
      this.#connecting = undefined;
    });
  }

  async #connect(): Promise<void> {
    const connection = this.#newClient();
    try {
      connection.on("error", (error) => this.#lost(connection, error));
      connection.on("end", () => this.#lost(connection, new Error("connection ended")));
      connection.on("notification", (message) => {
        if (message.channel === this.#channel) this.#dispatch(parseChange(message.payload));
      });
      await connection.connect();
      await connection.query(`listen ${connection.escapeIdentifier(this.#channel)}`);
      if (this.#stopped) {
        await connection.end().catch(() => {});
        return;
      }
      this.#client = connection;
      this.#failures = 0;
      this.#logger.debug({ channel: this.#channel }, "countersign: listening for decisions");
      for (const set of this.#subscribers.values()) for (const subscriber of set) subscriber.onListening();
    } catch (error) {
      connection.removeAllListeners("end");
      await connection.end().catch(() => {});
      this.#scheduleRetry(error);
    }
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => {});
    if (this.#stopped) return;
    this.#logger.warn({ error: error.message }, "countersign: lost the LISTEN connection, reconnecting");
    this.#scheduleRetry(error);
  }

  #scheduleRetry(error: unknown): void {
    if (this.#stopped) return;
    const delay = Math.min(100 * 2 ** this.#failures++, MAX_BACKOFF_MS);
    this.#logger.debug({ delay, error: String(error) }, "countersign: LISTEN connection retry scheduled");
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#subscribers.size > 0) this.#ensureConnected();
    }, delay);
  }

  #dispatch(change: Change | undefined): void {
    if (!change) return;
    // Written for a burst: a thousand waiters woken by one commit are a thousand calls, run before the JIT
    // has optimized them, and the array and iterators this loop allocated per notification showed in the
    // profile (the waiter's `onChange` builds its decision without a spread for the same reason).
    const wake = (subscriber: Subscriber) => {
      subscriber.onChange(change);
    };
    this.#subscribers.get(change.id)?.forEach(wake);
    this.#subscribers.get("*")?.forEach(wake);
  }
}
