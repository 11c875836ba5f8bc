-- Every run of every check, and the per-check state derived from them.
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name  TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    verdict     TEXT    NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail', 'error')),
    value       REAL,            -- row count, query number or HTTP status
    age_seconds REAL,            -- freshness: database clock minus newest timestamp
    newest_at   TEXT,            -- freshness: the newest timestamp itself
    reason      TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_check ON runs (check_name, started_at);

CREATE TABLE IF NOT EXISTS check_state (
    check_name           TEXT    PRIMARY KEY,
    last_verdict         TEXT    NOT NULL,
    verdict_since        TEXT    NOT NULL,
    consecutive_failures INTEGER NOT NULL,   -- fail or error in a row
    consecutive_passes   INTEGER NOT NULL,
    last_run_at          TEXT    NOT NULL,
    last_success_at      TEXT
);
