-- Every run of every check, and the per-check state derived from them.
CREATE TABLE IF NOT EXISTS runs (
    id          BIGSERIAL        PRIMARY KEY,
    check_name  TEXT             NOT NULL,
    started_at  TIMESTAMPTZ      NOT NULL,
    duration_ms BIGINT           NOT NULL,
    verdict     TEXT             NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail', 'error')),
    value       DOUBLE PRECISION,            -- row count, query number or HTTP status
    age_seconds DOUBLE PRECISION,            -- freshness: database clock minus newest timestamp
    newest_at   TIMESTAMPTZ,                 -- freshness: the newest timestamp itself
    reason      TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_check ON runs (check_name, started_at);

CREATE TABLE IF NOT EXISTS check_state (
    check_name           TEXT        PRIMARY KEY,
    last_verdict         TEXT        NOT NULL,
    verdict_since        TIMESTAMPTZ NOT NULL,
    consecutive_failures BIGINT      NOT NULL,   -- fail or error in a row
    consecutive_passes   BIGINT      NOT NULL,
    last_run_at          TIMESTAMPTZ NOT NULL,
    last_success_at      TIMESTAMPTZ
);
