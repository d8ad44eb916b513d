/** bench/results.md: the machine, one table of every figure, then each section's details. */
import { type Figure, isMet, ratioText, type Section } from "./figure.ts";

export function resultsTable(sections: Section[]): string[] {
  const rows = sections.flatMap((section) => section.figures.map(tableRow));
  return [
    "| figure | countersign | baseline | ratio | target | met? |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ];
}

function tableRow(figure: Figure): string {
  const met = isMet(figure);
  const cells = [
    figure.figure,
    figure.countersign,
    figure.baseline,
    ratioText(figure),
    figure.target?.text ?? "report only",
    met === undefined ? "—" : met ? "yes" : "**no**",
  ];
  return `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`;
}

export function sectionText(section: Section): string[] {
  return [`## ${section.title}`, "", ...section.details];
}

export function renderResults(options: {
  machine: string;
  mode: string;
  startedAt: Date;
  elapsedS: number;
  sections: Section[];
}): string {
  const { machine, mode, startedAt, elapsedS, sections } = options;
  return [
    "# Benchmark results",
    "",
    `Written by \`npm run bench${mode === "quick" ? " -- --quick" : ""}\` on ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC (${mode} mode, ${Math.round(elapsedS)} s).`,
    "",
    `Machine: ${machine}.`,
    "",
    "Every ratio is countersign / baseline, both measured in the same run; in the full run each ratio is the median of three paired runs (all three shown).",
    "",
    ...resultsTable(sections),
    ...sections.flatMap((section) => ["", ...sectionText(section)]),
    "",
  ].join("\n");
}
