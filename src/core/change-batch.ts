/**
 * Changes made on countersign's own pool (not in a host's transaction) are written together when they
 * arrive together: most of a change's database time is per statement, not per approval (measured: 0.74
 * ms of PostgreSQL CPU for one decision alone, 0.13 ms each for sixteen in one statement). Nothing waits
 * for a batch to fill: a change is written at once when no write is running, and the changes that arrive
 * meanwhile go together in the next one. An idle server writes each change alone, as before.
 *
 * Each change still commits with its vote, events, jobs and NOTIFY, or not at all; changes written
 * together commit together. One that lost a race (its approval moved on) is reported as such and planned
 * again by its caller. A change whose approval another transaction holds (a host's, still open) is
 * written by itself, so it holds up no other. A batch PostgreSQL refuses (one change's rows broke a
 * constraint) wrote nothing and is written again change by change, so each caller gets its own outcome.
 */
import type { ApprovalFacts } from "../domain/facts.ts";
import type { Plan } from "../domain/plan.ts";
import { addResumeJobsQuery } from "../scheduler/queue.ts";
import { type ChangeSetResult, type ChangeSetTarget, type SetChange, writeChangeSet } from "../store/change-set.ts";
import type { Database, Db } from "../store/connection.ts";
import { type Applied, appliedFromJson, applyPlan, asSetChange } from "./apply-plan.ts";
import type { EngineContext } from "./context.ts";

/** At most this many changes in one statement: its JSON and its locks stay small. */
const MOST_PER_STATEMENT = 64;

interface Waiting {
  ctx: EngineContext;
  facts: ApprovalFacts;
  plan: Plan;
  change: SetChange;
  resolve: (applied: Applied | undefined) => void;
  reject: (error: unknown) => void;
}

class ChangeBatcher {
  private readonly waiting: Waiting[] = [];
  private writing = false;

  private readonly database: Database;
  private readonly target: ChangeSetTarget;

  constructor(database: Database) {
    this.database = database;
    const { schema, workerSchema } = database;
    this.target = {
      schema,
      workerSchema,
      resumeJobs: (final) => addResumeJobsQuery(workerSchema, schema, final),
    };
  }

  write(member: Waiting): void {
    this.waiting.push(member);
    this.next();
  }

  /**
   * One writer per pool at a time: it takes a connection once and writes batch after batch on it until
   * no change waits. One at a time gives the largest batches (two or four at once made smaller ones, and
   * more PostgreSQL CPU per decision, for no more throughput), and a connection taken per batch waited
   * behind every read queued for the pool, most of each batch's time under load.
   */
  private next(): void {
    if (this.writing || this.waiting.length === 0) return;
    this.writing = true;
    let batch: Waiting[] = [];
    void this.database
      .session(async (db) => {
        while (this.waiting.length > 0) {
          batch = this.take();
          await this.writeBatch(db, batch);
          batch = [];
        }
      })
      .catch((error: unknown) => {
        // The batch being written is told; with no connection to be had, so is every waiting change.
        for (const member of batch.length > 0 ? batch : this.waiting.splice(0)) member.reject(error);
      })
      .finally(() => {
        this.writing = false;
        this.next();
      });
  }

  /**
   * The longest-waiting changes, one per approval: a statement updates a row once, so a second change
   * of the same approval waits for the next statement (where it loses the race and is planned again).
   */
  private take(): Waiting[] {
    const batch: Waiting[] = [];
    const ids = new Set<string>();
    let kept = 0;
    for (const member of this.waiting) {
      if (batch.length < MOST_PER_STATEMENT && !ids.has(member.change.id)) {
        ids.add(member.change.id);
        batch.push(member);
      } else {
        this.waiting[kept++] = member;
      }
    }
    this.waiting.length = kept;
    return batch;
  }

  /** Writes a batch on `db`; throws what is every change's error (a lost connection, a bug). */
  private async writeBatch(db: Db, batch: Waiting[]): Promise<void> {
    let result: ChangeSetResult;
    try {
      result = await writeChangeSet(
        db,
        this.target,
        batch.map((member) => member.change),
      );
    } catch (error) {
      if (!refusedByDatabase(error)) throw error;
      // Some change's rows were refused, and nothing of the batch was written: each change on its own
      // gets its own outcome (and error).
      for (const member of batch) this.alone(member);
      return;
    }
    for (const member of batch) {
      const row = result.written.get(member.change.id);
      if (row) member.resolve(appliedFromJson(row));
      else if (result.busy.has(member.change.id)) this.alone(member);
      else member.resolve(undefined);
    }
  }

  /** Writes one change by itself, as `applyPlan` does, without holding up the batches. */
  private alone(member: Waiting): void {
    void this.database
      .run((db) => applyPlan(member.ctx, db, member.facts, member.plan))
      .then(member.resolve, member.reject);
  }
}

/**
 * PostgreSQL refused what the statement wrote (bad data, a constraint, a trigger's exception) or gave up
 * on it (a serialization failure, a deadlock): written one by one, the changes get their own outcomes. A
 * connection or server fault (classes 08, 53, 57, or no SQLSTATE at all) is not the rows' doing.
 */
function refusedByDatabase(error: unknown): boolean {
  const { code } = error as { code?: unknown };
  return typeof code === "string" && /^(22|23|40|P0)/.test(code);
}

const batchers = new WeakMap<Database, ChangeBatcher>();

/**
 * `applyPlan` for a change on countersign's pool (`db`): written with the changes that arrive with it
 * when its shape is one a change set covers, else alone. Resolves as `applyPlan` does.
 */
export function applyOnPool(
  ctx: EngineContext,
  db: Db,
  facts: ApprovalFacts,
  plan: Plan,
): Promise<Applied | undefined> {
  const change = asSetChange(ctx, facts, plan);
  if (!change) return applyPlan(ctx, db, facts, plan);
  let batcher = batchers.get(ctx.database);
  if (!batcher) {
    batcher = new ChangeBatcher(ctx.database);
    batchers.set(ctx.database, batcher);
  }
  const writer = batcher;
  return new Promise((resolve, reject) => writer.write({ ctx, facts, plan, change, resolve, reject }));
}
