-- countersign 000001: approvals, their steps and reviewers, votes, reviewer tokens and the audit trail.
-- :COUNTERSIGN_SCHEMA is replaced with the configured schema (quoted) when the migration runs.

create table :COUNTERSIGN_SCHEMA.approval (
  id uuid primary key,
  type text not null,
  title text not null,
  -- json, not jsonb: the page shows the fields in the order the agent gave them
  payload json not null,
  requested_by text not null,
  status text not null default 'pending'
    check (status in ('pending', 'approved', 'rejected', 'timed_out', 'cancelled')),
  current_step integer not null default 0,
  step_count integer not null check (step_count >= 1),
  deadline timestamptz not null,
  timeout_action text not null check (timeout_action in ('approve', 'reject', 'cancel')),
  idempotency_key text unique,
  -- a digest of the request, so a reused idempotency key with different input is refused
  fingerprint text not null,
  decided_by text,
  decision_comment text,
  decided_via text,
  decided_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((status = 'pending') = (decided_at is null)),
  check (current_step >= 0 and current_step < step_count)
);
create index approval_list_idx on :COUNTERSIGN_SCHEMA.approval (created_at desc, id desc);
create index approval_status_idx on :COUNTERSIGN_SCHEMA.approval (status, created_at desc, id desc);
create index approval_type_idx on :COUNTERSIGN_SCHEMA.approval (type, created_at desc, id desc);

create table :COUNTERSIGN_SCHEMA.step (
  approval_id uuid not null references :COUNTERSIGN_SCHEMA.approval (id),
  position integer not null check (position >= 0),
  name text not null,
  quorum integer not null check (quorum >= 1),
  -- reminder offsets and the escalation interval, in milliseconds, counted from started_at
  schedule jsonb not null,
  -- how many escalation levels have been reached; reviewers with level <= this may decide
  escalation_level integer not null default 0,
  escalation_levels integer not null default 0,
  started_at timestamptz,
  passed_at timestamptz,
  primary key (approval_id, position)
);

create table :COUNTERSIGN_SCHEMA.reviewer (
  approval_id uuid not null,
  position integer not null,
  reviewer text not null,
  -- 0 for the step's own reviewers, n for the n-th escalation level
  level integer not null check (level >= 0),
  primary key (approval_id, position, reviewer),
  foreign key (approval_id, position) references :COUNTERSIGN_SCHEMA.step (approval_id, position)
);
create index reviewer_lookup_idx on :COUNTERSIGN_SCHEMA.reviewer (reviewer, approval_id);

-- One token per reviewer per approval. Only its SHA-256 digest is stored; the token itself is derived
-- from the host's secret and the nonce when a notification is built, so a database read alone cannot
-- produce a working link.
create table :COUNTERSIGN_SCHEMA.token (
  approval_id uuid not null references :COUNTERSIGN_SCHEMA.approval (id),
  reviewer text not null,
  nonce bytea not null,
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  primary key (approval_id, reviewer)
);

create table :COUNTERSIGN_SCHEMA.vote (
  approval_id uuid not null,
  position integer not null,
  reviewer text not null,
  outcome text not null check (outcome in ('approve', 'reject')),
  comment text,
  via text not null,
  created_at timestamptz not null default now(),
  primary key (approval_id, position, reviewer),
  foreign key (approval_id, position) references :COUNTERSIGN_SCHEMA.step (approval_id, position)
);

create table :COUNTERSIGN_SCHEMA.event (
  id bigint generated always as identity primary key,
  approval_id uuid not null references :COUNTERSIGN_SCHEMA.approval (id),
  type text not null check (type in (
    'requested', 'viewed', 'notified', 'notify_failed', 'reminded', 'escalated', 'step_passed',
    'approved', 'rejected', 'timed_out', 'cancelled'
  )),
  actor text not null,
  channel text,
  step integer,
  comment text,
  data jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index event_approval_idx on :COUNTERSIGN_SCHEMA.event (approval_id, id);

-- The audit trail is append-only, enforced by the database rather than by our code alone.
create function :COUNTERSIGN_SCHEMA.refuse_event_change() returns trigger
language plpgsql as $$
begin
  raise exception 'countersign: the audit trail is append-only; % on %.% is refused', tg_op, tg_table_schema, tg_table_name
    using errcode = 'insufficient_privilege';
end;
$$;
create trigger event_append_only before update or delete on :COUNTERSIGN_SCHEMA.event
  for each row execute function :COUNTERSIGN_SCHEMA.refuse_event_change();
create trigger event_no_truncate before truncate on :COUNTERSIGN_SCHEMA.event
  for each statement execute function :COUNTERSIGN_SCHEMA.refuse_event_change();
