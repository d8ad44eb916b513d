/** A new approval: the validated request (see `core/request-input.ts`) and what creating it brings. */
import { reviewersToAsk } from "./facts.ts";
import { type Job, ROUNDS, stepTimers } from "./jobs.ts";
import type { PlannedEvent } from "./plan.ts";
import type { BatchAction, JsonValue, StepSchedule, TimeoutAction, VoteOutcome } from "./types.ts";

export interface RequestPlanStep {
  name: string;
  quorum: number;
  /** levels[0] are the step's reviewers; levels[n] join at escalation level n. */
  levels: string[][];
  schedule: StepSchedule;
}

export interface RequestPlan {
  type: string;
  title: string;
  payload: JsonValue;
  requestedBy: string;
  steps: RequestPlanStep[];
  timeoutMs: number;
  timeoutAction: TimeoutAction;
  idempotencyKey: string | null;
  /** Top-level payload fields a reviewer may change when approving. */
  editable: string[];
  /** The JSON Schema an edited payload must satisfy, or null. */
  payloadSchema: JsonValue | null;
  /** One person counts once across all steps (four-eyes). */
  distinctAcrossSteps: boolean;
  /** How long before the deadline the `expiring` notice goes out, or null. */
  warnBeforeMs: number | null;
  /** A batch's actions (their inputs are in `payload`), or null. */
  actions: BatchAction[] | null;
  /** The host's own data. */
  metadata: Record<string, JsonValue> | null;
  /** SHA-256 of the payload's canonical JSON (revision 1). */
  payloadDigest: string;
  /** Digest of everything above but the key, to spot a key reused for a different request. */
  fingerprint: string;
}

/** Everyone who gets a link: every listed reviewer but the requester. */
export function reviewersWithLinks(request: RequestPlan): string[] {
  return reviewersToAsk(request.requestedBy, [...new Set(request.steps.flatMap((step) => step.levels.flat()))]);
}

/** What the policies made of a request (see `policy.ts`). */
interface PolicyVerdict {
  events: PlannedEvent[];
  decided: { outcome: VoteOutcome; reason: string; by: string } | null;
}

/**
 * The first audit events and the jobs of a new approval: the first ask, the first step's timers, the
 * timeout. An enforced policy's answer makes it final at once: its events, and no job (no human asked).
 */
export function planCreation(
  id: string,
  request: RequestPlan,
  policies: PolicyVerdict = { events: [], decided: null },
): { events: PlannedEvent[]; jobs: Job[] } {
  const [first] = request.steps;
  if (!first) throw new Error("a request has at least one step");
  const { decided } = policies;
  if (decided) {
    return {
      events: [
        requestedEvent(request),
        ...policies.events,
        {
          type: decided.outcome === "approve" ? "approved" : "rejected",
          actor: decided.by,
          channel: "policy",
          step: 0,
          comment: decided.reason,
          data: { final: true, policy: decided.by },
        },
      ],
      jobs: [],
    };
  }
  return {
    events: [requestedEvent(request), ...policies.events],
    jobs: [
      {
        task: "notify",
        approvalId: id,
        kind: "request",
        round: ROUNDS.request(0),
        step: 0,
        recipients: reviewersToAsk(request.requestedBy, first.levels[0] ?? []),
      },
      ...stepTimers(
        id,
        { step: 0, schedule: first.schedule, escalationLevels: first.levels.length - 1 },
        request.timeoutMs,
      ),
      { task: "timeout", approvalId: id, delayMs: request.timeoutMs },
      ...(request.warnBeforeMs !== null
        ? [{ task: "warning" as const, approvalId: id, delayMs: request.timeoutMs - request.warnBeforeMs }]
        : []),
    ],
  };
}

function requestedEvent(request: RequestPlan): PlannedEvent {
  return {
    type: "requested",
    actor: request.requestedBy,
    channel: null,
    step: null,
    comment: null,
    data: {
      type: request.type,
      steps: request.steps.map((step) => ({
        name: step.name,
        quorum: step.quorum,
        reviewers: step.levels[0] ?? [],
        escalation: step.levels.slice(1),
      })),
      timeoutMs: request.timeoutMs,
      timeoutAction: request.timeoutAction,
      idempotencyKey: request.idempotencyKey,
      ...(request.editable.length > 0 ? { editable: request.editable } : {}),
      ...(request.distinctAcrossSteps ? {} : { distinctAcrossSteps: false }),
      ...(request.warnBeforeMs !== null ? { warnBeforeMs: request.warnBeforeMs } : {}),
    },
  };
}
