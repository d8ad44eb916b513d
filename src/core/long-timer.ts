/**
 * A long delay is waited out in one-minute chunks. Node's timers hold at most 2^31-1 ms (a longer delay
 * fires at once), and timers of one duration share a list: a thousand waiters' deadlines, each hours
 * away and each a different number of milliseconds, were a thousand lists in Node's timer heap, and
 * clearing them when the waiters woke together cost more than waking them.
 */
const CHUNK_MS = 60_000;

/** `setTimeout` for any delay, chained in chunks. Returns the function that cancels it. */
export function setLongTimeout(fire: () => void, delayMs: number): () => void {
  let timer: NodeJS.Timeout;
  // Measured against the clock at each chunk, so the chunks' own lateness does not add up.
  const due = performance.now() + delayMs;
  const arm = () => {
    const left = due - performance.now();
    timer = left > 2 * CHUNK_MS ? setTimeout(arm, CHUNK_MS) : setTimeout(fire, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(timer);
}
