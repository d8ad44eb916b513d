import { z } from "zod";
import { parseDuration } from "./core/duration.ts";
import { ValidationError, type ValidationIssue } from "./errors.ts";

/** Parses `input` with `schema`, or throws a ValidationError naming every failed field and rule. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(what, result.error.issues.map(toIssue));
}

function toIssue(issue: z.core.$ZodIssue): ValidationIssue {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return { path, message: `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}` };
  }
  if (issue.code === "invalid_type" && issue.input === undefined) return { path, message: "is required" };
  return { path, message: issue.message };
}

/** A duration in milliseconds, given as "30s", "5m", "8h", "2d" or a number of milliseconds. */
export const durationMs = z.union([z.string(), z.number()]).transform((value, ctx) => {
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

/** Non-empty trimmed text of bounded length. */
export function text(max: number) {
  return z
    .string({ error: "must be a string" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` });
}
