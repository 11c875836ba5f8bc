-- Each outbox message is claimed by one dispatcher (its owner), and only that owner may mark it.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claimed_by TEXT;
-- Per-receiver order: a message waits while an earlier one for the same key and notifier is pending.
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (dedup_key, notifier, id);
