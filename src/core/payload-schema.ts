/**
 * `payloadSchema`: a request may give a zod schema or a JSON Schema that every revision of its payload
 * must satisfy. It is stored as JSON Schema (the approval outlives the process that asked), and an
 * edited payload is checked against it before anything is written.
 */
import { z } from "zod";
import { actionInputs } from "../domain/batch.ts";
import type { BatchAction, JsonValue } from "../domain/types.ts";
import { ValidationError } from "../errors.ts";
import { parseInput } from "../validation.ts";
import { plainJson } from "./json-input.ts";

/**
 * The schema as JSON Schema, or a ValidationError when it cannot be one (a transform, a refinement…),
 * naming the option at `path`.
 */
export function storedSchema(schema: unknown, path = "payloadSchema"): JsonValue | null {
  if (schema === undefined || schema === null) return null;
  let json: unknown = schema;
  if (schema instanceof z.ZodType) {
    try {
      json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw", override: refuseCode });
    } catch (error) {
      throw new ValidationError("requestApproval input", [
        {
          path,
          message: `cannot be stored as JSON Schema (${error instanceof Error ? error.message : String(error)}); drop transforms and refinements, or pass a JSON Schema`,
        },
      ]);
    }
  } else if (typeof schema !== "object" || Array.isArray(schema)) {
    throw new ValidationError("requestApproval input", [
      { path, message: "must be a zod schema or a JSON Schema object" },
    ]);
  }
  // Stored as jsonb with the approval: refused here rather than by the database (a NUL) or the disk (size).
  const storable = plainJson(z.unknown(), "a schema", MAX_SCHEMA_BYTES).safeParse(json);
  if (!storable.success) {
    throw new ValidationError(
      "requestApproval input",
      storable.error.issues.map((issue) => ({ path: [path, ...issue.path].join("."), message: issue.message })),
    );
  }
  compile(json as JsonValue, "requestApproval input", path);
  return json as JsonValue;
}

const MAX_SCHEMA_BYTES = 256 * 1024;

/**
 * Refinements and transforms are code: JSON Schema would silently drop them, and an edit would then pass
 * a rule the request relied on. Refused rather than lost.
 */
function refuseCode(ctx: { zodSchema: unknown }): void {
  const def = (
    ctx.zodSchema as {
      _zod: {
        def: {
          type: string;
          checks?: { _zod: { def: { check: string } } }[];
          out?: { _zod: { def: { type: string } } };
        };
      };
    }
  )._zod.def;
  if (def.type === "transform" || (def.type === "pipe" && def.out?._zod.def.type === "transform")) {
    throw new Error("it has a transform");
  }
  if (def.checks?.some((check) => check._zod.def.check === "custom")) throw new Error("it has a refinement");
}

function compile(schema: JsonValue, what: string, path = "payloadSchema"): z.ZodType {
  try {
    const compiled = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    // References resolve on first use: a schema that only refers to itself (`{ "$ref": "#" }`) overflows
    // the stack here, and is refused with the request, not on a reviewer's edit.
    compiled.safeParse(null);
    return compiled;
  } catch (error) {
    throw new ValidationError(what, [
      { path, message: `is not a JSON Schema countersign can check (${String(error)})` },
    ]);
  }
}

/** Throws a ValidationError naming each field of `payload` that breaks `schema`. */
export function checkPayload(schema: JsonValue | null, payload: JsonValue, what: string): void {
  if (schema === null) return;
  parseInput(compile(schema, what), payload, what);
}

/**
 * A reviewer's revision against what the request asked of it: the whole payload against `payloadSchema`,
 * and in a batch each edited action's input against its `inputSchema`.
 */
export function checkRevision(
  request: { payloadSchema: JsonValue | null; batch: readonly BatchAction[] | null },
  revision: { payload: JsonValue; edits: readonly { action?: string }[] },
  what: string,
): void {
  checkPayload(request.payloadSchema, revision.payload, what);
  if (request.batch) checkActionEdits(request.batch, revision, what);
}

/**
 * A batch: every action whose input a revision edited must still satisfy that action's `inputSchema`.
 * Issues are named `actions.<id>.edits.<field>`, as the batch's other refusals are. Only edited actions
 * are checked: the agent's own input is not, so a reviewer can be the one who fixes it.
 */
function checkActionEdits(
  batch: readonly BatchAction[],
  revision: { payload: JsonValue; edits: readonly { action?: string }[] },
  what: string,
): void {
  const edited = new Set(revision.edits.map((edit) => edit.action));
  const inputs = actionInputs(revision.payload);
  const issues = batch.flatMap((action) => {
    if (action.inputSchema === undefined || !edited.has(action.id)) return [];
    // Outside the try: a schema that no longer compiles is named as the schema, not as the edit.
    const schema = compile(action.inputSchema, what, `actions.${action.id}.inputSchema`);
    try {
      parseInput(schema, inputs.get(action.id) ?? null, what);
      return [];
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return error.issues.map((issue) => ({
        path: `actions.${action.id}.edits${issue.path ? `.${issue.path}` : ""}`,
        message: issue.message,
      }));
    }
  });
  if (issues.length > 0) throw new ValidationError(what, issues);
}
