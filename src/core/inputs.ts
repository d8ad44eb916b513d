/** The other public methods' inputs (decide, extend, delegate, cancel, list, wait): types and zod schemas. */
import { z } from "zod";
import type { Duration } from "../domain/duration.ts";
import { APPROVAL_STATUSES, type JsonValue, type VoteOutcome } from "../domain/types.ts";
import { identity, optionalText, positiveDurationMs, text } from "../validation.ts";
import { plainJson } from "./json-input.ts";

/** A reviewer's decision on one action of a batch. */
export interface ActionDecisionInput {
  outcome: VoteOutcome;
  /** New values for the action's `editable` input fields; approving only. */
  edits?: Record<string, JsonValue>;
  /** Why (kept with the action; a rejection's reason reaches the agent). */
  comment?: string;
}

export interface DecideInput {
  /** A reviewer listed on the current step (normalised: e-mail addresses compare case-insensitively). */
  reviewer: string;
  /** Required unless `actions` decides a batch; on a batch it approves or rejects every open action. */
  outcome?: VoteOutcome;
  comment?: string;
  /** A batch: the decision on each action still open (every one of them, in one vote). */
  actions?: Record<string, ActionDecisionInput>;
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
  /** The channel it came through, for the audit trail (the CLI says `"cli"`). @defaultValue `"api"` */
  via?: string;
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
  /** The channel it came through, for the audit trail. @defaultValue `"api"` */
  via?: string;
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

/** The payload's limit; a batch's inputs and a reviewer's edits share it. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const reviewerId = identity(320);

const contextSchema = plainJson(
  z.record(z.string(), z.unknown(), { error: "must be an object" }),
  "the context",
  8 * 1024,
);

const outcomeSchema = z.enum(["approve", "reject"], { error: 'must be "approve" or "reject"' });
const actionDecisionSchema = z.strictObject({
  outcome: outcomeSchema,
  edits: plainJson(
    z.record(text(200), z.unknown(), { error: "must be an object of field: new value" }),
    "edits",
    MAX_PAYLOAD_BYTES,
  )
    .optional()
    .transform((value) => (value ?? null) as Record<string, JsonValue> | null),
  comment: optionalText(2000).transform((value) => value ?? null),
});

export const decideSchema = z
  .strictObject({
    reviewer: reviewerId,
    outcome: outcomeSchema.optional(),
    actions: z
      .record(text(200), actionDecisionSchema, { error: "must be an object of action id: decision" })
      .refine((actions) => Object.keys(actions).length <= 50, { error: "at most 50 actions" })
      .optional()
      .transform((value) => value ?? null),
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
  })
  .refine((input) => input.outcome !== undefined || input.actions !== null, {
    error: 'must be "approve" or "reject" (or give actions, for a batch)',
    path: ["outcome"],
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
    via: text(50).default("api"),
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

export const cancelSchema = z.strictObject({
  reason: text(2000),
  by: identity(320).default("api"),
  via: text(50).default("api"),
});

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
