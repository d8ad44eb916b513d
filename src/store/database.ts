/** Table types of countersign's schema (see sql/). Rows become domain objects only in `rows.ts`. */
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type {
  ActionVote,
  ApprovalStatus,
  BatchAction,
  PayloadEdit,
  EventType,
  JsonValue,
  StepSchedule,
  TimeoutAction,
  VoteOutcome,
} from "../domain/types.ts";

/** jsonb: read as parsed JSON, written as a JSON string (pg would turn JS arrays into SQL arrays). */
type Json<T = JsonValue> = ColumnType<T, string, string>;

interface ApprovalTable {
  id: string;
  type: string;
  title: string;
  payload: Json;
  requested_by: string;
  status: ColumnType<ApprovalStatus, ApprovalStatus | undefined, ApprovalStatus>;
  current_step: ColumnType<number, number | undefined, number>;
  step_count: number;
  deadline: Date;
  timeout_action: TimeoutAction;
  idempotency_key: string | null;
  fingerprint: string;
  decided_by: string | null;
  decision_comment: string | null;
  decided_via: string | null;
  decided_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Bumped by every change; a change is written only while it is the version it was planned from. */
  version: Generated<number>;
  /** The payload's revision: 1 plus one per approval with edits. */
  revision: Generated<number>;
  /** Every edit so far, oldest first. */
  edits: ColumnType<PayloadEdit[], string | undefined, string>;
  editable: ColumnType<string[], string | undefined, string>;
  /** The JSON Schema an edited payload must satisfy. */
  payload_schema: ColumnType<JsonValue | null, string | null | undefined, string | null>;
  distinct_across_steps: Generated<boolean>;
  /** bigint: text from a row, a number inside a JSON aggregate. */
  warn_before_ms: ColumnType<number | string | null, number | null | undefined, number | null>;
  decided_on_behalf_of: string | null;
  /** A batch's actions as requested (their inputs are in the payload), or null. */
  actions: ColumnType<BatchAction[] | null, string | null | undefined, string | null>;
  /** The host's own data, never shown to reviewers. */
  metadata: ColumnType<Record<string, JsonValue> | null, string | null | undefined, string | null>;
}

interface StepTable {
  approval_id: string;
  position: number;
  name: string;
  quorum: number;
  schedule: Json<StepSchedule>;
  escalation_level: Generated<number>;
  escalation_levels: number;
  started_at: Date | null;
  passed_at: Date | null;
}

interface ReviewerTable {
  approval_id: string;
  position: number;
  reviewer: string;
  level: number;
}

interface TokenTable {
  approval_id: string;
  reviewer: string;
  nonce: Buffer;
  token_hash: Buffer;
  expires_at: Date;
}

interface VoteTable {
  approval_id: string;
  position: number;
  /** The listed reviewer (slot) the vote was cast for. */
  reviewer: string;
  /** The person who cast it: the reviewer, or for a team reviewer the member who acted. */
  voter: string;
  outcome: VoteOutcome;
  comment: string | null;
  via: string;
  created_at: Generated<Date>;
  /** The payload revision the vote was made on. */
  revision: number;
  /** A delegate's vote: the reviewer they stood in for. */
  on_behalf_of: string | null;
  /** Unique per approval: the person, or the person and the step when one person may vote on several. */
  once_key: string;
  /** In a batch: the decision on each action open when the vote was cast. */
  actions: ColumnType<Record<string, ActionVote> | null, string | null | undefined, string | null>;
}

interface PayloadRevisionTable {
  approval_id: string;
  revision: number;
  payload: Json;
  digest: string;
  edits: Json<{ field: string; from: JsonValue | null; to: JsonValue }[]>;
  created_by: string;
  created_at: Generated<Date>;
}

interface DelegationTable {
  id: string;
  from_reviewer: string;
  to_reviewer: string;
  until: Date;
  reason: string | null;
  created_by: string;
  created_at: Generated<Date>;
  revoked_at: Date | null;
  revoked_by: string | null;
}

