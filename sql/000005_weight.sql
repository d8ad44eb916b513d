-- countersign 000005: decisions that carry weight. Reviewers may fix the proposal (payload revisions),
-- one person counts once across a chain, reviewers delegate while away, deadlines warn and extend, and
-- handlers resume the agent after the decision (a job per registered handler, added with the decision).

-- The payload as it stands is the latest revision; every earlier one is kept in payload_revision.
alter table :COUNTERSIGN_SCHEMA.approval
  add column revision integer not null default 1,
  -- every edit so far, oldest first: [{ field, from, to, by, revision }]
  add column edits jsonb not null default '[]',
  -- a delegate's decision: the reviewer they stood in for (decided_by is the delegate)
  add column decided_on_behalf_of text,
  -- top-level payload fields a reviewer may change when approving
  add column editable jsonb not null default '[]',
  -- the JSON Schema the payload must still satisfy after an edit (null: none)
  add column payload_schema jsonb,
  -- one person counts once across all steps (four-eyes), unless the request said otherwise
  add column distinct_across_steps boolean not null default true,
  -- how long before the deadline the `expiring` notice goes out (null: none)
  add column warn_before_ms bigint;

-- Written from the first edit on (revision 1, the payload as requested, with it): an approval nobody
-- edited has no rows here and its payload is revision 1.
create table :COUNTERSIGN_SCHEMA.payload_revision (
  approval_id uuid not null references :COUNTERSIGN_SCHEMA.approval (id),
  revision integer not null check (revision >= 1),
  payload json not null,
  -- SHA-256 (hex) of the payload as canonical JSON (keys sorted): what a decision was made on
  digest text not null,
  -- [{ field, from, to }], empty for the first revision
  edits jsonb not null default '[]',
  created_by text not null,
  created_at timestamptz not null default now(),
  primary key (approval_id, revision)
);

-- A vote records the revision it was made on and, for a delegate, whom it stands in for. `once_key` is
-- what must be unique per approval: the person, or the person and the step when a request allows one
-- person on several steps.
alter table :COUNTERSIGN_SCHEMA.vote
  add column revision integer not null default 1,
  add column on_behalf_of text,
  add column once_key text;
update :COUNTERSIGN_SCHEMA.vote set once_key = voter || '/' || position;
alter table :COUNTERSIGN_SCHEMA.vote alter column once_key set not null;
create unique index vote_once_idx on :COUNTERSIGN_SCHEMA.vote (approval_id, once_key);

create table :COUNTERSIGN_SCHEMA.delegation (
  id uuid primary key,
  from_reviewer text not null,
  to_reviewer text not null check (to_reviewer <> from_reviewer),
  until timestamptz not null,
  reason text,
  created_by text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_by text
);
create index delegation_active_idx on :COUNTERSIGN_SCHEMA.delegation (from_reviewer, until) where revoked_at is null;

-- onDecision handlers registered by workers at start(): a decision adds one job per matching handler.
create table :COUNTERSIGN_SCHEMA.decision_handler (
  name text primary key,
  -- the approval type it resumes, or '*' for every type
  type text not null,
  registered_at timestamptz not null default now()
);

alter table :COUNTERSIGN_SCHEMA.event drop constraint event_type_check;
alter table :COUNTERSIGN_SCHEMA.event add constraint event_type_check check (type in (
  'requested', 'viewed', 'notified', 'notify_failed', 'reminded', 'escalated', 'step_passed',
  'approved', 'rejected', 'timed_out', 'cancelled',
  'warned', 'extended', 'quorum_unreachable', 'handler_done', 'handler_failed'
));
