//! Recording runs: each run, the check's streaks, and (for checks with `on_failure`) the
//! response decided and its outbox messages — many runs per transaction, so a pass over
//! thousands of checks commits a few times instead of thousands.

use super::respond::{respond_in_tx, Respond};
use super::{failpoint, state_from, with_pool, CheckState, Recorded, RunRecord, Store, StoreError};
use crate::verdict::{Observed, Verdict};
use sqlx::Row;

/// One run to record, with what its respond step needs.
pub struct Recording<'a> {
    pub run: RunRecord<'a>,
    pub respond: Option<Respond<'a>>,
}

const INSERT_RUN: &str = "INSERT INTO runs (check_name, started_at, duration_ms, verdict, value, age_seconds, newest_at, reason) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPSERT_STATE: &str = "INSERT INTO check_state (check_name, last_verdict, verdict_since, consecutive_failures, \
        consecutive_passes, last_run_at, last_success_at) VALUES ($1, $2, $3, $4, $5, $3, $6) \
    ON CONFLICT (check_name) DO UPDATE SET \
        verdict_since = CASE WHEN check_state.last_verdict = excluded.last_verdict \
                             THEN check_state.verdict_since ELSE excluded.verdict_since END, \
        last_verdict = excluded.last_verdict, \
        consecutive_failures = CASE WHEN excluded.consecutive_failures > 0 \
                                    THEN check_state.consecutive_failures + 1 ELSE 0 END, \
        consecutive_passes = CASE WHEN excluded.consecutive_passes > 0 \
                                  THEN check_state.consecutive_passes + 1 ELSE 0 END, \
        last_run_at = excluded.last_run_at, \
        last_success_at = COALESCE(excluded.last_success_at, check_state.last_success_at) \
    RETURNING last_verdict, verdict_since, consecutive_failures, consecutive_passes, last_run_at, last_success_at";

impl Store {
    /// Records one run (see `record_batch`).
    pub async fn record(
        &self,
        run: &RunRecord<'_>,
        respond: Option<&Respond<'_>>,
    ) -> Result<Recorded, StoreError> {
        let item = Recording {
            run: *run,
            respond: respond.copied(),
        };
        let mut out = self.record_batch(std::slice::from_ref(&item)).await?;
        Ok(out.pop().expect("one result per run"))
    }

    /// Records runs, advances each check's state and decides each response, in one transaction.
    /// The streaks are computed by the database in one UPSERT, so concurrent writers never lose a count.
    pub async fn record_batch(&self, items: &[Recording<'_>]) -> Result<Vec<Recorded>, StoreError> {
        let locked = self.locks_rows();
        let out = with_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let (run, o) = (&item.run, item.run.outcome);
                let (value, age, newest) = match &o.observed {
                    Observed::Nothing => (None, None, None),
                    Observed::Age { age_seconds, newest } => (None, Some(*age_seconds), *newest),
                    Observed::Number { value } => (Some(*value), None, None),
                    Observed::Status { code } => (Some(f64::from(*code)), None, None),
                };
                let at = run.started_at;
                let failing = matches!(o.verdict, Verdict::Fail | Verdict::Error);
                let passing = o.verdict == Verdict::Pass;
                sqlx::query(INSERT_RUN)
                    .bind(run.check)
                    .bind(at)
                    .bind(run.duration.as_millis() as i64)
                    .bind(o.verdict.label())
                    .bind(value)
                    .bind(age)
                    .bind(newest)
                    .bind(o.reason.as_deref())
                    .execute(&mut *tx)
                    .await?;
                let r = sqlx::query(UPSERT_STATE)
                    .bind(run.check)
                    .bind(o.verdict.label())
                    .bind(at)
                    .bind(i64::from(failing))
                    .bind(i64::from(passing))
                    .bind(passing.then_some(at))
                    .fetch_one(&mut *tx)
                    .await?;
                let state: CheckState = state_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
                let decision = match item.respond.as_ref().filter(|r| r.check.on_failure.is_some()) {
                    Some(r) => Some(respond_in_tx!(tx, locked, r, o, at)),
                    None => None,
                };
                out.push(Recorded { state, decision });
            }
            tx.commit().await?;
            out
        });
        failpoint("after_state_change");
        Ok(out)
    }
}
