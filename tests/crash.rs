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

/// The outbox rows as (event, delivered, given up), read straight from the state file.
async fn outbox(f: &Fixture) -> Vec<(String, bool, bool)> {
    use sqlx::Connection;
    let url = format!("sqlite://{}", f.path().join("state.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT event, delivered_at IS NOT NULL, gave_up_at IS NOT NULL FROM outbox ORDER BY id",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
    rows
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
    assert_eq!(outbox(&f).await, [("page".to_string(), true, false)]);
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
    assert_eq!(outbox(&f).await, [("page".to_string(), true, false)]);
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
    // Nothing waits because the redelivery was accepted, not because it was given up.
    let answers: Vec<u16> = pd
        .script
        .answered
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.1)
        .collect();
    assert_eq!(
        answers.len(),
        2,
        "the killed attempt and the redelivery: {answers:?}"
    );
    assert!(answers.iter().all(|s| *s == 202), "{answers:?}");
    assert_eq!(
        outbox(&f).await,
        [("page".to_string(), true, false)],
        "the page is marked delivered, not given up"
    );
}

/// Creating a Slack channel and a Statuspage incident is not idempotent: a crash after either
/// was made, before its id was stored, must not make a second one when the message is redelivered.
#[tokio::test]
async fn killed_after_creating_the_channel_and_the_statuspage_incident_neither_is_made_twice() {
    use common::contracts::{Slack, Statuspage, SLACK_PATH, SP_KEY, SP_PAGE};
    let (slack, slack_url) = Slack::start().await;
    let slack_api = slack_url.replace(SLACK_PATH, "/api");
    let (sp, sp_url) = Statuspage::start(&["cmp"]).await;
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"sqlite:state.db\" }}\noutbox_lease: 1s\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n\
             \x20 bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_api}\" }}\n\
             \x20 status: {{ type: statuspage, api_key: {SP_KEY}, page_id: {SP_PAGE}, base_url: \"{sp_url}\", components: {{ p: cmp }} }}\n\
             routes:\n  prog_lead: [status]\n\
             incidents:\n  call: {{ slack: bot }}\n"
        ),
        &[("p.yaml", "checks:\n  - name: stale\n    source: p\n    labels: { tier: critical }\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: prog_lead }\n")],
    );
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));",
    )
    .await;
    assert!(!run(&f, Some("after_channel_create"))
        .status()
        .await
        .unwrap()
        .success());
    let channels = slack.channels.lock().unwrap().clone();
    assert_eq!(channels.len(), 1, "the channel was made before the crash");
    let (name, id) = channels.into_iter().next().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // the dead dispatcher's lease runs out
    assert!(!run(&f, Some("after_statuspage_write"))
        .status()
        .await
        .unwrap()
        .success());
    assert_eq!(
        sp.incidents.lock().unwrap().len(),
        1,
        "the incident was made before the crash"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(run(&f, None).status().await.unwrap().success());

    assert_eq!(
        slack.channels.lock().unwrap().len(),
        1,
        "name_taken: the channel is reused"
    );
    let posts: Vec<String> = slack
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m["channel"] == name.as_str() || m["channel"] == id.as_str())
        .map(|m| m["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(posts.len(), 1, "the summary is posted once: {posts:?}");
    assert!(posts[0].starts_with("Incident called"), "{posts:?}");
    let incidents = sp.incidents.lock().unwrap().clone();
    assert_eq!(
        incidents.len(),
        1,
        "found in the unresolved list, not created again: {incidents:?}"
    );
    assert_eq!(sp.component("cmp"), "major_outage");
    assert_eq!(pending(&f).await, 0);
    let app = syncwatch::app::App::build(f.plan()).await.unwrap();
    let inc = app.store.incident(1).await.unwrap().unwrap();
    app.close().await;
    assert_eq!(
        inc.statuspage_id.as_deref(),
        Some("inc1"),
        "its id is kept for the resolve"
    );
}
