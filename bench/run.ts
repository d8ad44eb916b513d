/**
 * `npm run bench` (`-- --quick` for a one-minute run): every benchmark against one database
 * (DATABASE_URL, else an embedded PostgreSQL), each figure against a baseline measured in the same run.
 * Prints each section as it finishes and writes bench/results.md. `--only=<name>[,<name>]` runs some of
 * them (request, statements, decisions, page, wake, timers, scale) and writes nothing.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { benchDatabase } from "./database.ts";
import type { Section } from "./figure.ts";
import { dropLeftoverSchemas } from "./instance.ts";
import { describeMachine, machineLine } from "./machine.ts";
import { benchMode, type BenchMode } from "./mode.ts";
import { renderResults, resultsTable, sectionText } from "./report.ts";
import { benchHttpDecisions } from "./http-decisions.ts";
import { benchHttpPage } from "./http-page.ts";
import { benchRequestThroughput } from "./request-throughput.ts";
import { benchScale } from "./scale.ts";
import { benchStatementsPerOperation } from "./statements-per-operation.ts";
import { benchTimerLateness } from "./timer-lateness.ts";
import { benchWake } from "./wake.ts";

type Bench = (url: string, mode: BenchMode) => Promise<Section>;

const BENCHMARKS: Record<string, Bench> = {
  request: benchRequestThroughput,
  statements: benchStatementsPerOperation,
  decisions: benchHttpDecisions,
  page: benchHttpPage,
  wake: benchWake,
  timers: benchTimerLateness,
  scale: benchScale,
};

/** The console gets the details without the folded parts (query plans); results.md has everything. */
function withoutFolded(lines: string[]): string[] {
  let folded = false;
  return lines.filter((line) => {
    if (line.startsWith("<details>")) folded = true;
    const keep = !folded;
    if (line.startsWith("</details>")) folded = false;
    return keep;
  });
}

/** A benchmark that throws is reported as failed; the others still run. */
function failed(name: string, error: unknown): Section {
  process.exitCode = 1;
  const message = error instanceof Error ? error.message : String(error);
  return {
    title: `${name}: FAILED`,
    figures: [{ figure: `${name}: failed`, countersign: message.slice(0, 200), baseline: "—" }],
    details: ["```", error instanceof Error ? (error.stack ?? message) : message, "```"],
  };
}

const mode = benchMode();
const only = process.argv
  .find((arg) => arg.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const selected = Object.entries(BENCHMARKS).filter(([name]) => !only || only.includes(name));

const startedAt = new Date();
const started = performance.now();
const database = await benchDatabase();
const sections: Section[] = [];
try {
  const machine = await describeMachine(database.url, process.env.DATABASE_URL ? "DATABASE_URL" : "embedded");
  const loadAtStart = machine.load();
  const leftovers = await dropLeftoverSchemas(database.url);
  if (leftovers.length > 0) console.log(`Dropped schemas left by an interrupted run: ${leftovers.join(", ")}`);
  console.log(
    `countersign benchmarks, ${mode.quick ? "quick" : "full"} mode\nMachine: ${machineLine(machine)}, load average ${loadAtStart} (1/5/15 min)`,
  );
  for (const [name, bench] of selected) {
    const benchStarted = performance.now();
    const section = await bench(database.url, mode).catch((error: unknown) => failed(name, error));
    sections.push(section);
    const seconds = ((performance.now() - benchStarted) / 1000).toFixed(1);
    console.log(
      `\n${withoutFolded(sectionText(section)).join("\n")}\n\n(${name}: ${seconds} s, load average ${machine.load()})`,
    );
  }
  console.log(`\n## Summary\n\n${resultsTable(sections).join("\n")}`);
  const results = renderResults({
    machine: `${machineLine(machine)}; load average (1/5/15 min) ${loadAtStart} at the start, ${machine.load()} at the end`,
    mode: mode.quick ? "quick" : "full",
    startedAt,
    elapsedS: (performance.now() - started) / 1000,
    sections,
  });
  // A partial run (--only) prints its sections but leaves the last full results in place.
  if (!only) writeFileSync(new URL("./results.md", import.meta.url), results);
} finally {
  await database.stop();
}
