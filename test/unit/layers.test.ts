/**
 * The layers of src/ (see README "Architecture"): each module imports only its own unit and the layers
 * below it; `domain/` imports nothing outside itself. Reads every import, type-only ones included.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Lowest first. A unit is a folder (`core/`) or a file (`errors.ts`). */
const LAYERS: string[][] = [
  ["domain/"],
  ["errors.ts", "logger.ts", "text.ts", "html.ts"],
  ["validation.ts", "runtime.ts"],
  ["security/"],
  ["channels/"],
  ["store/"],
  ["scheduler/"],
  ["core/"],
  ["http/", "worker/"],
  ["approvals.ts"],
  ["index.ts"],
  // Framework adapters and the MCP server use the public API only; the CLI serves MCP over stdio.
  ["adapters/", "mcp/"],
  ["cli/"],
];

function unitOf(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? path : path.slice(0, slash + 1);
}

function layerOf(path: string): number {
  const unit = unitOf(path);
  const layer = LAYERS.findIndex((units) => units.includes(unit));
  if (layer < 0) throw new Error(`src/${path} is in no layer: add its unit (${unit}) to LAYERS`);
  return layer;
}

/** Why `from` may not import `to` (both relative to src/), or undefined when it may. */
function violation(from: string, to: string): string | undefined {
  const [fromUnit, toUnit] = [unitOf(from), unitOf(to)];
  if (fromUnit === toUnit) return undefined;
  if (fromUnit === "domain/") return `domain/ imports nothing outside itself, but ${from} imports ${to}`;
  const [fromLayer, toLayer] = [layerOf(from), layerOf(to)];
  if (toLayer > fromLayer) return `${from} (layer ${fromLayer}) imports ${to}, which is above it (layer ${toLayer})`;
  if (toLayer === fromLayer) return `${from} imports ${to}, a sibling unit of the same layer`;
  return undefined;
}

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [relative(SRC, path)] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  return [...text.matchAll(IMPORT)].map((match) => normalize(join(dirname(file), match[1] ?? match[2] ?? "")));
}

describe("layers", () => {
  it("every import in src/ points to its own unit or a layer below", () => {
    const problems = sources().flatMap((file) => importsOf(file).flatMap((target) => violation(file, target) ?? []));
    expect(problems).toEqual([]);
  });

  it("the check itself refuses imports that run back up, sideways, or out of domain/", () => {
    expect(violation("store/rows.ts", "core/engine.ts")).toContain("above it");
    expect(violation("http/handler.ts", "worker/tasks.ts")).toContain("sibling");
    expect(violation("domain/types.ts", "errors.ts")).toContain("nothing outside itself");
    expect(violation("core/engine.ts", "store/rows.ts")).toBeUndefined();
    expect(violation("http/handler.ts", "http/page.ts")).toBeUndefined();
  });
});
