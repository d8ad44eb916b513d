-- countersign 000003: what production needs. One person's vote counts once per step (the voter is the
-- person, the reviewer the slot they decided for, which differ for a team channel); a reviewer's page view
-- is recorded once per step; the sweep finds pending approvals past their deadline by index; live workers
-- record heartbeats so that jobs held by a dead one are released.
alter table :COUNTERSIGN_SCHEMA.vote add column voter text;
update :COUNTERSIGN_SCHEMA.vote set voter = reviewer;
alter table :COUNTERSIGN_SCHEMA.vote alter column voter set not null;
create unique index vote_one_per_person_idx on :COUNTERSIGN_SCHEMA.vote (approval_id, position, voter);

create unique index event_viewed_once_idx on :COUNTERSIGN_SCHEMA.event (approval_id, actor, step) where type = 'viewed';

create index approval_pending_deadline_idx on :COUNTERSIGN_SCHEMA.approval (deadline) where status = 'pending';

create table :COUNTERSIGN_SCHEMA.worker_heartbeat (
  -- graphile-worker's pool id, the value of `locked_by` on the jobs this worker holds
  pool_id text primary key,
  hostname text not null,
  pid integer not null,
  started_at timestamptz not null default now(),
  beat_at timestamptz not null default now()
);
