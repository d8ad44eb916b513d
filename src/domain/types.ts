/**
 * The domain's types, and the glossary of its words. Pure: this folder imports nothing outside itself.
 *
 * Glossary
 *
 * - **approval**: one question put to humans ("may the agent send this report?"), with a payload, a
 *   deadline and a timeout action. It is `pending` until it becomes final (see `lifecycle.ts`).
 * - **step**: one sign-off stage of an approval. Steps run in order; a step passes when `quorum` distinct
 *   reviewers of that step approve. `reviewers: [a, b]` is a single step with quorum 1.
 * - **reviewer**: an opaque identifier of a person or team (`cfo@company.com`, `slack:#finance`). A step
 *   has its own reviewers (level 0) and optional escalation levels (1, 2, …) that join when escalated.
 * - **vote**: one reviewer's approve/reject on one step. Any reject rejects the whole approval.
 * - **decision**: the final outcome of an approval: approved, rejected, timed out or cancelled.
 * - **channel**: a way to reach reviewers (console, Slack, email, webhook); see `channels/channel.ts`.
 * - **voter**: the person who cast a vote; the reviewer is the slot it counts for (they differ for a team).
 * - **requester**: who asked (`requestedBy`); never asked to decide, never counted.
 * - **reminder**: a nudge to a step's undecided reviewers, `reminders` after the step started.
 * - **escalation level**: reviewers who join a step when nobody decided, each `escalateAfter` apart.
 * - **round**: one notification sent to some reviewers (`request:0`, `reminder:0:1`, `outcome`…).
 * - **event**: one entry of the append-only audit trail.
 * - **plan**: what one cause (a vote, a cancel, a timer) changes, decided in `transition.ts`, applied by
 *   the engine in one transaction.
 */

export const APPROVAL_STATUSES = ["pending", "approved", "rejected", "timed_out", "cancelled"] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];
export type FinalStatus = Exclude<ApprovalStatus, "pending">;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What happens when nobody decides before the deadline. */
export type TimeoutAction = "approve" | "reject" | "cancel";

export type VoteOutcome = "approve" | "reject";

/** The final outcome of an approval, as `waitForDecision` returns it. */
export interface Decision {
  id: string;
  status: FinalStatus;
  /** May the agent proceed? On timeout this follows the timeout action. */
  approved: boolean;
  /** The reviewer whose vote made it final, the canceller, or null on timeout. */
  decidedBy: string | null;
  comment: string | null;
  /** The channel the decision came through (`api`, `http`, `slack`, `cli`, `timeout`, …). */
  via: string | null;
  decidedAt: Date;
  /** The payload as finally approved: the latest revision, with every reviewer's edits. */
  payload: JsonValue;
  /** The payload's revision (1 unless a reviewer edited it). */
  revision: number;
  /** Every edit reviewers made, oldest first. */
  edits: PayloadEdit[];
  /** When a delegate decided: the reviewer they stood in for (`decidedBy` is the delegate). */
  onBehalfOf: string | null;
  /** A batch's outcome per action, in the order requested; null for an approval that is not a batch. */
  actions: DecisionAction[] | null;
}

/** May the agent run this action of a batch, and with what input. */
export interface DecisionAction {
  id: string;
  name: string;
  outcome: VoteOutcome;
  /** The input as finally approved: reviewers' edits applied. */
  input: JsonValue;
  /** This action's edits, oldest first. */
  edits: PayloadEdit[];
  /** Why it was rejected (the reviewer's reason, or the timeout), or an approving comment. */
  comment: string | null;
}

/** One action of a batch as it stands: `pending` until a reviewer rejects it or the approval ends. */
export interface ApprovalAction {
  id: string;
  name: string;
  description: string | null;
  /** The current revision's input. */
  input: JsonValue;
  /** Top-level fields of `input` a reviewer may change when approving. */
  editable: string[];
  /** The JSON Schema a reviewer's edit of `input` must satisfy, when the request gave one. */
  inputSchema?: JsonValue;
  outcome: VoteOutcome | "pending";
  comment: string | null;
  /** Who rejected it, or null. */
  rejectedBy: string | null;
  edits: PayloadEdit[];
}

/** A batch action as requested (its input lives in the payload, so that edits make revisions). */
export interface BatchAction {
  id: string;
  name: string;
  description: string | null;
  editable: string[];
  /** JSON Schema an edited input must satisfy; absent when the request gave none. */
  inputSchema?: JsonValue;
}

/** A reviewer's decision on one action of a batch. */
export interface ActionVote {
  outcome: VoteOutcome;
  comment: string | null;
}

/** One field a reviewer changed when approving: the revision it made. */
export interface PayloadEdit {
  /** In a batch: the action whose input changed (`field` is a field of that input). */
  action?: string;
  field: string;
  from: JsonValue | null;
  to: JsonValue;
  by: string;
  /** The revision the edit created. */
  revision: number;
}

export interface Vote {
  outcome: VoteOutcome;
  comment: string | null;
  via: string;
  at: Date;
  /** The payload revision the vote was made on. */
  revision: number;
  /** The person who cast it, when not the reviewer itself (a delegate, a team member). */
  voter: string;
  /** A delegate's vote: the reviewer it stood in for. */
  onBehalfOf: string | null;
  /** In a batch: the decision on each action still open when the vote was cast. */
  actions: Record<string, ActionVote> | null;
}

