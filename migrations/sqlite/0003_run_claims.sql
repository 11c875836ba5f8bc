-- Sharing the work between replicas: each due run of a check is claimed once, with a lease.
CREATE TABLE IF NOT EXISTS run_claims (
    check_name  TEXT NOT NULL,
    due_at      TEXT NOT NULL,          -- the fire time this run is for
    owner       TEXT NOT NULL,          -- the replica running it
    lease_until TEXT NOT NULL,          -- after this, another replica may take it over
    done_at     TEXT,
    PRIMARY KEY (check_name, due_at)
);
CREATE INDEX IF NOT EXISTS run_claims_open ON run_claims (done_at, lease_until);
