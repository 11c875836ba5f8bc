//! `syncwatch demo`: builds a small SQLite "partner" database whose tables are synced at
//! different ages, so the example checks in `checks/` show pass, warn, fail and error, a sync
//! that a restart fixes and one that pages the Prog Lead.

use crate::config::{self, Env, Plan, SourceFile};
use crate::probe::source::Engine;
use secrecy::ExposeSecret;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};
use std::path::Path;
use std::str::FromStr;

/// The repository's own demo settings and checks, embedded so `demo` works from any folder.
pub const SETTINGS: &str = include_str!("../syncwatch.yaml");
pub const CHECKS: &[(&str, &str)] = &[("checks/demo.yaml", include_str!("../checks/demo.yaml"))];

/// The embedded demo configuration, with relative paths under `base_dir`.
pub fn embedded_plan(base_dir: &Path, env: Env<'_>) -> Result<Plan, config::ConfigErrors> {
    let checks = CHECKS
        .iter()
        .map(|(name, text)| SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        })
        .collect();
    let settings = SourceFile {
        name: "syncwatch.yaml".into(),
        text: SETTINGS.into(),
    };
    config::load_with(settings, base_dir, env, Some(checks))
}

/// The embedded demo plan for unit tests: paths under /tmp, only SYNCWATCH_EXE set.
#[cfg(test)]
pub fn test_plan() -> Plan {
    let env = |k: &str| (k == "SYNCWATCH_EXE").then(|| "syncwatch".to_string());
    embedded_plan(Path::new("/tmp"), &env).expect("the embedded demo loads")
}

/// (Re)creates the demo partner database of source `demo`, ages relative to now.
pub async fn seed(plan: &Plan) -> Result<String, String> {
    let spec = plan
        .settings
        .sources
        .get("demo")
        .filter(|s| s.engine == Engine::Sqlite)
        .ok_or("the demo needs a SQLite source named \"demo\" in the settings")?;
    if let Some(dir) = Path::new(&spec.display).parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let opts = SqliteConnectOptions::from_str(spec.url.expose_secret())
        .map_err(|e| e.to_string())?
        .create_if_missing(true);
    let mut conn = opts
        .connect()
        .await
        .map_err(|e| format!("cannot open {}: {e}", spec.display))?;
    conn.execute(SEED_SQL)
        .await
        .map_err(|e| format!("seeding {}: {e}", spec.display))?;
    conn.close().await.map_err(|e| e.to_string())?;
    Ok(spec.display.clone())
}

const SEED_SQL: &str = "
DROP TABLE IF EXISTS van_contacts;
DROP TABLE IF EXISTS ngp_donations;
DROP TABLE IF EXISTS mobilize_events;
CREATE TABLE van_contacts (van_id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE ngp_donations (id INTEGER PRIMARY KEY, amount_cents INTEGER NOT NULL, synced_at TEXT NOT NULL);
DROP TABLE IF EXISTS actblue_contributions;
CREATE TABLE mobilize_events (id INTEGER PRIMARY KEY, title TEXT NOT NULL, loaded_epoch INTEGER NOT NULL);
CREATE TABLE actblue_contributions (id INTEGER PRIMARY KEY, amount_cents INTEGER NOT NULL, received_at TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250)
INSERT INTO van_contacts SELECT i, 'contact ' || i, datetime('now', '-' || (20 + i * 4) || ' minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
INSERT INTO ngp_donations SELECT i, i * 500, datetime('now', '-3 hours', '-' || i || ' minutes', '+1 minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO mobilize_events SELECT i, 'event ' || i, CAST(strftime('%s', 'now') AS INTEGER) - 2 * 86400 - i * 600 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
INSERT INTO actblue_contributions SELECT i, i * 1000, datetime('now', '-5 hours', '-' || i || ' minutes') FROM n;
";

/// Plays the partner's sync for `table` in the demo database (the demo's restart commands):
/// `mobilize_events` loads a fresh event; `actblue_contributions` fails to load anything, as a
/// sync whose partner refuses its credentials would. Returns what it did, for the console.
pub async fn sync(db: &str, table: &str) -> Result<String, String> {
    let opts = SqliteConnectOptions::from_str(db).map_err(|e| e.to_string())?;
    let mut conn = opts
        .connect()
        .await
        .map_err(|e| format!("cannot open {db}: {e}"))?;
    let said = match table {
        "mobilize_events" => {
            conn.execute(
                "INSERT INTO mobilize_events (title, loaded_epoch) \
                 VALUES ('event loaded after the restart', CAST(strftime('%s', 'now') AS INTEGER))",
            )
            .await
            .map_err(|e| e.to_string())?;
            "mobilize sync restarted: 1 new event loaded".to_string()
        }
        "actblue_contributions" => {
            "actblue sync restarted: the partner API refused our credentials; nothing loaded"
                .to_string()
        }
        other => return Err(format!("the demo has no sync for table {other}")),
    };
    conn.close().await.map_err(|e| e.to_string())?;
    Ok(said)
}
