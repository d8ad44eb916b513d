/**
 * Payload revisions: a reviewer who approves may change the fields the request made editable, and each
 * such approval makes the next revision. A revision is named by the SHA-256 of its canonical JSON, so
 * the audit can say exactly which payload a decision was made on.
 */
import { createHash } from "node:crypto";
import type { JsonValue } from "./types.ts";

/** JSON with object keys sorted at every depth: the same value always gives the same text. */
function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 (hex) of the payload's canonical JSON. */
export function payloadDigest(payload: JsonValue): string {
  return createHash("sha256").update(canonicalJson(payload)).digest("hex");
}

/** One changed field; `from` is null when the field was absent. */
interface FieldEdit {
  field: string;
  from: JsonValue | null;
  to: JsonValue;
}

export type EditResult =
  | { ok: true; payload: JsonValue; edits: FieldEdit[] }
  | { ok: false; field: string; editable: string[] };

/**
 * The payload with `changes` applied, or the first field that may not change. Fields set to the value
 * they already have are no edit.
 */
export function editPayload(
  payload: JsonValue,
  editable: readonly string[],
  changes: Record<string, JsonValue>,
): EditResult {
  const fields = Object.keys(changes).sort();
  const refused = fields.find((field) => !editable.includes(field));
  if (refused !== undefined) return { ok: false, field: refused, editable: [...editable] };
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { ok: false, field: fields[0] ?? "", editable: [] };
  }
  const edits: FieldEdit[] = [];
  const next: Record<string, JsonValue> = { ...payload };
  for (const field of fields) {
    const to = changes[field] as JsonValue;
    const from = Object.hasOwn(payload, field) ? (payload[field] as JsonValue) : null;
    if (Object.hasOwn(payload, field) && canonicalJson(from as JsonValue) === canonicalJson(to)) continue;
    next[field] = to;
    edits.push({ field, from, to });
  }
  return { ok: true, payload: edits.length > 0 ? next : payload, edits };
}
