import { describe, expect, it } from "vitest";
import { isApproved, nextState, settleLostRace, type LifecycleState } from "../../src/domain/lifecycle.ts";
import { formatDuration, parseDuration } from "../../src/domain/duration.ts";

const pending = (overrides: Partial<LifecycleState> = {}): LifecycleState => ({
  status: "pending",
  currentStep: 0,
  stepCount: 2,
  quorum: 2,
  ...overrides,
});

describe("the lifecycle state machine", () => {
  it("records a vote below quorum without changing state", () => {
    expect(nextState(pending(), { type: "approve", approvalsOnStep: 1 })).toEqual({
      ok: true,
      transition: { change: "vote_recorded", status: "pending", currentStep: 0 },
    });
  });

  it("passes a step at quorum and approves at the last step's quorum", () => {
    expect(nextState(pending(), { type: "approve", approvalsOnStep: 2 })).toEqual({
      ok: true,
      transition: { change: "step_passed", status: "pending", currentStep: 1, passedStep: 0 },
    });
    expect(nextState(pending({ currentStep: 1 }), { type: "approve", approvalsOnStep: 2 })).toEqual({
      ok: true,
      transition: { change: "approved", status: "approved", currentStep: 1 },
    });
  });

  it("ends on any reject, the deadline, or a cancel", () => {
    expect(nextState(pending(), { type: "reject" })).toMatchObject({ transition: { status: "rejected" } });
    expect(nextState(pending(), { type: "deadline" })).toMatchObject({ transition: { status: "timed_out" } });
    expect(nextState(pending(), { type: "cancel" })).toMatchObject({ transition: { status: "cancelled" } });
  });

  it("never leaves a final state", () => {
    for (const status of ["approved", "rejected", "timed_out", "cancelled"] as const) {
      for (const event of [
        { type: "approve", approvalsOnStep: 9 },
        { type: "reject" },
        { type: "deadline" },
        { type: "cancel" },
      ] as const) {
        expect(nextState(pending({ status }), event)).toEqual({ ok: false, status });
      }
    }
  });

  it("lets timers that lost the race do nothing while callers are refused", () => {
    expect(settleLostRace("deadline")).toBe("ignore");
    expect(settleLostRace("approve")).toBe("refuse");
    expect(settleLostRace("cancel")).toBe("refuse");
  });

  it("follows the timeout action for whether the agent may proceed", () => {
    expect(isApproved("timed_out", "approve")).toBe(true);
    expect(isApproved("timed_out", "reject")).toBe(false);
    expect(isApproved("timed_out", "cancel")).toBe(false);
    expect(isApproved("approved", "reject")).toBe(true);
    expect(isApproved("cancelled", "approve")).toBe(false);
  });
});

describe("durations", () => {
  it("accepts the documented forms", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("8h")).toBe(28_800_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration(1500)).toBe(1500);
  });

  it("refuses anything else", () => {
    for (const bad of ["", "5", "5 minutes", "m5", "-1s", "1w"]) expect(parseDuration(bad)).toBeUndefined();
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
  });

  it("formats for people", () => {
    expect(formatDuration(90_000)).toBe("1m 30s");
    expect(formatDuration(8 * 3_600_000)).toBe("8h");
    expect(formatDuration(500)).toBe("500ms");
  });
});
