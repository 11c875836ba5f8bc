-- The streaks the response rules count (`after`, `error_after`), kept with the check's other
-- streaks so they are counted in one place: failures in a row (an error neither counts nor
-- breaks it; a warning counts when on_warn is page) and errors in a row.
ALTER TABLE check_state ADD COLUMN consecutive_fails BIGINT NOT NULL DEFAULT 0;
ALTER TABLE check_state ADD COLUMN consecutive_errors BIGINT NOT NULL DEFAULT 0;
