//! Silences made with `syncwatch silence`, kept in the store so every process sees them.

use super::{Store, StoreError};
use crate::silence::Silence;
use chrono::{DateTime, Utc};

/// id, pattern, from, until, reason.
type SilenceRow = (i64, String, DateTime<Utc>, DateTime<Utc>, String);

impl Store {
    pub async fn add_silence(&self, s: &Silence, now: DateTime<Utc>) -> Result<i64, StoreError> {
        const SQL: &str = "INSERT INTO silences (pattern, starts_at, ends_at, reason, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let args = [
            (&s.pattern).into(),
            s.from.into(),
            s.until.into(),
            (&s.reason).into(),
            now.into(),
        ];
        Ok(self.one::<(i64,)>(SQL, &args).await?.0)
    }

    /// Silences not yet over at `now` (current and future).
    pub async fn silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, StoreError> {
        const SQL: &str = "SELECT id, pattern, starts_at, ends_at, reason FROM silences WHERE ends_at > $1 ORDER BY id";
        let rows: Vec<SilenceRow> = self.all(SQL, &[now.into()]).await?;
        Ok(rows
            .into_iter()
            .map(|(id, pattern, from, until, reason)| Silence {
                id: Some(id),
                pattern,
                from,
                until,
                reason,
            })
            .collect())
    }

    /// Ends a silence now; false if there is no such silence.
    pub async fn end_silence(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE silences SET ends_at = $2 WHERE id = $1 AND ends_at > $2";
        let n = self.execute(SQL, &[id.into(), now.into()]).await?;
        Ok(n > 0)
    }
}
