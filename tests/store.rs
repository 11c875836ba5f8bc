//! The state store keeps every run and per-check streaks, on SQLite and PostgreSQL, and
//! survives several `syncwatch run` processes writing at once.

mod common;

use chrono::{Duration, Utc};
use common::Fixture;
use sqlx::{Connection, Executor};
use syncwatch::app::App;
use syncwatch::pass::{self, Selection};
use syncwatch::verdict::Verdict;

/// A demo-like setup: one SQLite partner table that is fresh, one that is stale.
async fn fixture(store_url: &str) -> Fixture {
    let f = Fixture::new("", &[]);
    let db = f.path().join("partner.db");
    common::sqlite_partner(
        &db,
        "CREATE TABLE fresh (ts TEXT); INSERT INTO fresh VALUES (datetime('now', '-5 minutes'));
         CREATE TABLE stale (ts TEXT); INSERT INTO stale VALUES (datetime('now', '-2 days'));",
    )
    .await;
    std::fs::write(
        f.settings_path(),
        format!(
            "store: {{ url: \"{store_url}\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        f.path().join("checks/p.yaml"),
        "defaults: { source: p, schedule: \"*/15 * * * *\" }\nchecks:\n\
         \x20 - name: fresh\n    freshness: { table: fresh, column: ts, error_after: 1h }\n\
         \x20 - name: stale\n    freshness: { table: stale, column: ts, error_after: 1h }\n",
    )
    .unwrap();
    f
}

async fn streaks_accumulate(store_url: &str) {
    let f = fixture(store_url).await;
    let app = App::build(f.plan()).await.unwrap();
    let start = Utc::now();
    for _ in 0..3 {
        pass::run(app.clone(), &Selection::All, Utc::now())
            .await
            .unwrap();
    }
    let states = app.store.states().await.unwrap();
    let (fresh, stale) = (&states["fresh"], &states["stale"]);
    assert_eq!(
        (
            fresh.last_verdict,
            fresh.consecutive_passes,
            fresh.consecutive_failures
        ),
        (Verdict::Pass, 3, 0)
    );
    assert_eq!(
        (
            stale.last_verdict,
            stale.consecutive_passes,
            stale.consecutive_failures
        ),
        (Verdict::Fail, 0, 3)
    );
    assert!(fresh
        .last_success_at
        .is_some_and(|t| t >= start - Duration::seconds(1)));
    assert_eq!(stale.last_success_at, None);
    assert!(
        stale.verdict_since <= stale.last_run_at,
        "the streak started at the first failing run"
    );
    assert_eq!(app.store.run_count("stale").await.unwrap(), 3);

    // Due: nothing right after the runs; every check once the next quarter hour has passed.
    let last = states.values().map(|s| s.last_run_at).max().unwrap();
    let soon = pass::select(&app, &Selection::Due, last + Duration::seconds(1))
        .await
        .unwrap();
    let next_quarter = app.plan.checks[0].schedule.next_after(last).unwrap();
    let later = pass::select(&app, &Selection::Due, next_quarter)
        .await
        .unwrap();
    assert!(
        soon.is_empty() || next_quarter <= last + Duration::seconds(1),
        "{soon:?}"
    );
    assert_eq!(later, vec![0, 1]);
    app.close().await;
}

/// Runs `test` on a fresh PostgreSQL database (dropped after), or skips as `common::pg` says.
async fn on_postgres<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some((mut pg, db, url)) = common::pg_store(prefix).await else {
        return;
    };
    test(url).await;
    pg.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
}

#[tokio::test]
async fn sqlite_store_keeps_runs_and_streaks() {
    streaks_accumulate("sqlite:state/syncwatch.db").await;
}

#[tokio::test]
async fn postgres_store_keeps_runs_and_streaks() {
    on_postgres(
        "sw_store",
        |url| async move { streaks_accumulate(&url).await },
    )
    .await;
}

