import { spawn, type ChildProcess } from "node:child_process";
import { delimiter } from "node:path";
import { createInterface } from "node:readline";

export interface Child {
  process: ChildProcess;
  /** Every JSON line the child printed so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first printed JSON line that satisfies `match`. */
  next(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Runs a TypeScript file in a real Node process (the same Node as the tests, which strips types). */
export function runScript(path: string, env: Record<string, string>, args: string[] = []): Child {
  return runCommand(process.execPath, [path, ...args], { ...process.env, ...env } as Record<string, string>);
}

/**
 * The environment of a reader's own shell: none of the npm_* settings npm hands to the scripts it runs
 * (`npm test` among them), and none of this repository's node_modules/.bin on PATH, so the machine's own
 * Node comes first, unless `nodeFirst` names the directory of a Node to put first.
 */
export function readerEnv(nodeFirst?: string): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(npm_|NODE$|INIT_CWD$)/i.test(key)),
  ) as Record<string, string>;
  const path = (process.env.PATH ?? "").split(delimiter).filter((dir) => !dir.includes("node_modules"));
  return { ...env, PATH: [...(nodeFirst ? [nodeFirst] : []), ...path].join(delimiter) };
}

/**
 * Runs any command with exactly `env`. `detached` puts it in a process group of its own, so
 * `killGroup` reaches the processes it starts too (`npm start` runs node as its child).
 */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; detached?: boolean } = {},
): Child {
  const child = spawn(command, args, {
    env,
    cwd: options.cwd,
    detached: options.detached ?? false,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
  }[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr += String(chunk)));
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      line = { text };
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    process: child,
    lines,
    exited,
    next(match, timeoutMs = 20_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching line within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(({ code }) =>
          reject(new Error(`process exited (${code}) before a matching line; stderr: ${stderr}`)),
        );
      });
    },
  };
}

/** Runs a command to completion and returns what it printed and its exit code. */
export function runToEnd(
  path: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path, ...args], {
      env: { ...process.env, ...env },
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

/** Signals a child started with `detached: true` and everything it started; quiet when they are gone. */
export function killGroup(child: Child, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    if (child.process.pid) process.kill(-child.process.pid, signal);
  } catch {
    // Already exited.
  }
}
