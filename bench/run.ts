/**
 * `npm run bench`: runs every benchmark against one database (DATABASE_URL, else an embedded
 * PostgreSQL), prints the results and writes them to bench/results.md. Figures are reported against a
 * baseline measured in the same run.
 */
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { benchDatabase } from "./database.ts";
import { benchHttpPage } from "./http-page.ts";
import { benchWakeLatency } from "./wake-latency.ts";

const benchmarks = [benchWakeLatency, benchHttpPage];

const database = await benchDatabase();
const sections: string[] = [
  "# Benchmark results",
  "",
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus().length} cores, ${process.env.DATABASE_URL ? "DATABASE_URL" : "embedded PostgreSQL"}.`,
];
try {
  for (const bench of benchmarks) {
    const result = await bench(database.url);
    sections.push("", `## ${result.name}`, "", ...result.lines);
    console.log(`\n## ${result.name}\n\n${result.lines.join("\n")}`);
  }
} finally {
  await database.stop();
}
writeFileSync(new URL("./results.md", import.meta.url), `${sections.join("\n")}\n`);
