-- Who was tagged in on an incident and why, and its retro: whether one is required (a
-- critical check or report), when it is due (a date in the on-call zone), when it was done and
-- where it is written, and the last day its reminder went out (one a day, whichever replica).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS tagged TEXT;          -- JSON [{member, why}]
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS retro_required BIGINT NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS retro_due TEXT;       -- YYYY-MM-DD
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS retro_done_at TIMESTAMPTZ;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS retro_doc TEXT;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS retro_reminded_on TEXT; -- YYYY-MM-DD
CREATE INDEX IF NOT EXISTS incidents_retro_due ON incidents (retro_due);

-- Action items a retro assigns.
CREATE TABLE IF NOT EXISTS action_items (
    id          BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    text        TEXT NOT NULL,
    owner       TEXT NOT NULL,
    due         TEXT,                    -- YYYY-MM-DD
    created_at  TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS action_items_open ON action_items (done_at, incident_id);
