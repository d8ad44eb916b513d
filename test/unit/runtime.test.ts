import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { ApprovalError, createApprovals } from "../../src/index.ts";
import { NODE_FLOOR } from "../../src/runtime.ts";

const options = {
  connectionString: "postgres://localhost/never-connected",
  publicUrl: "https://app.example.com/approvals",
  secret: "s".repeat(32),
};
const realVersion = Object.getOwnPropertyDescriptor(process.versions, "node")!;
afterEach(() => Object.defineProperty(process.versions, "node", realVersion));

function pretendNode(version: string) {
  Object.defineProperty(process.versions, "node", { ...realVersion, value: version });
}

function creating(): unknown {
  try {
    createApprovals(options);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** A `node` on PATH older than the floor (a machine's own Node 20, say), if this machine has one. */
function olderNodeOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "node");
    const result = spawnSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" });
    const version = result.status === 0 ? result.stdout.trim() : "";
    if (version && Number(version.split(".")[0]) < 22) return candidate;
  }
  return undefined;
}
const olderNode = olderNodeOnPath();

describe("the supported Node.js floor", () => {
  it("is the one package.json's engines declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(pkg.engines.node).toBe(`>=${NODE_FLOOR.replace(/\.0$/, "")}`);
  });

  it("createApprovals refuses an older Node with an error that names the floor", () => {
    for (const version of ["20.19.2", "22.17.1", "18.20.0"]) {
      pretendNode(version);
      const error = creating();
      expect(error, version).toBeInstanceOf(ApprovalError);
      expect(error).toMatchObject({ code: "UNSUPPORTED_RUNTIME", data: { node: version, required: NODE_FLOOR } });
      expect((error as Error).message).toBe(
        `countersign needs Node.js ${NODE_FLOOR} or newer; this process runs Node.js ${version}. Upgrade Node (for example to the current LTS).`,
      );
    }
  });

  it("createApprovals accepts the floor and anything newer", () => {
    for (const version of [NODE_FLOOR, "22.21.0", "23.0.0", "24.21.0", "25.1.0"]) {
      pretendNode(version);
      expect(creating(), version).toBeUndefined();
    }
  });

  it.skipIf(!olderNode)("the built library says so when a real older Node runs it", () => {
    const entry = fileURLToPath(new URL("../../dist/index.js", import.meta.url));
    const script = `import(${JSON.stringify(entry)}).then((m) => m.createApprovals(${JSON.stringify(options)})).catch((e) => { console.log(e.code); process.exit(3); })`;
    const result = spawnSync(olderNode!, ["-e", script], { encoding: "utf8" });
    expect(result.status).toBe(3);
    expect(result.stdout.trim()).toBe("UNSUPPORTED_RUNTIME");
    expect(execFileSync(olderNode!, ["--version"], { encoding: "utf8" })).toMatch(/^v(1\d|2[01])\./);
  });
});
