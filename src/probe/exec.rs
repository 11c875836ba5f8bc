//! How one check's SQL runs on one pooled connection, per engine: its own read-only
//! transaction, always rolled back, and nothing left behind on the session.
//!
//! SQL holding user text is sent as one prepared statement (`sqlx::query`, extended protocol):
//! PostgreSQL and MySQL refuse a second statement there, and SQLite's is counted before it runs.
//! Some things a single statement can still do outlive a rollback: PostgreSQL advisory locks and
//! session settings, MySQL `GET_LOCK` and `@variables`. They are looked for after the statement;
//! a check that made any is refused and its connection closed, so the next check never sees them.

use super::decode::{lite_raw, my_raw, pg_raw};
use super::query::Sql;
use super::value::Raw;
use sqlx::pool::PoolConnection;
use sqlx::{Executor, MySql, Postgres, Row, Sqlite};

pub enum Failure {
    Db(sqlx::Error),
    /// The SQL did something a check may not do; the text follows "refused: ".
    Refused(String),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Db(e)
    }
}

type Values = Option<Vec<Raw>>;

/// Inside the transaction, after the user's statement: settings it changed (even `SET LOCAL`;
/// the transaction's own `transaction_*` are ours) and advisory locks it holds, then the rollback.
const PG_AFTER_OK: &str = "SELECT \
    (SELECT count(*) FROM pg_settings WHERE source = 'session' AND name NOT LIKE 'transaction\\_%'), \
    (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()); \
    ROLLBACK";
/// After a failed statement the transaction is aborted: roll back, then look for session locks
/// taken before the failure (settings were undone by the rollback).
const PG_AFTER_ERR: &str = "ROLLBACK; SELECT 0::int8, \
    (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())";

pub async fn postgres(
    conn: &mut PoolConnection<Postgres>,
    q: &Sql,
    cols: usize,
) -> Result<Values, Failure> {
    if q.generated() {
        // Entirely syncwatch's text: the transaction travels with it in one round trip.
        let one_trip = format!("BEGIN READ ONLY; {}; ROLLBACK", q.text);
        return match conn.fetch_optional(sqlx::raw_sql(&one_trip)).await {
            Ok(row) => Ok(row.map(|r| (0..cols).map(|i| pg_raw(&r, i)).collect())),
            Err(e) => {
                // The failed statement left the transaction open (aborted): end it.
                if conn.execute("ROLLBACK").await.is_err() {
                    conn.close_on_drop();
                }
                Err(e.into())
            }
        };
    }
    conn.execute("BEGIN READ ONLY").await?;
    let got = sqlx::query(&q.text)
        .persistent(false)
        .fetch_optional(&mut **conn)
        .await;
    let after = if got.is_ok() {
        PG_AFTER_OK
    } else {
        PG_AFTER_ERR
    };
    let left = match conn.fetch_one(sqlx::raw_sql(after)).await {
        Ok(row) => (row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?),
        Err(e) => {
            conn.close_on_drop();
            return Err(got.err().unwrap_or(e).into());
        }
    };
    let refused = match left {
        (0, 0) => None,
        (_, 0) => Some("the SQL changed session settings (set_config, SET)"),
        _ => Some("the SQL took an advisory lock, which would outlive the check"),
    };
    if let Some(why) = refused {
        conn.close_on_drop();
        return Err(Failure::Refused(why.into()));
    }
    Ok(got?.map(|r| (0..cols).map(|i| pg_raw(&r, i)).collect()))
}

/// MariaDB lists a session's `@variables` in information_schema; MySQL 8 in performance_schema.
const MY_LEFT_MARIADB: &str = "SELECT CAST(RELEASE_ALL_LOCKS() AS SIGNED), \
    (SELECT COUNT(*) FROM information_schema.USER_VARIABLES)";
const MY_LEFT_MYSQL: &str = "SELECT CAST(RELEASE_ALL_LOCKS() AS SIGNED), \
    (SELECT COUNT(*) FROM performance_schema.user_variables_by_thread WHERE THREAD_ID = PS_CURRENT_THREAD_ID())";

