//! Connection pools for partner databases: lazy, capped per source, read-only by construction.
//! Owns how a query is run (own short read-only transaction, timeouts); not what it asks.

use super::exec;
use super::query::Sql;
use super::value::Raw;
use crate::probe::source::{Engine, SourceSpec};
use secrecy::ExposeSecret;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("source \"{source_name}\": invalid connection settings: {reason}")]
    Options { source_name: String, reason: String },
}

pub(super) enum Pool {
    Pg(PgPool),
    My(MySqlPool),
    Lite(SqlitePool),
}

/// One partner database: its pool and the cap on checks running against it at once.
pub struct SourcePool {
    pub spec: SourceSpec,
    pool: Pool,
    permits: Arc<Semaphore>,
}

impl SourcePool {
    /// Builds the pool without connecting: an unreachable source errors its checks, not startup.
    pub fn new(spec: SourceSpec) -> Result<SourcePool, PoolError> {
        let url = spec.url.expose_secret().to_string();
        let bad = |e: sqlx::Error| PoolError::Options {
            source_name: spec.name.clone(),
            reason: redact(&e.to_string(), &spec),
        };
        let max = spec.max_connections;
        let acquire = spec.connect_timeout;
        let stmt_ms = spec.statement_timeout.as_millis().to_string();
        let pool = match spec.engine {
            Engine::Postgres => {
                let opts = PgConnectOptions::from_str(&url)
                    .map_err(bad)?
                    .application_name("syncwatch")
                    .options([
                        ("default_transaction_read_only", "on"),
                        ("statement_timeout", stmt_ms.as_str()),
                        ("idle_in_transaction_session_timeout", stmt_ms.as_str()),
                    ]);
                Pool::Pg(pool_opts(PgPoolOptions::new(), max, acquire).connect_lazy_with(opts))
            }
            Engine::MySql => {
                let opts = MySqlConnectOptions::from_str(&url).map_err(bad)?;
                let secs = spec.statement_timeout.as_secs_f64();
                let opts_pool = pool_opts(MySqlPoolOptions::new(), max, acquire).after_connect(
                    move |conn, _| {
                        Box::pin(async move {
                            conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                            let version: String = sqlx::query_scalar("SELECT VERSION()")
                                .fetch_one(&mut *conn)
                                .await?;
                            // MariaDB and MySQL spell the server-side statement timeout differently.
                            let set = if version.contains("MariaDB") {
                                format!("SET SESSION max_statement_time = {secs}")
                            } else {
                                format!(
                                    "SET SESSION max_execution_time = {}",
                                    (secs * 1000.0) as u64
                                )
                            };
                            conn.execute(set.as_str()).await?;
                            Ok(())
                        })
                    },
                );
                Pool::My(opts_pool.connect_lazy_with(opts))
            }
            Engine::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&url)
                    .map_err(bad)?
                    .read_only(true)
                    .create_if_missing(false)
                    .busy_timeout(spec.statement_timeout);
                Pool::Lite(
                    pool_opts(SqlitePoolOptions::new(), max, acquire).connect_lazy_with(opts),
                )
            }
        };
        Ok(SourcePool {
            permits: Arc::new(Semaphore::new(max as usize)),
            spec,
            pool,
        })
    }

    /// The source's cap on checks at once. Callers take a slot before starting (and timing) a
    /// check, so queueing never counts against its duration or timeouts.
    pub fn slots(&self) -> Arc<Semaphore> {
        Arc::clone(&self.permits)
    }

    /// Runs `query` in its own read-only transaction, always rolled back, and returns the first
    /// row's first `cols` values. SQL that syncwatch wrote entirely travels as plain text (on
    /// PostgreSQL with the transaction, in one round trip); SQL holding user text goes as one
    /// prepared statement (extended protocol), which the server refuses to split into several,
    /// and is then checked for anything it left on the session (see `exec`). A connection that
    /// timed out, or that such SQL touched, is closed instead of returned to the pool.
    pub async fn first_row(&self, query: &Sql, cols: usize) -> Result<Vec<Raw>, String> {
        if let (Engine::MySql, Some(user)) = (self.spec.engine, &query.user) {
            super::guard::mysql(user).map_err(|why| format!("refused: {why}"))?;
        }
        let limit = self.spec.statement_timeout + Duration::from_millis(500);
        let result = match &self.pool {
            Pool::Pg(p) => {
                let mut conn = self.acquire(p).await?;
                let out = tokio::time::timeout(limit, exec::postgres(&mut conn, query, cols)).await;
                close_if_late(conn, out)
            }
            Pool::My(p) => {
                let mut conn = self.acquire(p).await?;
                let out = tokio::time::timeout(limit, exec::mysql(&mut conn, query, cols)).await;
                close_if_late(conn, out)
            }
            Pool::Lite(p) => {
                let mut conn = self.acquire(p).await?;
                let out = tokio::time::timeout(limit, exec::sqlite(&mut conn, query, cols)).await;
                close_if_late(conn, out)
            }
        };
        match result {
            None => Err(format!(
                "query did not finish within statement_timeout {}",
                crate::duration::canonical(self.spec.statement_timeout)
            )),
            Some(Err(exec::Failure::Refused(why))) => {
                Err(redact(&format!("refused: {why}"), &self.spec))
            }
            Some(Err(exec::Failure::Db(e))) => Err(self.describe(e)),
            Some(Ok(None)) => Err("the query returned no row".into()),
            Some(Ok(Some(values))) => Ok(values),
        }
    }

    pub(super) async fn acquire<DB: sqlx::Database>(
        &self,
        pool: &sqlx::Pool<DB>,
    ) -> Result<PoolConnection<DB>, String> {
        match pool.acquire().await {
            Ok(c) => Ok(c),
            Err(e) => Err(self
                .acquire_error(e, pool.connect_options().connect())
                .await),
        }
    }

    /// The pool retries failed connects until connect_timeout and then says only "timed out";
    /// one more short direct attempt recovers the cause (refused, bad password, unknown database).
    async fn acquire_error<C, F>(&self, e: sqlx::Error, direct: F) -> String
    where
        F: std::future::Future<Output = Result<C, sqlx::Error>>,
    {
        if !matches!(e, sqlx::Error::PoolTimedOut) {
            return self.describe(e);
        }
        // Only a short look: the check already waited connect_timeout, and its verdict must not
        // take twice that. A refusal or a bad password answers in milliseconds; silence does not.
        let look = (self.spec.connect_timeout / 4).min(std::time::Duration::from_secs(1));
        match tokio::time::timeout(look, direct).await {
            Ok(Err(cause)) => format!(
                "{} (kept trying for connect_timeout {})",
                self.describe(cause),
                crate::duration::canonical(self.spec.connect_timeout)
            ),
            _ => self.describe(e),
        }
    }

    /// A database error as a tired engineer needs it: what happened, on which host, no secrets.
    fn describe(&self, e: sqlx::Error) -> String {
        let s = &self.spec;
        let text = match &e {
            sqlx::Error::PoolTimedOut => format!(
                "could not connect to {} within connect_timeout {}",
                s.display,
                crate::duration::canonical(s.connect_timeout)
            ),
            sqlx::Error::Io(io) => format!("cannot connect to {}: {io}", s.display),
            sqlx::Error::Tls(t) => format!("TLS error connecting to {}: {t}", s.display),
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let msg = db.message();
                // SQLSTATEs: 57014 PostgreSQL cancel, 70100 MariaDB max_statement_time;
                // MySQL's max_execution_time reports HY000, so its message is matched too.
                let timed_out = code == "57014"
                    || code == "70100"
                    || msg.contains("maximum statement execution time");
                match code.as_str() {
                    _ if timed_out => format!(
                        "query exceeded statement_timeout {} ({msg})",
                        crate::duration::canonical(s.statement_timeout)
                    ),
                    // 25006: a write in a read-only transaction; 25001: an attempt to make the
                    // transaction read-write after it started.
                    "25006" | "25001" => format!("refused: checks are read-only ({msg})"),
                    "0A000" if msg.contains("data-modifying") => {
                        format!("refused: checks are read-only ({msg})")
                    }
                    "42601" if msg.contains("multiple commands") => {
                        format!("refused: {} ({msg})", super::guard::ONE_STATEMENT)
                    }
                    _ if msg.contains("readonly database") => {
                        format!("refused: checks are read-only ({msg})")
                    }
                    "" => msg.to_string(),
                    _ => format!("{msg} (code {code})"),
                }
            }
            other => format!("{other} ({})", s.display),
        };
        redact(&text, s)
    }

    pub(super) fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Pg(p) => p.close().await,
            Pool::My(p) => p.close().await,
            Pool::Lite(p) => p.close().await,
        }
    }
}

