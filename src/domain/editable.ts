/**
 * The fields a reviewer may change, as form inputs: their kind comes from the payload schema when there
 * is one (an enum is a select), else from the current value. The page, Slack's Edit modal and the CLI
 * all turn what a person typed back into JSON here, so "45000" is the number 45000 everywhere.
 */
import type { JsonValue } from "./types.ts";

type FieldInput = "number" | "integer" | "text" | "boolean" | "select" | "json";

export interface EditableField {
  field: string;
  input: FieldInput;
  /** The current value (null when the payload has no such field yet). */
  value: JsonValue | null;
  /** For a select: the allowed values. */
  options: JsonValue[];
}

interface EditableSource {
  payload: JsonValue;
  editable: readonly string[];
  payloadSchema: JsonValue | null;
}

type SchemaNode = { type?: unknown; enum?: unknown; const?: unknown; anyOf?: unknown };

function propertySchema(schema: JsonValue | null, field: string): SchemaNode | undefined {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return undefined;
  const properties = schema.properties;
  if (properties === null || typeof properties !== "object" || Array.isArray(properties)) return undefined;
  const node = properties[field];
  return node !== null && typeof node === "object" && !Array.isArray(node) ? (node as SchemaNode) : undefined;
}

function inputOf(node: SchemaNode | undefined, value: JsonValue | null): { input: FieldInput; options: JsonValue[] } {
  if (node && Array.isArray(node.enum)) return { input: "select", options: node.enum as JsonValue[] };
  const type = Array.isArray(node?.type) ? (node.type as unknown[]).find((t) => t !== "null") : node?.type;
  if (type === "integer") return { input: "integer", options: [] };
  if (type === "number") return { input: "number", options: [] };
  if (type === "boolean") return { input: "boolean", options: [] };
  if (type === "string") return { input: "text", options: [] };
  if (type === "object" || type === "array") return { input: "json", options: [] };
  if (typeof value === "number") return { input: "number", options: [] };
  if (typeof value === "boolean") return { input: "boolean", options: [] };
  if (value !== null && typeof value === "object") return { input: "json", options: [] };
  return { input: "text", options: [] };
}

export function editableFields(source: EditableSource): EditableField[] {
  const payload =
    source.payload !== null && typeof source.payload === "object" && !Array.isArray(source.payload)
      ? source.payload
      : {};
  return source.editable.map((field) => {
    const value = Object.hasOwn(payload, field) ? (payload[field] as JsonValue) : null;
    return { field, value, ...inputOf(propertySchema(source.payloadSchema, field), value) };
  });
}

/** A batch action's editable fields: its own input and `editable`, typed by its `inputSchema` when it has one. */
export function actionFields(action: {
  input: JsonValue;
  editable: readonly string[];
  inputSchema?: JsonValue;
}): EditableField[] {
  return editableFields({
    payload: action.input,
    editable: action.editable,
    payloadSchema: action.inputSchema ?? null,
  });
}

/** The value as a form shows it. */
export function fieldText(field: EditableField): string {
  const { value } = field;
  if (value === null) return "";
  if (field.input === "json") return JSON.stringify(value);
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What a person typed, as the field's JSON value, or why it cannot be one. */
function parseFieldText(
  field: EditableField,
  text: string,
): { ok: true; value: JsonValue } | { ok: false; error: string } {
  const raw = text.trim();
  switch (field.input) {
    case "number":
    case "integer": {
      const value = Number(raw);
      if (raw === "" || !Number.isFinite(value)) return { ok: false, error: "must be a number" };
      if (field.input === "integer" && !Number.isInteger(value)) return { ok: false, error: "must be a whole number" };
      return { ok: true, value };
    }
    case "boolean":
      if (raw === "true" || raw === "false") return { ok: true, value: raw === "true" };
      return { ok: false, error: 'must be "true" or "false"' };
    case "select": {
      const option = field.options.find((o) => (typeof o === "string" ? o : JSON.stringify(o)) === raw);
      if (option === undefined) {
        return { ok: false, error: `must be one of ${field.options.map((o) => JSON.stringify(o)).join(", ")}` };
      }
      return { ok: true, value: option };
    }
    case "json":
      try {
        return { ok: true, value: JSON.parse(raw) as JsonValue };
      } catch {
        return { ok: false, error: "must be JSON" };
      }
    case "text":
      return { ok: true, value: text };
  }
}

/**
 * The edits a form submitted: only fields whose text changed, parsed. Unknown fields are passed through
 * as text so the engine refuses them by name (they are not editable).
 */
export function editsFromForm(
  fields: EditableField[],
  submitted: Record<string, string>,
): { edits: Record<string, JsonValue>; errors: { field: string; error: string }[] } {
  const edits: Record<string, JsonValue> = {};
  const errors: { field: string; error: string }[] = [];
  for (const [name, text] of Object.entries(submitted)) {
    const field = fields.find((f) => f.field === name);
    if (!field) {
      edits[name] = text;
      continue;
    }
    if (text === fieldText(field)) continue;
    const parsed = parseFieldText(field, text);
    if (parsed.ok) edits[name] = parsed.value;
    else errors.push({ field: name, error: parsed.error });
  }
  return { edits, errors };
}
