//! The state store failing under a running `serve`: a full disk (a small tmpfs, filled and
//! emptied again). Writes that fail show in `/readyz` and the metrics, the store recovers by
//! itself when space returns, and a page delivered while its "delivered" mark could not be
//! written is never sent again, not even after a restart.

mod common;

use common::{eventually, get, Fixture};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A 2 MiB tmpfs, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = std::env::temp_dir().join(format!("syncwatch-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(&dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk(dir)),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    !common::required(),
                    "a small tmpfs is required (SYNCWATCH_REQUIRE_SERVICES=1) but cannot be mounted: {why}"
                );
                eprintln!("SKIPPED: cannot mount a tmpfs ({why}; needs root); set SYNCWATCH_REQUIRE_SERVICES=1 to make this a failure");
                None
            }
        }
    }

    /// Fills the disk to the last byte.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
        let _ = f.flush();
    }

    fn empty(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

async fn delivered_marks(db: &Path) -> Vec<(String, bool)> {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, bool)> =
        sqlx::query_as("SELECT event, delivered_at IS NOT NULL FROM outbox ORDER BY id")
            .fetch_all(&mut c)
            .await
            .unwrap();
    c.close().await.unwrap();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_shows_in_readyz_recovers_by_itself_and_sends_no_page_twice() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let (hook, hook_url) = common::contracts::webhook().await;
    // The receiver answers in 2 s: the disk fills while the page is on its way.
    *hook.delay.lock().unwrap() = Duration::from_secs(2);
    let store = disk.0.join("state.db");
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"sqlite:{}\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n",
            store.display()
        ),
        &[(
            "c.yaml",
            "defaults: { source: p, schedule: \"* * * * * *\" }\nchecks:\n\
             \x20 - name: stale\n    freshness: { table: old, column: ts, error_after: 1h }\n    on_failure: { page: ops }\n\
             \x20 - name: fresh\n    freshness: { table: t, column: ts, error_after: 1h }\n",
        )],
    );
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now'));
         CREATE TABLE old (ts TEXT); INSERT INTO old VALUES (datetime('now', '-3 hours'));",
    )
    .await;
    let (daemon, base) = common::serve(&f.settings_path(), &[]);
    eventually(20, || async {
        (!hook.seen.lock().unwrap().is_empty()).then_some(())
    })
    .await
    .expect("the page is on its way");
    disk.fill();

    // Writes fail: not ready, and the metrics say so.
    let (code, why) = eventually(15, || async {
        let r = get(&format!("{base}/readyz")).await;
        (r.0 == 503).then_some(r)
    })
    .await
    .expect("readyz turns 503 while the store refuses writes");
    assert!(
        why.contains("refuses writes") && why.contains("full"),
        "{code} {why}"
    );
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(m.contains("syncwatch_store_writes_failing 1"), "{m}");
    tokio::time::sleep(Duration::from_secs(3)).await; // the page's answer came while full
    assert_eq!(hook.requests().len(), 1, "sent once so far");

    // Space returns: the store recovers by itself, and the page's mark is written.
    disk.empty();
    eventually(20, || async {
        let r = get(&format!("{base}/readyz")).await;
        (r.0 == 200).then_some(())
    })
    .await
    .expect("ready again once there is space (no wedged write lock)");
    let (_, m) = get(&format!("{base}/metrics")).await;
    assert!(m.contains("syncwatch_store_writes_failing 0"), "{m}");
    let errors: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("syncwatch_store_write_errors_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(errors > 0.0, "{m}");
    eventually(10, || async {
        (delivered_marks(&store).await == [("page".to_string(), true)]).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the page is not marked delivered"));

    // A restart finds nothing to send again.
    drop(daemon);
    let (_again, _) = common::serve(&f.settings_path(), &[]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hook.requests().len(), 1, "the page was sent exactly once");
}

/// Stops new connections to one PostgreSQL database and ends the open ones (or lets them in
/// again): an outage of that store only, for a real `serve` to live through.
async fn store_outage(db: &str, down: bool) {
    let mut pg = common::pg().await.expect("PostgreSQL");
    use sqlx::Executor;
    pg.execute(format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {}", !down).as_str())
        .await
        .unwrap();
    if down {
        pg.execute(
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
            )
            .as_str(),
        )
        .await
        .unwrap();
    }
}

fn sample(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_store_outage_checks_keep_running_pages_wait_and_runs_are_recorded_after() {
    let Some((mut pg, db, store)) = common::pg_store("sw_outage").await else {
        return;
    };
    use sqlx::Executor;
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"{store}\", connect_timeout: 1s }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n"
        ),
        &[(
            "c.yaml",
            "defaults: { source: p, schedule: \"* * * * * *\", on_failure: { page: ops } }\nchecks:\n\
             \x20 - name: steady\n    freshness: { table: t, column: ts, error_after: 1h }\n\
             \x20 - name: goes_stale\n    freshness: { table: u, column: ts, error_after: 1h }\n",
        )],
    );
    let partner = f.path().join("partner.db");
    common::sqlite_partner(
        &partner,
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now'));
         CREATE TABLE u (ts TEXT); INSERT INTO u VALUES (datetime('now'));",
    )
    .await;
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    eventually(10, || async {
        let (_, m) = get(&format!("{base}/metrics")).await;
        (sample(&m, "syncwatch_check_runs_total{check=\"steady\",kind=\"freshness\",source=\"p\",verdict=\"pass\"} ") >= 2.0).then_some(())
    })
    .await
    .expect("the checks run");

    store_outage(&db, true).await;
    let outage_start = chrono::Utc::now();
    // The data of one check goes stale while the store is away.
    common::sqlite_partner(&partner, "UPDATE u SET ts = datetime('now', '-3 hours');").await;
    let (code, why) = eventually(10, || async {
        let r = get(&format!("{base}/readyz")).await;
        (r.0 == 503).then_some(r)
    })
    .await
    .expect("not ready while the store is away");
    assert!(why.starts_with("not ready"), "{code} {why}");
    // Still watching: runs go on, judged and exported from memory, and are held for later.
    let (_, before) = get(&format!("{base}/metrics")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, m) = get(&format!("{base}/metrics")).await;
    let runs = |m: &str| {
        sample(m, "syncwatch_check_runs_total{check=\"steady\",kind=\"freshness\",source=\"p\",verdict=\"pass\"} ")
    };
    assert!(
        runs(&m) >= runs(&before) + 2.0,
        "checks still run during the outage:\n{m}"
    );
    assert!(
        m.contains("syncwatch_check_status{check=\"goes_stale\",kind=\"freshness\",source=\"p\",verdict=\"fail\"} 1"),
        "the stale check is exported as failing from memory:\n{m}"
    );
    assert!(sample(&m, "syncwatch_runs_unrecorded ") >= 4.0, "{m}");
    assert!(
        hook.requests().is_empty(),
        "no page while the store is away"
    );

    // The store returns: the held runs are written, and the stale check pages (once).
    store_outage(&db, false).await;
    let page = eventually(20, || async {
        hook.accepted()
            .into_iter()
            .map(|r| r.json())
            .find(|m| m["event"] == "page")
    })
    .await
    .expect("the stale check pages once the store is back");
    assert_eq!(page["details"]["check"], "goes_stale");
    eventually(10, || async {
        let (_, m) = get(&format!("{base}/metrics")).await;
        (sample(&m, "syncwatch_runs_unrecorded ") == 0.0).then_some(())
    })
    .await
    .expect("every held run was written");
    let mut c = sqlx::PgConnection::connect(&store).await.unwrap();
    use sqlx::Connection;
    let during: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM runs WHERE check_name = 'steady' AND started_at > $1 AND started_at < $2",
    )
    .bind(outage_start + chrono::Duration::seconds(1))
    .bind(outage_start + chrono::Duration::seconds(3))
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(
        during >= 1,
        "runs made during the outage are in the history"
    );
    c.close().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pages = hook
        .accepted()
        .iter()
        .filter(|r| r.json()["event"] == "page")
        .count();
    assert_eq!(pages, 1, "one page");
    drop(_daemon);
    pg.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
}
