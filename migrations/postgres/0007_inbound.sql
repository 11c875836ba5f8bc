-- What comes back from people: vendor webhook deliveries already handled (PagerDuty repeats
-- them; one row per event id makes a repeat change nothing), and the updates the Prog Lead
-- posts on an incident (public ones are what partners read).
CREATE TABLE IF NOT EXISTS inbound_events (
    vendor      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (vendor, event_id)
);

CREATE TABLE IF NOT EXISTS incident_updates (
    id          BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL,           -- investigating, identified, monitoring, resolved
    message     TEXT NOT NULL,
    public      BIGINT NOT NULL,         -- 1: posted to the status pages
    by_name     TEXT
);
CREATE INDEX IF NOT EXISTS incident_updates_by_incident ON incident_updates (incident_id, at);
