-- Incidents (one per page) with the Prog Lead of the moment, ack, escalation and resolve;
-- the timeline of every event of a check; incidents called with a channel of their own.
CREATE TABLE IF NOT EXISTS incidents (
    id           BIGSERIAL PRIMARY KEY,
    dedup_key    TEXT NOT NULL UNIQUE,   -- the PagerDuty dedup key shared by every message
    check_name   TEXT NOT NULL,
    source       TEXT,
    severity     TEXT NOT NULL,          -- critical: data is stale; error: it cannot be checked
    summary      TEXT NOT NULL,
    since        TIMESTAMPTZ NOT NULL,          -- first failing run of the episode
    opened_at    TIMESTAMPTZ NOT NULL,          -- the page
    prog_lead    TEXT,                   -- the Prog Lead when it opened
    route        TEXT,                   -- the page route
    acked_at     TIMESTAMPTZ,
    acked_by     TEXT,
    escalated_at TIMESTAMPTZ,
    call_name    TEXT,                   -- the called incident it belongs to (its channel name)
    statuspage_id TEXT,                  -- the Statuspage incident, once created
    resolved_at  TIMESTAMPTZ,
    resolved_by  TEXT,
    resolve_note TEXT
);
CREATE INDEX IF NOT EXISTS incidents_open ON incidents (resolved_at, opened_at);
CREATE INDEX IF NOT EXISTS incidents_by_check ON incidents (check_name, opened_at);

CREATE TABLE IF NOT EXISTS events (
    id         BIGSERIAL PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    check_name TEXT NOT NULL,
    kind       TEXT NOT NULL,            -- verdict, restart, restart_done, recheck, page, delivered, ...
    actor      TEXT,                     -- who: syncwatch, a notifier, a person
    detail     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_check ON events (check_name, at);

CREATE TABLE IF NOT EXISTS calls (
    name          TEXT PRIMARY KEY,      -- deterministic: also the Slack channel name
    source        TEXT,
    opened_at     TIMESTAMPTZ NOT NULL,
    channel_id    TEXT,                  -- set once conversations.create (or name_taken) answered
    resolved_at   TIMESTAMPTZ
);

-- Handoffs already announced (one notice per handoff, whichever replica or CronJob sees it).
CREATE TABLE IF NOT EXISTS handoffs (
    at        TIMESTAMPTZ PRIMARY KEY,
    member    TEXT NOT NULL
);
