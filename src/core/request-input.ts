/** `requestApproval`'s input: its types, its zod schema, and the plan a valid request becomes. */
import { z } from "zod";
import { batchPayload } from "../domain/batch.ts";
import type { Duration } from "../domain/duration.ts";
import type { RequestPlan, RequestPlanStep } from "../domain/request.ts";
import { payloadDigest } from "../domain/revision.ts";
import type { JsonValue, TimeoutAction } from "../domain/types.ts";
import { ValidationError } from "../errors.ts";
import { identity, optionalText, parseInput, positiveDurationMs, text } from "../validation.ts";
import { MAX_PAYLOAD_BYTES, reviewerId } from "./inputs.ts";
import { plainJson } from "./json-input.ts";
import type { ResolvedOptions } from "./options.ts";
import { checkPayload, storedSchema } from "./payload-schema.ts";
import { type Policy, policySchema, type ResolvedPolicy } from "./policies.ts";

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
  /**
   * A batch: 1 to 50 actions (an agent's tool calls), each decided on its own in one review. Instead of
   * `payload`; the final status is `approved` when at least one action may run.
   */
  actions?: ActionRequest[];
  /**
   * The host's own data carried with the approval (a thread id, an agent's saved run state): plain JSON,
   * at most 1 MiB, never shown to reviewers; returned as `approval.metadata`.
   */
  metadata?: Record<string, JsonValue>;
  /** Policies asked before the instance's, for this request only. */
  policies?: Policy[];
  /** `false`: ask humans, whatever the policies would say. */
  policy?: false;
}

/** One action of a batch. */
export interface ActionRequest {
  /** Unique in the batch, e.g. the framework's tool call id. */
  id: string;
  /** The tool's name. */
  name: string;
  /** The tool's arguments (an object when any field is `editable`). */
  input: JsonValue;
  /** Top-level fields of `input` a reviewer may change when approving this action. @defaultValue `[]` */
  editable?: string[];
  /** Shown to the reviewer with the action. */
  description?: string;
  /**
   * A zod schema or a JSON Schema (a tool's parameters) that a reviewer's edit of `input` must satisfy:
   * an edit that breaks it is refused with a ValidationError naming the field. The input as requested is
   * not checked, so a reviewer can fix it. Stored as JSON Schema, like `payloadSchema`.
   */
  inputSchema?: z.ZodType | Record<string, unknown>;
}

/** A step names at most this many reviewers, over all its escalation levels. */
const MAX_REVIEWERS_PER_STEP = 100;
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
const MAX_METADATA_BYTES = 1024 * 1024;
const actionSchema = z.strictObject({
  id: text(200),
  name: text(200),
  input: z.unknown(),
  editable: z.array(text(200)).max(100, { error: "at most 100 fields" }).optional(),
  description: optionalText(2000),
  inputSchema: z.unknown().optional(),
});
// The inputs become the payload, so they share its limits (checked on the payload).
const actionsSchema = z
  .array(actionSchema)
  .min(1, { error: "must have at least one action" })
  .max(50, { error: "at most 50 actions" })
  .superRefine((actions, ctx) => {
    actions.forEach((action, index) => {
      if (actions.findIndex((other) => other.id === action.id) !== index) {
        ctx.addIssue({ code: "custom", path: [index, "id"], message: `"${action.id}" is used by two actions` });
      }
      const input = action.input;
      if (action.editable?.length && (input === null || typeof input !== "object" || Array.isArray(input))) {
        ctx.addIssue({ code: "custom", path: [index, "editable"], message: "needs an input that is an object" });
      }
    });
  });
const metadataSchema = plainJson(
  z.record(z.string(), z.unknown(), { error: "must be an object" }),
  "the metadata",
  MAX_METADATA_BYTES,
);

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
    actions: actionsSchema.optional(),
    metadata: metadataSchema.optional(),
    policies: z.array(policySchema).max(50, { error: "at most 50 policies" }).optional(),
    policy: z.literal(false, { error: "must be false (to skip the policies) or left out" }).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.actions) {
      for (const field of ["payload", "editable", "payloadSchema"] as const) {
        if (input[field] !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [field],
            message: `a batch takes no ${field}: give each action its input (and editable fields)`,
          });
        }
      }
    }
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
  const actions = parsed.actions?.map((a, index) => {
    const inputSchema = storedSchema(a.inputSchema, `actions.${index}.inputSchema`);
    return {
      id: a.id,
      name: a.name,
      description: a.description ?? null,
      editable: [...new Set(a.editable ?? [])],
      // Left out when absent, so that the fingerprint of a batch without schemas stays as it was.
      ...(inputSchema !== null ? { inputSchema } : {}),
    };
  });
  const payload = parsed.actions
    ? (parseInput(
        payloadSchema,
        batchPayload(parsed.actions.map((a) => ({ ...a, input: (a.input ?? null) as JsonValue }))),
        "requestApproval input (actions' inputs)",
      ) as JsonValue)
    : ((parsed.payload ?? {}) as JsonValue);
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
    // The host's metadata is not part of the question: a retry that saved a newer run state still matches.
    ...(actions ? { actions } : {}),
  };
  return {
    ...base,
    ...weight,
    actions: actions ?? null,
    payloadDigest: payloadDigest(payload),
    metadata: (parsed.metadata ?? null) as Record<string, JsonValue> | null,
    idempotencyKey: parsed.idempotencyKey ?? null,
    fingerprint: payloadDigest(fingerprinted as unknown as JsonValue),
  };
}

/** The policies a request is asked by: its own, then the instance's; none with `policy: false`. */
export function requestPolicies(input: ApprovalRequest, instance: readonly ResolvedPolicy[]): ResolvedPolicy[] {
  if (input.policy === false) return [];
  const own = input.policies
    ? parseInput(z.array(policySchema), input.policies, "requestApproval input (policies)")
    : [];
  return [...own, ...instance];
}
