/**
 * Running policies (see `domain/policy.ts`) for a request, in order, before it is written: the answers
 * go into the same statement as the approval. A policy's code is the host's: it may throw, hang or answer
 * nonsense, and each of those is recorded and fails closed (humans are asked).
 */
import { z } from "zod";
import type { Duration } from "../domain/duration.ts";
import type { EvaluatedPolicy, PolicyResult } from "../domain/policy.ts";
import type { JsonValue, VoteOutcome } from "../domain/types.ts";
import { positiveDurationMs, text } from "../validation.ts";

/** What a policy sees of a request. */
export interface PolicyRequest {
  type: string;
  title: string;
  /** The payload (for a batch: `{ actions: [{ id, name, input }] }`). */
  payload: JsonValue;
  requestedBy: string;
  /** A batch's actions, or null. */
  actions: { id: string; name: string; input: JsonValue }[] | null;
  metadata: Record<string, JsonValue> | null;
  /** Everyone listed on any step or escalation level. */
  reviewers: string[];
}

/** A policy's answer: decide (enforce) or record (shadow) this outcome, for this reason. */
export interface PolicyAnswer {
  outcome: VoteOutcome;
  reason: string;
}

/**
 * Code that may answer a request before any human is asked.
 * @example
 * { name: "small-refunds", version: "2026-11-01", mode: "shadow",
 *   decide: (r) => r.type === "refund.v1" && Number((r.payload as { amount: number }).amount) <= 50
 *     ? { outcome: "approve", reason: "refund under 50 USD" } : undefined }
 */
export interface Policy {
  /** Letters, digits, `.`, `_`, `-`; with `version`, what the audit and `policyReport` name it by. */
  name: string;
  version: string;
  /** `enforce`: its answer decides; `shadow`: its answer is only recorded. @defaultValue `"enforce"` */
  mode?: "enforce" | "shadow";
  /**
   * How long the request waits for its answer (at most a minute); then the policy has failed, closed,
   * and humans are asked. @defaultValue `"5s"`
   */
  timeout?: Duration;
  /** An answer, or undefined to leave the request to the next policy (and then to humans). */
  decide(request: PolicyRequest): PolicyAnswer | undefined | Promise<PolicyAnswer | undefined>;
}

export const policySchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, { error: "must be 1 to 100 letters, digits, . _ or -" }),
  version: text(100),
  mode: z.enum(["enforce", "shadow"], { error: 'must be "enforce" or "shadow"' }).default("enforce"),
  // A request waits for its policies: one that has not answered by then has failed, and is not waited for.
  timeout: positiveDurationMs.pipe(z.number().max(60_000, { error: "must be at most a minute" })).default(5_000),
  decide: z.custom<Policy["decide"]>((value) => typeof value === "function", { error: "must be a function" }),
});
export type ResolvedPolicy = z.output<typeof policySchema>;

const answerSchema = z.strictObject({
  outcome: z.enum(["approve", "reject"]),
  reason: z.string().trim().min(1).max(2000),
});

async function ask(policy: ResolvedPolicy, request: PolicyRequest): Promise<PolicyResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      Promise.resolve().then(() => policy.decide(request)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${policy.timeout} ms`)), policy.timeout);
      }),
    ]);
    if (answer === undefined) return { kind: "none" };
    const parsed = answerSchema.safeParse(answer);
    if (!parsed.success) {
      return { kind: "error", message: 'answered neither undefined nor { outcome: "approve" | "reject", reason }' };
    }
    return { kind: "answer", ...parsed.data };
  } catch (error) {
    return { kind: "error", message: (error instanceof Error ? error.message : String(error)).slice(0, 2000) };
  } finally {
    clearTimeout(timer);
  }
}

/** Asks each policy in turn; stops at the first enforced answer or the first failure. */
export async function evaluatePolicies(
  policies: readonly ResolvedPolicy[],
  request: PolicyRequest,
): Promise<EvaluatedPolicy[]> {
  const evaluated: EvaluatedPolicy[] = [];
  for (const policy of policies) {
    const result = await ask(policy, request);
    evaluated.push({ name: policy.name, version: policy.version, mode: policy.mode, result });
    if (result.kind === "error" || (result.kind === "answer" && policy.mode === "enforce")) break;
  }
  return evaluated;
}
