//! The store's SQL on either engine, written once: arguments are a closed set of values and rows
//! decode into types both SQLite and PostgreSQL can decode. `Tx` is one store transaction; the
//! typed operations of the other store modules are methods on it (or on `Store` for one-offs).
//! Knows nothing of checks, policies or messages.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Database, Encode, FromRow, PgConnection, Postgres, Sqlite, SqliteConnection, Type};

/// Appends `$first, $first+1, …)` for `items` to an `IN (` list and their arguments.
pub(super) fn push_list<'a>(
    sql: &mut String,
    args: &mut Vec<Arg<'a>>,
    items: &[&'a str],
    first: usize,
) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("${}", first + i));
        args.push((*item).into());
    }
    sql.push(')');
}

/// One query argument.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Real(Option<f64>),
    Time(Option<DateTime<Utc>>),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}
impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<f64>> for Arg<'_> {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl From<DateTime<Utc>> for Arg<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Time(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg<'_> {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Time(v)
    }
}

/// The statement as SQLite should get it: `$N` placeholders become plain `?` with the
/// arguments in order of appearance (repeated where a `$N` repeats). For every parameter it
/// binds, sqlx asks SQLite the parameter's name, which SQLite finds by a linear scan of the
/// named ones: a 200-run INSERT of 1,600 `$N` spent more time there than inserting. Plain `?`
/// have no names. Text in single quotes is left alone.
fn positional<'q>(sql: &str, args: &[Arg<'q>]) -> (String, Vec<Arg<'q>>) {
    let mut out = String::with_capacity(sql.len());
    let mut ordered = Vec::with_capacity(args.len());
    let mut quoted = false;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c == '\'' {
            quoted = !quoted;
        } else if c == '$' && !quoted {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if let Some(arg) = rest[..digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| args.get(i))
            {
                out.push('?');
                ordered.push(*arg);
                rest = &rest[digits..];
                continue;
            }
        }
        out.push(c);
    }
    (out, ordered)
}

/// A row type both engines decode: tuples of plain values, or a struct with `FromRow` for any row.
pub trait Both: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Both for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A connection of either engine, borrowed for a few queries.
pub enum Conn<'c> {
    Lite(&'c mut SqliteConnection),
    Pg(&'c mut PgConnection),
}

trait Binds<'q, DB: Database>: Sized {
    fn bind_all(self, args: &[Arg<'q>]) -> Self;
}

impl<'q, DB> Binds<'q, DB> for sqlx::query::Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    fn bind_all(mut self, args: &[Arg<'q>]) -> Self {
        for a in args {
            self = match *a {
                Arg::Text(v) => self.bind(v),
                Arg::Int(v) => self.bind(v),
                Arg::Real(v) => self.bind(v),
                Arg::Time(v) => self.bind(v),
            };
        }
        self
    }
}

impl<'q, DB, O> Binds<'q, DB> for sqlx::query::QueryAs<'q, DB, O, DB::Arguments<'q>>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    fn bind_all(mut self, args: &[Arg<'q>]) -> Self {
        for a in args {
            self = match *a {
                Arg::Text(v) => self.bind(v),
                Arg::Int(v) => self.bind(v),
                Arg::Real(v) => self.bind(v),
                Arg::Time(v) => self.bind(v),
            };
        }
        self
    }
}

impl Conn<'_> {
    /// Runs a statement; the number of rows it changed.
    pub async fn execute<'q>(&mut self, sql: &'q str, args: &[Arg<'q>]) -> sqlx::Result<u64> {
        let result = self.execute_inner(sql, args).await;
        super::health::note(&result);
        result
    }

    async fn execute_inner<'q>(&mut self, sql: &'q str, args: &[Arg<'q>]) -> sqlx::Result<u64> {
        Ok(match self {
            Conn::Lite(c) => {
                let (sql, args) = positional(sql, args);
                sqlx::query::<Sqlite>(&sql)
                    .bind_all(&args)
                    .execute(&mut **c)
                    .await?
                    .rows_affected()
            }
            Conn::Pg(c) => sqlx::query::<Postgres>(sql)
                .bind_all(args)
                .execute(&mut **c)
                .await?
                .rows_affected(),
        })
    }

    pub async fn all<'q, R: Both>(
        &mut self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> sqlx::Result<Vec<R>> {
        match self {
            Conn::Lite(c) => {
                let (sql, args) = positional(sql, args);
                sqlx::query_as::<Sqlite, R>(&sql)
                    .bind_all(&args)
                    .fetch_all(&mut **c)
                    .await
            }
            Conn::Pg(c) => {
                sqlx::query_as::<Postgres, R>(sql)
                    .bind_all(args)
                    .fetch_all(&mut **c)
                    .await
            }
        }
    }

    pub async fn optional<'q, R: Both>(
        &mut self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> sqlx::Result<Option<R>> {
        match self {
            Conn::Lite(c) => {
                let (sql, args) = positional(sql, args);
                sqlx::query_as::<Sqlite, R>(&sql)
                    .bind_all(&args)
                    .fetch_optional(&mut **c)
                    .await
            }
            Conn::Pg(c) => {
                sqlx::query_as::<Postgres, R>(sql)
                    .bind_all(args)
                    .fetch_optional(&mut **c)
                    .await
            }
        }
    }

    pub async fn one<'q, R: Both>(&mut self, sql: &'q str, args: &[Arg<'q>]) -> sqlx::Result<R> {
        match self {
            Conn::Lite(c) => {
                let (sql, args) = positional(sql, args);
                sqlx::query_as::<Sqlite, R>(&sql)
                    .bind_all(&args)
                    .fetch_one(&mut **c)
                    .await
            }
            Conn::Pg(c) => {
                sqlx::query_as::<Postgres, R>(sql)
                    .bind_all(args)
                    .fetch_one(&mut **c)
                    .await
            }
        }
    }
}

/// A pooled connection of either engine.
pub enum Pooled {
    Lite(PoolConnection<Sqlite>),
    Pg(PoolConnection<Postgres>),
}

impl Pooled {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Lite(c) => Conn::Lite(c),
            Pooled::Pg(c) => Conn::Pg(c),
        }
    }
}

