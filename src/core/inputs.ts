/** The public methods' inputs: zod schemas (validation at the edge) and the plan a request becomes. */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Duration } from "../domain/duration.ts";
import type { RequestPlan, RequestPlanStep } from "../domain/request.ts";
import { APPROVAL_STATUSES, type JsonValue, type TimeoutAction, type VoteOutcome } from "../domain/types.ts";
import { identity, optionalText, parseInput, positiveDurationMs, text, unstorable } from "../validation.ts";
import type { ResolvedOptions } from "./options.ts";

/** One sign-off stage. */
export interface StepInput {
  name: string;
  reviewers: string[];
  /** Distinct approvals needed. @defaultValue `1` */
  quorum?: number;
  /** Reviewers added level by level when nobody decides. @defaultValue `[]` */
  escalation?: string[][];
  /** @defaultValue the request's `reminders` */
  reminders?: Duration[];
  /** @defaultValue the request's `escalateAfter` */
  escalateAfter?: Duration;
}

/** Input of `requestApproval`. Give `reviewers` (one step, quorum 1) or `steps`. */
export interface ApprovalRequest {
  /** A stable name for this kind of approval, e.g. `report.review_approval.v1`. */
  type: string;
  title: string;
  /** What the reviewer judges; any JSON value (at most 256 KiB). @defaultValue `{}` */
  payload?: JsonValue;
  /** Who asks, e.g. `agent://myorg/production/report-generator`. */
  requestedBy: string;
  reviewers?: string[];
  steps?: StepInput[];
  /** Escalation levels for `reviewers`; each waits `escalateAfter`. @defaultValue `[]` */
  escalation?: string[][];
  /** Reminder times counted from the start of each step. @defaultValue `["5m", "30m"]` */
  reminders?: Duration[];
  /** @defaultValue `"30m"` */
  escalateAfter?: Duration;
  /** @defaultValue `{ after: "8h", action: "reject" }` */
  timeout?: { after?: Duration; action?: TimeoutAction };
  /** The same key returns the same approval instead of creating another. */
  idempotencyKey?: string;
}

export interface DecideInput {
  /** A reviewer listed on the current step (normalised: e-mail addresses compare case-insensitively). */
  reviewer: string;
  outcome: VoteOutcome;
  comment?: string;
  /** The channel the decision came through. @defaultValue `"api"` */
  via?: string;
  /** Extra facts for the audit trail (a user agent, a Slack user id…); plain JSON, at most 8 KiB. */
  context?: Record<string, JsonValue>;
  /**
   * The person casting the vote when `reviewer` is a team (say `slack:#finance`): one person's votes
   * count once per step whichever slot they use, and never on their own request. @defaultValue `reviewer`
   */
  voter?: string;
}

export interface CancelInput {
  reason: string;
  /** Who cancels. @defaultValue `"api"` */
  by?: string;
}

export interface ListQuery {
  status?: (typeof APPROVAL_STATUSES)[number];
  /** Approvals that name this reviewer on any step or escalation level. */
  reviewer?: string;
  type?: string;
  /** @defaultValue `50` (at most 500) */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface WaitOptions {
  /** Give up after this long with a WaitTimeoutError; the approval stays pending. @defaultValue no limit */
  timeout?: Duration;
  signal?: AbortSignal;
}

const MAX_PAYLOAD_BYTES = 256 * 1024;
/** A step names at most this many reviewers, over all its escalation levels. */
const MAX_REVIEWERS_PER_STEP = 100;
const reviewerId = identity(320);
const reviewerList = z.array(reviewerId).min(1, { error: "must list at least one reviewer" });
const escalationLevels = z.array(reviewerList).max(10, { error: "at most 10 escalation levels" });
const reminders = z.array(positiveDurationMs).max(20, { error: "at most 20 reminders" });

/**
 * A reviewer appears once per step (across levels, after normalisation), a step names at most
 * {@link MAX_REVIEWERS_PER_STEP}, and the quorum must be reachable without the requester, who may be
 * listed but never decides their own request.
 */
function checkStepReviewers(
  levels: string[][],
  quorum: number,
  requestedBy: string,
  ctx: z.RefinementCtx,
  path: (string | number)[],
) {
  const all = levels.flat();
  if (all.length > MAX_REVIEWERS_PER_STEP) {
    ctx.addIssue({
      code: "custom",
      path: [...path, "reviewers"],
      message: `names ${all.length} reviewers over its levels; at most ${MAX_REVIEWERS_PER_STEP} per step`,
    });
    return;
  }
  const repeated = all.find((reviewer, i) => all.indexOf(reviewer) !== i);
  if (repeated !== undefined) {
    ctx.addIssue({ code: "custom", path: [...path, "reviewers"], message: `lists "${repeated}" twice in one step` });
  }
  const eligible = all.filter((reviewer) => reviewer !== requestedBy).length;
  if (all.length > 0 && quorum > eligible) {
    const excluded = eligible < all.length ? " other than the requester, who cannot approve their own request" : "";
    ctx.addIssue({
      code: "custom",
      path: [...path, "quorum"],
      message: `is ${quorum} but the step names only ${eligible} reviewer${eligible === 1 ? "" : "s"}${excluded}`,
    });
  }
}

const stepSchema = z.strictObject({
  name: text(100),
  reviewers: reviewerList,
  quorum: z.int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }).default(1),
  escalation: escalationLevels.default([]),
  reminders: reminders.optional(),
  escalateAfter: positiveDurationMs.optional(),
});

