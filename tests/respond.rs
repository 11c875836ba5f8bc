//! When a check fails: restart, settle, re-check, page, resolve — end to end, with `syncwatch
//! run` as a CronJob would call it, a real PostgreSQL partner table, and local servers that
//! enforce the PagerDuty, Slack and Kubernetes contracts.

mod common;

use common::contracts::{Kube, PagerDuty, Slack, PD_KEY};
use common::{unique, Fixture, PG_URL};
use serde_json::Value;
use sqlx::{Executor, PgConnection};
use std::sync::Arc;
use std::time::Duration;

struct World {
    pg: PgConnection,
    schema: String,
    f: Fixture,
    pd: Arc<PagerDuty>,
    slack: Arc<Slack>,
    kube: Arc<Kube>,
}

const CHECK: &str = "van_contacts_sync";

async fn world(on_failure: &str, paused: bool) -> Option<World> {
    let mut pg = common::pg().await?;
    let schema = unique("sw_respond");
    pg.execute(format!("CREATE SCHEMA {schema}; CREATE TABLE {schema}.contacts (updated_at timestamptz); INSERT INTO {schema}.contacts VALUES (now());").as_str())
        .await
        .unwrap();
    let (pd, pd_url) = PagerDuty::start().await;
    let (slack, slack_url) = Slack::start().await;
    let (kube, kube_url) = Kube::start("syncs", "van-sync", paused).await;
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         drain_timeout: 20s\n\
         dashboard_url: https://grafana.example/d/syncs\n\
         sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
         notifiers:\n\
         \x20 pagerduty: {{ type: pagerduty, routing_key: \"{PD_KEY}\", base_url: \"{pd_url}\", change_events: true }}\n\
         \x20 slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         routes:\n  prog_lead: [pagerduty, slack]\n\
         kubernetes: {{ api_url: \"{kube_url}\", token: kube-test-token }}\n"
    );
    let checks = format!(
        "checks:\n  - name: {CHECK}\n    source: pg\n    runbook: https://runbooks.example/van\n\
         \x20   freshness: {{ table: {schema}.contacts, column: updated_at, error_after: 1h }}\n\
         \x20   on_failure:\n{on_failure}"
    );
    let f = Fixture::new(&settings, &[("van.yaml", &checks)]);
    Some(World {
        pg,
        schema,
        f,
        pd,
        slack,
        kube,
    })
}

impl World {
    async fn data_age(&mut self, hours: i64) {
        self.pg
            .execute(
                format!(
                    "UPDATE {}.contacts SET updated_at = now() - interval '{hours} hours'",
                    self.schema
                )
                .as_str(),
            )
            .await
            .unwrap();
    }

    /// One `syncwatch run --all`, as a CronJob tick; returns the check's JSON and the outbox summary.
    async fn run(&self) -> (Value, Value) {
        self.run_with(&["--all"]).await
    }

    /// One `syncwatch run` with these arguments; the check's JSON (null if it did not run).
    async fn run_with(&self, args: &[&str]) -> (Value, Value) {
        let doc = self.f.run_json(args).await;
        (doc["checks"][0].clone(), doc["outbox"].clone())
    }

    async fn cleanup(mut self) {
        let _ = self
            .pg
            .execute(format!("DROP SCHEMA {} CASCADE", self.schema).as_str())
            .await;
    }
}

/// A SQLite partner table whose newest row is three hours old.
const STALE_T: &str =
    "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));";

const RESTART: &str = "      restart: { kubernetes: { namespace: syncs, deployment: van-sync }, settle: 1s, cooldown: 1h }\n      page: prog_lead\n";

async fn settle() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test]
async fn cronjob_rechecks_an_hourly_check_once_settle_has_passed() {
    // Regression: `syncwatch run` (no --all) only ran checks whose cron fired, so an hourly
    // check restarted at :05 waited until the next hour for its re-check and its page.
    let Some(mut w) = world(RESTART, false).await else {
        return;
    };
    let checks = std::fs::read_to_string(w.f.path().join("checks/van.yaml")).unwrap();
    std::fs::write(
        w.f.path().join("checks/van.yaml"),
        checks.replace(
            "    source: pg\n",
            "    source: pg\n    schedule: \"0 * * * *\"\n",
        ),
    )
    .unwrap();
    w.data_age(7).await;
    let (c, _) = w.run_with(&[]).await; // never ran: due
    assert_eq!(c["response"], "restart", "{c}");
    let (c, _) = w.run_with(&[]).await; // settling, and the hour has not come
    assert_eq!(c, Value::Null, "not due yet: {c}");
    settle().await;
    let (c, outbox) = w.run_with(&[]).await;
    assert_eq!(c["response"], "page", "the re-check ran and paged: {c}");
    assert_eq!(outbox["pending"], 0);
    assert_eq!(w.pd.triggers().len(), 1);
    w.cleanup().await;
}

