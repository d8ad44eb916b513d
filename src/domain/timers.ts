/**
 * What timers and deadlines do: reminders, escalation, the `expiring` warning, the timeout, and moving
 * the deadline. Each finds out first whether it still has anything to do (a timer may run late, twice, or
 * after the approval ended).
 */
import { type ApprovalFacts, currentStep, reviewersAtLevel, reviewersToAsk, undecidedReviewers } from "./facts.ts";
import { ROUNDS } from "./jobs.ts";
import { emptyPlan, notify, type Planned, SYSTEM_ACTOR, settleQuorum, systemEvent } from "./plan.ts";

export function planDeadline(facts: ApprovalFacts, timeOut: () => Planned): Planned {
  if (facts.status !== "pending") return { kind: "skip", note: "already final" };
  // Ran early (a clock step, a manual run, a deadline moved): come back at the deadline.
  if (facts.deadline.getTime() > facts.dbNow.getTime()) {
    return {
      kind: "apply",
      plan: { ...emptyPlan(), jobs: [{ task: "timeout", approvalId: facts.id, runAt: facts.deadline }] },
    };
  }
  return timeOut();
}

export function planReminder(facts: ApprovalFacts, cause: { step: number; reminder: number }): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip", note: "the step is over" };
  const recipients = reviewersToAsk(facts.requestedBy, undecidedReviewers(currentStep(facts)));
  if (recipients.length === 0) return { kind: "skip", note: "everyone has voted" };
  const plan = emptyPlan();
  plan.events.push(systemEvent("reminded", cause.step, { reminder: cause.reminder + 1, recipients }));
  plan.jobs.push(notify(facts, "reminder", ROUNDS.reminder(cause.step, cause.reminder), cause.step, recipients));
  return { kind: "apply", plan };
}

export function planEscalation(facts: ApprovalFacts, cause: { step: number; level: number }): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip", note: "the step is over" };
  const step = currentStep(facts);
  if (step.escalationLevel !== cause.level - 1) return { kind: "skip", note: "the level was already reached" };
  const recipients = reviewersToAsk(facts.requestedBy, reviewersAtLevel(step, cause.level));
  const plan = emptyPlan();
  plan.steps = { escalated: { step: cause.step, level: cause.level } };
  plan.events.push(systemEvent("escalated", cause.step, { level: cause.level, reviewers: recipients }));
  plan.jobs.push(notify(facts, "escalation", ROUNDS.escalation(cause.step, cause.level), cause.step, recipients));
  plan.announce = { id: facts.id, status: "pending" };
  settleQuorum(facts, plan, { ...step, escalationLevel: cause.level });
  return { kind: "apply", plan };
}

/** The next level's escalation timer moved to now (the same job, so it cannot run twice). */
export function planUnreachable(facts: ApprovalFacts, cause: { step: number }): Planned {
  if (facts.status !== "pending" || facts.currentStep !== cause.step) return { kind: "skip" };
  const step = currentStep(facts);
  if (step.escalationLevel >= step.escalationLevels) {
    return { kind: "skip", note: "a reviewer cannot be reached and there is no escalation level left" };
  }
  const level = step.escalationLevel + 1;
  return {
    kind: "apply",
    plan: { ...emptyPlan(), jobs: [{ task: "escalation", approvalId: facts.id, step: cause.step, level, delayMs: 0 }] },
  };
}

/** The `expiring` notice to the current step's reviewers who have not decided. */
export function planWarning(facts: ApprovalFacts): Planned {
  if (facts.status !== "pending" || facts.warnBeforeMs === null) return { kind: "skip", note: "nothing to warn of" };
  const warnAt = facts.deadline.getTime() - facts.warnBeforeMs;
  if (warnAt > facts.dbNow.getTime()) {
    const plan = emptyPlan();
    plan.jobs.push({ task: "warning", approvalId: facts.id, runAt: new Date(warnAt) });
    return { kind: "apply", plan };
  }
  const step = currentStep(facts);
  const recipients = reviewersToAsk(facts.requestedBy, undecidedReviewers(step));
  if (recipients.length === 0) return { kind: "skip", note: "everyone has voted" };
  const plan = emptyPlan();
  plan.events.push(systemEvent("warned", step.step, { deadline: facts.deadline.toISOString(), recipients }));
  plan.jobs.push(notify(facts, "expiring", ROUNDS.expiring(facts.deadline), step.step, recipients));
  return { kind: "apply", plan };
}

/**
 * A later deadline: only forward and only while pending. The timeout and the warning move with it in
 * the same change (same job keys, new run times), and the current step's reviewers who have not decided
 * are told.
 */
export function planExtension(
  facts: ApprovalFacts,
  cause: { until: Date | null; byMs: number | null; reason: string | null; actor: string; via: string },
): Planned {
  if (facts.status !== "pending") return { kind: "refuse", why: { reason: "final", status: facts.status } };
  const deadline = cause.until ?? new Date(facts.deadline.getTime() + (cause.byMs ?? 0));
  if (deadline.getTime() <= facts.deadline.getTime()) {
    return { kind: "refuse", why: { reason: "not_later", deadline: facts.deadline } };
  }
  const step = currentStep(facts);
  const plan = emptyPlan();
  plan.update = { set: { deadline } };
  plan.events.push({
    type: "extended",
    actor: cause.actor,
    channel: cause.actor === SYSTEM_ACTOR ? null : cause.via,
    step: step.step,
    comment: cause.reason,
    data: { from: facts.deadline.toISOString(), to: deadline.toISOString() },
  });
  plan.jobs.push({ task: "timeout", approvalId: facts.id, runAt: deadline });
  if (facts.warnBeforeMs !== null) {
    const warnAt = Math.max(deadline.getTime() - facts.warnBeforeMs, facts.dbNow.getTime());
    plan.jobs.push({ task: "warning", approvalId: facts.id, runAt: new Date(warnAt) });
  }
  const recipients = reviewersToAsk(facts.requestedBy, undecidedReviewers(step));
  if (recipients.length > 0) {
    plan.jobs.push(notify(facts, "extended", ROUNDS.extended(deadline), step.step, recipients));
  }
  plan.announce = { id: facts.id, status: "pending" };
  return { kind: "apply", plan };
}
