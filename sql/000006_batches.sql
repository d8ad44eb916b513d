-- countersign 000006: batches of tool calls decided one by one in one review, and the host's own data
-- carried with an approval (an agent framework's thread id or run state).

alter table :COUNTERSIGN_SCHEMA.approval
  -- a batch: [{ id, name, description, editable }] in the order requested; the inputs are the payload's
  -- `actions` (so edits make revisions as for any payload). Null for an approval that is not a batch.
  add column actions jsonb,
  -- the host's data, never shown to reviewers
  add column metadata jsonb;

-- A reviewer's decision on each action still open when they voted: { "<action id>": { outcome, comment } }.
alter table :COUNTERSIGN_SCHEMA.vote add column actions jsonb;
