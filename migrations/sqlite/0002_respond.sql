-- Responding to failures: per-check policy state, restart history, the outbox, silences.
CREATE TABLE IF NOT EXISTS policy_state (
    check_name TEXT PRIMARY KEY,
    state      TEXT NOT NULL,            -- JSON of policy::PolicyState
    recheck_at TEXT,                     -- a re-check is due then (after a restart's settle time)
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS restarts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name TEXT NOT NULL,
    target     TEXT NOT NULL,            -- e.g. kubernetes:syncs/van-sync; cooldowns are per target
    at         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS restarts_by_target ON restarts (target, at);
CREATE INDEX IF NOT EXISTS restarts_by_check ON restarts (check_name, at);

CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      TEXT    NOT NULL,
    check_name      TEXT    NOT NULL,
    notifier        TEXT    NOT NULL,    -- a notifier name, or "restart"
    event           TEXT    NOT NULL,    -- page, reminder, resolve, notify, restart, change
    dedup_key       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,    -- JSON, without secrets (added at delivery)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT,
    delivered_at    TEXT,
    gave_up_at      TEXT,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, gave_up_at, next_attempt_at);

CREATE TABLE IF NOT EXISTS silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern    TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
