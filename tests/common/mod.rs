//! Shared test helpers: real databases (skipped with a reason when absent, unless
//! SYNCWATCH_REQUIRE_SERVICES=1), temporary config folders, and running a pass.
#![allow(dead_code)]

pub mod contracts;
pub mod harness;
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

pub fn required() -> bool {
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
        config::load(&self.settings_path(), &config::process_env)
    }

    pub fn plan(&self) -> Plan {
        self.load()
            .unwrap_or_else(|e| panic!("fixture config is invalid:\n{e}"))
    }

    /// `syncwatch ARGS --config <this fixture's settings>`, with extra environment (and no
    /// JOB_COMPLETION_INDEX from the test's own): how it ended and what it printed.
    pub fn cli_env(&self, args: &[&str], env: &[(&str, &str)]) -> Ran {
        let mut cmd = bin();
        cmd.args(args).arg("--config").arg(self.settings_path());
        cmd.env_remove("JOB_COMPLETION_INDEX");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Ran::from(cmd.output().unwrap())
    }

    pub fn cli(&self, args: &[&str]) -> Ran {
        self.cli_env(args, &[])
    }

    /// `syncwatch run ARGS --format json`, which must exit 0: its document. Awaited without
    /// blocking the test's runtime, which may be serving a contract server.
    pub async fn run_json(&self, args: &[&str]) -> serde_json::Value {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
            .arg("run")
            .args(args)
            .args(["--format", "json", "--config"])
            .arg(self.settings_path())
            .output()
            .await
            .unwrap();
        let ran = Ran::from(out);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        serde_json::from_str(&ran.stdout).unwrap()
    }
}

/// How a `syncwatch` command ended and what it printed.
pub struct Ran {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Ran {
    fn from(out: std::process::Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
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

/// Creates (or extends) a SQLite "partner" database at `path` with `sql`.
pub async fn sqlite_partner(path: &Path, sql: &str) {
    use sqlx::{Connection, Executor};
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    c.execute(sql).await.unwrap();
    c.close().await.unwrap();
}

/// The compiled `syncwatch` binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
}

/// A tool from a Debian package (promtool, prometheus, prometheus-pushgateway), or a skip
/// with a reason (a failure when SYNCWATCH_REQUIRE_SERVICES=1).
/// `promtool check metrics` accepts `text` (the exposition format as served).
pub fn promtool_check_metrics(promtool: &Path, text: &str) {
    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(check.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name` on PATH, without a skip message.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

pub fn tool(name: &str) -> Option<PathBuf> {
    let found = which(name);
    if found.is_none() {
        unavailable(
            &format!("`{name}` (Debian package prometheus / prometheus-pushgateway)"),
            "not on PATH",
        );
    }
    found
}

/// A port that was free a moment ago, for servers that cannot bind port 0 and report it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` every 200 ms until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    None
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `syncwatch serve` on a free port and returns it with its base URL.
pub fn serve(settings: &Path, extra: &[&str]) -> (Child, String) {
    use std::io::BufRead;
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "info",
            "--config",
        ])
        .arg(settings)
        .args(extra)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(i) = line.find("listening on http://") {
            break line[i + "listening on ".len()..].trim().to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Child(child), base)
}

pub async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// One API call: (status, JSON body or null).
pub async fn api(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let c = reqwest::Client::new();
    let mut r = match method {
        "POST" => c.post(url).body(body.to_string()),
        _ => c.get(url),
    };
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// A PostgreSQL database of its own for a state store (None, with the skip printed, when
/// PostgreSQL is absent): the admin connection, the database's name and its URL.
pub async fn pg_store(prefix: &str) -> Option<(PgConnection, String, String)> {
    use sqlx::Executor;
    let mut pg = pg().await?;
    let db = unique(prefix);
    pg.execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    Some((pg, db, url))
}
