/**
 * What a benchmark reports: figures (one row of the results table each: countersign, its baseline, the
 * ratio and the target) and the details below the table.
 */
import { times } from "./stats.ts";

export interface Target {
  text: string;
  met(value: number): boolean;
}

export const atLeast = (limit: number): Target => ({ text: `≥ ${limit}×`, met: (value) => value >= limit });
export const atMost = (limit: number): Target => ({ text: `≤ ${limit}×`, met: (value) => value <= limit });
/** An absolute target, checked against the figure's own value rather than a ratio. */
export const under = (limit: number, unit: string): Target => ({
  text: `< ${limit} ${unit}`,
  met: (value) => value < limit,
});

export interface Figure {
  figure: string;
  countersign: string;
  baseline: string;
  /** countersign / baseline (the median run's, when repeated). */
  ratio?: number | undefined;
  /** Every run's ratio, when there was more than one. */
  ratios?: number[] | undefined;
  target?: Target | undefined;
  /** Checked against an absolute target instead of the ratio. */
  value?: number | undefined;
}

export interface Section {
  title: string;
  figures: Figure[];
  details: string[];
}

export function isMet(figure: Figure): boolean | undefined {
  const checked = figure.value ?? figure.ratio;
  if (!figure.target || checked === undefined || !Number.isFinite(checked)) return undefined;
  return figure.target.met(checked);
}

/** The run whose ratio is the median of all runs', and every run's ratio in the order they ran. */
export function medianRun<T>(runs: T[], ratioOf: (run: T) => number): { run: T; ratio: number; ratios: number[] } {
  const ratios = runs.map(ratioOf);
  const order = runs.map((_, index) => index).sort((a, b) => (ratios[a] ?? 0) - (ratios[b] ?? 0));
  const middle = order[Math.floor((order.length - 1) / 2)] ?? 0;
  return { run: runs[middle] as T, ratio: ratios[middle] ?? Number.NaN, ratios };
}

/** "0.91× (runs: 0.88×, 0.91×, 0.95×)" when repeated, else just the ratio. */
export function ratioText(figure: Figure): string {
  const ratio = times(figure.ratio);
  if (!figure.ratios || figure.ratios.length < 2) return ratio;
  return `${ratio} (runs: ${figure.ratios.map((r) => times(r)).join(", ")})`;
}
