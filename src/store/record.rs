//! Recording runs: each run, and the check's streaks, as typed writes inside the caller's
//! transaction (`respond::record_batch` records many runs per transaction).

use super::sql::Tx;
use super::{state_from, CheckState, RunRecord, StoreError};
use crate::streaks::Streaks;
use crate::verdict::{Observed, Verdict};

const INSERT_RUN: &str = "INSERT INTO runs (check_name, started_at, duration_ms, verdict, value, age_seconds, newest_at, reason) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const UPSERT_STATE: &str = "INSERT INTO check_state (check_name, last_verdict, verdict_since, consecutive_failures, \
        consecutive_passes, last_run_at, last_success_at, consecutive_fails, consecutive_errors) \
        VALUES ($1, $2, $3, $4, $5, $3, $6, $7, $8) \
    ON CONFLICT (check_name) DO UPDATE SET \
        verdict_since = CASE WHEN check_state.last_verdict = excluded.last_verdict \
                             THEN check_state.verdict_since ELSE excluded.verdict_since END, \
        last_verdict = excluded.last_verdict, \
        consecutive_failures = CASE WHEN excluded.consecutive_failures > 0 \
                                    THEN check_state.consecutive_failures + 1 ELSE 0 END, \
        consecutive_passes = CASE WHEN excluded.consecutive_passes > 0 \
                                  THEN check_state.consecutive_passes + 1 ELSE 0 END, \
        consecutive_fails = CASE WHEN excluded.consecutive_fails > 0 THEN check_state.consecutive_fails + 1 \
                                 WHEN excluded.consecutive_errors > 0 THEN check_state.consecutive_fails \
                                 ELSE 0 END, \
        consecutive_errors = CASE WHEN excluded.consecutive_errors > 0 \
                                  THEN check_state.consecutive_errors + 1 ELSE 0 END, \
        last_run_at = excluded.last_run_at, \
        last_success_at = COALESCE(excluded.last_success_at, check_state.last_success_at) \
    RETURNING last_verdict, verdict_since, consecutive_failures, consecutive_passes, last_run_at, last_success_at, \
        consecutive_fails, consecutive_errors";

impl Tx {
    /// Records one run and advances its check's streaks. Every streak is counted here, in one
    /// atomic UPSERT, so concurrent writers never lose a count (see `crate::streaks`).
    pub async fn record_run(
        &mut self,
        run: &RunRecord<'_>,
    ) -> Result<(CheckState, Streaks), StoreError> {
        let o = run.outcome;
        let (value, age, newest) = match &o.observed {
            Observed::Nothing => (None, None, None),
            Observed::Age {
                age_seconds,
                newest,
            } => (None, Some(*age_seconds), *newest),
            Observed::Number { value } => (Some(*value), None, None),
            Observed::Status { code } => (Some(f64::from(*code)), None, None),
        };
        let at = run.started_at;
        let args = [
            run.check.into(),
            at.into(),
            (run.duration.as_millis() as i64).into(),
            o.verdict.label().into(),
            value.into(),
            age.into(),
            newest.into(),
            o.reason.as_deref().into(),
        ];
        self.conn().execute(INSERT_RUN, &args).await?;
        let failing = matches!(o.verdict, Verdict::Fail | Verdict::Error);
        let passing = o.verdict == Verdict::Pass;
        let fail = o.verdict == Verdict::Fail || (o.verdict == Verdict::Warn && run.warn_fails);
        let error = o.verdict == Verdict::Error;
        let args = [
            run.check.into(),
            o.verdict.label().into(),
            at.into(),
            i64::from(failing).into(),
            i64::from(passing).into(),
            passing.then_some(at).into(),
            i64::from(fail).into(),
            i64::from(error).into(),
        ];
        type Row = (
            String,
            chrono::DateTime<chrono::Utc>,
            i64,
            i64,
            chrono::DateTime<chrono::Utc>,
            Option<chrono::DateTime<chrono::Utc>>,
            i64,
            i64,
        );
        let (v, since, failures, passes, last, ok, fails, errors): Row =
            self.conn().one(UPSERT_STATE, &args).await?;
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let streaks = Streaks {
            fails: count(fails),
            errors: count(errors),
            passes: count(passes),
        };
        Ok((state_from((v, since, failures, passes, last, ok)), streaks))
    }
}
