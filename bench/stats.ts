/** Small statistics for latency samples: percentiles, medians and how numbers are printed. */

/** The value at percentile `p` of `values` (nearest rank; `values` need not be sorted). */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

export const ms = (value: number) => (Number.isFinite(value) ? `${value.toFixed(value < 10 ? 2 : 1)} ms` : "n/a");
export const perSecond = (value: number) => `${Math.round(value).toLocaleString("en-US")}/s`;
export const times = (ratio: number | undefined) =>
  ratio === undefined || !Number.isFinite(ratio) ? "n/a" : `${ratio.toFixed(2)}×`;
export const count = (value: number) => Math.round(value).toLocaleString("en-US");

/** Resolves after `duration` milliseconds. */
export const sleep = (duration: number) => new Promise<void>((resolve) => setTimeout(resolve, duration));
