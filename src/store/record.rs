//! Recording runs: each run, and the check's streaks, as typed writes inside the caller's
//! transaction (`respond::record_batch` records many runs per transaction).

use super::sql::{Arg, Tx};
use super::{state_from, CheckState, RunRecord, StoreError};
use crate::streaks::Streaks;
use crate::verdict::{Observed, Verdict};

const INSERT_RUNS: &str = "INSERT INTO runs (check_name, started_at, duration_ms, verdict, value, age_seconds, newest_at, reason) VALUES ";
const UPSERT_STATES_HEAD: &str = "INSERT INTO check_state (check_name, last_verdict, verdict_since, consecutive_failures, \
        consecutive_passes, last_run_at, last_success_at, consecutive_fails, consecutive_errors) VALUES ";
const UPSERT_STATES_TAIL: &str = " \
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
    RETURNING check_name, last_verdict, verdict_since, consecutive_failures, consecutive_passes, last_run_at, last_success_at, \
        consecutive_fails, consecutive_errors";

/// Runs per statement when recording many: 8 arguments a row, far below both engines' limits.
const ROWS_PER_STATEMENT: usize = 200;

/// Appends one row of placeholders: `(${p+a}, ${p+b}, …)` for `slots` `[a, b, …]`.
fn row(sql: &mut String, sep: &str, p: usize, slots: &[usize]) {
    sql.push_str(sep);
    sql.push('(');
    for (k, slot) in slots.iter().enumerate() {
        if k > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}", p + slot));
    }
    sql.push(')');
}

type StateRow = (
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
    i64,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
    i64,
    i64,
);

impl Tx {
    /// Records one run and advances its check's streaks. Every streak is counted here, in one
    /// atomic UPSERT, so concurrent writers never lose a count (see `crate::streaks`).
    pub async fn record_run(
        &mut self,
        run: &RunRecord<'_>,
    ) -> Result<(CheckState, Streaks), StoreError> {
        let mut out = self.record_runs(&[run]).await?;
        Ok(out.remove(0))
    }

    /// Records runs and advances their checks' streaks, as [`Tx::record_run`] does for each in
    /// order, in two statements per [`ROWS_PER_STATEMENT`] runs (one INSERT of the runs, one
    /// UPSERT of the streaks) instead of two per run: at 10,000 runs a burst, the statements
    /// themselves (each a hop to SQLite's worker thread) were most of the cost. Two runs of the
    /// same check never share a statement, so each advances the streaks in turn.
    pub async fn record_runs(
        &mut self,
        runs: &[&RunRecord<'_>],
    ) -> Result<Vec<(CheckState, Streaks)>, StoreError> {
        let mut out = Vec::with_capacity(runs.len());
        let mut start = 0;
        while start < runs.len() {
            let mut names = std::collections::HashSet::new();
            let mut end = start;
            while end < runs.len()
                && end - start < ROWS_PER_STATEMENT
                && names.insert(runs[end].check)
            {
                end += 1;
            }
            out.extend(self.record_chunk(&runs[start..end]).await?);
            start = end;
        }
        Ok(out)
    }

    /// Runs of distinct checks, in one INSERT and one UPSERT.
    async fn record_chunk(
        &mut self,
        runs: &[&RunRecord<'_>],
    ) -> Result<Vec<(CheckState, Streaks)>, StoreError> {
        let mut insert = String::from(INSERT_RUNS);
        let mut upsert = String::from(UPSERT_STATES_HEAD);
        let mut run_args: Vec<Arg<'_>> = Vec::with_capacity(runs.len() * 8);
        let mut state_args: Vec<Arg<'_>> = Vec::with_capacity(runs.len() * 8);
        for (i, run) in runs.iter().enumerate() {
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
            let p = i * 8;
            let sep = if i > 0 { ", " } else { "" };
            row(&mut insert, sep, p, &[1, 2, 3, 4, 5, 6, 7, 8]);
            run_args.extend::<[Arg<'_>; 8]>([
                run.check.into(),
                at.into(),
                (run.duration.as_millis() as i64).into(),
                o.verdict.label().into(),
                value.into(),
                age.into(),
                newest.into(),
                o.reason.as_deref().into(),
            ]);
            let failing = matches!(o.verdict, Verdict::Fail | Verdict::Error);
            let passing = o.verdict == Verdict::Pass;
            let fail = o.verdict == Verdict::Fail || (o.verdict == Verdict::Warn && run.warn_fails);
            let error = o.verdict == Verdict::Error;
            // (check, verdict, since, failures, passes, last run, last success, fails, errors)
            // last_run_at is verdict_since's argument again.
            row(&mut upsert, sep, p, &[1, 2, 3, 4, 5, 3, 6, 7, 8]);
            state_args.extend::<[Arg<'_>; 8]>([
                run.check.into(),
                o.verdict.label().into(),
                at.into(),
                i64::from(failing).into(),
                i64::from(passing).into(),
                passing.then_some(at).into(),
                i64::from(fail).into(),
                i64::from(error).into(),
            ]);
        }
        upsert.push_str(UPSERT_STATES_TAIL);
        self.conn().execute(&insert, &run_args).await?;
        let rows: Vec<StateRow> = self.conn().all(&upsert, &state_args).await?;
        let mut by_name: std::collections::HashMap<String, (CheckState, Streaks)> = rows
            .into_iter()
            .map(
                |(check, v, since, failures, passes, last, ok, fails, errors)| {
                    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
                    let streaks = Streaks {
                        fails: count(fails),
                        errors: count(errors),
                        passes: count(passes),
                    };
                    (
                        check,
                        (state_from((v, since, failures, passes, last, ok)), streaks),
                    )
                },
            )
            .collect();
        runs.iter()
            .map(|r| {
                by_name
                    .remove(r.check)
                    .ok_or_else(|| StoreError::Query(sqlx::Error::RowNotFound))
            })
            .collect()
    }
}