#[tokio::test]
async fn stale_then_restart_then_fresh_pages_nobody() {
    let Some(mut w) = world(RESTART, false).await else {
        return;
    };
    w.data_age(2).await;
    let (c, _) = w.run().await;
    assert_eq!(
        (c["verdict"].as_str(), c["response"].as_str()),
        (Some("fail"), Some("restart"))
    );
    let rollouts = w.kube.rollouts.lock().unwrap().clone();
    assert_eq!(rollouts.len(), 1, "one rollout restart was PATCHed");
    let change = w.pd.changes.lock().unwrap().clone();
    assert_eq!(
        change.len(),
        1,
        "the restart is recorded as a PagerDuty change event"
    );
    assert!(change[0]["payload"]["summary"]
        .as_str()
        .unwrap()
        .starts_with("syncwatch restarted kubernetes:syncs/van-sync"));

    w.data_age(0).await; // the restarted sync catches up
    settle().await;
    let (c, _) = w.run().await;
    assert_eq!(
        (c["verdict"].as_str(), c["response"].as_str()),
        (Some("pass"), Some("notice"))
    );
    assert!(w.pd.triggers().is_empty(), "no page");
    let texts = w.slack.texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("is fresh again after restarting kubernetes:syncs/van-sync at"),
        "{}",
        texts[0]
    );
    w.cleanup().await;
}

#[tokio::test]
async fn stale_after_restart_pages_once_then_resolves_when_fresh() {
    let Some(mut w) = world(RESTART, false).await else {
        return;
    };
    w.data_age(7).await;
    assert_eq!(w.run().await.0["response"], "restart");
    settle().await;
    let (c, outbox) = w.run().await;
    assert_eq!(c["response"], "page", "{c}");
    assert_eq!(outbox["pending"], 0);
    assert_eq!(*w.pd.opened.lock().unwrap(), 1);
    let page = &w.pd.triggers()[0];
    let summary = page["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "{CHECK}: data is 7h00m old (> error_after 1h), failing since "
        )),
        "{summary}"
    );
    assert!(
        summary.contains("restarted kubernetes:syncs/van-sync at")
            && summary.ends_with("still failing at the re-check"),
        "{summary}"
    );
    assert_eq!(page["payload"]["severity"], "critical");
    assert_eq!(page["dedup_key"], format!("syncwatch/{CHECK}/1"));
    assert_eq!(
        page["payload"]["custom_details"]["restart_target"],
        "kubernetes:syncs/van-sync"
    );
    assert_eq!(page["links"][0]["href"], "https://runbooks.example/van");
    assert_eq!(page["client_url"], "https://grafana.example/d/syncs");

    // Still stale: the open incident is not paged again.
    let (c, _) = w.run().await;
    assert_eq!(c["response"], Value::Null);
    assert_eq!(w.pd.triggers().len(), 1);

    w.data_age(0).await;
    let (c, _) = w.run().await;
    assert_eq!(c["response"], "resolve");
    assert_eq!(*w.pd.resolved.lock().unwrap(), 1);
    assert!(w.pd.open.lock().unwrap().is_empty());
    let resolved = w.slack.texts().last().cloned().unwrap();
    assert!(
        resolved.starts_with(&format!("Resolved: {CHECK} passes again after "))
            && resolved.contains("fixed by restarting kubernetes:syncs/van-sync"),
        "{resolved}"
    );
    assert_eq!(
        w.kube.rollouts.lock().unwrap().len(),
        1,
        "one restart in the whole episode"
    );
    w.cleanup().await;
}

