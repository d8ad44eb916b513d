/**
 * The database's clock as seen from this process: lateness is measured against due times the database
 * computed, so times taken here are converted to its clock (same host or not).
 */
import { performance } from "node:perf_hooks";
import { withClient } from "./instance.ts";

/** Milliseconds to add to `Date.now()` to get the database's `clock_timestamp()`; the tightest of a few samples. */
export async function databaseClockOffset(url: string): Promise<number> {
  return withClient(url, async (client) => {
    let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
    for (let i = 0; i < 10; i++) {
      const sent = Date.now();
      const started = performance.now();
      const { rows } = await client.query<{ at: Date }>("select clock_timestamp() as at");
      const rtt = performance.now() - started;
      const at = rows[0]?.at.getTime() ?? sent;
      if (rtt < best.rtt) best = { rtt, offset: at - (sent + rtt / 2) };
    }
    return best.offset;
  });
}
