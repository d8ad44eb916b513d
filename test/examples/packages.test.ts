/**
 * Each example is meant to be copied out: its package.json declares every package its code imports, and
 * its README runs it the one way that works on any machine with npm (`npm start -w`, with the pinned Node).
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dir = fileURLToPath(new URL("../../examples/", import.meta.url));
const examples = readdirSync(dir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** The packages a file imports: bare specifiers, without node: built-ins, by package name. */
function importedPackages(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => (m[1] ?? m[2])!);
  return specifiers
    .filter((s) => !s.startsWith(".") && !s.startsWith("node:") && !builtinModules.includes(s))
    .map((s) =>
      s
        .split("/")
        .slice(0, s.startsWith("@") ? 2 : 1)
        .join("/"),
    );
}

describe("the examples", () => {
  it("are all here", () => {
    expect(examples).toEqual([
      "ai-sdk",
      "crash-and-resume",
      "express",
      "fastify",
      "langgraph",
      "openai-agents",
      "report-agent",
    ]);
  });

  it.each(examples)("%s declares every package it imports", (name) => {
    const pkg = JSON.parse(readFileSync(`${dir}${name}/package.json`, "utf8"));
    const files = readdirSync(`${dir}${name}`).filter((file) => file.endsWith(".ts"));
    const imported = new Set(files.flatMap((file) => importedPackages(readFileSync(`${dir}${name}/${file}`, "utf8"))));
    expect(imported.size).toBeGreaterThan(0);
    for (const dependency of imported)
      expect(Object.keys(pkg.dependencies ?? {}), `${name} imports ${dependency}`).toContain(dependency);
  });

  it.each(examples)("%s is run as its README says, by npm start in the workspace", (name) => {
    const pkg = JSON.parse(readFileSync(`${dir}${name}/package.json`, "utf8"));
    const readme = readFileSync(`${dir}${name}/README.md`, "utf8");
    expect(pkg.scripts.start).toBe("node main.ts");
    expect(readme).toContain(`npm start -w examples/${name}`);
    expect(readme).not.toMatch(/\bnode examples\//);
    expect(readme).not.toContain("localhost:3000");
  });
});