/** Deeper JSON is refused: no reviewer reads it, and walking it must not exhaust the stack. */
const MAX_JSON_DEPTH = 32;

/**
 * Where `value` stops being storable JSON (a function, a Date, NaN, a cycle, a NUL character, nesting
 * deeper than {@link MAX_JSON_DEPTH}…), or undefined when it is fine.
 */
function firstNonJson(
  value: unknown,
  path: (string | number)[],
  seen: Set<object>,
): { path: (string | number)[]; what: string } | undefined {
  if (value === null || typeof value === "boolean") return undefined;
  if (typeof value === "string") {
    const problem = unstorable(value);
    return problem ? { path, what: `a string that ${problem.replace(/^must not contain/, "contains")}` } : undefined;
  }
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, what: String(value) };
  if (typeof value !== "object") return { path, what: `a ${typeof value}` };
  if (seen.has(value)) return { path, what: "a circular reference" };
  if (path.length >= MAX_JSON_DEPTH) return { path, what: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  const isPlain =
    Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
  if (!isPlain) return { path, what: `a ${value.constructor?.name ?? "non-plain object"}` };
  seen.add(value);
  for (const [key, item] of Object.entries(value)) {
    const at = [...path, Array.isArray(value) ? Number(key) : key];
    const keyProblem = Array.isArray(value) ? undefined : unstorable(key);
    if (keyProblem) return { path: at, what: `a key that ${keyProblem.replace(/^must not contain/, "contains")}` };
    const found = firstNonJson(item, at, seen);
    if (found) return found;
  }
  seen.delete(value);
  return undefined;
}

const payloadSchema = z.unknown().superRefine((value, ctx) => {
  const found = firstNonJson(value, [], new Set());
  if (found) {
    ctx.addIssue({ code: "custom", path: found.path, message: `is ${found.what}; the payload must be plain JSON` });
  } else if (Buffer.byteLength(JSON.stringify(value)) > MAX_PAYLOAD_BYTES) {
    ctx.addIssue({ code: "custom", message: `must be at most ${MAX_PAYLOAD_BYTES} bytes as JSON` });
  }
});

const requestSchema = z
  .strictObject({
    type: text(200),
    title: text(500),
    payload: payloadSchema.optional(),
    requestedBy: identity(500),
    reviewers: reviewerList.optional(),
    steps: z
      .array(stepSchema)
      .min(1, { error: "must have at least one step" })
      .max(20, { error: "at most 20 steps" })
      .optional(),
    escalation: escalationLevels.optional(),
    reminders: reminders.optional(),
    escalateAfter: positiveDurationMs.optional(),
    timeout: z
      .strictObject({
        after: positiveDurationMs.optional(),
        action: z.enum(["approve", "reject", "cancel"]).optional(),
      })
      .optional(),
    idempotencyKey: text(200).optional(),
  })
  .superRefine((input, ctx) => {
    if ((input.reviewers === undefined) === (input.steps === undefined)) {
      ctx.addIssue({ code: "custom", path: ["reviewers"], message: "give either reviewers or steps (exactly one)" });
    }
    if (input.steps && input.escalation) {
      ctx.addIssue({ code: "custom", path: ["escalation"], message: "with steps, give each step its own escalation" });
    }
    if (input.reviewers)
      checkStepReviewers([input.reviewers, ...(input.escalation ?? [])], 1, input.requestedBy, ctx, []);
    const steps = input.steps ?? [];
    steps.forEach((step, index) => {
      checkStepReviewers([step.reviewers, ...step.escalation], step.quorum, input.requestedBy, ctx, ["steps", index]);
      if (steps.findIndex((other) => other.name === step.name) !== index) {
        ctx.addIssue({
          code: "custom",
          path: ["steps", index, "name"],
          message: `"${step.name}" is used by two steps`,
        });
      }
    });
  });

