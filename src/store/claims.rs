//! Sharing scheduled runs between replicas through the store: a run is claimed once per
//! (check, fire time) by a primary key, and a replica that dies mid-run leaves a lease that
//! another replica takes over when it expires. PostgreSQL does the coordination; no consensus
//! of our own.

use super::sql::push_list;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Checks per claim statement: far below both engines' parameter limits (SQLite 32,766,
/// PostgreSQL 65,535), and a statement small enough to plan quickly.
pub const CLAIM_CHUNK: usize = 500;

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
        let claims = self
            .claim_runs(&[check], due, owner, now, lease_until)
            .await?;
        Ok(claims.first().copied().unwrap_or(Claim::Lost))
    }

    /// Claims the runs of `checks` (distinct names) all due at `due`, as [`Store::claim_run`]
    /// does for one: a scheduler's group of 10,000 checks costs two statements per
    /// [`CLAIM_CHUNK`] checks, not two per check. Claims come back in the order of `checks`.
    /// Rows are inserted in name order, so two replicas claiming the same group never wait on
    /// each other in a circle.
    pub async fn claim_runs(
        &self,
        checks: &[&str],
        due: DateTime<Utc>,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut sorted: Vec<&str> = checks.to_vec();
        sorted.sort_unstable();
        let mut won: HashSet<String> = HashSet::with_capacity(checks.len());
        for chunk in sorted.chunks(CLAIM_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO run_claims (check_name, due_at, owner, lease_until) VALUES ",
            );
            let mut args = vec![due.into(), owner.into(), lease_until.into()];
            for (i, check) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, $1, $2, $3)", i + 4));
                args.push((*check).into());
            }
            sql.push_str(" ON CONFLICT (check_name, due_at) DO NOTHING RETURNING check_name");
            let rows: Vec<(String,)> = self.all(&sql, &args).await?;
            won.extend(rows.into_iter().map(|(c,)| c));
        }
        let mut busy: HashSet<String> = HashSet::new();
        let won_sorted: Vec<&str> = sorted
            .iter()
            .copied()
            .filter(|c| won.contains(*c))
            .collect();
        for chunk in won_sorted.chunks(CLAIM_CHUNK) {
            let mut sql = String::from(
                "SELECT DISTINCT check_name FROM run_claims \
                 WHERE due_at < $1 AND done_at IS NULL AND lease_until > $2 AND check_name IN (",
            );
            let mut args = vec![due.into(), now.into()];
            push_list(&mut sql, &mut args, chunk, 3);
            let rows: Vec<(String,)> = self.all(&sql, &args).await?;
            busy.extend(rows.into_iter().map(|(c,)| c));
        }
        Ok(checks
            .iter()
            .map(|c| {
                if !won.contains(*c) {
                    Claim::Lost
                } else if busy.contains(*c) {
                    Claim::Busy
                } else {
                    Claim::Won
                }
            })
            .collect())
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
        self.finish_runs(&[check], due, now, how).await
    }

    /// Marks the claimed runs of `checks` at `due` done, all the same way (one statement per
    /// [`CLAIM_CHUNK`] checks).
    pub async fn finish_runs(
        &self,
        checks: &[&str],
        due: DateTime<Utc>,
        now: DateTime<Utc>,
        how: Finish,
    ) -> Result<(), StoreError> {
        let set = match how {
            Finish::Ran => "done_at = $2",
            Finish::Skipped => "done_at = $2, owner = owner || ' (skipped)'",
            Finish::Superseded => "done_at = $2, owner = owner || ' (superseded)'",
        };
        for chunk in checks.chunks(CLAIM_CHUNK) {
            let mut sql =
                format!("UPDATE run_claims SET {set} WHERE due_at = $1 AND check_name IN (");
            let mut args = vec![due.into(), now.into()];
            push_list(&mut sql, &mut args, chunk, 3);
            self.execute(&sql, &args).await?;
        }
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

    /// Marks done, as superseded, every run whose owner's lease expired before it was done and
    /// whose check has a later fire time claimed (by any replica): in one statement, so these
    /// runs never hold a fresh lease while they wait their turn to be taken over (a lease that
    /// would make the next fire time of their checks busy, and skipped). Returns them.
    pub async fn supersede_orphans(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        const SQL: &str = "UPDATE run_claims SET done_at = $1, owner = owner || ' (superseded)' \
            WHERE done_at IS NULL AND lease_until < $1 AND EXISTS \
            (SELECT 1 FROM run_claims l WHERE l.check_name = run_claims.check_name AND l.due_at > run_claims.due_at) \
            RETURNING check_name, due_at";
        self.all(SQL, &[now.into()]).await
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
