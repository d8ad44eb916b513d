/**
 * Counts the SQL statements this process sends, by wrapping `pg`'s `Client.prototype.query` (every pool
 * query goes through a client). Counting on the client side includes BEGIN and COMMIT and needs no
 * server extension; run one operation at a time, with no worker started, so that nothing else is counted.
 */
import pg from "pg";

export interface Statement {
  text: string;
  values: unknown[];
}

type Query = (...args: unknown[]) => unknown;

/** Runs `work` and returns what it sent, in order. */
export async function recordStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: Statement[] }> {
  const statements: Statement[] = [];
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const [config, values] = args;
    const text = typeof config === "string" ? config : (config as { text?: string } | undefined)?.text;
    const params = Array.isArray(values) ? values : (config as { values?: unknown[] } | undefined)?.values;
    if (text) statements.push({ text, values: params ?? [] });
    return original.apply(this, args);
  };
  try {
    return { result: await work(), statements };
  } finally {
    prototype.query = original;
  }
}

/**
 * A short name for a statement: its verb and the tables or functions it works on, without the schema
 * (`begin`, `select approval for update`, `insert approval`, `select add_jobs`). A statement that does
 * several things (a WITH of data-modifying parts) lists them: `with: insert vote + update approval + …`.
 */
export function statementKind(text: string): string {
  const sql = text.replace(/\s+/g, " ").trim();
  const verb = (/^\w+/.exec(sql)?.[0] ?? "?").toLowerCase();
  if (!["select", "insert", "update", "delete", "with"].includes(verb)) return verb;
  const parts = [...sql.matchAll(PART)]
    .map((match) => (match[4] ? match[4] : `${match[1]?.toLowerCase().split(" ")[0]} ${bareName(match[3] ?? "")}`))
    .filter((part, index, all) => all.indexOf(part) === index);
  if (verb === "with") return `with: ${parts.join(" + ")}`;
  if (parts.length > 0) return parts.join(" + ");
  const tables = [...sql.matchAll(FROM)].map((match) => ({
    name: bareName(match[1] ?? ""),
    depth: depthAt(sql, match.index),
  }));
  const main = tables.find((table) => table.depth === 0) ?? tables[0];
  if (!main) return `select ${sql.slice(7, 40)}`;
  const nested = [...new Set(tables.filter((table) => table !== main).map((table) => table.name))];
  const locking = /\bfor (?:no key )?update\b/i.test(sql) ? " for update" : "";
  return `select ${main.name}${nested.length ? ` (+ ${nested.join(", ")})` : ""}${locking}`;
}

const FROM = /\b(?:from|join) ((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)/gi;

/** How many parentheses are open at `index`: 0 is the statement's own level. */
function depthAt(sql: string, index: number): number {
  let depth = 0;
  for (let i = 0; i < index; i++) {
    if (sql[i] === "(") depth++;
    else if (sql[i] === ")") depth--;
  }
  return depth;
}

const RELATION = String.raw`((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)`;
/** Writes (`insert into t`, `update t set`, `delete from t`) and the functions that do work when selected. */
const PART = new RegExp(
  String.raw`\b(insert into|(?<!for (?:no key )?)update|delete from) (${RELATION})(?= |\()|\b(add_jobs|add_job|remove_job|pg_notify|complete_jobs|fail_jobs|get_job|force_unlock_workers)"?\(`,
  "gi",
);

const bareName = (qualified: string) => qualified.split(".").at(-1)?.replaceAll('"', "") ?? qualified;
