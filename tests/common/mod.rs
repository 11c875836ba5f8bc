//! Shared test helpers: real databases (skipped with a reason when absent, unless
//! SYNCWATCH_REQUIRE_SERVICES=1), temporary config folders, and running a pass.
#![allow(dead_code)]

pub mod http_server;

use chrono::Utc;
use sqlx::{Connection, MySqlConnection, PgConnection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use syncwatch::app::App;
use syncwatch::config::{self, Plan};
use syncwatch::pass::{self, PassReport, Selection};
use syncwatch::verdict::Outcome;

pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const MY_URL: &str = "mysql://root@127.0.0.1:3306/test";

fn required() -> bool {
    std::env::var("SYNCWATCH_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn unavailable(what: &str, e: impl std::fmt::Display) {
    if required() {
        panic!("{what} is required (SYNCWATCH_REQUIRE_SERVICES=1) but unreachable: {e}");
    }
    eprintln!("SKIPPED: {what} is not reachable ({e}); set SYNCWATCH_REQUIRE_SERVICES=1 to make this a failure");
}

pub async fn pg() -> Option<PgConnection> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PgConnection::connect(PG_URL),
    )
    .await
    {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            unavailable("PostgreSQL at 127.0.0.1:5432", e);
            None
        }
        Err(e) => {
            unavailable("PostgreSQL at 127.0.0.1:5432", e);
            None
        }
    }
}

pub async fn mysql() -> Option<MySqlConnection> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        MySqlConnection::connect(MY_URL),
    )
    .await
    {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            unavailable("MariaDB/MySQL at 127.0.0.1:3306", e);
            None
        }
        Err(e) => {
            unavailable("MariaDB/MySQL at 127.0.0.1:3306", e);
            None
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process and call, for schemas and databases.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temporary folder holding `syncwatch.yaml` and `checks/*.yaml`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(settings: &str, checks: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("syncwatch.yaml"), settings).unwrap();
        std::fs::create_dir_all(dir.path().join("checks")).unwrap();
        for (name, text) in checks {
            std::fs::write(dir.path().join("checks").join(name), text).unwrap();
        }
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn settings_path(&self) -> PathBuf {
        self.dir.path().join("syncwatch.yaml")
    }

    pub fn load(&self) -> Result<Plan, config::ConfigErrors> {
        config::load(&self.settings_path(), &|k| std::env::var(k).ok())
    }

    pub fn plan(&self) -> Plan {
        self.load()
            .unwrap_or_else(|e| panic!("fixture config is invalid:\n{e}"))
    }
}

/// Runs every check once and returns the report and the outcomes by check name.
pub async fn run_all(plan: Plan) -> (PassReport, HashMap<String, Outcome>) {
    let names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    let app = App::build(plan).await.expect("app builds");
    let report = pass::run(app.clone(), &Selection::All, Utc::now())
        .await
        .expect("pass runs");
    app.close().await;
    let by_name = report
        .results
        .iter()
        .map(|r| (names[r.index].clone(), r.outcome.clone()))
        .collect();
    (report, by_name)
}

/// The compiled `syncwatch` binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
}
