//! The daemon's HTTP surface as Kubernetes, Prometheus and a script see it: liveness and
//! readiness (503 once the store stops answering), the incident API's refusals (no note, an
//! unknown id, no token configured), and the silenced, blocked, on-call and unacknowledged
//! gauges on a real scrape.

mod common;

use common::contracts::Slack;
use common::{api, eventually, get, serve, Fixture};
use sqlx::Executor;

const TOKEN: &str = "api-token-0123456789";

fn settings(store: &str, slack_url: &str, api: &str) -> String {
    format!(
        "store: {{ url: \"{store}\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
         \x20 members: [ {{ name: dana, slack: U0DANA }}, {{ name: eli, slack: U0ELI }} ]\n\
         \x20 overrides: [ {{ member: dana, from: \"2000-01-01 00:00\", until: \"2100-01-01 00:00\" }} ]\n\
         silences: [ {{ check: quiet, from: 2000-01-01T00:00:00Z, until: 2100-01-01T00:00:00Z, reason: partner maintenance }} ]\n\
         {api}"
    )
}

const CHECKS: &str = "defaults: { source: p, schedule: \"0 0 1 1 *\", on_failure: { page: slack } }\nchecks:\n\
    \x20 - name: stale\n    freshness: { table: t, column: ts, error_after: 1h }\n\
    \x20 - name: quiet\n    freshness: { table: t, column: ts, error_after: 1h }\n\
    \x20 - name: downstream\n    depends_on: [stale]\n    freshness: { table: t, column: ts, error_after: 1h }\n";

async fn partner(f: &Fixture) {
    common::sqlite_partner(
        &f.path().join("partner.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));",
    )
    .await;
}

/// The value of one sample line in a scrape, found by its name and label text.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_incident_api_refusals_and_readyz_when_the_store_goes_away() {
    let Some((mut pg, db, store)) = common::pg_store("sw_api").await else {
        return;
    };
    let (slack, slack_url) = Slack::start().await;
    let f = Fixture::new(
        &settings(&store, &slack_url, &format!("api: {{ token: {TOKEN} }}\n")),
        &[("c.yaml", CHECKS)],
    );
    partner(&f).await;
    let (_daemon, base) = serve(&f.settings_path(), &[]);

    assert_eq!(get(&format!("{base}/healthz")).await, (200, "ok\n".into()));
    assert_eq!(get(&format!("{base}/readyz")).await.0, 200);

    // Never-run checks run at start: stale pages, quiet is silenced, downstream is blocked.
    let incident = eventually(20, || async {
        let (_, list) = api("GET", &format!("{base}/api/incidents"), None, "").await;
        list["incidents"].as_array()?.first().cloned()
    })
    .await
    .expect("the stale check opened an incident");
    assert_eq!(incident["check"], "stale");
    let metrics = eventually(10, || async {
        let (_, m) = get(&format!("{base}/metrics")).await;
        sample(&m, "syncwatch_incidents_unacknowledged", &[])
            .is_some_and(|v| v == 1.0)
            .then_some(m)
    })
    .await
    .expect("one unacknowledged incident");
    assert_eq!(
        sample(&metrics, "syncwatch_check_silenced", &["check=\"quiet\""]),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "syncwatch_check_silenced", &["check=\"stale\""]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "syncwatch_check_blocked",
            &["check=\"downstream\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "syncwatch_check_blocked", &["check=\"quiet\""]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "syncwatch_oncall_info",
            &["member=\"dana\"", "role=\"prog_lead\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "syncwatch_oncall_info",
            &["member=\"eli\"", "role=\"secondary\""]
        ),
        Some(1.0)
    );
    let pages: Vec<String> = slack
        .texts()
        .into_iter()
        .filter(|t| t.contains("quiet") || t.contains("downstream"))
        .collect();
    assert!(
        pages.is_empty(),
        "silenced and blocked checks sent nothing: {pages:?}"
    );

    // Refusals: a resolve without a note is 400, an unknown incident 404; nothing changes.
    let resolve = format!("{base}/api/incidents/1/resolve");
    let (code, body) = api("POST", &resolve, Some(TOKEN), r#"{"by":"dana"}"#).await;
    assert_eq!(code, 400, "{body}");
    let (code, _) = api("POST", &resolve, Some(TOKEN), "").await;
    assert_eq!(code, 400, "an empty body has no note either");
    for path in ["99/resolve", "99/ack", "99"] {
        let method = if path == "99" { "GET" } else { "POST" };
        let (code, body) = api(
            method,
            &format!("{base}/api/incidents/{path}"),
            Some(TOKEN),
            r#"{"note":"n","by":"dana"}"#,
        )
        .await;
        assert_eq!(code, 404, "{method} {path}: {body}");
    }
    let (_, shown) = api("GET", &format!("{base}/api/incidents/1"), None, "").await;
    assert_eq!(shown["status"], "open", "nothing changed: {shown}");

    // The store goes away: not ready (with the reason), still alive.
    pg.execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
        .await
        .unwrap();
    let (code, why) = eventually(10, || async {
        let r = get(&format!("{base}/readyz")).await;
        (r.0 == 503).then_some(r)
    })
    .await
    .expect("readyz answers 503 once the store does not answer");
    assert!(why.starts_with("not ready"), "{code} {why}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_api_token_every_change_is_refused() {
    let (_slack, slack_url) = Slack::start().await;
    let f = Fixture::new(
        &settings("sqlite:state.db", &slack_url, ""),
        &[("c.yaml", CHECKS)],
    );
    partner(&f).await;
    let (_daemon, base) = serve(&f.settings_path(), &[]);
    eventually(20, || async {
        let (_, list) = api("GET", &format!("{base}/api/incidents"), None, "").await;
        list["incidents"].as_array()?.first().cloned()
    })
    .await
    .expect("an incident to change");
    for (path, body) in [
        ("1/ack", r#"{"by":"dana"}"#),
        ("1/resolve", r#"{"note":"fixed","by":"dana"}"#),
    ] {
        for token in [None, Some(TOKEN)] {
            let (code, answer) =
                api("POST", &format!("{base}/api/incidents/{path}"), token, body).await;
            assert_eq!(code, 401, "{path} with {token:?}: {answer}");
        }
    }
    let (_, shown) = api("GET", &format!("{base}/api/incidents/1"), None, "").await;
    assert_eq!(shown["status"], "open", "nothing changed: {shown}");
    assert!(shown["acknowledged_by"].is_null(), "{shown}");
}
