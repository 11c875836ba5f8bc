//! Sharing scheduled runs between replicas through the store: a run is claimed once per
//! (check, fire time) by a primary key, and a replica that dies mid-run leaves a lease that
//! another replica takes over when it expires. PostgreSQL does the coordination; no consensus
//! of our own.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};

impl Store {
    /// Claims the run of `check` due at `due`; false if another replica has it already.
    pub async fn claim_run(
        &self,
        check: &str,
        due: DateTime<Utc>,
        owner: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO run_claims (check_name, due_at, owner, lease_until) VALUES ($1, $2, $3, $4) \
                           ON CONFLICT (check_name, due_at) DO NOTHING";
        let args = [check.into(), due.into(), owner.into(), lease_until.into()];
        let n = self.execute(SQL, &args).await?;
        Ok(n == 1)
    }

    /// Marks a claimed run done. `skipped`: the tick was skipped because the check was still
    /// running on this replica; the owner then reads `<owner> (skipped)`, visible in the table.
    pub async fn finish_run(
        &self,
        check: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        skipped: bool,
    ) -> Result<(), StoreError> {
        const DONE: &str =
            "UPDATE run_claims SET done_at = $3 WHERE check_name = $1 AND due_at = $2";
        const SKIPPED: &str =
            "UPDATE run_claims SET done_at = $3, owner = owner || ' (skipped)' WHERE check_name = $1 AND due_at = $2";
        let sql = if skipped { SKIPPED } else { DONE };
        self.execute(sql, &[check.into(), due.into(), now.into()])
            .await?;
        Ok(())
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
