//! Several `syncwatch serve` replicas on one PostgreSQL store share the checks: each due run is
//! claimed once, and a replica killed mid-work has its runs taken over within the lease.

mod common;

use common::{serve, unique, Fixture};
use sqlx::{Connection, Executor, PgConnection};
use std::collections::BTreeMap;
use std::time::Duration;

const CHECKS: usize = 200;

#[tokio::test]
async fn three_replicas_run_every_due_run_once_and_survive_a_kill() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let db = unique("sw_replicas");
    pg.execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let store = format!("postgres://postgres@127.0.0.1:5432/{db}");

    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"{store}\" }}\nrun_lease: 3s\nsources:\n  p: {{ url: \"sqlite:partner.db\", max_connections: 4 }}\n\
             notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n"
        ),
        &[],
    );
    common::sqlite_partner(&f.path().join("partner.db"), "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now')); CREATE TABLE old (ts TEXT); INSERT INTO old VALUES (datetime('now', '-1 day'));").await;
    let mut checks =
        String::from("defaults: { source: p, schedule: \"*/2 * * * * *\" }\nchecks:\n");
    for i in 0..CHECKS - 1 {
        checks.push_str(&format!(
            "  - name: c{i:03}\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n"
        ));
    }
    // Stale on every run of every replica: paged once, never again while the incident is open.
    checks.push_str("  - name: stale\n    freshness: { table: old, column: ts, error_after: 1h }\n    on_failure: { page: ops }\n");
    std::fs::write(f.path().join("checks/c.yaml"), checks).unwrap();

    let replicas: Vec<_> = (0..3)
        .map(|_| serve(&f.settings_path(), &["--watch-interval", "0s"]))
        .collect();
    tokio::time::sleep(Duration::from_secs(9)).await;
    let mut replicas = replicas.into_iter();
    let (mut killed, _) = replicas.next().unwrap();
    killed.0.kill().unwrap(); // SIGKILL: no drain, no goodbye
    killed.0.wait().unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await; // beyond the 3 s lease
    for (mut r, _) in replicas {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &r.0.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert_eq!(r.0.wait().unwrap().code(), Some(0));
    }

    let mut s = PgConnection::connect(&store).await.unwrap();
    let claims: Vec<(String, chrono::DateTime<chrono::Utc>, bool, bool)> = sqlx::query_as(
        "SELECT check_name, due_at, done_at IS NOT NULL, owner LIKE '% (skipped)' FROM run_claims ORDER BY check_name, due_at",
    )
    .fetch_all(&mut s)
    .await
    .unwrap();
    let runs: Vec<(String, i64)> =
        sqlx::query_as("SELECT check_name, COUNT(*) FROM runs GROUP BY check_name")
            .fetch_all(&mut s)
            .await
            .unwrap();
    let owners: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT owner) FROM run_claims")
        .fetch_one(&mut s)
        .await
        .unwrap();
    assert!(
        owners >= 2,
        "the replicas shared the runs ({owners} owners)"
    );
    let pages: Vec<_> = hook
        .requests()
        .into_iter()
        .filter(|r| r.json()["event"] == "page")
        .collect();
    assert_eq!(
        pages.len(),
        1,
        "one page for the stale check across three replicas: {pages:?}"
    );
    s.close().await.unwrap();
    pg.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();

    let mut by_check: BTreeMap<String, Vec<chrono::DateTime<chrono::Utc>>> = BTreeMap::new();
    let mut skipped_by_check: BTreeMap<String, i64> = BTreeMap::new();
    for (name, due, done, skipped) in &claims {
        assert!(
            done,
            "{name} due {due}: every claimed run finished, on its replica or another"
        );
        by_check.entry(name.clone()).or_default().push(*due);
        // A tick whose claimant was still running the check skips it, by design (no overlap).
        *skipped_by_check.entry(name.clone()).or_default() += i64::from(*skipped);
    }
    let skipped: i64 = skipped_by_check.values().sum();
    assert!(
        skipped * 20 <= claims.len() as i64,
        "few ticks skipped for overlap ({skipped} of {})",
        claims.len()
    );
    assert_eq!(by_check.len(), CHECKS, "every check ran");
    let runs: BTreeMap<String, i64> = runs.into_iter().collect();
    let mut repeated = 0;
    for (name, dues) in &by_check {
        // No lost run: consecutive fire times, two seconds apart, from the first to the last.
        for pair in dues.windows(2) {
            assert_eq!(
                (pair[1] - pair[0]).num_seconds(),
                2,
                "{name}: a fire time is missing between {} and {}",
                pair[0],
                pair[1]
            );
        }
        assert!(dues.len() >= 6, "{name} ran {} times in 18 s", dues.len());
        // Each due run once; only a run the killed replica had recorded but not marked done may repeat.
        let extra = runs[name] - (dues.len() as i64 - skipped_by_check[name]);
        assert!(
            (0..=1).contains(&extra),
            "{name}: {} runs for {} due times",
            runs[name],
            dues.len()
        );
        repeated += extra;
    }
    assert!(
        repeated <= CHECKS as i64 / 3 + 10,
        "only runs in flight on the killed replica repeat ({repeated})"
    );
    eprintln!(
        "{} due runs over {} checks, {owners} owners, {repeated} repeated after the kill",
        claims.len(),
        CHECKS
    );
}
