//! Bounded and independent: `http_concurrency` caps HTTP checks in flight, and one slow source
//! never holds back another source's checks.

mod common;

use common::http_server::{self, Answer};
use common::{run_all, Fixture, PG_URL};
use std::time::Duration;
use syncwatch::verdict::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_concurrency_caps_the_requests_in_flight() {
    let server = http_server::start(vec![(
        "/slow",
        Answer {
            status: 200,
            body: "{}".into(),
            delay: Duration::from_millis(400),
        },
    )])
    .await;
    let mut checks = String::from("checks:\n");
    for i in 0..8 {
        checks.push_str(&format!(
            "  - name: h{i}\n    http: {{ url: \"{}/slow\" }}\n",
            server.base
        ));
    }
    let f = Fixture::new("http_concurrency: 3\n", &[("h.yaml", &checks)]);
    let (report, got) = run_all(f.plan()).await;
    assert!(got.values().all(|o| o.verdict == Verdict::Pass), "{got:?}");
    // Each request is in flight from its arrival for the 400 ms of its answer.
    let arrivals: Vec<std::time::Instant> =
        server.seen.lock().unwrap().iter().map(|s| s.at).collect();
    assert_eq!(arrivals.len(), 8);
    let busy = Duration::from_millis(400);
    let most = arrivals
        .iter()
        .map(|a| {
            arrivals
                .iter()
                .filter(|b| *b <= a && **b + busy > *a)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(
        most, 3,
        "at most (and, with 8 waiting, exactly) 3 in flight"
    );
    assert!(
        report.duration >= Duration::from_millis(1200),
        "8 requests of 400 ms three at a time take three rounds: {:?}",
        report.duration
    );
}

#[tokio::test]
async fn a_slow_source_never_holds_back_another() {
    if common::pg().await.is_none() {
        return;
    }
    // `slow`: one connection, two checks of 2 s each. `fast`: twenty quick SQLite checks.
    let settings = format!(
        "sources:\n  slow: {{ url: \"{PG_URL}\", max_connections: 1 }}\n  fast: {{ url: \"sqlite:partner.db\", max_connections: 2 }}\n"
    );
    let mut checks = String::from("checks:\n");
    for i in 0..2 {
        checks.push_str(&format!(
            "  - name: slow{i}\n    source: slow\n    sql: {{ query: \"SELECT 1 FROM pg_sleep(2)\", error_if: \"!= 1\" }}\n"
        ));
    }
    for i in 0..20 {
        checks.push_str(&format!(
            "  - name: fast{i:02}\n    source: fast\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n"
        ));
    }
    let f = Fixture::new(&settings, &[("c.yaml", &checks)]);
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now'));",
    )
    .await;
    let (report, got) = run_all(f.plan()).await;
    assert!(got.values().all(|o| o.verdict == Verdict::Pass), "{got:?}");
    let names: Vec<String> = f.plan().checks.iter().map(|c| c.name.clone()).collect();
    let start = report.started_at;
    let mut slow_starts = Vec::new();
    for r in &report.results {
        let after = (r.started_at - start).to_std().unwrap_or_default();
        if names[r.index].starts_with("fast") {
            assert!(
                after < Duration::from_secs(1),
                "{} started {after:?} into the pass, behind the slow source",
                names[r.index]
            );
        } else {
            slow_starts.push(after);
        }
    }
    slow_starts.sort();
    assert!(
        slow_starts[1] >= Duration::from_millis(1900),
        "the slow source's own cap (one connection) runs its checks one after another: {slow_starts:?}"
    );
}
