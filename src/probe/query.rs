//! The SQL text each check sends, per engine. Pure. Identifiers are quoted, never pasted raw;
//! `filter` and `query` are the user's own SQL and run inside a read-only transaction.

use crate::check::{TableRef, TimestampSource};
use crate::probe::source::Engine;

/// Quotes one identifier part, doubling any quote character inside it.
pub fn quote_ident(engine: Engine, part: &str) -> String {
    match engine {
        Engine::MySql => format!("`{}`", part.replace('`', "``")),
        Engine::Postgres | Engine::Sqlite => format!("\"{}\"", part.replace('"', "\"\"")),
    }
}

pub fn table(engine: Engine, t: &TableRef) -> String {
    t.parts
        .iter()
        .map(|p| quote_ident(engine, p))
        .collect::<Vec<_>>()
        .join(".")
}

/// The database's own clock, as the second column of a freshness query.
fn now(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "now()",
        Engine::MySql => "UTC_TIMESTAMP(6)",
        Engine::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
    }
}

/// User text is always wrapped in parentheses, closed on a new line so that a trailing `--`
/// comment in it cannot swallow the closing parenthesis.
fn filtered(mut sql: String, filter: Option<&str>) -> String {
    if let Some(f) = filter {
        sql.push_str(&format!(" WHERE ({f}\n)"));
    }
    sql
}

/// SQL to send, and the user's own SQL inside it (`filter` or `query`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    pub text: String,
    pub user: Option<String>,
}

impl Sql {
    /// Whether syncwatch wrote all of it (quoted identifiers, no user text).
    pub fn generated(&self) -> bool {
        self.user.is_none()
    }
}

/// A query for a column's newest value in a table (NULL when there is none), as a batch's
/// subquery or a single check's. PostgreSQL gets the newest non-null value in the column's own
/// order, as `MAX` is defined (the same btree `>`, so the same value), but planned once: for
/// `MAX` the planner plans both an aggregate and this index probe and keeps the cheaper (15-30%
/// more batches a second on warm connections; README, Performance, 12). MySQL and SQLite answer
/// `MAX` from an index at once. The single check's shape is the batch's, so their verdicts and
/// reasons agree on every engine and type (tests/engines.rs).
fn newest(engine: Engine, t: &TableRef, column: &str, filter: Option<&str>) -> String {
    let c = quote_ident(engine, column);
    match engine {
        Engine::Postgres => {
            let mut sql = format!("SELECT {c} FROM {} WHERE ", table(engine, t));
            if let Some(f) = filter {
                sql.push_str(&format!("({f}\n) AND "));
            }
            sql.push_str(&format!("{c} IS NOT NULL ORDER BY {c} DESC LIMIT 1"));
            sql
        }
        Engine::MySql | Engine::Sqlite => {
            filtered(format!("SELECT MAX({c}) FROM {}", table(engine, t)), filter)
        }
    }
}

/// Two columns: the newest timestamp and the database clock.
pub fn freshness(engine: Engine, from: &TimestampSource) -> Sql {
    let user = match from {
        TimestampSource::Column { filter, .. } => filter.clone(),
        TimestampSource::Query(q) => Some(q.clone()),
    };
    Sql {
        text: freshness_text(engine, from),
        user,
    }
}

/// Several `table` + `column` freshness checks in one statement: a scalar subquery per check
/// (each keeps its column's type), then the database clock. No user text.
pub fn freshness_batch(engine: Engine, items: &[(&TableRef, &str)]) -> Sql {
    let mut cols: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, (t, c))| format!("({}) AS n{i}", newest(engine, t, c, None)))
        .collect();
    cols.push(format!("{} AS db_now", now(engine)));
    Sql {
        text: format!("SELECT {}", cols.join(", ")),
        user: None,
    }
}

fn freshness_text(engine: Engine, from: &TimestampSource) -> String {
    match from {
        TimestampSource::Column {
            table: t,
            column,
            filter,
        } => format!(
            "SELECT ({}) AS newest, {} AS db_now",
            newest(engine, t, column, filter.as_deref()),
            now(engine)
        ),
        TimestampSource::Query(q) => {
            format!("SELECT ({q}\n) AS newest, {} AS db_now", now(engine))
        }
    }
}

