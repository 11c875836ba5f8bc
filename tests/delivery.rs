//! "Exactly once" and "bounded" under slowness, with real `syncwatch run` processes on a real
//! PostgreSQL store and a local receiver that answers slowly or never: two dispatchers never send
//! a message twice, a hanging receiver cannot hold a run past `drain_timeout`, and it cannot
//! hold back another receiver's messages.

mod common;

use common::http_server::{self, Answer};
use common::{unique, Fixture, PG_URL};
use sqlx::Executor;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use syncwatch::app::App;
use syncwatch::notify::job::Job;
use syncwatch::store::NewJob;

/// A PostgreSQL store of its own, settings with webhook notifiers `slow` and `fast` at `base`,
/// and one HTTP check (to `base/ok`) so the configuration is complete.
async fn setup(base: &str, extra: &str) -> Option<(Fixture, String)> {
    let mut pg = common::pg().await?;
    let db = unique("sw_delivery");
    pg.execute(format!("CREATE DATABASE {db}").as_str())
        .await
        .unwrap();
    let store = PG_URL.replace("/test", &format!("/{db}"));
    let settings = format!(
        "store: {{ url: \"{store}\" }}\n{extra}\
         notifiers:\n  slow: {{ type: webhook, url: \"{base}/slow\" }}\n  fast: {{ type: webhook, url: \"{base}/fast\" }}\n"
    );
    let checks = format!("checks:\n  - name: api\n    http: {{ url: \"{base}/ok\" }}\n");
    Some((Fixture::new(&settings, &[("c.yaml", &checks)]), db))
}

