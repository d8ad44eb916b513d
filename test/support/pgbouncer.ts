/**
 * A real PgBouncer (Debian's `pgbouncer` package) in transaction mode in front of the test database: the
 * pooler most hosts put between their app and PostgreSQL. Without the binary the tests that need it are
 * skipped (CI installs it). Its admin console is open to the test database's user, so a test can ask
 * what went through it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort, serverUser } from "./embedded-postgres.ts";

export const PGBOUNCER_PATH = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"].find((path) => existsSync(path));

export interface RunningPgBouncer {
  /** The test database's URL with PgBouncer's port. */
  url: string;
  /** Rows of an admin console command (`show stats`, `show servers`). */
  admin(command: string): Promise<Record<string, string>[]>;
  stop(): Promise<void>;
}

/** `poolSize` server connections shared by every client, each handed out for one transaction at a time. */
export async function startPgBouncer(databaseUrl: string, poolSize: number): Promise<RunningPgBouncer> {
  if (!PGBOUNCER_PATH) throw new Error("pgbouncer is not installed (apt-get install pgbouncer)");
  const target = new URL(databaseUrl);
  const user = decodeURIComponent(target.username);
  const password = decodeURIComponent(target.password);
  const database = target.pathname.slice(1);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "countersign-pgbouncer-"));
  const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`;
  await writeFile(join(dir, "users.txt"), `${quoted(user)} ${quoted(password)}\n`);
  await writeFile(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `${database} = host=${target.hostname} port=${target.port || 5432} dbname=${database}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = scram-sha-256",
      `auth_file = ${join(dir, "users.txt")}`,
      `admin_users = ${user}`,
      "pool_mode = transaction",
      `default_pool_size = ${poolSize}`,
      "max_client_conn = 500",
      // pg sends this one; PgBouncer would refuse the login over it.
      "ignore_startup_parameters = extra_float_digits",
      "",
    ].join("\n"),
  );
  // PgBouncer refuses to run as root.
  const runAs = serverUser();
  if (runAs) {
    await chown(dir, runAs.uid, runAs.gid);
    for (const file of ["users.txt", "pgbouncer.ini"]) await chown(join(dir, file), runAs.uid, runAs.gid);
  }
  const child = spawn(PGBOUNCER_PATH, [join(dir, "pgbouncer.ini")], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(runAs ?? {}),
  });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = new URL(databaseUrl);
  url.port = String(port);
  const admin = async (command: string) => {
    const consoleUrl = new URL(url);
    consoleUrl.pathname = "/pgbouncer";
    const client = new pg.Client({ connectionString: consoleUrl.toString() });
    await client.connect();
    try {
      // The console speaks only the simple query protocol: a query without values.
      const { rows } = await client.query(command);
      return rows as Record<string, string>[];
    } finally {
      await client.end();
    }
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await admin("show version");
      break;
    } catch (error) {
      if (child.exitCode !== null || attempt > 100) {
        await stop();
        throw new Error(`pgbouncer did not start: ${(error as Error).message}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url: url.toString(), admin, stop };
}
