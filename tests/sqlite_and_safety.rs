//! SQLite sources (text and epoch timestamps), and the safety promises that hold for every
//! engine: unreachable sources are `error` not `fail`, secrets never show, connects time out.

mod common;

use common::{run_all, Fixture};
use sqlx::{Connection, Executor, SqliteConnection};
use syncwatch::verdict::Verdict;

async fn partner_db(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("partner.db");
    let mut c = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    c.execute(
        "CREATE TABLE t (kind TEXT, iso TEXT, plain TEXT, epoch INTEGER);
         INSERT INTO t VALUES
           ('fresh', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-10 minutes'), datetime('now', '-10 minutes'), unixepoch('now', '-10 minutes')),
           ('warn',  strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 hours'),    datetime('now', '-3 hours'),    unixepoch('now', '-3 hours')),
           ('fail',  strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days'),     datetime('now', '-2 days'),     unixepoch('now', '-2 days'));",
    )
    .await
    .unwrap();
    c.close().await.unwrap();
    path
}

#[tokio::test]
async fn sqlite_freshness_for_text_and_epoch_columns() {
    let f = Fixture::new("", &[]);
    let db = partner_db(f.path()).await;
    let mut checks = String::from("defaults: { source: lite }\nchecks:\n");
    for col in ["iso", "plain", "epoch"] {
        for kind in ["fresh", "warn", "fail"] {
            checks.push_str(&format!(
                "  - name: {col}_{kind}\n    freshness: {{ table: t, column: {col}, filter: \"kind = '{kind}'\", warn_after: 1h, error_after: 6h{} }}\n",
                if col == "epoch" { ", format: epoch_seconds" } else { "" }
            ));
        }
    }
    checks
        .push_str("  - name: count\n    row_count: { table: t, warn_below: 5, error_below: 1 }\n");
    std::fs::write(f.path().join("checks/lite.yaml"), checks).unwrap();
    std::fs::write(
        f.settings_path(),
        format!("sources:\n  lite: {{ url: \"sqlite:{}\" }}\n", db.display()),
    )
    .unwrap();
    let (_, got) = run_all(f.plan()).await;
    for col in ["iso", "plain", "epoch"] {
        for (kind, verdict) in [
            ("fresh", Verdict::Pass),
            ("warn", Verdict::Warn),
            ("fail", Verdict::Fail),
        ] {
            let name = format!("{col}_{kind}");
            assert_eq!(got[&name].verdict, verdict, "{name}: {:?}", got[&name]);
        }
    }
    assert_eq!(got["count"].verdict, Verdict::Warn);
}

#[tokio::test]
async fn sqlite_sources_are_opened_read_only() {
    let f = Fixture::new("", &[]);
    let db = partner_db(f.path()).await;
    // The first statement yields no row, so the driver would go on to the DELETE: the
    // statement count refuses it first, and the read-only connection would stop it anyway.
    let checks = "defaults: { source: lite }\nchecks:\n  - name: injects\n    row_count: { table: t, filter: \"0) GROUP BY kind; DELETE FROM t; SELECT (1\", error_below: 1 }\n";
    std::fs::write(f.path().join("checks/lite.yaml"), checks).unwrap();
    std::fs::write(
        f.settings_path(),
        format!("sources:\n  lite: {{ url: \"sqlite:{}\" }}\n", db.display()),
    )
    .unwrap();
    let (_, got) = run_all(f.plan()).await;
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(rows, 3, "nothing was deleted");
    assert_eq!(
        got["injects"].verdict,
        Verdict::Error,
        "{:?}",
        got["injects"]
    );
    let reason = got["injects"].reason.as_deref().unwrap();
    assert!(
        reason.starts_with("refused: one statement only"),
        "{reason}"
    );
}

#[tokio::test]
async fn unreachable_sources_are_errors_and_never_show_the_password() {
    let settings = "sources:\n\
        \x20 pg_down: { url: \"postgres://syncwatch:hunter2-secret@127.0.0.1:1/pad\", connect_timeout: 2s }\n\
        \x20 my_down: { url: \"mysql://syncwatch:hunter2-secret@127.0.0.1:1/pad\", connect_timeout: 2s }\n";
    let checks = "checks:\n\
        \x20 - name: pg_fresh\n    source: pg_down\n    freshness: { table: t, column: c, error_after: 1h }\n\
        \x20 - name: my_fresh\n    source: my_down\n    freshness: { table: t, column: c, error_after: 1h }\n";
    let f = Fixture::new(settings, &[("down.yaml", checks)]);
    let plan = f.plan();
    let debug = format!("{plan:?}");
    assert!(
        !debug.contains("hunter2"),
        "Debug output leaks the password: {debug}"
    );
    let (_, got) = run_all(plan).await;
    for name in ["pg_fresh", "my_fresh"] {
        let o = &got[name];
        assert_eq!(o.verdict, Verdict::Error, "{name}: {o:?}");
        let reason = o.reason.as_deref().unwrap();
        assert!(
            reason.contains("127.0.0.1:1"),
            "{name}: the reason names the host: {reason}"
        );
        assert!(
            !reason.contains("hunter2"),
            "{name}: the reason leaks the password: {reason}"
        );
    }
}

#[tokio::test]
async fn a_source_that_never_answers_times_out_at_connect_timeout() {
    // Accepts TCP connections and never says a word, like a firewall black hole.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let settings = format!("sources:\n  hole: {{ url: \"postgres://u:pw-secret@127.0.0.1:{port}/x\", connect_timeout: 2s }}\n");
    let checks = "defaults: { source: hole }\nchecks:\n  - name: stuck\n    row_count: { table: t, error_below: 1 }\n";
    let f = Fixture::new(&settings, &[("hole.yaml", checks)]);
    let (report, got) = run_all(f.plan()).await;
    assert_eq!(got["stuck"].verdict, Verdict::Error);
    let reason = got["stuck"].reason.as_deref().unwrap();
    assert!(reason.contains("within connect_timeout 2s"), "{reason}");
    // Regression: the verdict took twice connect_timeout (a second, diagnostic connect).
    assert!(
        report.duration < std::time::Duration::from_millis(3500),
        "bounded by the connect timeout, not twice it: {:?}",
        report.duration
    );
}