interface DecisionHandlerTable {
  name: string;
  type: string;
  registered_at: Generated<Date>;
}

interface EventTable {
  id: Generated<string>;
  approval_id: string;
  type: EventType;
  actor: string;
  channel: string | null;
  step: number | null;
  comment: string | null;
  data: Json<Record<string, JsonValue>>;
  created_at: Generated<Date>;
  /** The event's place in its approval's chain, from 1; set by the database (see sql/000007). */
  seq: Generated<number>;
  prev_hash: Generated<string | null>;
  payload_digest: Generated<string | null>;
  /** SHA-256 (hex) of the event's canonical content, `prev_hash` included. */
  hash: Generated<string>;
}

interface MigrationTable {
  id: number;
  name: string;
  breaking: boolean;
  applied_at: Generated<Date>;
}

interface WorkerHeartbeatTable {
  pool_id: string;
  hostname: string;
  pid: number;
  started_at: Generated<Date>;
  beat_at: Generated<Date>;
}

interface InboxTable {
  reviewer: string;
  approval_id: string;
  created_at: Date;
}

interface SeenRequestTable {
  channel: string;
  digest: string;
  seen_at: Generated<Date>;
}

export interface CountersignDatabase {
  approval: ApprovalTable;
  step: StepTable;
  reviewer: ReviewerTable;
  token: TokenTable;
  vote: VoteTable;
  event: EventTable;
  migration: MigrationTable;
  seen_request: SeenRequestTable;
  inbox: InboxTable;
  payload_revision: PayloadRevisionTable;
  delegation: DelegationTable;
  decision_handler: DecisionHandlerTable;
  worker_heartbeat: WorkerHeartbeatTable;
}

export type ApprovalRow = Selectable<ApprovalTable>;
export type StepRow = Selectable<StepTable>;
export type ReviewerRow = Selectable<ReviewerTable>;
export type VoteRow = Selectable<VoteTable>;
export type DelegationRow = Selectable<DelegationTable>;
export type EventRow = Selectable<EventTable>;
export type NewEvent = Omit<Insertable<EventTable>, "data"> & { data?: Record<string, JsonValue> };

/**
 * Columns read by name rather than `*`: statements are prepared once per connection, and a prepared
 * `select *` fails ("cached plan must not change result type") after a migration adds a column.
 */
export const APPROVAL_COLUMNS = [
  "id",
  "type",
  "title",
  "payload",
  "requested_by",
  "status",
  "current_step",
  "step_count",
  "deadline",
  "timeout_action",
  "idempotency_key",
  "fingerprint",
  "decided_by",
  "decision_comment",
  "decided_via",
  "decided_at",
  "created_at",
  "updated_at",
  "version",
  "revision",
  "edits",
  "editable",
  "payload_schema",
  "distinct_across_steps",
  "warn_before_ms",
  "decided_on_behalf_of",
  "actions",
  "metadata",
] as const satisfies readonly (keyof ApprovalTable)[];
/** The vote's columns (see APPROVAL_COLUMNS). */
export const VOTE_COLUMNS = [
  "approval_id",
  "position",
  "reviewer",
  "voter",
  "outcome",
  "comment",
  "via",
  "created_at",
  "revision",
  "on_behalf_of",
  "once_key",
  "actions",
] as const satisfies readonly (keyof VoteTable)[];
export const DELEGATION_COLUMNS = [
  "id",
  "from_reviewer",
  "to_reviewer",
  "until",
  "reason",
  "created_by",
  "created_at",
  "revoked_at",
  "revoked_by",
] as const satisfies readonly (keyof DelegationTable)[];
export const EVENT_COLUMNS = [
  "id",
  "approval_id",
  "type",
  "actor",
  "channel",
  "step",
  "comment",
  "data",
  "created_at",
  "seq",
  "hash",
] as const satisfies readonly (keyof EventTable)[];
