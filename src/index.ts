export { createApprovals, type Approvals, type ApprovalPage } from "./approvals.ts";
export type { ApprovalsOptions } from "./core/options.ts";
export {
  UndeliverableError,
  type Channel,
  type ChannelActions,
  type DeliveryReceipt,
  type InboundRequest,
} from "./channels/channel.ts";
export type { FetchHandler } from "./http/handler.ts";
export type { NodeHandler } from "./http/node.ts";
export { consoleChannel, type ConsoleChannelOptions } from "./channels/console.ts";
export { slackChannel, type SlackChannelOptions } from "./channels/slack.ts";
export {
  emailChannel,
  renderEmail,
  type EmailChannelOptions,
  type EmailContent,
  type MailTransport,
} from "./channels/email.ts";
export { webhookChannel, type WebhookChannelOptions } from "./channels/webhook.ts";
export { verifyWebhook } from "./security/signatures.ts";
export type { WebhookSecret } from "./security/secrets.ts";
export type {
  ActionVote,
  Approval,
  ApprovalAction,
  ApprovalStep,
  AuditEvent,
  Decision,
  DecisionAction,
  Delegation,
  EventType,
  JsonValue,
  Notification,
  NotificationKind,
  PayloadEdit,
  PayloadRevision,
  StepReviewer,
  StepStatus,
  TimeoutAction,
  Vote,
  VoteOutcome,
} from "./domain/types.ts";
export type { ApprovalStatus, FinalStatus } from "./domain/types.ts";
export type { ActionRequest, ApprovalRequest, StepInput } from "./core/request-input.ts";
export type {
  ActionDecisionInput,
  CancelInput,
  DecideInput,
  DelegateInput,
  ExtendInput,
  ListQuery,
  WaitOptions,
} from "./core/inputs.ts";
export type { DecisionHandler, HandlerRegistration, ResumeContext, RetiredHandler } from "./core/resume.ts";
export type { AuditVerification, ExportedEvent, VerifyAuditOptions } from "./core/audit.ts";
export type { Policy, PolicyAnswer, PolicyRequest } from "./core/policies.ts";
export type { PolicyReportRow } from "./core/policy-report.ts";
export type { PruneOptions, PruneResult } from "./core/retention.ts";
export type { BrokenLink } from "./domain/audit-chain.ts";
export type { Duration } from "./domain/duration.ts";
export type { HostDb, WriteOptions } from "./store/connection.ts";
export type { Logger } from "./logger.ts";
export { migrationSql } from "./store/migrate.ts";
export {
  AlreadyDecidedError,
  ApprovalError,
  ERROR_CODES,
  NotAReviewerError,
  NotFoundError,
  SelfApprovalError,
  SignatureRefusedError,
  StaleRevisionError,
  ValidationError,
  WaitTimeoutError,
  type ErrorCode,
  type ValidationIssue,
} from "./errors.ts";