/** Validates a request and fills in defaults; throws a ValidationError naming each bad field. */
export function planRequest(input: ApprovalRequest, defaults: ResolvedOptions["defaults"]): RequestPlan {
  const parsed = parseInput(requestSchema, input, "requestApproval input");
  const remindersMs = parsed.reminders ?? defaults.remindersMs;
  const escalateAfterMs = parsed.escalateAfter ?? defaults.escalateAfterMs;
  const steps: RequestPlanStep[] = (
    parsed.steps ?? [
      { name: "review", reviewers: parsed.reviewers ?? [], quorum: 1, escalation: parsed.escalation ?? [] },
    ]
  ).map((step) => ({
    name: step.name,
    quorum: step.quorum,
    levels: [step.reviewers, ...step.escalation],
    schedule: {
      remindersMs: [...(step.reminders ?? remindersMs)].sort((a, b) => a - b),
      escalateAfterMs: step.escalateAfter ?? escalateAfterMs,
    },
  }));
  const plan = {
    type: parsed.type,
    title: parsed.title,
    payload: (parsed.payload ?? {}) as JsonValue,
    requestedBy: parsed.requestedBy,
    steps,
    timeoutMs: parsed.timeout?.after ?? defaults.timeoutMs,
    timeoutAction: parsed.timeout?.action ?? defaults.timeoutAction,
  };
  return { ...plan, idempotencyKey: parsed.idempotencyKey ?? null, fingerprint: fingerprint(plan) };
}

/** JSON with object keys sorted, so equal values give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function fingerprint(plan: object): string {
  return createHash("sha256").update(canonicalJson(plan)).digest("hex");
}

const MAX_CONTEXT_BYTES = 8 * 1024;
const contextSchema = z.record(z.string(), z.unknown(), { error: "must be an object" }).superRefine((value, ctx) => {
  const found = firstNonJson(value, [], new Set());
  if (found)
    ctx.addIssue({ code: "custom", path: found.path, message: `is ${found.what}; the context must be plain JSON` });
  else if (Buffer.byteLength(JSON.stringify(value)) > MAX_CONTEXT_BYTES) {
    ctx.addIssue({ code: "custom", message: `must be at most ${MAX_CONTEXT_BYTES} bytes as JSON` });
  }
});

export const decideSchema = z.strictObject({
  reviewer: reviewerId,
  outcome: z.enum(["approve", "reject"], { error: 'must be "approve" or "reject"' }),
  comment: optionalText(2000),
  /**
   * The person casting the vote when `reviewer` is a team (a Slack channel, say): one person's votes
   * count once per step whatever slot they use. Defaults to the reviewer.
   */
  voter: reviewerId.optional(),
  via: text(50).default("api"),
  context: contextSchema.optional().transform((value) => (value ?? null) as Record<string, JsonValue> | null),
});

export const cancelSchema = z.strictObject({ reason: text(2000), by: identity(320).default("api") });

export const listSchema = z.strictObject({
  status: z.enum(APPROVAL_STATUSES).optional(),
  reviewer: reviewerId.optional(),
  type: text(200).optional(),
  limit: z.int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export const waitSchema = z.strictObject({
  timeout: positiveDurationMs.optional(),
  signal: z.instanceof(AbortSignal, { error: "must be an AbortSignal" }).optional(),
});

export const approvalId = z.uuid({ error: "must be an approval id (a UUID)" });
