/** The one place rows become camelCase domain objects. */
import { actionsOf, decisionActions } from "../domain/batch.ts";
import type { ApprovalFacts } from "../domain/facts.ts";
import { isApproved, isFinal } from "../domain/lifecycle.ts";
import type {
  Approval,
  ApprovalAction,
  ApprovalStep,
  AuditEvent,
  Decision,
  Delegation,
  StepStatus,
} from "../domain/types.ts";
import type { ApprovalRow, DelegationRow, EVENT_COLUMNS, EventRow, ReviewerRow, StepRow, VoteRow } from "./database.ts";

/** Timestamps arrive as text inside JSON aggregates; these restore the row types. */
const date = (value: string | null) => (value === null ? null : new Date(value));
type AsJson<T, K extends keyof T> = Omit<T, K> & { [P in K]: null extends T[P] ? string | null : string };
export function stepFromJson(row: AsJson<StepRow, "started_at" | "passed_at">): StepRow {
  return { ...row, started_at: date(row.started_at), passed_at: date(row.passed_at) };
}
export function approvalFromJson(
  row: AsJson<ApprovalRow, "deadline" | "decided_at" | "created_at" | "updated_at">,
): ApprovalRow {
  return {
    ...row,
    deadline: new Date(row.deadline),
    decided_at: date(row.decided_at),
    created_at: new Date(row.created_at),
    updated_at: new Date(row.updated_at),
  };
}
export function voteFromJson(row: AsJson<VoteRow, "created_at">): VoteRow {
  return { ...row, created_at: new Date(row.created_at) };
}
export function delegationFromJson(row: AsJson<DelegationRow, "until" | "created_at" | "revoked_at">): DelegationRow {
  return { ...row, until: new Date(row.until), created_at: new Date(row.created_at), revoked_at: date(row.revoked_at) };
}

