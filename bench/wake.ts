/** Figure 5: waking waiters, one at a time (wake-latency.ts) and 1,000 at once (bulk-wake.ts). */
import { measureBulkWake } from "./bulk-wake.ts";
import type { Section } from "./figure.ts";
import type { BenchMode } from "./mode.ts";
import { measureWakeLatency } from "./wake-latency.ts";

export async function benchWake(url: string, mode: BenchMode): Promise<Section> {
  const single = await measureWakeLatency(url, mode);
  const bulk = await measureBulkWake(url, mode);
  return {
    title: "5. Waking waiters",
    figures: [...single.figures, ...bulk.figures],
    details: [...single.lines, "", ...bulk.lines],
  };
}