/** One revision of an approval's payload. */
export interface PayloadRevision {
  revision: number;
  payload: JsonValue;
  /** SHA-256 (hex) of the payload as canonical JSON (object keys sorted). */
  digest: string;
  /** What this revision changed (none for revision 1). */
  edits: PayloadEdit[];
  createdBy: string;
  createdAt: Date;
}

/** A reviewer's standing delegation while away. Delegates resolve one hop only. */
export interface Delegation {
  id: string;
  from: string;
  to: string;
  until: Date;
  reason: string | null;
  createdBy: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface StepReviewer {
  reviewer: string;
  /** 0 for the step's own reviewers, n for the n-th escalation level. */
  level: number;
  /** May this reviewer decide now (their level has been reached)? */
  active: boolean;
  vote: Vote | null;
}

/** `waiting` steps have not started; `closed` is a step that ended without passing. */
export type StepStatus = "waiting" | "active" | "passed" | "rejected" | "closed";

export interface ApprovalStep {
  index: number;
  name: string;
  quorum: number;
  status: StepStatus;
  escalationLevel: number;
  startedAt: Date | null;
  passedAt: Date | null;
  reviewers: StepReviewer[];
}

export interface Approval {
  id: string;
  type: string;
  title: string;
  payload: JsonValue;
  requestedBy: string;
  status: ApprovalStatus;
  /** Index into `steps` of the step being decided (or that was last decided). */
  currentStep: number;
  steps: ApprovalStep[];
  deadline: Date;
  timeoutAction: TimeoutAction;
  idempotencyKey: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The payload's revision: 1, plus one for every approval with edits. */
  revision: number;
  /** Top-level payload fields a reviewer may change when approving. */
  editable: string[];
  /** The JSON Schema every revision of the payload must satisfy, or null. */
  payloadSchema: JsonValue | null;
  /** Every edit so far, oldest first. */
  edits: PayloadEdit[];
  /** Does one person count once across all steps? */
  distinctAcrossSteps: boolean;
  /** Active delegations from this approval's reviewers: their delegates may decide for them. */
  delegations: Delegation[];
  /** A batch's actions as they stand, in the order requested; null for an approval that is not a batch. */
  actions: ApprovalAction[] | null;
  /** The host's own data given with the request; never shown to reviewers. */
  metadata: Record<string, JsonValue> | null;
  /** Set once the approval is final. */
  decision: Decision | null;
}

export type EventType =
  | "requested"
  | "viewed"
  | "notified"
  | "notify_failed"
  | "reminded"
  | "escalated"
  | "step_passed"
  | "approved"
  | "rejected"
  | "timed_out"
  | "cancelled"
  | "warned"
  | "extended"
  | "quorum_unreachable"
  | "handler_done"
  | "handler_failed"
  | "policy_evaluated";

/** One entry of the append-only audit trail. */
export interface AuditEvent {
  id: string;
  approvalId: string;
  type: EventType;
  /** Who acted: a reviewer, the requester, or `system` for timers. */
  actor: string;
  /** The channel involved, for notifications and decisions. */
  channel: string | null;
  /** The step index the event concerns, if any. */
  step: number | null;
  comment: string | null;
  data: Record<string, JsonValue>;
  at: Date;
  /** Its place in the approval's audit chain, from 1. */
  seq: number;
  /** SHA-256 (hex) of its canonical content and the previous event's hash: see `verifyAudit`. */
  hash: string;
}

export type NotificationKind =
  | "request"
  | "reminder"
  | "escalation"
  /** The deadline is `warnBefore` away. */
  | "expiring"
  /** The deadline moved (see `data` of the `extended` event). */
  | "extended"
  | "decided"
  | "timed_out"
  | "cancelled";

/** What a channel is asked to deliver: one message, for one reviewer. */
export interface Notification {
  kind: NotificationKind;
  /**
   * Stable identity of this notification (approval, kind, step, round), the same on every retry, so a
   * channel can deduplicate or thread.
   */
  key: string;
  reviewer: string;
  approval: {
    id: string;
    type: string;
    title: string;
    payload: JsonValue;
    requestedBy: string;
    status: ApprovalStatus;
    deadline: Date;
    createdAt: Date;
    step: { index: number; name: string; quorum: number; count: number };
    /** The payload's revision, and the edits that made it. */
    revision: number;
    edits: PayloadEdit[];
    /** Fields the reviewer may change when approving. */
    editable: string[];
    /** A batch's actions as they stand (each decided on its own), or null. */
    actions: ApprovalAction[] | null;
  };
  /** When this notification goes to a delegate: the reviewer they stand in for. */
  onBehalfOf: string | null;
  /** Links under `publicUrl` carrying this reviewer's token. Opening one never decides by itself. */
  links: { view: string; approve: string; reject: string };
  /** Set for `decided`, `timed_out` and `cancelled`. */
  decision: Decision | null;
  /**
   * The receipt this channel returned for its first delivery to this reviewer on this approval (e.g. the
   * Slack message to reply to or update), or null.
   */
  thread: JsonValue | null;
  /** 1 for the first attempt, counting up on retries. */
  attempt: number;
}

/** Reminder offsets and the escalation interval of a step, in milliseconds from its start. */
export interface StepSchedule {
  remindersMs: number[];
  escalateAfterMs: number;
}
