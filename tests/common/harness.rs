//! The shared test harness: partner databases of every engine set up the same way, and a
//! builder for the settings and check files a scenario needs. Scenarios that must hold on every
//! engine take `Partner::all()` and run one table over PostgreSQL, MariaDB and SQLite.

use super::{unique, Fixture, MY_URL, PG_URL};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection, SqliteConnection};
use std::path::PathBuf;

/// One partner database, holding the scenario's tables in a schema (PostgreSQL), a database
/// (MariaDB) or a file (SQLite) of its own.
pub enum Partner {
    Pg {
        conn: PgConnection,
        schema: String,
    },
    My {
        conn: MySqlConnection,
        db: String,
    },
    Lite {
        conn: SqliteConnection,
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
}

impl Partner {
    /// Every engine this machine has (a missing server is a printed skip, or a failure under
    /// SYNCWATCH_REQUIRE_SERVICES=1); SQLite always.
    pub async fn all() -> Vec<Partner> {
        let mut out = Vec::new();
        if let Some(mut conn) = super::pg().await {
            let schema = unique("sw_engine");
            conn.execute(format!("CREATE SCHEMA {schema}").as_str())
                .await
                .unwrap();
            out.push(Partner::Pg { conn, schema });
        }
        if let Some(mut conn) = super::mysql().await {
            let db = unique("sw_engine");
            conn.execute(format!("CREATE DATABASE {db}").as_str())
                .await
                .unwrap();
            out.push(Partner::My { conn, db });
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partner.db");
        let conn = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        out.push(Partner::Lite {
            conn,
            path,
            _dir: dir,
        });
        out
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Partner::Pg { .. } => "postgres",
            Partner::My { .. } => "mariadb",
            Partner::Lite { .. } => "sqlite",
        }
    }

    /// The source's entry under `sources:` (one line, in YAML flow style).
    pub fn source(&self, name: &str, extra: &str) -> String {
        let url = match self {
            Partner::Pg { .. } => PG_URL.to_string(),
            Partner::My { .. } => MY_URL.to_string(),
            Partner::Lite { path, .. } => format!("sqlite:{}", path.display()),
        };
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(", {extra}")
        };
        format!("  {name}: {{ url: \"{url}\"{extra} }}\n")
    }

    /// A table name as checks write it.
    pub fn table(&self, t: &str) -> String {
        match self {
            Partner::Pg { schema, .. } => format!("{schema}.{t}"),
            Partner::My { db, .. } => format!("{db}.{t}"),
            Partner::Lite { .. } => t.to_string(),
        }
    }

    /// Creates `table (id, ts)` whose rows are `ages_minutes` old by the database's clock (UTC,
    /// no time zone); an empty list makes an empty table.
    pub async fn timestamps(&mut self, t: &str, ages_minutes: &[i64]) {
        let name = self.table(t);
        let (create, row): (String, fn(i64) -> String) = match self {
            Partner::Pg { .. } => (format!("CREATE TABLE {name} (id int, ts timestamp)"), |m| {
                format!("(now() AT TIME ZONE 'UTC') - interval '{m} minutes'")
            }),
            Partner::My { .. } => (
                format!("CREATE TABLE {name} (id int, ts datetime(6))"),
                |m| format!("UTC_TIMESTAMP(6) - INTERVAL {m} MINUTE"),
            ),
            Partner::Lite { .. } => (format!("CREATE TABLE {name} (id INTEGER, ts TEXT)"), |m| {
                format!("datetime('now', '{:+} minutes')", -m)
            }),
        };
        self.exec(&create).await;
        for (i, m) in ages_minutes.iter().enumerate() {
            self.exec(&format!("INSERT INTO {name} VALUES ({i}, {})", row(*m)))
                .await;
        }
    }

    pub async fn exec(&mut self, sql: &str) {
        match self {
            Partner::Pg { conn, .. } => conn.execute(sql).await.map(|_| ()),
            Partner::My { conn, .. } => conn.execute(sql).await.map(|_| ()),
            Partner::Lite { conn, .. } => conn.execute(sql).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub async fn count(&mut self, t: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", self.table(t));
        match self {
            Partner::Pg { conn, .. } => sqlx::query_scalar(&sql).fetch_one(conn).await,
            Partner::My { conn, .. } => sqlx::query_scalar(&sql).fetch_one(conn).await,
            Partner::Lite { conn, .. } => sqlx::query_scalar(&sql).fetch_one(conn).await,
        }
        .unwrap()
    }

    pub async fn cleanup(self) {
        match self {
            Partner::Pg { mut conn, schema } => {
                let _ = conn
                    .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                    .await;
            }
            Partner::My { mut conn, db } => {
                let _ = conn.execute(format!("DROP DATABASE {db}").as_str()).await;
            }
            Partner::Lite { .. } => {}
        }
    }
}

/// Settings and check files for one scenario, written to a temporary folder.
#[derive(Default)]
pub struct Scenario {
    sources: String,
    settings: String,
    files: Vec<(String, String)>,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario::default()
    }

    /// A source line, as `Partner::source` writes it.
    pub fn source(mut self, line: String) -> Scenario {
        self.sources.push_str(&line);
        self
    }

    /// More top-level settings (YAML).
    pub fn settings(mut self, yaml: &str) -> Scenario {
        self.settings.push_str(yaml);
        self
    }

    /// A check file `checks/<name>`.
    pub fn checks(mut self, name: &str, yaml: impl Into<String>) -> Scenario {
        self.files.push((name.to_string(), yaml.into()));
        self
    }

    pub fn build(self) -> Fixture {
        let settings = if self.sources.is_empty() {
            self.settings
        } else {
            format!("{}sources:\n{}", self.settings, self.sources)
        };
        let files: Vec<(&str, &str)> = self
            .files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        Fixture::new(&settings, &files)
    }
}
