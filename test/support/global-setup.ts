/**
 * Picks the test database once per run, in this order: DATABASE_URL when set; else Testcontainers when
 * a container runtime answers; else an embedded PostgreSQL started here and removed afterwards.
 */
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type RunningPostgres } from "./embedded-postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

async function startContainer(): Promise<RunningPostgres | undefined> {
  const { getContainerRuntimeClient } = await import("testcontainers");
  const runtime = await Promise.race([
    getContainerRuntimeClient().catch(() => undefined),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5_000).unref()),
  ]);
  if (!runtime) return undefined;
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer("postgres:17-alpine").start();
  return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
}

export default async function setup(project: TestProject) {
  const fromEnv = process.env.DATABASE_URL;
  const database: RunningPostgres = fromEnv
    ? { url: fromEnv, stop: async () => {} }
    : ((await startContainer()) ??
      (await startEmbeddedPostgres({ settings: { fsync: "off", synchronous_commit: "off" } })));
  project.provide("databaseUrl", database.url);
  return () => database.stop();
}