#[tokio::test]
async fn concurrent_run_processes_share_one_sqlite_store() {
    let f = fixture("sqlite:state.db").await;
    let children: Vec<_> = (0..6)
        .map(|_| {
            common::bin()
                .args(["run", "--all", "--format", "json", "--config"])
                .arg(f.settings_path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["summary"]["ran"], 2);
        assert_eq!(report["store_errors"].as_array().unwrap().len(), 0);
    }
    let app = App::build(f.plan()).await.unwrap();
    assert_eq!(app.store.run_count("stale").await.unwrap(), 6);
    assert_eq!(
        app.store.states().await.unwrap()["stale"].consecutive_failures,
        6,
        "no streak update was lost"
    );
    app.close().await;
}

#[tokio::test]
async fn runs_are_recorded_at_the_apps_clock_not_the_wall_clock() {
    // The clock is passed in: a virtual clock a year ago is what the run, its streaks and its
    // response read (real I/O needs real time here, so the virtual clock runs unpaused).
    let f = fixture("sqlite:state.db").await;
    let t0 = Utc::now() - Duration::days(365);
    let app = App::build_with_clock(f.plan(), syncwatch::clock::Clock::virtual_at(t0))
        .await
        .unwrap();
    pass::run(app.clone(), &Selection::All, app.clock.now())
        .await
        .unwrap();
    let states = app.store.states().await.unwrap();
    let runs = app.store.latest_runs().await.unwrap();
    app.close().await;
    for name in ["fresh", "stale"] {
        let started = runs[name].started_at;
        assert!(
            (started - t0).num_seconds().abs() < 5,
            "{name} recorded at {started}, not at the app's clock {t0}"
        );
        assert_eq!(states[name].last_run_at, started);
    }
}

/// Two replicas claim the same scheduler group of 1,203 checks (more than one claim
/// statement's worth) at once: each run is won by exactly one of them; a check whose earlier
/// run is still leased is claimed busy; finishing marks every claim done.
async fn group_claims_are_won_once(store_url: &str) {
    use syncwatch::store::{Claim, Finish};
    let f = fixture(store_url).await;
    let (a, b) = (
        App::build(f.plan()).await.unwrap(),
        App::build(f.plan()).await.unwrap(),
    );
    let now = Utc::now();
    let lease = now + Duration::seconds(60);
    let names: Vec<String> = (0..1203).map(|i| format!("g{i:04}")).collect();
    let mut reversed: Vec<&str> = names.iter().map(String::as_str).collect();
    reversed.reverse();
    let earlier = now - Duration::seconds(1);
    // g0007's run at the earlier fire time is still going (leased, not done).
    assert_eq!(
        a.store
            .claim_run("g0007", earlier, "a", now, lease)
            .await
            .unwrap(),
        Claim::Won
    );
    let forward: Vec<&str> = names.iter().map(String::as_str).collect();
    let (ca, cb) = tokio::join!(
        a.store.claim_runs(&forward, now, "a", now, lease),
        b.store.claim_runs(&reversed, now, "b", now, lease),
    );
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    let by_b: std::collections::HashMap<&str, Claim> =
        reversed.iter().copied().zip(cb.iter().copied()).collect();
    let mut busy = Vec::new();
    for (name, claim_a) in forward.iter().zip(&ca) {
        let claim_b = by_b[name];
        let winners = [claim_a, &claim_b]
            .iter()
            .filter(|c| ***c != Claim::Lost)
            .count();
        assert_eq!(winners, 1, "{name}: a {claim_a:?}, b {claim_b:?}");
        if *claim_a == Claim::Busy || claim_b == Claim::Busy {
            busy.push(*name);
        }
    }
    assert_eq!(busy, ["g0007"], "only the check still running is busy");
    a.store
        .finish_runs(&forward, now, Utc::now(), Finish::Ran)
        .await
        .unwrap();
    for name in ["g0000", "g0499", "g0500", "g1202"] {
        assert_eq!(a.store.claim_done(name, now).await.unwrap(), Some(true));
    }
    assert_eq!(
        b.store.claim_done("g0007", earlier).await.unwrap(),
        Some(false)
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn sqlite_group_claims_are_won_once() {
    group_claims_are_won_once("sqlite:state/syncwatch.db").await;
}

#[tokio::test]
async fn postgres_group_claims_are_won_once() {
    on_postgres("sw_claims", |url| async move {
        group_claims_are_won_once(&url).await
    })
    .await;
}

/// A replica died with runs claimed: those whose checks have a later fire time claimed are
/// marked superseded at once, without a fresh lease (which would keep their checks busy and
/// skip their next fire time); one with no later claim is left to be taken over and run, and
/// runs still leased or done are left alone.
async fn orphans_with_later_claims_are_superseded_at_once(store_url: &str) {
    use syncwatch::store::{Claim, Finish};
    let f = fixture(store_url).await;
    let app = App::build(f.plan()).await.unwrap();
    // Whole seconds: the claims' times come back exactly as written, on both stores.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
    let (t0, t1) = (now - Duration::seconds(20), now - Duration::seconds(10));
    let expired = now - Duration::seconds(1);
    let live = now + Duration::seconds(60);
    let claim = |check: &'static str, due, owner: &'static str, until| {
        let store = &app.store;
        async move {
            assert_eq!(
                store
                    .claim_run(check, due, owner, now, until)
                    .await
                    .unwrap(),
                Claim::Won
            );
        }
    };
    // The dead replica's runs at t0; later fire times claimed for two of the checks.
    claim("moved_on", t0, "dead", expired).await;
    claim("moved_on", t1, "alive", live).await;
    claim("alone", t0, "dead", expired).await;
    claim("leased", t0, "slow", live).await;
    app.store
        .claim_run("leased", t1, "alive", now, live)
        .await
        .unwrap();
    claim("finished", t0, "dead", expired).await;
    app.store
        .finish_run("finished", t0, now, Finish::Ran)
        .await
        .unwrap();
    claim("finished", t1, "alive", live).await;

    let gone = app.store.supersede_orphans(now).await.unwrap();
    assert_eq!(
        gone,
        [("moved_on".to_string(), t0)],
        "only the orphan that moved on"
    );
    assert_eq!(
        app.store.claim_done("moved_on", t0).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        app.store.claim_done("leased", t0).await.unwrap(),
        Some(false)
    );
    assert!(
        app.store.supersede_orphans(now).await.unwrap().is_empty(),
        "superseded once"
    );
    // What is left to take over: the orphan with no later claim.
    let taken = app
        .store
        .take_over_runs("alive", now, live, 100)
        .await
        .unwrap();
    assert_eq!(taken, [("alone".to_string(), t0)]);
    app.close().await;
}

#[tokio::test]
async fn sqlite_orphans_with_later_claims_are_superseded_at_once() {
    orphans_with_later_claims_are_superseded_at_once("sqlite:state/syncwatch.db").await;
}

#[tokio::test]
async fn postgres_orphans_with_later_claims_are_superseded_at_once() {
    on_postgres("sw_orphans", |url| async move {
        orphans_with_later_claims_are_superseded_at_once(&url).await
    })
    .await;
}

/// On SQLite the states are read as rows of JSON, a thousand states each (one hand-off from
/// SQLite's thread per thousand, not one per check): they read exactly what the row-by-row
/// read does, over several thousands (2,502 states: three rows), a check that never passed, a
/// time stored as `YYYY-MM-DD HH:MM:SS` and a name JSON escapes included, and no states as none.
#[tokio::test]
async fn sqlite_states_in_one_row_read_what_rows_read() {
    let f = fixture("sqlite:state.db").await;
    let app = App::build(f.plan()).await.unwrap();
    assert!(app.store.states().await.unwrap().is_empty());
    for _ in 0..2 {
        pass::run(app.clone(), &Selection::All, Utc::now())
            .await
            .unwrap();
    }
    let mut db =
        sqlx::SqliteConnection::connect(&format!("sqlite:{}", f.path().join("state.db").display()))
            .await
            .unwrap();
    db.execute(
        "UPDATE check_state SET verdict_since = '2026-01-02 03:04:05.5' WHERE check_name = 'stale'",
    )
    .await
    .unwrap();
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
         INSERT INTO check_state (check_name, last_verdict, verdict_since, consecutive_failures, \
         consecutive_passes, last_run_at, last_success_at) \
         SELECT 'bulk ' || i || CASE WHEN i = 7 THEN ' \"q\" \\ é' ELSE '' END, \
         CASE i % 3 WHEN 0 THEN 'fail' WHEN 1 THEN 'pass' ELSE 'warn' END, \
         '2026-11-0' || (1 + i % 9) || 'T10:00:00.' || i || '+00:00', i % 5, i % 7, \
         '2026-12-01T00:00:00+00:00', CASE WHEN i % 2 = 0 THEN NULL ELSE '2026-11-30T12:00:00Z' END FROM n",
    )
    .await
    .unwrap();
    let one_row = app.store.states().await.unwrap();
    let by_row = app.store.states_by_row().await.unwrap();
    assert_eq!(one_row.len(), 2502);
    assert_eq!(one_row, by_row);
    assert!(one_row.contains_key("bulk 7 \"q\" \\ é"));
    assert_eq!(one_row["stale"].last_success_at, None);
    assert!(one_row["fresh"].last_success_at.is_some());
    assert_eq!(
        one_row["stale"].verdict_since.to_rfc3339(),
        "2026-01-02T03:04:05.500+00:00"
    );
    app.close().await;
}

/// Recording many runs at once (two statements per 200) advances each check's streaks as
/// recording them one by one would, including two runs of one check in one batch (runs held
/// during a store outage) and batches larger than one statement.
async fn batched_recording_counts_like_one_by_one(store_url: &str) {
    use syncwatch::store::RunRecord;
    use syncwatch::verdict::{Observed, Outcome};
    let f = fixture(store_url).await;
    let app = App::build(f.plan()).await.unwrap();
    let at = Utc::now();
    let outcome = |v: Verdict| Outcome {
        verdict: v,
        observed: Observed::Nothing,
        reason: None,
    };
    let (fail, pass) = (outcome(Verdict::Fail), outcome(Verdict::Pass));
    let names: Vec<String> = (0..450).map(|i| format!("b{i:03}")).collect();
    let mut runs: Vec<RunRecord<'_>> = names
        .iter()
        .map(|n| RunRecord {
            warn_fails: false,
            check: n,
            started_at: at,
            duration: std::time::Duration::from_millis(1),
            outcome: &fail,
        })
        .collect();
    // b000 three more times in the same batch: fail, fail, then pass.
    for (k, o) in [&fail, &fail, &pass].into_iter().enumerate() {
        runs.push(RunRecord {
            warn_fails: false,
            check: &names[0],
            started_at: at + Duration::seconds(k as i64 + 1),
            duration: std::time::Duration::from_millis(1),
            outcome: o,
        });
    }
    let refs: Vec<&RunRecord<'_>> = runs.iter().collect();
    let mut tx = app.store.begin().await.unwrap();
    let states = tx.record_runs(&refs).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(states.len(), 453);
    assert!(states[..450]
        .iter()
        .all(|(s, k)| s.consecutive_failures == 1 && k.fails == 1));
    let b000: Vec<(i64, i64, u32)> = states[450..]
        .iter()
        .map(|(s, k)| (s.consecutive_failures, s.consecutive_passes, k.fails))
        .collect();
    assert_eq!(
        b000,
        [(2, 0, 2), (3, 0, 3), (0, 1, 0)],
        "in order, one by one"
    );
    assert_eq!(app.store.run_count("b000").await.unwrap(), 4);
    assert_eq!(app.store.run_count("b449").await.unwrap(), 1);
    let all = app.store.states().await.unwrap();
    assert_eq!(all["b000"].last_verdict, Verdict::Pass);
    assert_eq!(all["b449"].consecutive_failures, 1);
    app.close().await;
}

#[tokio::test]
async fn sqlite_batched_recording_counts_like_one_by_one() {
    batched_recording_counts_like_one_by_one("sqlite:state/syncwatch.db").await;
}

#[tokio::test]
async fn postgres_batched_recording_counts_like_one_by_one() {
    on_postgres("sw_batchrec", |url| async move {
        batched_recording_counts_like_one_by_one(&url).await
    })
    .await;
}

/// SQLite: while one write transaction is open, other writers wait for their turn without
/// holding pooled connections, so a read (the status page, a run claim) still gets one at
/// once instead of waiting for the writers.
#[tokio::test]
async fn sqlite_readers_find_a_connection_while_writers_wait_their_turn() {
    use syncwatch::store::RunRecord;
    use syncwatch::verdict::{Observed, Outcome};
    let f = fixture("sqlite:state/syncwatch.db").await;
    let app = std::sync::Arc::new(App::build(f.plan()).await.unwrap());
    let outcome = Outcome {
        verdict: Verdict::Pass,
        observed: Observed::Nothing,
        reason: None,
    };
    let record = |check: &'static str| RunRecord {
        warn_fails: false,
        check,
        started_at: Utc::now(),
        duration: std::time::Duration::from_millis(1),
        outcome: &outcome,
    };
    // The first writer holds the write lock (it wrote) and does not commit yet.
    let mut first = app.store.begin().await.unwrap();
    first.record_runs(&[&record("fresh")]).await.unwrap();
    // Six more writers (more than the pool's four connections) queue behind it.
    let mut writers = Vec::new();
    for _ in 0..6 {
        let app = std::sync::Arc::clone(&app);
        writers.push(tokio::spawn(async move {
            let outcome = Outcome {
                verdict: Verdict::Fail,
                observed: Observed::Nothing,
                reason: None,
            };
            let run = RunRecord {
                warn_fails: false,
                check: "stale",
                started_at: Utc::now(),
                duration: std::time::Duration::from_millis(1),
                outcome: &outcome,
            };
            let mut tx = app.store.begin().await.unwrap();
            tx.record_runs(&[&run]).await.unwrap();
            tx.commit().await.unwrap();
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), app.store.states()).await;
    assert!(
        read.is_ok(),
        "a read waited for the queued writers' connections"
    );
    first.commit().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(
        app.store.run_count("stale").await.unwrap(),
        6,
        "every writer wrote"
    );
}
