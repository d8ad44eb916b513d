/**
 * Every error countersign throws is an {@link ApprovalError} with a stable `code` from
 * {@link ERROR_CODES}; callers branch on the code (or on the few subclasses below), never on messages.
 */

/** The stable error codes. New codes may be added; existing ones never change meaning. */
export const ERROR_CODES = {
  /** Input failed validation; `data.issues` lists each field and rule. */
  VALIDATION: "VALIDATION",
  /** No approval (or token) with that id exists. */
  NOT_FOUND: "NOT_FOUND",
  /** The approval is already final, or this reviewer already voted on this step. */
  ALREADY_DECIDED: "ALREADY_DECIDED",
  /** The reviewer is not on the approval's current step (or its reached escalation levels). */
  NOT_A_REVIEWER: "NOT_A_REVIEWER",
  /**
   * The decision was made on a payload revision that is no longer current (another reviewer approved
   * with edits since); `data.revision` is the current one. Look again and decide on it.
   */
  STALE_REVISION: "STALE_REVISION",
  /** The requester tried to decide their own request (one person may not both ask and approve). */
  SELF_APPROVAL: "SELF_APPROVAL",
  /** `waitForDecision` gave up after its own `timeout`; the approval itself is still pending. */
  WAIT_TIMEOUT: "WAIT_TIMEOUT",
  /** An idempotency key was reused with a different request. */
  IDEMPOTENCY_CONFLICT: "IDEMPOTENCY_CONFLICT",
  /** The database was migrated by a newer countersign with a breaking change. */
  SCHEMA_TOO_NEW: "SCHEMA_TOO_NEW",
  /** The countersign tables do not exist yet: call `migrate()` first. */
  NOT_MIGRATED: "NOT_MIGRATED",
  /** `stop()` was called while this call was waiting. */
  STOPPED: "STOPPED",
  /** An inbound request's signature is missing, wrong, too old or new, or was seen before (a replay). */
  SIGNATURE_REFUSED: "SIGNATURE_REFUSED",
  /** The database cannot be reached (refused, dropped, restarting). A write is all or nothing; retry later. */
  UNAVAILABLE: "UNAVAILABLE",
  /**
   * PostgreSQL does not have a statement countersign prepared on the connection, or already has one by that
   * name: the connection goes through a transaction pooler (PgBouncer) that does not keep prepared
   * statements, or its session was reset. Set `noPreparedStatements` (or `directConnectionString`).
   */
  PREPARED_STATEMENT_LOST: "PREPARED_STATEMENT_LOST",
  /** This Node.js is older than countersign supports (`data.required`); thrown by `createApprovals`. */
  UNSUPPORTED_RUNTIME: "UNSUPPORTED_RUNTIME",
  /** Something unexpected failed; `cause` holds the original error. */
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The one base class of countersign's errors. */
export class ApprovalError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** One failed rule of a validated input. */
export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `steps.1.quorum`; empty for the input as a whole. */
  path: string;
  message: string;
}

/** Input failed validation; nothing was written. */
export class ValidationError extends ApprovalError {
  declare readonly data: { issues: ValidationIssue[] };
  get issues(): ValidationIssue[] {
    return this.data.issues;
  }
  constructor(what: string, issues: ValidationIssue[]) {
    const lines = issues.map((issue) => `  - ${issue.path ? `${issue.path}: ` : ""}${issue.message}`);
    super(ERROR_CODES.VALIDATION, `Invalid ${what}:\n${lines.join("\n")}`, { issues });
  }
}

export class NotFoundError extends ApprovalError {
  constructor(what: string, data: Record<string, unknown> = {}) {
    super(ERROR_CODES.NOT_FOUND, `${what} was not found.`, data);
  }
}

/** The approval is final (the current decision is in `data.decision`) or the vote was already cast. */
export class AlreadyDecidedError extends ApprovalError {
  constructor(message: string, data: Record<string, unknown>) {
    super(ERROR_CODES.ALREADY_DECIDED, message, data);
  }
}

export class NotAReviewerError extends ApprovalError {
  constructor(message: string, data: Record<string, unknown>) {
    super(ERROR_CODES.NOT_A_REVIEWER, message, data);
  }
}

/** An inbound request's signature was refused (missing, wrong, stale, or a replay). */
export class SignatureRefusedError extends ApprovalError {
  constructor(message: string) {
    super(ERROR_CODES.SIGNATURE_REFUSED, message);
  }
}

/** The requester (after normalisation) voted on their own request. */
export class SelfApprovalError extends ApprovalError {
  constructor(approvalId: string, voter: string) {
    super(
      ERROR_CODES.SELF_APPROVAL,
      `${voter} requested approval ${approvalId} and cannot decide it; another reviewer must. Use cancel() to withdraw it.`,
      { approvalId, voter },
    );
  }
}

export class WaitTimeoutError extends ApprovalError {
  constructor(approvalId: string, timeoutMs: number) {
    super(
      ERROR_CODES.WAIT_TIMEOUT,
      `Stopped waiting for approval ${approvalId} after ${timeoutMs} ms; it is still pending. Wait again or check it later.`,
      { approvalId, timeoutMs },
    );
  }
}

/** A decision made on an older payload revision than the current one (see `ERROR_CODES.STALE_REVISION`). */
export class StaleRevisionError extends ApprovalError {
  constructor(approval: { id: string; revision: number }, seen: number | null) {
    super(
      ERROR_CODES.STALE_REVISION,
      `Approval ${approval.id} changed since revision ${seen ?? "?"} was shown: a reviewer approved it with edits, making revision ${approval.revision}. Review the current revision and decide again.`,
      { approvalId: approval.id, revision: approval.revision, seen },
    );
  }
}