/// One store transaction. Dropped without `commit`, it rolls back.
pub struct Tx {
    inner: TxInner,
    /// SQLite: this store's turn to write (released after the transaction ends; fields drop
    /// in order).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

// SQLite has one writer at a time. A store's write transactions wait for their turn on the
// store's own mutex, holding no pooled connection, instead of inside SQLite's busy handler with
// a connection each: when a burst of runs is recorded by several passes at once, reads (the
// status page, run claims) still find a free connection, and writers take turns without the
// busy handler's sleeps. (Another process, or another `Store` on the same file, still meets
// SQLite's own lock.)

enum TxInner {
    Lite(sqlx::Transaction<'static, Sqlite>),
    Pg(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Lite(t) => Conn::Lite(t),
            TxInner::Pg(t) => Conn::Pg(t),
        }
    }

    /// Whether rows read with `FOR UPDATE` are locked (PostgreSQL); SQLite's write lock covers
    /// the whole transaction instead, and has no `FOR UPDATE`.
    pub fn locks_rows(&self) -> bool {
        matches!(self.inner, TxInner::Pg(_))
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        let result = match self.inner {
            TxInner::Lite(t) => t.commit().await,
            TxInner::Pg(t) => t.commit().await,
        };
        super::health::note(&result);
        Ok(result?)
    }
}

impl Store {
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Store::Sqlite(p, turn) => {
                let turn = take_turn(turn).await;
                Tx {
                    inner: TxInner::Lite(p.begin().await?),
                    _turn: turn,
                }
            }
            Store::Postgres(p) => Tx {
                inner: TxInner::Pg(p.begin().await?),
                _turn: None,
            },
        })
    }

    /// A connection for queries outside a transaction.
    pub async fn acquire(&self) -> Result<Pooled, StoreError> {
        Ok(match self {
            Store::Sqlite(p, _) => Pooled::Lite(p.acquire().await?),
            Store::Postgres(p) => Pooled::Pg(p.acquire().await?),
        })
    }

    /// SQLite: a one-off statement that writes takes the store's write turn as a transaction
    /// does. Without it, it met the turn's writers inside SQLite's busy handler, whose sleeps
    /// (1, 2, 5, 10, … ms) outlast the lock: the 20 run claims of a 10,000-check burst took
    /// 65–107 ms before the first check could start. Reads never wait for the turn.
    async fn one_off_turn(&self, sql: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let Store::Sqlite(_, turn) = self else {
            return None;
        };
        let verb = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        let writes = ["INSERT", "UPDATE", "DELETE", "REPLACE"]
            .iter()
            .any(|w| verb.eq_ignore_ascii_case(w));
        if writes {
            take_turn(turn).await
        } else {
            None
        }
    }

    pub(super) async fn execute<'q>(
        &self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> Result<u64, StoreError> {
        let _turn = self.one_off_turn(sql).await;
        Ok(self.acquire().await?.conn().execute(sql, args).await?)
    }

    pub(super) async fn all<'q, R: Both>(
        &self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> Result<Vec<R>, StoreError> {
        let _turn = self.one_off_turn(sql).await;
        Ok(self.acquire().await?.conn().all(sql, args).await?)
    }

    pub(super) async fn optional<'q, R: Both>(
        &self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> Result<Option<R>, StoreError> {
        let _turn = self.one_off_turn(sql).await;
        Ok(self.acquire().await?.conn().optional(sql, args).await?)
    }

    pub(super) async fn one<'q, R: Both>(
        &self,
        sql: &'q str,
        args: &[Arg<'q>],
    ) -> Result<R, StoreError> {
        let _turn = self.one_off_turn(sql).await;
        Ok(self.acquire().await?.conn().one(sql, args).await?)
    }
}

/// Waits for a SQLite store's write turn, bounded like SQLite's own busy timeout: past it,
/// SQLite's lock decides, as without the turn (a write begun inside another never hangs here).
async fn take_turn(
    turn: &std::sync::Arc<tokio::sync::Mutex<()>>,
) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        std::sync::Arc::clone(turn).lock_owned(),
    )
    .await
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(args: &[Arg<'_>]) -> Vec<String> {
        args.iter()
            .map(|a| match a {
                Arg::Text(Some(t)) => t.to_string(),
                Arg::Int(Some(n)) => n.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn dollar_placeholders_become_positional_in_order_of_appearance() {
        let args = [Arg::from("a"), Arg::from(2), Arg::from("c")];
        let (sql, ordered) = positional(
            "INSERT INTO t VALUES ($1, $3, '$2 stays', $2, $3) -- $12 is no argument",
            &args,
        );
        assert_eq!(
            sql,
            "INSERT INTO t VALUES (?, ?, '$2 stays', ?, ?) -- $12 is no argument"
        );
        assert_eq!(texts(&ordered), ["a", "c", "2", "c"]);
        // Two-digit numbers and no arguments at all.
        let many: Vec<Arg<'_>> = (1..=12).map(Arg::from).collect();
        let (sql, ordered) = positional("SELECT $12, $1", &many);
        assert_eq!(sql, "SELECT ?, ?");
        assert_eq!(texts(&ordered), ["12", "1"]);
        assert_eq!(positional("SELECT 1", &[]).0, "SELECT 1");
    }
}
