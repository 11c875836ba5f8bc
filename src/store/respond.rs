//! What the respond step keeps between runs, as typed reads and writes: each check's policy
//! state (stored as the JSON `respond` hands over; the store does not read it), its pending
//! re-check, the restart history behind cooldowns, and dependencies' last verdicts.

use super::sql::Tx;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};

const LOAD_STATE: &str = "SELECT state FROM policy_state WHERE check_name = $1";
const LOAD_STATE_LOCKED: &str = "SELECT state FROM policy_state WHERE check_name = $1 FOR UPDATE";
const SAVE_STATE: &str = "INSERT INTO policy_state (check_name, state, recheck_at, updated_at) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (check_name) DO UPDATE SET state = excluded.state, recheck_at = excluded.recheck_at, updated_at = excluded.updated_at";

impl Tx {
    /// A check's policy state (JSON), locked for this transaction where the engine locks rows.
    pub async fn policy_state(&mut self, check: &str) -> Result<Option<String>, StoreError> {
        let sql = if self.locks_rows() {
            LOAD_STATE_LOCKED
        } else {
            LOAD_STATE
        };
        let row: Option<(String,)> = self.conn().optional(sql, &[check.into()]).await?;
        Ok(row.map(|(s,)| s))
    }

    pub async fn save_policy_state(
        &mut self,
        check: &str,
        json: &str,
        recheck_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let args = [check.into(), json.into(), recheck_at.into(), now.into()];
        self.conn().execute(SAVE_STATE, &args).await?;
        Ok(())
    }

    /// A check's last verdict label, if it ever ran.
    pub async fn last_verdict(&mut self, check: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT last_verdict FROM check_state WHERE check_name = $1";
        let row: Option<(String,)> = self.conn().optional(SQL, &[check.into()]).await?;
        Ok(row.map(|(v,)| v))
    }

    /// When a restart target was last restarted (by any check).
    pub async fn last_restart(
        &mut self,
        target: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT at FROM restarts WHERE target = $1 ORDER BY at DESC LIMIT 1";
        let row: Option<(DateTime<Utc>,)> = self.conn().optional(SQL, &[target.into()]).await?;
        Ok(row.map(|(t,)| t))
    }

    /// How many restarts a check made after `since`.
    pub async fn restarts_since(
        &mut self,
        check: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM restarts WHERE check_name = $1 AND at > $2";
        let (n,): (i64,) = self.conn().one(SQL, &[check.into(), since.into()]).await?;
        Ok(n)
    }

    pub async fn add_restart(
        &mut self,
        check: &str,
        target: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO restarts (check_name, target, at) VALUES ($1, $2, $3)";
        self.conn()
            .execute(SQL, &[check.into(), target.into(), at.into()])
            .await?;
        Ok(())
    }
}

impl Store {
    /// Checks whose restart settled and whose re-check is due by `now`.
    pub async fn due_rechecks(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        const SQL: &str = "SELECT check_name, recheck_at FROM policy_state WHERE recheck_at IS NOT NULL AND recheck_at <= $1";
        self.all(SQL, &[now.into()]).await
    }

    /// Every pending re-check, whenever due (the daemon schedules them).
    pub async fn pending_rechecks(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        const SQL: &str =
            "SELECT check_name, recheck_at FROM policy_state WHERE recheck_at IS NOT NULL";
        self.all(SQL, &[]).await
    }
}
