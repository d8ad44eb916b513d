/** Input that must be plain JSON (a payload, edits, audit context): what is refused, and where. */
import type { z } from "zod";
import { unstorable } from "../validation.ts";

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

/** `base`, refined: plain JSON only (see {@link firstNonJson}), at most `maxBytes` as JSON. */
export function plainJson<S extends z.ZodType>(base: S, what: string, maxBytes: number) {
  return base.superRefine((value, ctx) => {
    const found = firstNonJson(value, [], new Set());
    if (found) {
      ctx.addIssue({ code: "custom", path: found.path, message: `is ${found.what}; ${what} must be plain JSON` });
    } else if (Buffer.byteLength(JSON.stringify(value)) > maxBytes) {
      ctx.addIssue({ code: "custom", message: `must be at most ${maxBytes} bytes as JSON` });
    }
  });
}