#[tokio::test]
async fn flapping_data_pages_nothing_until_after() {
    let Some(mut w) = world("      after: 2\n      page: prog_lead\n", false).await else {
        return;
    };
    for hours in [2, 0, 2, 0, 2] {
        w.data_age(hours).await;
        assert_eq!(w.run().await.0["response"], Value::Null);
    }
    assert!(w.pd.triggers().is_empty());
    w.data_age(2).await;
    assert_eq!(
        w.run().await.0["response"],
        "page",
        "the second failure in a row pages"
    );
    w.cleanup().await;
}

#[tokio::test]
async fn a_silenced_check_runs_but_restarts_and_sends_nothing() {
    let Some(mut w) = world(RESTART, false).await else {
        return;
    };
    let out = common::bin()
        .args([
            "silence",
            CHECK,
            "--for",
            "1h",
            "--reason",
            "partner maintenance",
            "--config",
        ])
        .arg(w.f.settings_path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{CHECK} (1 check) until")));
    w.data_age(5).await;
    for _ in 0..2 {
        let (c, _) = w.run().await;
        assert_eq!(
            (c["verdict"].as_str(), c["response"].as_str()),
            (Some("fail"), Some("silenced: partner maintenance"))
        );
    }
    assert!(w.kube.rollouts.lock().unwrap().is_empty());
    assert!(
        w.pd.script.requests().is_empty() && w.slack.texts().is_empty(),
        "nothing was sent"
    );
    let list = common::bin()
        .args(["silence", "--list", "--config"])
        .arg(w.f.settings_path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("partner maintenance"));
    w.cleanup().await;
}

#[tokio::test]
async fn pagerduty_down_for_a_while_gets_the_page_once_when_it_returns() {
    let Some(mut w) = world("      page: prog_lead\n", false).await else {
        return;
    };
    w.pd.script.fail_with(&[500, 503, 429]);
    w.data_age(3).await;
    let (c, outbox) = w.run().await;
    assert_eq!(c["response"], "page");
    assert_eq!(
        outbox["pending"], 0,
        "delivered within drain_timeout: {outbox}"
    );
    assert!(outbox["retried"].as_u64().unwrap() >= 3, "{outbox}");
    assert_eq!(
        w.pd.script.requests().len(),
        4,
        "three refused attempts, then one accepted"
    );
    assert_eq!(*w.pd.opened.lock().unwrap(), 1);
    assert_eq!(w.pd.triggers().len(), 1, "one trigger accepted");
    // The contract server has checked the spacing: 2 s after the 500, 4 s after the 503,
    // 1 s (Retry-After) after the 429. Measured here too, so the promise is in view.
    let at: Vec<_> = w.pd.script.requests().iter().map(|r| r.at).collect();
    let gaps: Vec<_> = at.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(
        gaps[0] >= Duration::from_millis(1900)
            && gaps[1] >= Duration::from_millis(3900)
            && gaps[2] >= Duration::from_millis(900),
        "retries spaced by backoff and Retry-After: {gaps:?}"
    );
    w.cleanup().await;
}

#[tokio::test]
async fn a_paused_deployment_is_not_restarted_and_the_recheck_pages() {
    let Some(mut w) = world(RESTART, true).await else {
        return;
    };
    w.data_age(3).await;
    let (c, outbox) = w.run().await;
    assert_eq!(c["response"], "restart");
    assert_eq!(
        outbox["gave_up"], 1,
        "the paused Deployment is refused, not retried: {outbox}"
    );
    let methods: Vec<String> = w
        .kube
        .script
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(methods, ["GET"], "no PATCH of a paused Deployment");
    settle().await;
    assert_eq!(w.run().await.0["response"], "page");
    w.cleanup().await;
}

#[tokio::test]
async fn webhook_and_command_restarts_and_a_webhook_notifier() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new("", &[]);
    let marker = f.path().join("restarted-by-command");
    std::fs::write(
        f.settings_path(),
        format!(
            "store: {{ url: \"sqlite:state.db\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\", headers: {{ X-Token: \"${{SW_TEST_HOOK_TOKEN:-hook-secret}}\" }} }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        f.path().join("checks/p.yaml"),
        format!(
            "defaults: {{ source: p }}\nchecks:\n\
             \x20 - name: by_webhook\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n\
             \x20   on_failure:\n      restart: {{ webhook: {{ url: \"{hook_url}/restart\", body: '{{\"job\": \"van\"}}' }}, settle: 1s }}\n      page: ops\n\
             \x20 - name: by_command\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n\
             \x20   on_failure:\n      restart: {{ command: [touch, \"{}\"], settle: 1h }}\n",
            marker.display()
        ),
    )
    .unwrap();
    common::sqlite_partner(&f.path().join("partner.db"), STALE_T).await;
    let run = || async {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
            .args(["run", "--all", "--config"])
            .arg(f.settings_path())
            .output()
            .await
            .unwrap()
    };
    assert_eq!(run().await.status.code(), Some(0));
    assert!(marker.exists(), "the command ran");
    let restart = hook
        .requests()
        .into_iter()
        .find(|r| r.path == "/restart")
        .expect("the restart webhook was called");
    assert_eq!(
        (restart.method.as_str(), restart.json()["job"].as_str()),
        ("POST", Some("van"))
    );
    assert!(restart
        .headers
        .get("idempotency-key")
        .is_some_and(|k| k.starts_with("syncwatch/by_webhook/restart/")));
    settle().await;
    assert_eq!(run().await.status.code(), Some(0));
    let page = hook
        .requests()
        .into_iter()
        .find(|r| r.path == "/events")
        .expect("the page reached the webhook");
    assert_eq!(
        page.headers.get("x-token").map(String::as_str),
        Some("hook-secret")
    );
    let body = page.json();
    assert_eq!(body["event"], "page");
    assert_eq!(body["dedup_key"], "syncwatch/by_webhook/1");
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("restarted webhook:"),
        "{body}"
    );
}

