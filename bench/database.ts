/** The database a benchmark runs against: DATABASE_URL, else an embedded PostgreSQL started here. */
import { startEmbeddedPostgres, type RunningPostgres } from "../test/support/embedded-postgres.ts";

export async function benchDatabase(): Promise<RunningPostgres> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  return startEmbeddedPostgres();
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const ms = (value: number) => `${value.toFixed(2)} ms`;