export function toDelegation(row: DelegationRow): Delegation {
  return {
    id: row.id,
    from: row.from_reviewer,
    to: row.to_reviewer,
    until: row.until,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/** A batch's actions as they stand, from the approval and its votes; null for no batch. */
function batchActions(row: ApprovalRow, votes: readonly VoteRow[]): ApprovalAction[] | null {
  if (!row.actions) return null;
  return actionsOf({
    batch: row.actions,
    payload: row.payload,
    edits: row.edits,
    votes: [...votes].sort((a, b) => a.created_at.getTime() - b.created_at.getTime()),
    status: row.status,
    timeoutAction: row.timeout_action,
  });
}

/**
 * The decision of a final approval. A batch's per-action word comes from its votes: give them, or a
 * batch decision reads as every open action settled by the approval's end.
 */
export function toDecision(row: ApprovalRow, votes: readonly VoteRow[] = []): Decision | null {
  if (!isFinal(row.status) || row.decided_at === null) return null;
  const actions = batchActions(row, votes);
  return {
    id: row.id,
    status: row.status,
    approved: isApproved(row.status, row.timeout_action),
    decidedBy: row.decided_by,
    comment: row.decision_comment,
    via: row.decided_via,
    decidedAt: row.decided_at,
    payload: row.payload,
    revision: row.revision,
    edits: row.edits,
    onBehalfOf: row.decided_on_behalf_of,
    actions: actions ? decisionActions(actions, row.decision_comment) : null,
  };
}

function stepStatus(row: ApprovalRow, position: number): StepStatus {
  if (position < row.current_step) return "passed";
  if (position > row.current_step) return row.status === "pending" ? "waiting" : "closed";
  switch (row.status) {
    case "pending":
      return "active";
    case "approved":
      return "passed";
    case "rejected":
      return "rejected";
    default:
      return "closed";
  }
}

export function toApproval({ approval: row, steps, reviewers, votes, delegations }: ApprovalRows): Approval {
  const approvalSteps: ApprovalStep[] = steps
    .sort((a, b) => a.position - b.position)
    .map((step) => ({
      index: step.position,
      name: step.name,
      quorum: step.quorum,
      status: stepStatus(row, step.position),
      escalationLevel: step.escalation_level,
      startedAt: step.started_at,
      passedAt: step.passed_at,
      reviewers: reviewers
        .filter((r) => r.position === step.position)
        .sort((a, b) => a.level - b.level)
        .map((r) => {
          const vote = votes.find((v) => v.position === step.position && v.reviewer === r.reviewer);
          return {
            reviewer: r.reviewer,
            level: r.level,
            active: step.started_at !== null && r.level <= step.escalation_level,
            vote: vote
              ? {
                  outcome: vote.outcome,
                  comment: vote.comment,
                  via: vote.via,
                  at: vote.created_at,
                  revision: vote.revision,
                  voter: vote.voter,
                  onBehalfOf: vote.on_behalf_of,
                  actions: vote.actions,
                }
              : null,
          };
        }),
    }));
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    payload: row.payload,
    requestedBy: row.requested_by,
    status: row.status,
    currentStep: row.current_step,
    steps: approvalSteps,
    deadline: row.deadline,
    timeoutAction: row.timeout_action,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revision: row.revision,
    editable: row.editable,
    payloadSchema: row.payload_schema,
    edits: row.edits,
    distinctAcrossSteps: row.distinct_across_steps,
    delegations: delegations.map(toDelegation),
    actions: batchActions(row, votes),
    metadata: row.metadata,
    decision: toDecision(row, votes),
  };
}

export function toEvent(row: Pick<EventRow, (typeof EVENT_COLUMNS)[number]>): AuditEvent {
  return {
    id: row.id,
    approvalId: row.approval_id,
    type: row.type,
    actor: row.actor,
    channel: row.channel,
    step: row.step,
    comment: row.comment,
    data: row.data,
    at: row.created_at,
    seq: row.seq,
    hash: row.hash,
  };
}

/** An approval's row with the rows that hang off it, as read. */
export interface ApprovalRows {
  approval: ApprovalRow;
  steps: StepRow[];
  reviewers: ReviewerRow[];
  votes: VoteRow[];
  /** Active delegations from the approval's reviewers (none once it is final). */
  delegations: DelegationRow[];
}

/** The rows after a change: the updated approval row, the new vote, the changed step columns. */
export function rowsAfter(
  rows: ApprovalRows,
  changed: { approval?: ApprovalRow | undefined; vote?: VoteRow | undefined; steps: Partial<StepRow>[] },
): ApprovalRows {
  return {
    approval: changed.approval ?? rows.approval,
    steps: rows.steps.map((step) =>
      Object.assign({}, step, ...changed.steps.filter((s) => s.position === step.position)),
    ),
    reviewers: rows.reviewers,
    votes: changed.vote ? [...rows.votes, changed.vote] : rows.votes,
    delegations: changed.approval && changed.approval.status !== "pending" ? [] : rows.delegations,
  };
}

export function toFacts(
  { approval: row, steps, reviewers, votes, delegations }: ApprovalRows,
  dbNow: Date,
): ApprovalFacts {
  return {
    id: row.id,
    version: row.version,
    payload: row.payload,
    revision: row.revision,
    editable: row.editable,
    batch: row.actions,
    distinctAcrossSteps: row.distinct_across_steps,
    warnBeforeMs: row.warn_before_ms === null ? null : Number(row.warn_before_ms),
    delegations: delegations.map((d) => ({ from: d.from_reviewer, to: d.to_reviewer })),
    status: row.status,
    currentStep: row.current_step,
    requestedBy: row.requested_by,
    deadline: row.deadline,
    timeoutAction: row.timeout_action,
    dbNow,
    steps: steps
      .sort((a, b) => a.position - b.position)
      .map((step) => ({
        step: step.position,
        name: step.name,
        quorum: step.quorum,
        schedule: step.schedule,
        escalationLevel: step.escalation_level,
        escalationLevels: step.escalation_levels,
        startedAt: step.started_at,
        reviewers: reviewers
          .filter((r) => r.position === step.position)
          .map((r) => {
            const vote = votes.find((v) => v.position === step.position && v.reviewer === r.reviewer);
            return {
              reviewer: r.reviewer,
              level: r.level,
              vote: vote
                ? { outcome: vote.outcome, voter: vote.voter, onBehalfOf: vote.on_behalf_of, actions: vote.actions }
                : null,
            };
          }),
      })),
  };
}