#[tokio::test]
async fn a_restart_target_cools_down_for_every_check_and_dependents_stay_quiet() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let f = Fixture::new(
        &format!("store: {{ url: \"sqlite:state.db\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\nnotifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n"),
        &[(
            "p.yaml",
            "defaults:\n  source: p\n  on_failure: { restart: { command: [\"true\"], cooldown: 1h, settle: 1h }, page: ops }\n\
             checks:\n\
             \x20 - name: first\n    freshness: { table: t, column: ts, error_after: 1h }\n\
             \x20 - name: second\n    depends_on: []\n    freshness: { table: t, column: ts, error_after: 1h }\n\
             \x20 - name: downstream\n    depends_on: [first]\n    freshness: { table: t, column: ts, error_after: 1h }\n",
        )],
    );
    common::sqlite_partner(&f.path().join("partner.db"), STALE_T).await;
    let run = |only: &'static str| {
        let path = f.settings_path();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncwatch"))
                .args(["run", "--only", only, "--format", "json", "--config"])
                .arg(path)
                .output()
                .await
                .unwrap();
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
            doc["checks"][0]["response"].clone()
        }
    };
    assert_eq!(run("first").await, "restart");
    // Same target (command:true), restarted a moment ago by `first`: no second restart, a page.
    assert_eq!(run("second").await, "page");
    let page = hook
        .requests()
        .into_iter()
        .find(|r| r.json()["dedup_key"] == "syncwatch/second/1")
        .expect("second paged");
    assert!(
        page.json()["summary"]
            .as_str()
            .unwrap()
            .contains("restart of command:true skipped: in cooldown until"),
        "{}",
        page.body
    );
    // `first` is failing, so `downstream` pages nothing: one outage, one page.
    assert_eq!(
        run("downstream").await,
        "blocked: depends on first, which is failing"
    );
    assert!(hook
        .requests()
        .iter()
        .all(|r| !r.body.contains("syncwatch/downstream/")));
}

