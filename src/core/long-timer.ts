/** Node's timers hold at most 2^31-1 ms (24.8 days); a longer delay fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `setTimeout` for any delay, chained in chunks Node accepts. Returns the function that cancels it. */
export function setLongTimeout(fire: () => void, delayMs: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer =
      left > MAX_TIMER_MS
        ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS)
        : setTimeout(fire, Math.max(0, left));
  };
  arm(delayMs);
  return () => clearTimeout(timer);
}