/// Queues `n` pages for `notifier`, each with its own dedup key.
async fn enqueue(f: &Fixture, plan: &[(&str, usize)]) {
    let app = App::build(f.plan()).await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let now = chrono::Utc::now();
    for (notifier, n) in plan {
        for i in 0..*n {
            let key = format!("syncwatch/{notifier}/{i}");
            let job = Job::Webhook {
                body: serde_json::json!({ "event": "page", "summary": key }),
            };
            let row = NewJob {
                notifier,
                event: "page",
                dedup_key: &key,
                payload: job.to_json(),
            };
            tx.enqueue(now, "api", &row).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    app.close().await;
}

/// A `syncwatch run`, awaited without blocking the test's runtime (which serves the receiver).
fn run(f: &Fixture) -> tokio::process::Child {
    let mut cmd = common::bin();
    cmd.args(["run", "--all", "--format", "json", "--config"])
        .arg(f.settings_path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    tokio::process::Command::from(cmd).spawn().unwrap()
}

async fn drop_db(db: &str) {
    if let Some(mut pg) = common::pg().await {
        let _ = pg
            .execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
            .await;
    }
}

fn keys(server: &http_server::Server, path: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for s in server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == path)
    {
        let key = s
            .headers
            .get("idempotency-key")
            .cloned()
            .unwrap_or_default();
        *out.entry(key).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn two_replicas_with_a_slow_receiver_send_each_page_once() {
    // Regression: a dispatcher claimed a batch under one lease and delivered it one by one; with
    // 1.5 s answers the lease ran out mid-batch, the other replica took the rest, and pages went
    // out twice.
    let slow = Answer {
        status: 202,
        body: "{}".into(),
        delay: Duration::from_millis(1500),
    };
    let server = http_server::start(vec![("/slow", slow), ("/ok", http_server::ok("{}"))]).await;
    let Some((f, db)) = setup(&server.base, "outbox_lease: 2s\ndrain_timeout: 40s\n").await else {
        return;
    };
    enqueue(&f, &[("slow", 16)]).await;
    let (mut a, mut b) = (run(&f), run(&f));
    let (ra, rb) = (a.wait().await.unwrap(), b.wait().await.unwrap());
    let app = App::build(f.plan()).await.unwrap();
    let rows = app.store.outbox_rows("api").await.unwrap();
    app.close().await;
    drop_db(&db).await;
    assert!(ra.success() && rb.success(), "{ra} {rb}");
    let seen = keys(&server, "/slow");
    assert_eq!(seen.len(), 16, "every page arrived: {seen:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pages sent more than once: {twice:?}");
    assert!(
        rows.iter().all(|(_, _, _, delivered, _)| *delivered),
        "every row marked delivered: {rows:?}"
    );
}

#[tokio::test]
async fn a_hanging_receiver_cannot_hold_a_run_past_drain_timeout() {
    let hang = Answer {
        status: 202,
        body: "{}".into(),
        delay: Duration::from_secs(3600),
    };
    let server = http_server::start(vec![("/slow", hang), ("/ok", http_server::ok("{}"))]).await;
    let Some((f, db)) = setup(&server.base, "drain_timeout: 2s\n").await else {
        return;
    };
    enqueue(&f, &[("slow", 12)]).await;
    let started = Instant::now();
    let status = run(&f).wait().await.unwrap();
    let took = started.elapsed();
    let app = App::build(f.plan()).await.unwrap();
    let rows = app.store.outbox_rows("api").await.unwrap();
    let (pending, _) = app.store.outbox_backlog().await.unwrap();
    // Cancelled deliveries gave their claims back: a second run takes them at once.
    let who = syncwatch::store::Claimant {
        owner: "test",
        skip: &[],
    };
    let now = chrono::Utc::now();
    let again = app
        .store
        .outbox_claim(&who, now, now + chrono::Duration::seconds(60), 100)
        .await
        .unwrap();
    app.close().await;
    drop_db(&db).await;
    assert!(status.success(), "{status}");
    // Before: 12 × the 10 s request timeout, one after another (over two minutes).
    assert!(
        took < Duration::from_secs(10),
        "the run ended at its 2s drain_timeout, not {took:?}"
    );
    assert_eq!(pending, 12, "nothing was lost or given up: {rows:?}");
    assert_eq!(
        again.len(),
        12,
        "the cancelled deliveries' claims were released, not left to expire: {again:?}"
    );
    assert!(
        again.iter().all(|i| i.attempts == 0),
        "a cancelled delivery is not counted as an attempt"
    );
}

#[tokio::test]
async fn a_hanging_receiver_does_not_hold_back_another_receivers_pages() {
    let hang = Answer {
        status: 202,
        body: "{}".into(),
        delay: Duration::from_secs(3600),
    };
    let server = http_server::start(vec![
        ("/slow", hang),
        ("/fast", http_server::ok("{}")),
        ("/ok", http_server::ok("{}")),
    ])
    .await;
    let Some((f, db)) = setup(&server.base, "drain_timeout: 6s\n").await else {
        return;
    };
    // Interleaved: in id order, every fast page comes after a hanging one.
    enqueue(&f, &[("slow", 8), ("fast", 8)]).await;
    let started = Instant::now();
    let status = run(&f).wait().await.unwrap();
    drop_db(&db).await;
    assert!(status.success(), "{status}");
    let fast: Vec<Duration> = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path == "/fast")
        .map(|s| s.at.duration_since(started))
        .collect();
    assert_eq!(fast.len(), 8, "every fast page arrived during the run");
    // The hanging receiver held at most its own slots; the request timeout is 10 s.
    assert!(
        fast.iter().all(|t| *t < Duration::from_secs(5)),
        "fast pages waited behind the hanging receiver: {fast:?}"
    );
}

#[tokio::test]
async fn a_killed_dispatchers_claims_are_taken_over_at_once_by_its_successor() {
    // Regression: after a kill, the messages it had claimed waited the full outbox_lease.
    let slow = Answer {
        status: 202,
        body: "{}".into(),
        delay: Duration::from_millis(1500),
    };
    let server = http_server::start(vec![("/slow", slow), ("/ok", http_server::ok("{}"))]).await;
    let Some((f, db)) = setup(&server.base, "outbox_lease: 10m\ndrain_timeout: 20s\n").await else {
        return;
    };
    enqueue(&f, &[("slow", 6)]).await;
    let mut first = run(&f);
    // Wait until it is delivering (its claims are held), then kill it mid-request.
    common::eventually(10, || async {
        (server.seen.lock().unwrap().len() >= 2).then_some(())
    })
    .await
    .expect("the first run started delivering");
    first.kill().await.unwrap();
    let status = run(&f).wait().await.unwrap();
    let app = App::build(f.plan()).await.unwrap();
    let rows = app.store.outbox_rows("api").await.unwrap();
    app.close().await;
    drop_db(&db).await;
    assert!(status.success(), "{status}");
    assert!(
        rows.iter().all(|(_, _, _, delivered, _)| *delivered),
        "the successor delivered what the killed run had claimed, without waiting 10m: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_replicas_with_a_slow_receiver_send_each_page_once() {
    // The daemon's dispatcher, as the issue saw it: two `serve` replicas on one store, 24 pages
    // waiting, a receiver answering in 1.5 s, a lease shorter than the queue.
    let slow = Answer {
        status: 202,
        body: "{}".into(),
        delay: Duration::from_millis(1500),
    };
    let server = http_server::start(vec![("/slow", slow), ("/ok", http_server::ok("{}"))]).await;
    let Some((f, db)) = setup(&server.base, "outbox_lease: 2s\n").await else {
        return;
    };
    enqueue(&f, &[("slow", 24)]).await;
    let a = common::serve(&f.settings_path(), &["--watch-interval", "0s"]);
    let b = common::serve(&f.settings_path(), &["--watch-interval", "0s"]);
    let done = common::eventually(60, || async {
        (keys(&server, "/slow").len() >= 24).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await; // let any duplicate arrive
    drop((a, b));
    let app = App::build(f.plan()).await.unwrap();
    let rows = app.store.outbox_rows("api").await.unwrap();
    app.close().await;
    drop_db(&db).await;
    assert!(
        done.is_some(),
        "every page arrived: {:?}",
        keys(&server, "/slow")
    );
    let seen = keys(&server, "/slow");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pages sent more than once: {twice:?}");
    assert!(
        rows.iter().all(|(_, _, _, delivered, _)| *delivered),
        "every row marked delivered: {rows:?}"
    );
}
