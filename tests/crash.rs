//! A crash at any point loses no page and pages no open incident twice: real `syncwatch run`
//! processes are killed (abort at a failpoint, or SIGKILL mid-request) and started again.

mod common;

use common::contracts::{PagerDuty, PD_KEY};
use common::Fixture;
use std::sync::Arc;
use std::time::Duration;

async fn setup() -> (Fixture, Arc<PagerDuty>) {
    let (pd, pd_url) = PagerDuty::start().await;
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"sqlite:state.db\" }}\noutbox_lease: 1s\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n  pagerduty: {{ type: pagerduty, routing_key: \"{PD_KEY}\", base_url: \"{pd_url}\" }}\n"
        ),
        &[("p.yaml", "checks:\n  - name: stale\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: pagerduty }\n")],
    );
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));",
    )
    .await;
    (f, pd)
}

fn run(f: &Fixture, failpoint: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"));
    cmd.args(["run", "--all", "--config"])
        .arg(f.settings_path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(fp) = failpoint {
        cmd.env("SYNCWATCH_FAILPOINT", fp);
    }
    cmd
}

async fn pending(f: &Fixture) -> i64 {
    let app = syncwatch::app::App::build(f.plan()).await.unwrap();
    let (n, _) = app.store.outbox_backlog().await.unwrap();
    app.close().await;
    n
}

#[tokio::test]
async fn killed_after_the_state_change_the_page_is_delivered_by_the_next_run() {
    let (f, pd) = setup().await;
    let status = run(&f, Some("after_state_change")).status().await.unwrap();
    assert!(!status.success(), "the process crashed");
    assert!(
        pd.script.requests().is_empty(),
        "nothing was sent before the crash"
    );
    assert_eq!(pending(&f).await, 1, "the page waits in the outbox");
    assert!(run(&f, None).status().await.unwrap().success());
    assert!(run(&f, None).status().await.unwrap().success());
    assert_eq!(pd.triggers().len(), 1, "delivered exactly once");
    assert_eq!(*pd.opened.lock().unwrap(), 1);
    assert_eq!(pending(&f).await, 0);
}

#[tokio::test]
async fn killed_before_marking_delivered_the_redelivery_opens_no_second_incident() {
    let (f, pd) = setup().await;
    assert!(!run(&f, Some("before_mark_delivered"))
        .status()
        .await
        .unwrap()
        .success());
    assert_eq!(
        pd.triggers().len(),
        1,
        "the page reached PagerDuty before the crash"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await; // the dead dispatcher's lease runs out
    assert!(run(&f, None).status().await.unwrap().success());
    let triggers = pd.triggers();
    assert_eq!(
        triggers.len(),
        2,
        "redelivered, since it was not marked delivered"
    );
    assert_eq!(
        triggers[0]["dedup_key"], triggers[1]["dedup_key"],
        "with the same dedup key"
    );
    assert_eq!(
        *pd.opened.lock().unwrap(),
        1,
        "so PagerDuty keeps one open incident"
    );
    assert_eq!(pending(&f).await, 0);
}

#[tokio::test]
async fn killed_during_delivery_the_page_is_delivered_once_by_the_next_run() {
    let (f, pd) = setup().await;
    *pd.script.delay.lock().unwrap() = Duration::from_secs(3);
    let mut child = run(&f, None).spawn().unwrap();
    common::eventually(20, || async {
        (!pd.script.requests().is_empty()).then_some(())
    })
    .await
    .expect("the request is in flight");
    child.start_kill().unwrap(); // SIGKILL
    assert!(!child.wait().await.unwrap().success());
    *pd.script.delay.lock().unwrap() = Duration::ZERO;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the dead dispatcher's lease runs out
    assert!(run(&f, None).status().await.unwrap().success());
    tokio::time::sleep(Duration::from_secs(3)).await; // let the first, slow request finish on the server
    assert_eq!(*pd.opened.lock().unwrap(), 1, "one open incident");
    assert_eq!(pending(&f).await, 0);
}
