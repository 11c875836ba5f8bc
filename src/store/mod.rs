//! The state store: every run, and per-check state (streaks, last verdict, last success).
//! SQLite (WAL, busy timeout) by default; PostgreSQL for shared deployments. Same SQL for both.

mod claims;
pub mod health;
pub mod incidents;
mod migrate;
mod outbox;
mod record;
pub mod respond;
pub mod retros;
mod silences;
mod slo;
pub mod sql;

pub use claims::{Claim, Finish, CLAIM_CHUNK};
pub use outbox::{Claimant, NewJob, OutboxItem};
pub use sql::Tx;

use crate::config::StoreSpec;
use crate::verdict::{Observed, Outcome, Verdict};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::ConnectOptions;
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
    /// The pool, and the turn its write transactions take (see `sql::Tx`).
    Sqlite(SqlitePool, std::sync::Arc<tokio::sync::Mutex<()>>),
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

/// SQLITE_BUSY, in any of its extended forms.
fn sqlite_busy(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    d.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// Whether a SQLite connection is inside a transaction (not in autocommit mode).
async fn in_transaction(conn: &mut sqlx::SqliteConnection) -> bool {
    let Ok(mut handle) = conn.lock_handle().await else {
        return true;
    };
    // SAFETY: the handle is the connection's open sqlite3 pointer, locked for us.
    unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) == 0 }
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
    /// A `warn` counts as a failure for the check's `after` streak (`on_warn: page`).
    pub warn_fails: bool,
}

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
            // Processes starting together on a new store: SQLite can answer "database is
            // locked" at once, without waiting out the busy timeout, to a connection that
            // switches the file to WAL while another does. Such a start is tried again, for
            // as long as the busy timeout.
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            let pool = loop {
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    // A write that failed mid-transaction (a full disk: SQLITE_FULL) can leave
                    // its connection inside a transaction, holding the write lock: every later
                    // write then fails with "database is locked", even once space is back. Such
                    // a connection is closed instead of returned to the pool.
                    .after_release(|conn, _| {
                        Box::pin(async move { Ok(!in_transaction(conn).await) })
                    })
                    .connect_with(opts.clone())
                    .await;
                match pool {
                    Ok(pool) => break pool,
                    Err(e) if sqlite_busy(&e) && std::time::Instant::now() < give_up => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    Err(e) => return Err(unavailable(e.to_string())),
                }
            };
            migrate::sqlite(&pool)
                .await
                .map_err(|e| unavailable(format!("migration failed: {e}")))?;
            Ok(Store::Sqlite(pool, Default::default()))
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
        if !self.is_postgres() {
            if let Some(states) = self.states_in_json().await? {
                return Ok(states);
            }
        }
        self.states_by_row().await
    }

    /// [`Store::states`] read row by row (what PostgreSQL always does).
    pub async fn states_by_row(&self) -> Result<HashMap<String, CheckState>, StoreError> {
        const SQL: &str = "SELECT check_name, last_verdict, verdict_since, consecutive_failures, \
                           consecutive_passes, last_run_at, last_success_at FROM check_state";
        let rows: Vec<(String, StateRow)> = self
            .all::<NamedStateRow>(SQL, &[])
            .await?
            .into_iter()
            .map(|(name, v, since, f, p, last, ok)| (name, (v, since, f, p, last, ok)))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(name, row)| (name, state_from(row)))
            .collect())
    }

    /// SQLite's states as rows of JSON, a thousand states each: sqlx hands each row of a result
    /// from SQLite's worker thread to the async side with a wake-up of its own, and 10,000 rows
    /// that way were most of the status page's time (a thousand a row keeps the text small).
    /// `None` (read them row by row) if a stored time is not in a form read here.
    async fn states_in_json(&self) -> Result<Option<HashMap<String, CheckState>>, StoreError> {
        // Verdicts and times are borrowed from the text (nothing in them is escaped in JSON);
        // names are owned, as the map's keys.
        type Row<'a> = (String, &'a str, &'a str, i64, i64, &'a str, Option<&'a str>);
        const CHUNK: i64 = 1000;
        const ROWS: &str = "SELECT json_group_array(json_array(check_name, last_verdict, \
                            verdict_since, consecutive_failures, consecutive_passes, last_run_at, \
                            last_success_at)), COUNT(*), MAX(check_name) FROM (SELECT * FROM check_state";
        let first = format!("{ROWS} ORDER BY check_name LIMIT $1)");
        let next = format!("{ROWS} WHERE check_name > $2 ORDER BY check_name LIMIT $1)");
        let mut states = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let (text, n, last): (String, i64, Option<String>) = match &after {
                None => self.one(&first, &[CHUNK.into()]).await?,
                Some(a) => self.one(&next, &[CHUNK.into(), a.into()]).await?,
            };
            let Ok(rows) = serde_json::from_str::<Vec<Row<'_>>>(&text) else {
                return Ok(None);
            };
            for (name, verdict, since, failures, passes, last_run, last_success) in rows {
                let (Some(since), Some(last_run)) = (stored_time(since), stored_time(last_run))
                else {
                    return Ok(None);
                };
                let last_success = match last_success.map(stored_time) {
                    None => None,
                    Some(Some(t)) => Some(t),
                    Some(None) => return Ok(None),
                };
                let row = (verdict, since, failures, passes, last_run, last_success);
                states.insert(name, state_from(row));
            }
            match last {
                Some(last) if n == CHUNK => after = Some(last),
                _ => return Ok(Some(states)),
            }
        }
    }

    /// Number of runs recorded for a check (for `syncwatch` tests and status views).
    pub async fn run_count(&self, check: &str) -> Result<i64, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM runs WHERE check_name = $1";
        Ok(self.one::<(i64,)>(SQL, &[check.into()]).await?.0)
    }

    /// Answers when the store can be queried (readiness).
    /// Whether the store answers a read (writes are judged by `health`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: (i64,) = self.one("SELECT CAST(1 AS BIGINT)", &[]).await?;
        Ok(())
    }

    /// The most recent run of every check, to show the last known verdicts after a restart.
    pub async fn latest_runs(&self) -> Result<HashMap<String, LastRun>, StoreError> {
        const SQL: &str = "SELECT r.check_name, r.started_at, r.duration_ms, r.verdict, r.value, r.age_seconds, \
                           r.newest_at, r.reason FROM runs r \
                           JOIN (SELECT check_name, MAX(id) AS id FROM runs GROUP BY check_name) l ON r.id = l.id";
        type Row = (
            String,
            DateTime<Utc>,
            i64,
            String,
            Option<f64>,
            Option<f64>,
            Option<DateTime<Utc>>,
            Option<String>,
        );
        let rows: Vec<Row> = self.all(SQL, &[]).await?;
        Ok(rows
            .into_iter()
            .map(
                |(check, started_at, ms, verdict, value, age, newest, reason)| {
                    let observed = match (age, value) {
                        (Some(age_seconds), _) => Observed::Age {
                            age_seconds,
                            newest,
                        },
                        (None, Some(value)) => Observed::Number { value },
                        (None, None) => Observed::Nothing,
                    };
                    let run = LastRun {
                        started_at,
                        duration: Duration::from_millis(ms.max(0) as u64),
                        outcome: Outcome {
                            verdict: Verdict::parse(&verdict).unwrap_or(Verdict::Error),
                            observed,
                            reason,
                        },
                    };
                    (check, run)
                },
            )
            .collect())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p, _) => p.close().await,
            Store::Postgres(p) => p.close().await,
        }
    }

    /// Whether this store is PostgreSQL (for the few statements the engines spell differently).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }
}

/// `check_state` columns after the name: verdict, since, failures, passes, last run, last success.
pub(crate) type StateRow<V = String> = (
    V,
    DateTime<Utc>,
    i64,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);
type NamedStateRow = (
    String,
    String,
    DateTime<Utc>,
    i64,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// A time as SQLite holds it: RFC 3339 as sqlx writes it, or `YYYY-MM-DD HH:MM:SS[.f]` in UTC.
fn stored_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// A state row as read ([`StateRow`], or with its verdict borrowed from JSON text).
pub(crate) fn state_from<V: AsRef<str>>(
    (verdict, since, failures, passes, last_run, last_success): StateRow<V>,
) -> CheckState {
    CheckState {
        last_verdict: Verdict::parse(verdict.as_ref()).unwrap_or(Verdict::Error),
        verdict_since: since,
        consecutive_failures: failures,
        consecutive_passes: passes,
        last_run_at: last_run,
        last_success_at: last_success,
    }
}