pub fn row_count(engine: Engine, t: &TableRef, filter: Option<&str>) -> Sql {
    Sql {
        text: filtered(format!("SELECT COUNT(*) FROM {}", table(engine, t)), filter),
        user: filter.map(String::from),
    }
}

/// One number. PostgreSQL casts so that NUMERIC results (sum, avg) decode as a float.
pub fn scalar(engine: Engine, q: &str) -> Sql {
    let text = match engine {
        Engine::Postgres => format!("SELECT CAST(({q}\n) AS DOUBLE PRECISION)"),
        Engine::MySql | Engine::Sqlite => format!("SELECT ({q}\n)"),
    };
    Sql {
        text,
        user: Some(q.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TableRef {
        TableRef {
            parts: s.split('.').map(String::from).collect(),
        }
    }

    #[test]
    fn identifiers_are_quoted_per_engine() {
        assert_eq!(
            table(Engine::Postgres, &t("van.contacts")),
            "\"van\".\"contacts\""
        );
        assert_eq!(table(Engine::MySql, &t("van.contacts")), "`van`.`contacts`");
        assert_eq!(
            quote_ident(Engine::Postgres, "a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
        assert_eq!(quote_ident(Engine::MySql, "a`b"), "`a``b`");
    }

    #[test]
    fn freshness_sql_reads_max_and_the_database_clock() {
        let from = TimestampSource::Column {
            table: t("van.contacts"),
            column: "updated_at".into(),
            filter: Some("committee_id = 42".into()),
        };
        let sql = freshness(Engine::Postgres, &from);
        assert_eq!(
            sql.text,
            "SELECT (SELECT \"updated_at\" FROM \"van\".\"contacts\" WHERE (committee_id = 42\n) AND \"updated_at\" IS NOT NULL ORDER BY \"updated_at\" DESC LIMIT 1) AS newest, now() AS db_now"
        );
        assert!(!sql.generated(), "a filter is user SQL");
        let sql = freshness(
            Engine::MySql,
            &TimestampSource::Column {
                table: t("d.t"),
                column: "ts".into(),
                filter: Some("a = 1 -- note".into()),
            },
        );
        assert_eq!(
            sql.text,
            "SELECT (SELECT MAX(`ts`) FROM `d`.`t` WHERE (a = 1 -- note\n)) AS newest, UTC_TIMESTAMP(6) AS db_now"
        );
        let sql = freshness(
            Engine::MySql,
            &TimestampSource::Query("SELECT max(x) FROM t".into()),
        );
        assert_eq!(
            sql.text,
            "SELECT (SELECT max(x) FROM t\n) AS newest, UTC_TIMESTAMP(6) AS db_now"
        );
        assert!(!sql.generated());
        let plain = TimestampSource::Column {
            table: t("t"),
            column: "c".into(),
            filter: None,
        };
        assert!(freshness(Engine::Postgres, &plain).generated());
        let (a, b) = (t("s.a"), t("b"));
        assert_eq!(
            freshness_batch(Engine::Postgres, &[(&a, "ts"), (&b, "x\"y")]).text,
            "SELECT (SELECT \"ts\" FROM \"s\".\"a\" WHERE \"ts\" IS NOT NULL ORDER BY \"ts\" DESC LIMIT 1) AS n0, \
             (SELECT \"x\"\"y\" FROM \"b\" WHERE \"x\"\"y\" IS NOT NULL ORDER BY \"x\"\"y\" DESC LIMIT 1) AS n1, now() AS db_now"
        );
        assert_eq!(
            freshness_batch(Engine::MySql, &[(&a, "ts")]).text,
            "SELECT (SELECT MAX(`ts`) FROM `s`.`a`) AS n0, UTC_TIMESTAMP(6) AS db_now"
        );
        assert!(row_count(Engine::Postgres, &t("t"), None).generated());
        assert!(!scalar(Engine::Postgres, "select 1").generated());
    }
}
