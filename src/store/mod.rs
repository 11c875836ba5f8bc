//! The state store: every run, and per-check state (streaks, last verdict, last success).
//! SQLite (WAL, busy timeout) by default; PostgreSQL for shared deployments. Same SQL for both.

mod claims;
pub mod incidents;
mod migrate;
mod outbox;
mod record;
pub mod respond;
mod silences;
mod timeline;

pub use outbox::OutboxItem;
pub use record::Recording;
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
#[derive(Clone, Copy)]
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
                // WAL with NORMAL survives any process crash; only a power loss may drop the
                // last commits. FULL would fsync every run.
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
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

pub(super) fn state_from(
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
