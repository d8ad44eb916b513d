-- countersign 000008: prune at scale. Deleting an approval makes PostgreSQL look for inbox rows that
-- still point at it, one lookup per approval; the inbox's key led with the reviewer, so each lookup read
-- the whole inbox (6.3 s for a batch of 500 at 200,000 pending approvals). The key now leads with the
-- approval: the same uniqueness and the same one index, and listing by reviewer keeps inbox_order_idx.
alter table :COUNTERSIGN_SCHEMA.inbox
  drop constraint inbox_pkey,
  add primary key (approval_id, reviewer);
