/**
 * THE approval state machine. Pure: no I/O. Only this file decides which transitions exist; the store
 * applies the result as a compare-and-set, and every transition is recorded as an audit event.
 *
 * ```
 *            vote approve (quorum not reached)     vote approve (quorum reached, more steps)
 *                ┌──────────┐                        ┌──────────┐  → next step
 *                └─▶ pending ◀───────────────────────┘
 *                      │
 *   ┌──────────────────┼───────────────────┬───────────────────┐
 *   │ approve, last    │ any reject        │ deadline passed   │ cancel
 *   ▼ step's quorum    ▼                   ▼                   ▼
 * approved          rejected           timed_out           cancelled
 * ```
 * Final states never change again.
 */
import type { ApprovalStatus, FinalStatus, TimeoutAction } from "./types.ts";

export function isFinal(status: ApprovalStatus): status is FinalStatus {
  return status !== "pending";
}

/** What can happen to an approval. */
export type LifecycleEvent =
  /** `approvalsOnStep` counts the step's approve votes including this one. */
  { type: "approve"; approvalsOnStep: number } | { type: "reject" } | { type: "deadline" } | { type: "cancel" };

export interface LifecycleState {
  status: ApprovalStatus;
  currentStep: number;
  stepCount: number;
  /** Quorum of the current step. */
  quorum: number;
}

type Transition =
  /** A vote was counted and the step still waits for more. */
  | { change: "vote_recorded"; status: "pending"; currentStep: number }
  /** The step's quorum was reached and the next step starts. */
  | { change: "step_passed"; status: "pending"; currentStep: number; passedStep: number }
  | { change: FinalStatus; status: FinalStatus; currentStep: number };

/** The result of applying an event: a transition, or a refusal because the approval is already final. */
export type Outcome = { ok: true; transition: Transition } | { ok: false; status: FinalStatus };

const FINAL_BY_EVENT = { reject: "rejected", deadline: "timed_out", cancel: "cancelled" } as const;

export function nextState(state: LifecycleState, event: LifecycleEvent): Outcome {
  if (isFinal(state.status)) return { ok: false, status: state.status };
  const { currentStep } = state;
  if (event.type !== "approve") {
    const status = FINAL_BY_EVENT[event.type];
    return { ok: true, transition: { change: status, status, currentStep } };
  }
  if (event.approvalsOnStep < state.quorum) {
    return { ok: true, transition: { change: "vote_recorded", status: "pending", currentStep } };
  }
  if (currentStep + 1 < state.stepCount) {
    return {
      ok: true,
      transition: { change: "step_passed", status: "pending", currentStep: currentStep + 1, passedStep: currentStep },
    };
  }
  return { ok: true, transition: { change: "approved", status: "approved", currentStep } };
}

/**
 * When an event loses the race to another (the approval became final first): timers have nothing left
 * to do, while a caller's vote or cancel is refused with the final state.
 */
export function settleLostRace(event: LifecycleEvent["type"]): "ignore" | "refuse" {
  return event === "deadline" ? "ignore" : "refuse";
}

/** May the agent proceed? A timeout follows the configured timeout action. */
export function isApproved(status: FinalStatus, timeoutAction: TimeoutAction): boolean {
  return status === "approved" || (status === "timed_out" && timeoutAction === "approve");
}