pub async fn mysql(
    conn: &mut PoolConnection<MySql>,
    q: &Sql,
    cols: usize,
) -> Result<Values, Failure> {
    conn.execute("START TRANSACTION READ ONLY").await?;
    let got = send_and_roll_back(conn, q).await;
    if !q.generated() {
        let mut left = None;
        for sql in [MY_LEFT_MARIADB, MY_LEFT_MYSQL] {
            if let Ok(row) = sqlx::query(sql).fetch_one(&mut **conn).await {
                left = Some((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?));
                break;
            }
        }
        let refused = match left {
            Some((0, 0)) => None,
            Some((0, _)) => Some("the SQL set @variables, which would outlive the check"),
            Some(_) => Some("the SQL took a lock with GET_LOCK, which would outlive the check"),
            // Neither server told us what the session holds: do not reuse it.
            None => {
                conn.close_on_drop();
                None
            }
        };
        if let Some(why) = refused {
            conn.close_on_drop();
            return Err(Failure::Refused(why.into()));
        }
    }
    Ok(got?.map(|r| (0..cols).map(|i| my_raw(&r, i)).collect()))
}

pub async fn sqlite(
    conn: &mut PoolConnection<Sqlite>,
    q: &Sql,
    cols: usize,
) -> Result<Values, Failure> {
    if !q.generated() {
        let mut handle = conn.lock_handle().await?;
        if statements(handle.as_raw_handle(), &q.text) > 1 {
            return Err(Failure::Refused(super::guard::ONE_STATEMENT.into()));
        }
    }
    conn.execute("BEGIN").await?;
    let got = send_and_roll_back(conn, q).await;
    Ok(got?.map(|r| (0..cols).map(|i| lite_raw(&r, i)).collect()))
}

/// Inside the transaction the caller opened: syncwatch's own SQL as plain text, user SQL as one
/// prepared statement; then the rollback (a connection that cannot roll back is closed).
async fn send_and_roll_back<DB>(
    conn: &mut PoolConnection<DB>,
    q: &Sql,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let got = if q.generated() {
        (&mut **conn).fetch_optional(q.text.as_str()).await
    } else {
        sqlx::query::<DB>(&q.text)
            .persistent(false)
            .fetch_optional(&mut **conn)
            .await
    };
    if (&mut **conn).execute("ROLLBACK").await.is_err() {
        conn.close_on_drop();
    }
    got
}

/// How many statements SQLite reads in `sql`, counting no further than 2 ("more than one"),
/// without running any: each is prepared and finalized. A statement that does not prepare
/// counts as one (running it reports the error), or as a second if one came before it.
fn statements(db: std::ptr::NonNull<libsqlite3_sys::sqlite3>, sql: &str) -> usize {
    use libsqlite3_sys as ffi;
    let mut rest = sql.as_bytes();
    let mut count = 0;
    while !rest.is_empty() && count < 2 {
        let Ok(len) = std::os::raw::c_int::try_from(rest.len()) else {
            return 2;
        };
        let mut stmt = std::ptr::null_mut();
        let mut tail = std::ptr::null();
        // SAFETY: `db` is the connection's open handle, locked for us by `lock_handle`; `rest`
        // is `len` readable bytes; a prepared statement is finalized before the next prepare.
        let rc = unsafe {
            let rc = ffi::sqlite3_prepare_v2(
                db.as_ptr(),
                rest.as_ptr().cast(),
                len,
                &mut stmt,
                &mut tail,
            );
            if !stmt.is_null() {
                ffi::sqlite3_finalize(stmt);
            }
            rc
        };
        if rc != ffi::SQLITE_OK {
            return count + 1;
        }
        if !stmt.is_null() {
            count += 1;
        }
        let used = (tail as usize).saturating_sub(rest.as_ptr() as usize);
        if tail.is_null() || used == 0 || used > rest.len() {
            break;
        }
        rest = &rest[used..];
    }
    count
}
