/** `policyReport`: how each policy's answers compare with what humans then decided. */
import { z } from "zod";
import { policyTallies } from "../store/policy-report.ts";
import { durationMs, parseInput } from "../validation.ts";
import type { EngineContext } from "./context.ts";

/** One policy (name, version, mode) over the period. */
export interface PolicyReportRow {
  policy: string;
  version: string;
  mode: "enforce" | "shadow";
  /** Requests it was asked about and answered or failed on (not those it left to others). */
  evaluated: number;
  wouldApprove: number;
  wouldReject: number;
  /** Times it threw, hung or answered nonsense (humans were asked). */
  errors: number;
  /** Shadow answers matching what humans then decided (approved or rejected). */
  agreed: number;
  disagreed: number;
  /** Shadow answers whose approval humans have not decided (pending, timed out or cancelled). */
  undecided: number;
}

const reportSchema = z.strictObject({
  since: z.union([durationMs, z.date()], { error: 'must be a duration ("30d") or a Date' }).default(30 * 86_400_000),
});

export async function policyReport(
  ctx: EngineContext,
  options: { since?: string | number | Date } = {},
): Promise<PolicyReportRow[]> {
  const { since } = parseInput(reportSchema, options, "policyReport options");
  const from = since instanceof Date ? since : new Date(Date.now() - since);
  const rows = await ctx.database.run((db) => policyTallies(db, ctx.database.schema, from));
  return rows.map((r) => ({
    policy: r.policy,
    version: r.version,
    mode: r.mode,
    evaluated: r.evaluated,
    wouldApprove: r.would_approve,
    wouldReject: r.would_reject,
    errors: r.errors,
    agreed: r.agreed,
    disagreed: r.disagreed,
    undecided: r.undecided,
  }));
}
