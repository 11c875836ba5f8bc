//! What SLOs and the status page's 90-day bars read from the run history.

use super::{Store, StoreError};
use crate::verdict::Verdict;
use chrono::{DateTime, Utc};

fn verdict(s: &str) -> Verdict {
    match s {
        "pass" => Verdict::Pass,
        "warn" => Verdict::Warn,
        "fail" => Verdict::Fail,
        _ => Verdict::Error,
    }
}

impl Store {
    /// A check's runs in `[from, to)` in time order, after the last run before `from` (so the
    /// window starts with what was known then).
    pub async fn slo_runs(
        &self,
        check: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Verdict)>, StoreError> {
        const BEFORE: &str =
            "SELECT started_at, verdict FROM runs WHERE check_name = $1 AND started_at < $2 \
            ORDER BY started_at DESC LIMIT 1";
        const IN: &str =
            "SELECT started_at, verdict FROM runs WHERE check_name = $1 AND started_at >= $2 \
            AND started_at < $3 ORDER BY started_at";
        let mut out: Vec<(DateTime<Utc>, String)> =
            self.all(BEFORE, &[check.into(), from.into()]).await?;
        out.extend(
            self.all::<(DateTime<Utc>, String)>(IN, &[check.into(), from.into(), to.into()])
                .await?,
        );
        Ok(out.into_iter().map(|(t, v)| (t, verdict(&v))).collect())
    }

    /// The worst verdict of each check on each UTC day since `since`: (check, `YYYY-MM-DD`,
    /// verdict).
    pub async fn daily_worst(
        &self,
        since: DateTime<Utc>,
        only: Option<&[&str]>,
    ) -> Result<Vec<(String, String, Verdict)>, StoreError> {
        let day = if self.is_postgres() {
            "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        } else {
            "substr(started_at, 1, 10)"
        };
        let mut sql = format!(
            "SELECT check_name, {day} AS day, CAST(MAX(CASE verdict WHEN 'pass' THEN 0 WHEN 'warn' THEN 1 \
             WHEN 'fail' THEN 2 ELSE 3 END) AS BIGINT) AS worst FROM runs WHERE started_at >= $1"
        );
        let mut args = vec![since.into()];
        if let Some(names) = only {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(" AND check_name IN (");
            super::sql::push_list(&mut sql, &mut args, names, 2);
        }
        sql.push_str(&format!(
            " GROUP BY check_name, {day} ORDER BY check_name, day"
        ));
        let rows: Vec<(String, String, i64)> = self.all(&sql, &args).await?;
        Ok(rows
            .into_iter()
            .map(|(c, d, w)| {
                let v = [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Error]
                    .get(w as usize)
                    .copied()
                    .unwrap_or(Verdict::Error);
                (c, d, v)
            })
            .collect())
    }
}
