/** `prune`: retention for final approvals, in bounded batches; pending approvals are never touched. */
import { sql } from "kysely";
import { z } from "zod";
import { sweepApprovalsJobs } from "../scheduler/queue.ts";
import { doomedApprovalIds, type PruneBatch, pruneBatch, pruneCandidates } from "../store/retention.ts";
import { parseInput, positiveDurationMs } from "../validation.ts";
import type { EngineContext } from "./context.ts";
import type { Duration } from "../domain/duration.ts";

export interface PruneOptions {
  /** Final approvals decided longer ago than this, e.g. `"180d"`. */
  finalOlderThan: Duration;
  /**
   * Keep their audit events, as verifiable chains that outlive the approval (`verifyAudit` still checks
   * them). @defaultValue `true`
   */
  keepAudit?: boolean;
  /** Count what would go, remove nothing. @defaultValue `false` */
  dryRun?: boolean;
  /** Approvals per transaction: the longest any lock is held. @defaultValue `500` */
  batchSize?: number;
}

/** What `prune` removed (or, with `dryRun`, would remove). */
export interface PruneResult extends PruneBatch {
  dryRun: boolean;
  /** The decision time before which final approvals went. */
  cutoff: Date;
}

const pruneSchema = z.strictObject({
  finalOlderThan: positiveDurationMs,
  keepAudit: z.boolean().default(true),
  dryRun: z.boolean().default(false),
  batchSize: z.int().min(1).max(10_000).default(500),
});

export async function prune(ctx: EngineContext, options: PruneOptions): Promise<PruneResult> {
  const parsed = parseInput(pruneSchema, options, "prune options");
  const { schema, workerSchema } = ctx.database;
  const cutoff = await ctx.database.run(async (db) => {
    const { rows } = await sql<{
      cutoff: Date;
    }>`select now() - ${parsed.finalOlderThan}::float8 * interval '1 millisecond' as cutoff`.execute(db);
    return rows[0]?.cutoff ?? new Date(Date.now() - parsed.finalOlderThan);
  });
  const doomed = doomedApprovalIds(schema, cutoff);
  if (parsed.dryRun) {
    const counts = await ctx.database.transaction(async (db) => ({
      ...(await pruneCandidates(db, schema, cutoff)),
      jobs: await sweepApprovalsJobs(db, workerSchema, doomed, true),
    }));
    return { ...counts, events: parsed.keepAudit ? 0 : counts.events, dryRun: true, cutoff };
  }
  // The jobs first, in one statement before the batches: the pass over the jobs table is made once per
  // prune, not once per batch. A final approval gets no new jobs.
  const jobs = await ctx.database.transaction((db) => sweepApprovalsJobs(db, workerSchema, doomed));
  const total: PruneBatch = { approvals: 0, events: 0, jobs };
  for (;;) {
    const batch = await ctx.database.transaction(async (db) => {
      if (!parsed.keepAudit) await sql`select set_config('countersign.pruning', 'on', true)`.execute(db);
      return pruneBatch(db, { schema, workerSchema }, { cutoff, limit: parsed.batchSize, keepAudit: parsed.keepAudit });
    });
    total.approvals += batch.approvals;
    total.events += batch.events;
    if (batch.approvals < parsed.batchSize) return { ...total, dryRun: false, cutoff };
  }
}
