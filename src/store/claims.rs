//! Sharing scheduled runs between replicas through the store: a run is claimed once per
//! (check, fire time) by a primary key, and a replica that dies mid-run leaves a lease that
//! another replica takes over when it expires. PostgreSQL does the coordination; no consensus
//! of our own.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};

/// What claiming a fire time gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This replica runs it.
    Won,
    /// Another replica claimed it first.
    Lost,
    /// This replica has it, but an earlier run of the check is still going somewhere: skip it.
    Busy,
}

/// How a claimed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The check ran.
    Ran,
    /// The check was still running at the fire time, here or on another replica (runs of a
    /// check never overlap).
    Skipped,
    /// Taken over from a dead replica after a later fire time was claimed: not run again.
    Superseded,
}

impl Store {
    /// Claims the run of `check` due at `due`. [`Claim::Busy`]: claimed, but an earlier run of
    /// the check is still going (its owner's lease is live, on any replica), so this one is to
    /// be skipped: a check never runs twice at once.
    pub async fn claim_run(
        &self,
        check: &str,
        due: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        const SQL: &str = "INSERT INTO run_claims (check_name, due_at, owner, lease_until) VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (check_name, due_at) DO NOTHING";
        const BUSY: &str = "SELECT COUNT(*) FROM run_claims \
                            WHERE check_name = $1 AND due_at < $2 AND done_at IS NULL AND lease_until > $3";
        let args = [check.into(), due.into(), owner.into(), lease_until.into()];
        if self.execute(SQL, &args).await? == 0 {
            return Ok(Claim::Lost);
        }
        let (busy,): (i64,) = self
            .one(BUSY, &[check.into(), due.into(), now.into()])
            .await?;
        Ok(if busy > 0 { Claim::Busy } else { Claim::Won })
    }

    /// Marks a claimed run done, and how: run, skipped or superseded (see [`Finish`]); the
    /// owner of a run not made reads `<owner> (skipped)` or `<owner> (superseded)`.
    pub async fn finish_run(
        &self,
        check: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        how: Finish,
    ) -> Result<(), StoreError> {
        const DONE: &str =
            "UPDATE run_claims SET done_at = $3 WHERE check_name = $1 AND due_at = $2";
        const SKIPPED: &str =
            "UPDATE run_claims SET done_at = $3, owner = owner || ' (skipped)' WHERE check_name = $1 AND due_at = $2";
        const SUPERSEDED: &str =
            "UPDATE run_claims SET done_at = $3, owner = owner || ' (superseded)' WHERE check_name = $1 AND due_at = $2";
        let sql = match how {
            Finish::Ran => DONE,
            Finish::Skipped => SKIPPED,
            Finish::Superseded => SUPERSEDED,
        };
        self.execute(sql, &[check.into(), due.into(), now.into()])
            .await?;
        Ok(())
    }

    /// The claim of `check` at `due`: None if nobody claimed it yet, else whether it is done.
    pub async fn claim_done(
        &self,
        check: &str,
        due: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        const SQL: &str = "SELECT CASE WHEN done_at IS NULL THEN 0 ELSE 1 END FROM run_claims \
                           WHERE check_name = $1 AND due_at = $2";
        let row: Option<(i32,)> = self.optional(SQL, &[check.into(), due.into()]).await?;
        Ok(row.map(|(done,)| done == 1))
    }

    /// Whether a fire time of `check` later than `due` has been claimed: the check has moved
    /// on, and an orphaned run at `due` would only look at the same data again, later.
    pub async fn later_claim(&self, check: &str, due: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM run_claims WHERE check_name = $1 AND due_at > $2";
        let (n,): (i64,) = self.one(SQL, &[check.into(), due.into()]).await?;
        Ok(n > 0)
    }

    /// Takes over runs whose owner's lease expired before they were done.
    pub async fn take_over_runs(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        // The lease condition is repeated outside the subquery so that a row taken over by
        // another replica meanwhile is re-checked (PostgreSQL) and skipped.
        const PG: &str = "UPDATE run_claims SET owner = $1, lease_until = $3 WHERE (check_name, due_at) IN \
            (SELECT check_name, due_at FROM run_claims WHERE done_at IS NULL AND lease_until < $2 LIMIT $4 FOR UPDATE SKIP LOCKED) \
            AND done_at IS NULL AND lease_until < $2 RETURNING check_name, due_at";
        const LITE: &str = "UPDATE run_claims SET owner = $1, lease_until = $3 WHERE rowid IN \
            (SELECT rowid FROM run_claims WHERE done_at IS NULL AND lease_until < $2 LIMIT $4) RETURNING check_name, due_at";
        let sql = if self.is_postgres() { PG } else { LITE };
        let args = [owner.into(), now.into(), lease_until.into(), limit.into()];
        self.all(sql, &args).await
    }

    pub async fn prune_claims(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        const SQL: &str = "DELETE FROM run_claims WHERE done_at IS NOT NULL AND due_at < $1";
        self.execute(SQL, &[before.into()]).await
    }
}
