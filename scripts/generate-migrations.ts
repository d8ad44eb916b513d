/**
 * Inlines sql/NNNNNN_<slug>.sql into src/store/migrations.generated.ts, so the library needs no file
 * access at run time (bundlers, single-file deploys). `--check` exits 1 when the module is stale.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
export const GENERATED_PATH = `${root}src/store/migrations.generated.ts`;

export function renderMigrationsModule(sqlDir = `${root}sql`): string {
  const files = readdirSync(sqlDir)
    .filter((file) => file.endsWith(".sql"))
    .sort();
  const migrations = files.map((file, index) => {
    const match = /^(\d{6})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new Error(`sql/${file}: migration files are named NNNNNN_slug.sql`);
    const id = Number(match[1]);
    if (id !== index + 1) throw new Error(`sql/${file}: expected migration number ${index + 1}`);
    const sql = readFileSync(`${sqlDir}/${file}`, "utf8");
    const breaking = sql.startsWith("--! breaking-change");
    return `  { id: ${id}, name: ${JSON.stringify(file.slice(0, -4))}, breaking: ${breaking}, sql: ${JSON.stringify(sql)} },`;
  });
  return [
    "// Generated from sql/ by scripts/generate-migrations.ts. Do not edit; run `npm run generate`.",
    "",
    "/** Each migration's id, name, whether it breaks older versions, and SQL with :COUNTERSIGN_SCHEMA for the schema. */",
    "export const MIGRATIONS: readonly { id: number; name: string; breaking: boolean; sql: string }[] = [",
    ...migrations,
    "];",
    "",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rendered = renderMigrationsModule();
  if (process.argv.includes("--check")) {
    if (readFileSync(GENERATED_PATH, "utf8") !== rendered) {
      console.error("src/store/migrations.generated.ts is stale: run `npm run generate`.");
      process.exit(1);
    }
  } else {
    writeFileSync(GENERATED_PATH, rendered);
  }
}
