/** The database a benchmark runs against: DATABASE_URL, else an embedded PostgreSQL started here. */
import { startEmbeddedPostgres, type RunningPostgres } from "../test/support/embedded-postgres.ts";

export async function benchDatabase(): Promise<RunningPostgres> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  return startEmbeddedPostgres();
}
