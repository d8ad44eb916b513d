/**
 * Policies: code that may answer a request before any human is asked. Enforced, the first answer
 * decides (the approval is final when created, with no human notified); in shadow mode an answer is only
 * recorded, for `policyReport` to compare with what humans then decided. What a policy said is always a
 * `policy_evaluated` audit event. Pure: the engine runs the policies' code and hands the answers here.
 */
import type { PlannedEvent } from "./plan.ts";
import type { JsonValue, VoteOutcome } from "./types.ts";

/** What a policy answered, or why it could not. */
export type PolicyResult =
  | { kind: "answer"; outcome: VoteOutcome; reason: string }
  | { kind: "none" }
  | { kind: "error"; message: string };

/** One policy as configured, with what it answered for this request. */
export interface EvaluatedPolicy {
  name: string;
  version: string;
  mode: "enforce" | "shadow";
  result: PolicyResult;
}

/** The identity a policy decides under: `policy:<name>@<version>`. */
const policyActor = (policy: { name: string; version: string }) => `policy:${policy.name}@${policy.version}`;

/** The events the answers make, and the enforced answer that decides, if one did. */
export function planPolicies(evaluated: readonly EvaluatedPolicy[]): {
  events: PlannedEvent[];
  decided: { outcome: VoteOutcome; reason: string; by: string } | null;
} {
  const events: PlannedEvent[] = [];
  for (const policy of evaluated) {
    const { result } = policy;
    if (result.kind === "none") continue;
    const data: Record<string, JsonValue> = {
      policy: policy.name,
      version: policy.version,
      mode: policy.mode,
      ...(result.kind === "answer" ? { outcome: result.outcome } : { error: result.message }),
    };
    events.push({
      type: "policy_evaluated",
      actor: policyActor(policy),
      channel: "policy",
      step: null,
      comment: result.kind === "answer" ? result.reason : null,
      data,
    });
    // Fail closed: a policy that failed decides nothing, and no later policy decides in its place.
    if (result.kind === "error") return { events, decided: null };
    if (policy.mode === "enforce") {
      return { events, decided: { outcome: result.outcome, reason: result.reason, by: policyActor(policy) } };
    }
  }
  return { events, decided: null };
}
