/**
 * Several writes as one statement: each part a CTE, all run in one round trip and see the same snapshot.
 * Data-modifying parts always run; SELECT parts (graphile-worker's functions, NOTIFY) run because the
 * final select reads each part's rows back, as JSON.
 */
import { type QueryResult, type RawBuilder, sql } from "kysely";
import type { Db } from "./connection.ts";

export async function together(db: Db, parts: Record<string, RawBuilder<unknown>>): Promise<Record<string, unknown[]>> {
  const names = Object.keys(parts);
  if (names.length === 0) return {};
  const ctes = names.map((name) => sql`${sql.id(name)} as (${parts[name]})`);
  const reads = names.map(
    (name) => sql`(select coalesce(json_agg(p), '[]'::json) from ${sql.id(name)} p) as ${sql.id(name)}`,
  );
  const result = await executeQualified(
    db,
    sql<Record<string, unknown[]>>`with ${sql.join(ctes)} select ${sql.join(reads)}`,
  );
  return result.rows[0] ?? {};
}

/**
 * Runs a statement that names every table with its schema: compiled without the schema plugin's pass
 * over the whole tree, which cost more CPU per decision than building it.
 */
export function executeQualified<R>(db: Db, statement: RawBuilder<R>): Promise<QueryResult<R>> {
  return statement.execute(db.withoutPlugins());
}
