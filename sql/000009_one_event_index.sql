-- countersign 000009: an approval's audit events are found and ordered by one index, the chain's. The
-- index on (approval_id, id) from 000001 did the same work since 000007 added (approval_id, seq), and cost
-- every audit event a second index entry (a WAL record and about 40 bytes on disk). Reads now order by
-- seq, the chain's own order (id is taken before the chain's row lock, so two writers can take them in
-- the opposite order).
drop index if exists :COUNTERSIGN_SCHEMA.event_approval_idx;
