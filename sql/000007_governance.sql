-- countersign 000007: governance. A tamper-evident audit chain, retention that may keep the audit trail
-- of pruned approvals, and the audit event of a policy's answer.

-- The payload revision's SHA-256 (canonical JSON), kept current by countersign, so that each audit event
-- can seal the revision it was written under.
alter table :COUNTERSIGN_SCHEMA.approval add column payload_digest text;

-- Each approval's events form a chain: seq counts from 1, prev_hash is the previous event's hash, and
-- hash is the SHA-256 of the event's canonical content (see chained_content), prev_hash included. A
-- changed, deleted, reordered or forged event breaks the chain however it got there.
alter table :COUNTERSIGN_SCHEMA.event
  add column seq integer,
  add column prev_hash text,
  add column payload_digest text,
  add column hash text;

-- What an event's hash covers, as text. Immutable, so a verifier recomputes it from the stored columns.
create function :COUNTERSIGN_SCHEMA.chained_content(
  approval_id uuid, seq integer, type text, actor text, channel text, step integer, comment text,
  data jsonb, created_at timestamptz, prev_hash text, payload_digest text
) returns text language sql immutable as $$
  select jsonb_build_array(
    approval_id::text, seq, type, actor, channel, step, comment, data,
    to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), prev_hash, payload_digest
  )::text
$$;

create function :COUNTERSIGN_SCHEMA.chain_event() returns trigger
language plpgsql as $$
declare
  previous record;
begin
  -- One writer per approval's chain at a time: the approval's row is locked until the writer commits,
  -- and the next one then reads the event it wrote. A row lock, not an advisory one: a transaction that
  -- writes events for a million approvals must not run out of the shared lock table.
  select a.payload_digest into new.payload_digest from :COUNTERSIGN_SCHEMA.approval a
    where a.id = new.approval_id for no key update;
  select e.seq, e.hash into previous from :COUNTERSIGN_SCHEMA.event e
    where e.approval_id = new.approval_id order by e.seq desc limit 1;
  new.seq := coalesce(previous.seq, 0) + 1;
  new.prev_hash := previous.hash;
  new.hash := encode(sha256(convert_to(:COUNTERSIGN_SCHEMA.chained_content(
    new.approval_id, new.seq, new.type, new.actor, new.channel, new.step, new.comment, new.data,
    new.created_at, new.prev_hash, new.payload_digest), 'UTF8')), 'hex');
  return new;
end;
$$;

-- Events written before this migration join the chain in the order they were written.
alter table :COUNTERSIGN_SCHEMA.event disable trigger event_append_only;
do $$
declare
  r record;
  chain uuid;
  last_hash text;
  n integer := 0;
  h text;
begin
  for r in select * from :COUNTERSIGN_SCHEMA.event order by approval_id, id loop
    if chain is distinct from r.approval_id then
      chain := r.approval_id;
      last_hash := null;
      n := 0;
    end if;
    n := n + 1;
    h := encode(sha256(convert_to(:COUNTERSIGN_SCHEMA.chained_content(
      r.approval_id, n, r.type, r.actor, r.channel, r.step, r.comment, r.data, r.created_at, last_hash, null), 'UTF8')), 'hex');
    update :COUNTERSIGN_SCHEMA.event set seq = n, prev_hash = last_hash, hash = h where id = r.id;
    last_hash := h;
  end loop;
end;
$$;
alter table :COUNTERSIGN_SCHEMA.event enable trigger event_append_only;
alter table :COUNTERSIGN_SCHEMA.event alter column seq set not null, alter column hash set not null;
create unique index event_chain_idx on :COUNTERSIGN_SCHEMA.event (approval_id, seq);
create trigger event_chain before insert on :COUNTERSIGN_SCHEMA.event
  for each row execute function :COUNTERSIGN_SCHEMA.chain_event();

-- Retention: a pruned approval's events may stay behind as a verifiable chain, so they no longer need
-- the approval row; and prune() alone may delete events, when asked to take them along.
alter table :COUNTERSIGN_SCHEMA.event drop constraint event_approval_id_fkey;
create or replace function :COUNTERSIGN_SCHEMA.refuse_event_change() returns trigger
language plpgsql as $$
begin
  if tg_op = 'DELETE' and current_setting('countersign.pruning', true) = 'on' then
    return old;
  end if;
  raise exception 'countersign: the audit trail is append-only; % on %.% is refused', tg_op, tg_table_schema, tg_table_name
    using errcode = 'insufficient_privilege';
end;
$$;

alter table :COUNTERSIGN_SCHEMA.event drop constraint event_type_check;
alter table :COUNTERSIGN_SCHEMA.event add constraint event_type_check check (type in (
  'requested', 'viewed', 'notified', 'notify_failed', 'reminded', 'escalated', 'step_passed',
  'approved', 'rejected', 'timed_out', 'cancelled',
  'warned', 'extended', 'quorum_unreachable', 'handler_done', 'handler_failed',
  'policy_evaluated'
));

-- prune() finds final approvals by when they were decided, a bounded batch at a time.
create index approval_final_idx on :COUNTERSIGN_SCHEMA.approval (decided_at) where status <> 'pending';

-- OpenTelemetry: the trace context of the request, so that later spans (a decision, a delivery, a
-- timer, a handler) link back to the trace that asked.
alter table :COUNTERSIGN_SCHEMA.approval add column trace_context jsonb;
