import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setLongTimeout } from "../../src/core/long-timer.ts";

const HOUR = 3_600_000;

describe("setLongTimeout", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires once, on time, after a delay of hours", () => {
    const fire = vi.fn();
    setLongTimeout(fire, 8 * HOUR);
    vi.advanceTimersByTime(8 * HOUR - 1);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2 * HOUR);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it("waits out a delay longer than Node's timers hold (2^31-1 ms) instead of firing at once", () => {
    const fire = vi.fn();
    const delay = 40 * 24 * HOUR;
    setLongTimeout(fire, delay);
    vi.advanceTimersByTime(delay - 1);
    expect(fire).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fire).toHaveBeenCalledTimes(1);
  });

  it("is cancelled whichever chunk it is in", () => {
    const fire = vi.fn();
    const cancel = setLongTimeout(fire, 3 * HOUR);
    vi.advanceTimersByTime(HOUR + 30_000);
    cancel();
    vi.advanceTimersByTime(3 * HOUR);
    expect(fire).not.toHaveBeenCalled();
  });

  it("shares one timer duration among long delays, whatever their length", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    for (let i = 0; i < 100; i++) setLongTimeout(() => {}, 5 * HOUR + i * 7);
    expect(new Set(spy.mock.calls.map((call) => call[1])).size).toBe(1);
    spy.mockRestore();
  });
});
