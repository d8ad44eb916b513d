/**
 * `payloadSchema`: a request may give a zod schema or a JSON Schema that every revision of its payload
 * must satisfy. It is stored as JSON Schema (the approval outlives the process that asked), and an
 * edited payload is checked against it before anything is written.
 */
import { z } from "zod";
import type { JsonValue } from "../domain/types.ts";
import { ValidationError } from "../errors.ts";
import { parseInput } from "../validation.ts";

/** The schema as JSON Schema, or a ValidationError when it cannot be one (a transform, a refinement…). */
export function storedSchema(schema: unknown): JsonValue | null {
  if (schema === undefined || schema === null) return null;
  let json: unknown = schema;
  if (schema instanceof z.ZodType) {
    try {
      json = z.toJSONSchema(schema, { io: "input", unrepresentable: "throw", override: refuseCode });
    } catch (error) {
      throw new ValidationError("requestApproval input", [
        {
          path: "payloadSchema",
          message: `cannot be stored as JSON Schema (${error instanceof Error ? error.message : String(error)}); drop transforms and refinements, or pass a JSON Schema`,
        },
      ]);
    }
  } else if (typeof schema !== "object" || Array.isArray(schema)) {
    throw new ValidationError("requestApproval input", [
      { path: "payloadSchema", message: "must be a zod schema or a JSON Schema object" },
    ]);
  }
  compile(json as JsonValue, "requestApproval input");
  return json as JsonValue;
}

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

function compile(schema: JsonValue, what: string): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new ValidationError(what, [
      { path: "payloadSchema", message: `is not a JSON Schema countersign can check (${String(error)})` },
    ]);
  }
}

/** Throws a ValidationError naming each field of `payload` that breaks `schema`. */
export function checkPayload(schema: JsonValue | null, payload: JsonValue, what: string): void {
  if (schema === null) return;
  parseInput(compile(schema, what), payload, what);
}
