//! Several `syncwatch serve` replicas on one PostgreSQL store share the checks: each due run is
//! claimed once, and a replica killed mid-work has its runs taken over within the lease.

mod common;

use common::{serve, Fixture};
use sqlx::{Connection, Executor, PgConnection};
use std::collections::BTreeMap;
use std::time::Duration;

const CHECKS: usize = 200;
const SLOW: usize = 6;

type At = chrono::DateTime<chrono::Utc>;

// Multi-threaded: the slow HTTP service must answer while this thread waits for a replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_run_every_due_run_once_and_survive_a_kill() {
    let Some((mut pg, db, store)) = common::pg_store("sw_replicas").await else {
        return;
    };

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
    // Slow checks (an HTTP service answering in 0.8 s): the kill finds runs in flight, which
    // the other replicas must take over or see superseded, never run twice at once.
    let slow = common::http_server::start(vec![(
        "/slow",
        common::http_server::Answer {
            status: 200,
            body: "{}".into(),
            delay: Duration::from_millis(800),
        },
    )])
    .await;
    for i in 0..SLOW {
        checks.push_str(&format!(
            "  - name: slow{i}\n    http: {{ url: \"{}/slow\", timeout: 2s }}\n",
            slow.base
        ));
    }
    // Stale on every run of every replica: paged once, never again while the incident is open.
    checks.push_str("  - name: stale\n    freshness: { table: old, column: ts, error_after: 1h }\n    on_failure: { page: ops }\n");
    std::fs::write(f.path().join("checks/c.yaml"), checks).unwrap();

    let replicas: Vec<_> = (0..3)
        .map(|_| serve(&f.settings_path(), &["--watch-interval", "0s"]))
        .collect();
    // Every replica is listening (its scheduler started): the window opens.
    let opened = chrono::Utc::now();
    // Kill 0.4 s after a fire time, some 9 s in: the slow checks are then mid-run.
    let kill_at = {
        let t = opened + chrono::Duration::seconds(9);
        let even = t.timestamp() - t.timestamp().rem_euclid(2) + 2;
        chrono::DateTime::from_timestamp(even, 400_000_000).unwrap()
    };
    tokio::time::sleep((kill_at - chrono::Utc::now()).to_std().unwrap()).await;
    // The replica to kill: one running a slow check now.
    let mut s = PgConnection::connect(&store).await.unwrap();
    let busy: String = sqlx::query_scalar(
        "SELECT owner FROM run_claims WHERE done_at IS NULL AND check_name LIKE 'slow%' LIMIT 1",
    )
    .fetch_one(&mut s)
    .await
    .expect("a slow check in flight 0.4 s after its fire time");
    let mut replicas = replicas;
    let at = replicas
        .iter()
        .position(|r| busy.ends_with(&format!("/{}", r.0 .0.id())))
        .expect("the owner is one of the replicas");
    let (mut killed, _) = replicas.remove(at);
    let killed_pid = killed.0.id();
    killed.0.kill().unwrap(); // SIGKILL: no drain, no goodbye
    killed.0.wait().unwrap();
    // What it had claimed and not finished, read before the 3 s lease lets others take it.
    let orphans: Vec<(String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT check_name, due_at, lease_until FROM run_claims WHERE owner LIKE $1 AND done_at IS NULL",
    )
    .bind(format!("%/{killed_pid}"))
    .fetch_all(&mut s)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await; // beyond the 3 s lease
    let closed = chrono::Utc::now();
    for (mut r, _) in replicas {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &r.0.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        assert_eq!(r.0.wait().unwrap().code(), Some(0));
    }

    // (check, due, done, skipped, superseded)
    let claims: Vec<(String, At, bool, bool, bool)> = sqlx::query_as(
        "SELECT check_name, due_at, done_at IS NOT NULL, owner LIKE '% (skipped)', owner LIKE '% (superseded)', owner, done_at \
         FROM run_claims ORDER BY check_name, due_at",
    )
    .fetch_all(&mut s)
    .await
    .unwrap();
    // Each recorded run as (check, start, end): a check never runs twice at once.
    let runs: Vec<(String, chrono::DateTime<chrono::Utc>, i64)> = sqlx::query_as(
        "SELECT check_name, started_at, duration_ms FROM runs ORDER BY check_name, started_at",
    )
    .fetch_all(&mut s)
    .await
    .unwrap();
    let owners: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT owner) FROM run_claims")
        .fetch_one(&mut s)
        .await
        .unwrap();
    assert!(
        !orphans.is_empty(),
        "the kill found runs in flight (the slow checks)"
    );
    assert!(
        owners >= 2,
        "the replicas shared the runs ({owners} owners)"
    );
    let pages: Vec<_> = hook
        .accepted()
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
    let mut superseded = 0;
    let mut not_run: BTreeMap<String, i64> = BTreeMap::new();
    // The replicas start one after another on two cores: until each has been up for a tick,
    // a first run may still be going at the next fire time.
    let warm = opened + chrono::Duration::seconds(2);
    for (name, due, done, skipped, gone) in &claims {
        assert!(
            done,
            "{name} due {due}: every claimed run finished, on its replica or another"
        );
        // While the replicas were still starting (one listening while the next parsed its
        // configuration on two cores), a first run can be slow enough to skip a tick; once
        // all are up, none is.
        // A run the killed replica left unfinished holds its check until the lease expires:
        // those ticks are skipped (a check never runs twice at once), and no others.
        let held = orphans.iter().any(|o| o.0 == *name && *due < o.2);
        assert!(
            !skipped || *due < warm || held,
            "{name} due {due}: no fire time skipped (all listening at {opened})"
        );
        if *skipped || *gone {
            *not_run.entry(name.clone()).or_default() += 1;
        }
        if *gone {
            assert!(
                orphans.iter().any(|o| o.0 == *name && o.1 == *due),
                "{name} due {due}: only a run orphaned by the kill is superseded"
            );
            superseded += 1;
        }
        by_check.entry(name.clone()).or_default().push(*due);
    }
    assert_eq!(by_check.len(), CHECKS + SLOW, "every check ran");
    let mut runs_by_check: BTreeMap<&str, Vec<(chrono::DateTime<chrono::Utc>, i64)>> =
        BTreeMap::new();
    for (name, at, ms) in &runs {
        runs_by_check.entry(name).or_default().push((*at, *ms));
    }
    let two = chrono::Duration::seconds(2);
    let mut repeated = 0;
    for (name, dues) in &by_check {
        // The whole window is covered: from the first fire time after the replicas started to
        // the last before they stopped, every fire time two seconds apart, none missing.
        assert!(
            dues[0] <= opened + two && *dues.last().unwrap() >= closed - two - two,
            "{name}: fire times {} to {} do not cover {opened} to {closed}",
            dues[0],
            dues.last().unwrap()
        );
        for pair in dues.windows(2) {
            assert_eq!(
                (pair[1] - pair[0]).num_seconds(),
                2,
                "{name}: a fire time is missing between {} and {}",
                pair[0],
                pair[1]
            );
        }
        let ran = &runs_by_check[name.as_str()];
        for pair in ran.windows(2) {
            let end = pair[0].0 + chrono::Duration::milliseconds(pair[0].1);
            assert!(
                pair[1].0 >= end,
                "{name}: a run started at {} while the one from {} was still going\nruns: {ran:#?}\nclaims: {:#?}\norphans: {orphans:?}",
                pair[1].0,
                pair[0].0,
                claims.iter().filter(|c| c.0 == *name).collect::<Vec<_>>()
            );
        }
        // Each due run once; only a run the killed replica had claimed and not finished may
        // repeat (it may have recorded the run before it died), once.
        let due_runs = dues.len() as i64 - not_run.get(name).copied().unwrap_or(0);
        let extra = ran.len() as i64 - due_runs;
        let orphaned = orphans.iter().filter(|o| o.0 == *name).count() as i64;
        assert!(
            (0..=orphaned).contains(&extra),
            "{name}: {} runs for {due_runs} due times run ({orphaned} orphaned by the kill)",
            ran.len()
        );
        repeated += extra;
    }
    eprintln!(
        "{} due runs over {} checks, {owners} owners, {} orphaned by the kill ({superseded} superseded), {repeated} recorded by the killed replica before it died",
        claims.len(),
        CHECKS + SLOW,
        orphans.len()
    );
}
