/**
 * What a user gets from the registry: the packed tarball installed into a new app outside the repository,
 * a strict consumer type-checked under `nodenext` and `bundler`, and the README's "A first approval" run as
 * written, approved through the CLI the package installs. Needs the npm registry (for typescript and
 * @types/node, at the versions this repository uses).
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readerEnv, runScript } from "../support/child-process.ts";
import { freePort } from "../support/embedded-postgres.ts";
import { TEST_SECRET, useTestBed } from "../support/test-bed.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const installedVersion = (name: string) =>
  JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version as string;
const bed = useTestBed("package");

function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A reader's shell, with a supported Node first (this test's): the installed CLI runs on it.
    const child = spawn(command, args, {
      cwd,
      env: { ...readerEnv(dirname(process.execPath)), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function succeed(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = await run(command, args, cwd, env);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The README's first program, exactly as a reader copies it. */
function readmeProgram(): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("```ts\n", readme.indexOf("## A first approval"));
  return readme.slice(start + "```ts\n".length, readme.indexOf("```\n", start + 6));
}

const CONSUMER = `import type { Approvals, ApprovalsOptions, Decision } from "countersign";
import { expressHandler } from "countersign/express";
import { fastifyPlugin } from "countersign/fastify";

export function mount(approvals: Approvals) {
  return { express: expressHandler(approvals), fastify: fastifyPlugin(approvals) };
}
export const fromEnvironment = (env: NodeJS.ProcessEnv): ApprovalsOptions => ({
  connectionString: env.DATABASE_URL,
  publicUrl: env.PUBLIC_URL,
  secret: env.COUNTERSIGN_SECRET,
});
export const proceed = (decision: Decision): boolean => decision.approved;
`;

const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: "es2022",
  lib: ["es2023"],
  types: ["node"],
  noEmit: true,
};

let work: string;
let app: string;
let install: { stdout: string; stderr: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "countersign-package-"));
  // Pack a copy: packing builds dist/, and this repository's dist/ is in use by other test files.
  const stage = join(work, "stage");
  for (const path of [
    "package.json",
    "README.md",
    "LICENSE",
    "tsconfig.json",
    "tsconfig.build.json",
    "src",
    "sql",
    "scripts",
  ]) {
    cpSync(join(root, path), join(stage, path), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(stage, "node_modules"));
  const packed = await succeed("npm", ["pack", "--pack-destination", work], stage);
  const tarball = join(work, packed.stdout.trim().split("\n").at(-1) ?? "");

  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)}\n`,
  );
  install = await succeed(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      tarball,
      `typescript@${installedVersion("typescript")}`,
      `@types/node@${installedVersion("@types/node")}`,
    ],
    app,
  );
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the package as installed from its tarball", () => {
  it("installs without a warning about countersign, and ships no contributor scripts or fields", () => {
    // (A warning about some transitive package's deprecation would be news, but not this test's.)
    const warnings = install.stderr.split("\n").filter((line) => /npm warn/i.test(line));
    expect(warnings.filter((line) => /countersign|install-scripts|EBADENGINE/i.test(line))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(app, "node_modules/countersign/package.json"), "utf8"));
    for (const field of ["scripts", "devDependencies", "workspaces", "allowScripts"])
      expect(installed, field).not.toHaveProperty(field);
    expect(installed).toMatchObject({
      name: "countersign",
      version: pkg.version,
      license: "MIT",
      repository: pkg.repository,
      bugs: pkg.bugs,
    });
    expect(existsSync(join(app, "node_modules/countersign/LICENSE"))).toBe(true);
    // The repository's own package.json is untouched by packing.
    expect(JSON.parse(readFileSync(join(root, "package.json"), "utf8"))).toEqual(pkg);
  });

  it.each([
    ["nodenext", { module: "nodenext", moduleResolution: "nodenext" }],
    ["bundler", { module: "esnext", moduleResolution: "bundler" }],
  ])("type-checks a strict consumer and the README's first program under %s", async (name, resolution) => {
    writeFileSync(join(app, "first-approval.ts"), readmeProgram());
    writeFileSync(join(app, "consumer.ts"), CONSUMER);
    writeFileSync(
      join(app, `tsconfig.${name}.json`),
      JSON.stringify(
        { compilerOptions: { ...STRICT, ...resolution }, files: ["first-approval.ts", "consumer.ts"] },
        null,
        2,
      ),
    );
    const checked = await run(join(app, "node_modules/.bin/tsc"), ["-p", `tsconfig.${name}.json`], app);
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
  });

  it("runs the README's first program: it asks, the installed CLI approves, and it goes ahead", async () => {
    // As written, but in this test's schema rather than the default one, and on a free port.
    const port = await freePort();
    const program = readmeProgram()
      .replace("createApprovals({", "createApprovals({ schema: process.env.COUNTERSIGN_SCHEMA,")
      .replaceAll("3000", String(port));
    expect(program).toContain("schema: process.env.COUNTERSIGN_SCHEMA");
    expect(program).toContain(`.listen(${port})`);
    mkdirSync(join(app, "run"), { recursive: true });
    writeFileSync(join(app, "run/first-approval.ts"), program);
    const env = { DATABASE_URL: bed.url, COUNTERSIGN_SCHEMA: bed.schema };
    const agent = runScript(join(app, "run/first-approval.ts"), { ...env, COUNTERSIGN_SECRET: TEST_SECRET });
    try {
      // The link in the notification opens the page the program serves.
      const review = await agent.next((line) => /review: +http/.test(String(line.text)));
      const link = /review: +(\S+)/.exec(String(review.text))?.[1] ?? "";
      expect(link).toMatch(new RegExp(`^http://localhost:${port}/approvals/r/[A-Za-z0-9_-]{43}$`));
      expect((await fetch(link.replace("localhost", "127.0.0.1"))).status).toBe(200);
      const waiting = await agent.next((line) => String(line.text).startsWith("Waiting. Decide with: "));
      const command = String(waiting.text).slice("Waiting. Decide with: ".length);
      expect(command).toMatch(/^npx countersign approve [0-9a-f-]{36} --as sre@company\.com$/);
      const approved = await run("sh", ["-c", command], app, env);
      expect(approved).toMatchObject({
        code: 0,
        stdout: "",
        stderr: 'Approved "Deploy billing 2.4.0 to production" as sre@company.com.\n',
      });
      await agent.next((line) => line.text === "Approved: deploying.");
      expect((await agent.exited).code).toBe(0);
      const id = /approve (\S+)/.exec(command)?.[1] ?? "";
      expect((await bed.approvals.events(id)).map((e) => [e.type, e.channel])).toContainEqual(["approved", "cli"]);
    } finally {
      agent.process.kill();
    }
  });

  it("installs a countersign command that knows its version", async () => {
    expect(await run("npx", ["countersign", "--version"], app)).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});