/// `None` if the query outlived its limit; the connection is then mid-protocol and is closed.
fn close_if_late<DB: sqlx::Database, T>(
    mut conn: PoolConnection<DB>,
    out: Result<T, tokio::time::error::Elapsed>,
) -> Option<T> {
    match out {
        Ok(v) => Some(v),
        Err(_) => {
            conn.close_on_drop();
            None
        }
    }
}

fn pool_opts<DB: sqlx::Database>(
    o: sqlx::pool::PoolOptions<DB>,
    max: u32,
    acquire: Duration,
) -> sqlx::pool::PoolOptions<DB> {
    o.max_connections(max)
        .min_connections(0)
        .acquire_timeout(acquire)
        .idle_timeout(Duration::from_secs(300))
}

/// Removes the password and the full URL from any text about a source.
pub fn redact(text: &str, spec: &SourceSpec) -> String {
    let url = spec.url.expose_secret();
    let mut out = text.replace(url, &spec.display);
    if let Ok(parsed) = url::Url::parse(url) {
        if let Some(pw) = parsed.password().filter(|p| !p.is_empty()) {
            out = out.replace(pw, "***");
            if let Ok(decoded) = urlencoding_decode(pw) {
                out = out.replace(&decoded, "***");
            }
        }
    }
    out
}

fn urlencoding_decode(s: &str) -> Result<String, std::str::Utf8Error> {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| Ok(v.into_owned()))
        .unwrap_or_else(|| Ok(s.to_string()))
}
