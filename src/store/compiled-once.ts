/**
 * Hot reads built and compiled once per process and schema, then executed with fresh values: building
 * and compiling a kysely query (and its schema plugin's pass) cost more CPU per request than PostgreSQL
 * spent running the statement. The builder is called once with placeholders in place of the values; the
 * compiled statement's parameters are then the values, in the places the placeholders took.
 */
import { type Compilable, CompiledQuery, type QueryResult } from "kysely";
import { type Db, schemaOf } from "./connection.ts";

const MARK = "\u0000countersign-placeholder:";

export function compiledOnce<P extends Record<string, unknown>, R>(
  build: (db: Db, params: P) => Compilable<R>,
): (db: Db, params: P) => Promise<QueryResult<R>> {
  type Compiled = { sql: string; order: (keyof P)[] };
  // Per schema for countersign's own Dbs (see `schemaOf`), else per Db.
  const bySchema = new Map<string, Compiled>();
  const byDb = new WeakMap<Db, Compiled>();
  return (db, params) => {
    const schema = schemaOf(db);
    let compiled = schema === undefined ? byDb.get(db) : bySchema.get(schema);
    if (!compiled) {
      const placeholders = new Proxy({} as P, { get: (_, key) => `${MARK}${String(key)}` });
      const query = build(db, placeholders).compile();
      const order = query.parameters.map((parameter) => {
        if (typeof parameter !== "string" || !parameter.startsWith(MARK)) {
          throw new Error(`compiledOnce: a parameter of "${query.sql}" is not a placeholder; pass it in params`);
        }
        return parameter.slice(MARK.length) as keyof P;
      });
      compiled = { sql: query.sql, order };
      if (schema === undefined) byDb.set(db, compiled);
      else bySchema.set(schema, compiled);
    }
    return db.executeQuery(
      CompiledQuery.raw(
        compiled.sql,
        compiled.order.map((key) => params[key]),
      ) as CompiledQuery<R>,
    );
  };
}
