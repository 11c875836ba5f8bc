//! The state store: every run, and per-check state (streaks, last verdict, last success).
//! SQLite (WAL, busy timeout) by default; PostgreSQL for shared deployments. Same SQL for both.

mod migrate;
mod outbox;
pub mod respond;
mod silences;

pub use outbox::OutboxItem;
pub use respond::Respond;

use crate::config::StoreSpec;
use crate::verdict::{Observed, Outcome, Verdict};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Row};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {store}: {reason}")]
    Unavailable { store: String, reason: String },
    #[error("state store: {0}")]
    Query(#[from] sqlx::Error),
}

pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What the store remembers about a check between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckState {
    pub last_verdict: Verdict,
    /// When the current verdict started (the first run of the streak).
    pub verdict_since: DateTime<Utc>,
    /// `fail` or `error` runs in a row.
    pub consecutive_failures: i64,
    pub consecutive_passes: i64,
    pub last_run_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// What recording a run produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub state: CheckState,
    /// The response decided, for checks with `on_failure`.
    pub decision: Option<crate::policy::Decision>,
}

/// Test hook: `SYNCWATCH_FAILPOINT=<name>` aborts the process at that point, as a crash would
/// (no unwinding, nothing flushed). Used by the tests that prove the outbox loses nothing.
pub fn failpoint(name: &str) {
    if std::env::var("SYNCWATCH_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("syncwatch: failpoint {name}: aborting");
        std::process::abort();
    }
}

/// A check's most recent recorded run.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: Outcome,
}

/// One finished run, as recorded.
pub struct RunRecord<'a> {
    pub check: &'a str,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: &'a Outcome,
}

/// Runs `$body` with `$p` bound to whichever pool the store has; both arms type-check on their own.
macro_rules! with_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match $store {
            Store::Sqlite($p) => $body,
            Store::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    /// Connects (creating a SQLite file and its folder if needed) and applies migrations.
    pub async fn open(spec: &StoreSpec) -> Result<Store, StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable {
            store: spec.display.clone(),
            reason,
        };
        let url = spec.url.expose_secret();
        if url.starts_with("sqlite:") {
            if let Some(dir) = std::path::Path::new(&spec.display)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| unavailable(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            migrate::sqlite(&pool)
                .await
                .map_err(|e| unavailable(format!("migration failed: {e}")))?;
            Ok(Store::Sqlite(pool))
        } else {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|_| unavailable("invalid PostgreSQL URL".into()))?
                .application_name("syncwatch-store");
            let pool = match PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(spec.connect_timeout)
                .connect_with(opts.clone())
                .await
            {
                Ok(p) => p,
                // The pool retries until its timeout and then hides why; one direct try tells.
                Err(e) => {
                    let cause =
                        match tokio::time::timeout(spec.connect_timeout, opts.connect()).await {
                            Ok(Err(cause)) => cause.to_string(),
                            _ => e.to_string(),
                        };
                    return Err(unavailable(cause));
                }
            };
            migrate::postgres(&pool)
                .await
                .map_err(|e| unavailable(format!("migration failed: {e}")))?;
            Ok(Store::Postgres(pool))
        }
    }

    /// Every check's state, by name.
    pub async fn states(&self) -> Result<HashMap<String, CheckState>, StoreError> {
        const SQL: &str = "SELECT check_name, last_verdict, verdict_since, consecutive_failures, \
                           consecutive_passes, last_run_at, last_success_at FROM check_state";
        let rows = with_pool!(self, p => {
            sqlx::query(SQL)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, state_from(
                    r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?,
                ))))
                .collect::<Result<HashMap<_, _>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Records a run, advances the check's state and, for a check with `on_failure`, decides
    /// the response and writes its messages to the outbox, all in one transaction.
    /// The streaks are computed by the database in one UPSERT, so concurrent writers never lose a count.
    pub async fn record(
        &self,
        run: &RunRecord<'_>,
        respond: Option<&Respond<'_>>,
    ) -> Result<Recorded, StoreError> {
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
        let failing = matches!(o.verdict, Verdict::Fail | Verdict::Error);
        let passing = o.verdict == Verdict::Pass;
        let state = with_pool!(self, p => {
            let mut tx = p.begin().await?;
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
            let state = state_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
            let decision = match respond.filter(|r| r.check.on_failure.is_some()) {
                Some(r) => Some(respond::respond_in_tx!(tx, self.locks_rows(), r, o, at)),
                None => None,
            };
            tx.commit().await?;
            Recorded { state, decision }
        });
        failpoint("after_state_change");
        Ok(state)
    }

    /// Number of runs recorded for a check (for `syncwatch` tests and status views).
    pub async fn run_count(&self, check: &str) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM runs WHERE check_name = $1";
        Ok(with_pool!(self, p => sqlx::query_scalar(SQL).bind(check).fetch_one(p).await?))
    }

    /// Answers when the store can be queried (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, p => {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// The most recent run of every check, to show the last known verdicts after a restart.
    pub async fn latest_runs(&self) -> Result<HashMap<String, LastRun>, StoreError> {
        const SQL: &str = "SELECT r.check_name, r.started_at, r.duration_ms, r.verdict, r.value, r.age_seconds, \
                           r.newest_at, r.reason FROM runs r \
                           JOIN (SELECT check_name, MAX(id) AS id FROM runs GROUP BY check_name) l ON r.id = l.id";
        let rows = with_pool!(self, p => {
            sqlx::query(SQL)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    let verdict: String = r.try_get(3)?;
                    let value: Option<f64> = r.try_get(4)?;
                    let age: Option<f64> = r.try_get(5)?;
                    let observed = match (age, value) {
                        (Some(age_seconds), _) => Observed::Age { age_seconds, newest: r.try_get(6)? },
                        (None, Some(value)) => Observed::Number { value },
                        (None, None) => Observed::Nothing,
                    };
                    let run = LastRun {
                        started_at: r.try_get(1)?,
                        duration: Duration::from_millis(r.try_get::<i64, _>(2)?.max(0) as u64),
                        outcome: Outcome {
                            verdict: Verdict::parse(&verdict).unwrap_or(Verdict::Error),
                            observed,
                            reason: r.try_get(7)?,
                        },
                    };
                    Ok((r.try_get::<String, _>(0)?, run))
                })
                .collect::<Result<HashMap<_, _>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

fn state_from(
    verdict: String,
    since: DateTime<Utc>,
    failures: i64,
    passes: i64,
    last_run: DateTime<Utc>,
    last_success: Option<DateTime<Utc>>,
) -> CheckState {
    CheckState {
        last_verdict: Verdict::parse(&verdict).unwrap_or(Verdict::Error),
        verdict_since: since,
        consecutive_failures: failures,
        consecutive_passes: passes,
        last_run_at: last_run,
        last_success_at: last_success,
    }
}
