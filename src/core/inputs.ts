/** The public methods' inputs: zod schemas (validation at the edge) and the plan a request becomes. */
import { z } from "zod";
import type { Duration } from "../domain/duration.ts";
import type { RequestPlan, RequestPlanStep } from "../domain/request.ts";
import { payloadDigest } from "../domain/revision.ts";
import { ValidationError } from "../errors.ts";
import { APPROVAL_STATUSES, type JsonValue, type TimeoutAction, type VoteOutcome } from "../domain/types.ts";
import { identity, optionalText, parseInput, positiveDurationMs, text } from "../validation.ts";
import type { ResolvedOptions } from "./options.ts";
import { plainJson } from "./json-input.ts";
import { checkPayload, storedSchema } from "./payload-schema.ts";

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
  /** Top-level payload fields a reviewer may change when approving (the payload must be an object). */
  editable?: string[];
  /**
   * A zod schema or a JSON Schema every revision of the payload must satisfy: the request's payload, and
   * each reviewer's edits. Stored as JSON Schema, so zod transforms and refinements are refused.
   */
  payloadSchema?: z.ZodType | Record<string, unknown>;
  /**
   * One person counts once across all steps of the approval (four-eyes); `false` lets someone approve
   * on several steps (still once per step). @defaultValue `true`
   */
  distinctAcrossSteps?: boolean;
  /** Send the current step's undecided reviewers an `expiring` notice this long before the deadline. */
  warnBefore?: Duration;
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
  /** Approving with changes: new values for fields the request made `editable`. Makes a new revision. */
  edits?: Record<string, JsonValue>;
  /**
   * The payload revision the reviewer looked at: refused with `STALE_REVISION` when another reviewer's
   * edit made a newer one since. @defaultValue whatever revision is current
   */
  revision?: number;
}

/** Input of `extend`: give `by` or `until`. */
export interface ExtendInput {
  /** Move the deadline this much later. */
  by?: Duration;
  /** The new deadline. */
  until?: Date | string;
  reason?: string;
  /** Who extends. @defaultValue `"api"` */
  actor?: string;
}

/** Input of `delegate`. */
export interface DelegateInput {
  /** The reviewer who is away. */
  from: string;
  /** Who decides for them meanwhile (one hop: their own delegations do not carry on). */
  to: string;
  /** When the delegation ends. */
  until: Date | string;
  reason?: string;
  /** Who set it up. @defaultValue `from` */
  by?: string;
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

const payloadSchema = plainJson(z.unknown(), "the payload", MAX_PAYLOAD_BYTES);

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
    editable: z.array(text(200)).max(100, { error: "at most 100 fields" }).optional(),
    payloadSchema: z.unknown().optional(),
    distinctAcrossSteps: z.boolean().optional(),
    warnBefore: positiveDurationMs.optional(),
  })
  .superRefine((input, ctx) => {
    const payload = input.payload;
    if (input.editable?.length && (payload === null || typeof payload !== "object" || Array.isArray(payload))) {
      ctx.addIssue({ code: "custom", path: ["editable"], message: "needs a payload that is an object" });
    }
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
  const timeoutMs = parsed.timeout?.after ?? defaults.timeoutMs;
  const warnBeforeMs = parsed.warnBefore ?? null;
  if (warnBeforeMs !== null && warnBeforeMs >= timeoutMs) {
    throw new ValidationError("requestApproval input", [
      { path: "warnBefore", message: "must be shorter than the timeout, or the warning would come before the request" },
    ]);
  }
  const payload = (parsed.payload ?? {}) as JsonValue;
  const schema = storedSchema(parsed.payloadSchema);
  checkPayload(schema, payload, "requestApproval input (payload against payloadSchema)");
  const base = {
    type: parsed.type,
    title: parsed.title,
    payload,
    requestedBy: parsed.requestedBy,
    steps,
    timeoutMs,
    timeoutAction: parsed.timeout?.action ?? defaults.timeoutAction,
  };
  const weight = {
    editable: [...new Set(parsed.editable ?? [])],
    payloadSchema: schema,
    distinctAcrossSteps: parsed.distinctAcrossSteps ?? true,
    warnBeforeMs,
  };
  // Options left at their defaults stay out of the fingerprint: a key reused across an upgrade still matches.
  const fingerprinted = {
    ...base,
    ...(weight.editable.length > 0 ? { editable: weight.editable } : {}),
    ...(schema !== null ? { payloadSchema: schema } : {}),
    ...(weight.distinctAcrossSteps ? {} : { distinctAcrossSteps: false }),
    ...(warnBeforeMs !== null ? { warnBeforeMs } : {}),
  };
  return {
    ...base,
    ...weight,
    idempotencyKey: parsed.idempotencyKey ?? null,
    fingerprint: payloadDigest(fingerprinted as unknown as JsonValue),
  };
}

const contextSchema = plainJson(
  z.record(z.string(), z.unknown(), { error: "must be an object" }),
  "the context",
  8 * 1024,
);

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
  edits: plainJson(
    z.record(text(200), z.unknown(), { error: "must be an object of field: new value" }),
    "edits",
    MAX_PAYLOAD_BYTES,
  )
    .optional()
    .transform((value) => (value ?? null) as Record<string, JsonValue> | null),
  revision: z.int({ error: "must be a whole number" }).min(1, { error: "must be at least 1" }).optional(),
});

const instant = z
  .union([z.date(), z.string()], { error: "must be a Date or an ISO 8601 date" })
  .transform((value, ctx) => {
    const date = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({
        code: "custom",
        message: "must be a valid date (ISO 8601, e.g. 2026-12-31 or 2026-12-31T17:00:00Z)",
      });
      return z.NEVER;
    }
    return date;
  });

export const extendSchema = z
  .strictObject({
    by: positiveDurationMs.optional(),
    until: instant.optional(),
    reason: optionalText(2000),
    actor: identity(320).default("api"),
  })
  .refine((input) => (input.by === undefined) !== (input.until === undefined), {
    error: "give either by or until (exactly one)",
    path: ["by"],
  });

export const delegateSchema = z
  .strictObject({
    from: reviewerId,
    to: reviewerId,
    until: instant,
    reason: optionalText(2000),
    by: identity(320).optional(),
  })
  .refine((input) => input.from !== input.to, { error: "must differ from `from`", path: ["to"] });

export const delegationsSchema = z.strictObject({
  active: z.boolean().optional(),
  reviewer: reviewerId.optional(),
  limit: z.int().min(1).max(500).default(100),
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