#[tokio::test]
async fn slack_bot_messages_are_checked_for_ok() {
    let (slack, webhook_url) = Slack::start().await;
    let api = webhook_url.replace(common::contracts::SLACK_PATH, "/api");
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"sqlite:state.db\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\nnotifiers:\n\
             \x20 bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{api}\" }}\n\
             \x20 wrong: {{ type: slack, bot_token: xoxb-test-token, channel: C0NOPE, base_url: \"{api}\" }}\n"
        ),
        &[("p.yaml", "defaults: { source: p }\nchecks:\n  - name: a\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: bot }\n  - name: b\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { page: wrong }\n")],
    );
    common::sqlite_partner(&f.path().join("partner.db"), STALE_T).await;
    let doc = f.run_json(&["--all"]).await;
    assert_eq!(doc["outbox"]["delivered"], 1, "{}", doc["outbox"]);
    assert_eq!(
        doc["outbox"]["gave_up"], 1,
        "channel_not_found is a refusal, not retried: {}",
        doc["outbox"]
    );
    assert!(slack.texts()[0].starts_with("a: data is 3h00m old"));
}

#[tokio::test]
async fn partner_text_in_a_page_cannot_ping_a_channel_or_hide_a_link_in_slack() {
    // Regression: a partner's value or error message went into Slack mrkdwn as it was, so
    // `<!channel>` notified the whole channel and `<https://…|Open runbook>` showed a disguised
    // link. syncwatch's own mention of the Prog Lead stays live.
    let (slack, webhook_url) = Slack::start().await;
    let f = Fixture::new(
        &format!(
            "store: {{ url: \"sqlite:state.db\" }}\nsources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
             notifiers:\n  slack: {{ type: slack, webhook_url: \"{webhook_url}\" }}\n\
             oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
             \x20 members: [ {{ name: ana, slack: U0ANA }} ]\n"
        ),
        &[("p.yaml", "checks:\n  - name: hostile\n    source: p\n    freshness: { table: t, column: ts, error_after: 1h }\n    on_failure: { error_after: 1, page: slack }\n")],
    );
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES ('<!channel> <https://evil.example|Open runbook> & more');",
    )
    .await;
    let doc = f.run_json(&["--all"]).await;
    assert_eq!(doc["checks"][0]["response"], "page", "{doc}");
    let sent = slack.messages.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let m = &sent[0];
    for text in [
        m["text"].as_str().unwrap(),
        m["blocks"][1]["text"]["text"].as_str().unwrap(),
    ] {
        assert!(
            text.contains("&lt;!channel&gt; &lt;https://evil.example|Open runbook&gt; &amp; more"),
            "{text}"
        );
        assert!(
            !text.contains("<!channel>") && !text.contains("<https://evil"),
            "{text}"
        );
        assert!(
            text.contains("<@U0ANA>"),
            "the Prog Lead is still mentioned: {text}"
        );
    }
}

#[tokio::test]
async fn a_kubernetes_restart_redelivered_patches_the_same_restarted_at_and_rolls_once() {
    let Some(mut w) = world(RESTART, false).await else {
        return;
    };
    // The first PATCH is applied but its answer is lost (500): the restart is redelivered.
    *w.kube.lose_answers.lock().unwrap() = 1;
    w.data_age(3).await;
    let (c, outbox) = w.run().await;
    assert_eq!(c["response"], "restart");
    assert_eq!(
        outbox["pending"], 0,
        "redelivered within the drain: {outbox}"
    );
    let patches: Vec<String> = w
        .kube
        .script
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| {
            r.json()["spec"]["template"]["metadata"]["annotations"]
                ["kubectl.kubernetes.io/restartedAt"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(patches.len(), 2, "patched, answer lost, patched again");
    assert_eq!(patches[0], patches[1], "the same restartedAt both times");
    assert_eq!(
        w.kube.rollouts.lock().unwrap().len(),
        1,
        "so the pods rolled once"
    );
    w.cleanup().await;
}
