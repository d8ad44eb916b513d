-- countersign 000004: each reviewer's approvals, once each, in the order `list({ reviewer })` pages
-- through them. The reviewer table has a row per step and level, so listing a reviewer's approvals from
-- it means reading all of them and sorting; here the page is a walk down one index.
create table :COUNTERSIGN_SCHEMA.inbox (
  reviewer text not null,
  approval_id uuid not null references :COUNTERSIGN_SCHEMA.approval (id),
  -- the approval's created_at, copied so that the index orders the reviewer's approvals by it
  created_at timestamptz not null,
  primary key (reviewer, approval_id)
);
create index inbox_order_idx on :COUNTERSIGN_SCHEMA.inbox (reviewer, created_at desc, approval_id desc);

insert into :COUNTERSIGN_SCHEMA.inbox (reviewer, approval_id, created_at)
select distinct r.reviewer, r.approval_id, a.created_at
from :COUNTERSIGN_SCHEMA.reviewer r join :COUNTERSIGN_SCHEMA.approval a on a.id = r.approval_id;

-- Every change to an approval bumps its version, and is written only if the version is still the one it
-- was planned from (optimistic concurrency): a decision is one read and one write, with no lock held
-- between them; a change that lost the race is planned again from what won.
alter table :COUNTERSIGN_SCHEMA.approval add column version integer not null default 0;
