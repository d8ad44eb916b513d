/**
 * How big a run is. `--quick` keeps the whole run to about a minute (fewer rows, shorter loads, one run
 * per figure); the full run repeats every paired measurement three times and reports the median ratio.
 */
export interface BenchMode {
  quick: boolean;
  /** Paired runs (countersign and its baseline) per figure; the median ratio is reported. */
  repeats: number;
  /** Picks the quick or the full value of a setting. */
  pick<T>(quick: T, full: T): T;
}

export function benchMode(argv: readonly string[] = process.argv.slice(2)): BenchMode {
  const quick = argv.includes("--quick");
  return { quick, repeats: quick ? 1 : 3, pick: (q, f) => (quick ? q : f) };
}
