-- countersign 000002: signatures of inbound channel requests (Slack button clicks) already handled, so a
-- captured request replayed within its validity window is refused. Rows older than the window are pruned.
create table :COUNTERSIGN_SCHEMA.seen_request (
  channel text not null,
  digest text not null,
  seen_at timestamptz not null default now(),
  primary key (channel, digest)
);
create index seen_request_seen_at_idx on :COUNTERSIGN_SCHEMA.seen_request (seen_at);
