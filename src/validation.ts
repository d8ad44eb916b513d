import { z } from "zod";
import { parseDuration } from "./domain/duration.ts";
import { normalizeIdentity } from "./domain/identity.ts";
import { ValidationError, type ValidationIssue } from "./errors.ts";

/** Parses `input` with `schema`, or throws a ValidationError naming every failed field and rule. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    what,
    result.error.issues.map((issue) => toIssue(issue, input)),
  );
}

/** The value at `path` in `input`; undefined where the path leads nowhere. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function toIssue(issue: z.core.$ZodIssue, input: unknown): ValidationIssue {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return {
      path,
      message: `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`,
    };
  }
  // zod leaves `issue.input` out unless asked, so whether the field is missing is read from the input: a
  // value of the wrong type keeps its own message instead of being called missing.
  if (issue.code === "invalid_type" && valueAt(input, issue.path) === undefined)
    return { path, message: "is required" };
  return { path, message: issue.message };
}

/** A duration in milliseconds, given as "30s", "5m", "8h", "2d" or a number of milliseconds. */
export const durationMs = z
  .union([z.string(), z.number()], { error: 'must be a duration: e.g. "30s", "5m", "8h", "2d" or milliseconds' })
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a duration; use e.g. "30s", "5m", "8h", "2d" or milliseconds`,
      });
      return z.NEVER;
    }
    return ms;
  });

/** A positive duration no longer than a year. */
export const positiveDurationMs = durationMs.pipe(
  z
    .number()
    .min(1, { error: "must be longer than zero" })
    .max(365 * 86_400_000, { error: "must be at most 365 days" }),
);

/** Why a string cannot be stored as text: PostgreSQL refuses NUL, and UTF-8 cannot carry a lone surrogate. */
export function unstorable(value: string): string | undefined {
  if (value.includes("\u0000")) return "must not contain NUL characters";
  if (!value.isWellFormed()) return "must not contain unpaired surrogates (malformed UTF-16)";
  return undefined;
}

/** A string PostgreSQL can store as text. */
export function storableString() {
  return z.string({ error: "must be a string" }).superRefine((value, ctx) => {
    const problem = unstorable(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
}

/** Non-empty trimmed text of bounded length. */
export function text(max: number) {
  return storableString()
    .trim()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` });
}

/** Optional free text (a comment): trimmed, empty means none. */
export function optionalText(max: number) {
  return storableString()
    .trim()
    .max(max, { error: `must be at most ${max} characters` })
    .optional()
    .transform((value) => (value ? value : null));
}

/** A reviewer or requester id, normalised (see `domain/identity.ts`). */
export function identity(max: number) {
  return storableString()
    .transform(normalizeIdentity)
    .pipe(
      z
        .string()
        .min(1, { error: "must not be empty" })
        .max(max, { error: `must be at most ${max} characters` }),
    );
}

/**
 * A shared secret given as text: long enough, and without the whitespace or control characters that a
 * copied environment variable brings along (a secret with a trailing newline works on one side only).
 */
export function secretSchema(min: number) {
  return z
    .string({ error: "is required" })
    .min(min, { error: `must be at least ${min} characters` })
    .refine((value) => value.trim() === value && !/\p{Cc}/u.test(value), {
      error: "must not start or end with whitespace or contain control characters",
    });
}
