//! Incidents from the command line, as a CronJob deployment uses them: `incidents list`, `ack`
//! and `resolve --note`, escalation between two runs when nobody acknowledged, a manual resolve
//! that starts a new episode, the API's read protection, and the status page in Chromium.

mod common;

use common::contracts::Slack;
use common::Fixture;
use serde_json::Value;

/// A SQLite partner table whose newest row is three hours old.
const STALE: &str = "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now', '-3 hours'));";

fn settings(slack_url: &str, extra: &str) -> String {
    format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
         \x20 members: [ {{ name: dana, slack: U0DANA }}, {{ name: eli, slack: U0ELI }} ]\n\
         \x20 overrides: [ {{ member: dana, from: \"2000-01-01 00:00\", until: \"2100-01-01 00:00\" }} ]\n\
         {extra}"
    )
}

const CHECKS: &str = "checks:\n  - name: stale\n    description: Partner contacts\n    source: p\n\
    \x20   labels: { partner: acme }\n\
    \x20   freshness: { table: t, column: ts, warn_after: 1h, error_after: 2h }\n\
    \x20   on_failure: { after: 1, page: slack }\n";

/// A command's exit code and everything it printed (stdout, then stderr).
fn cli(f: &Fixture, args: &[&str]) -> (i32, String) {
    let r = f.cli(args);
    (r.code, r.stdout + &r.stderr)
}

fn list(f: &Fixture, all: bool) -> Vec<Value> {
    let mut args = vec!["incidents", "list", "--format", "json"];
    if all {
        args.push("--all");
    }
    let (code, out) = cli(f, &args);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str::<Value>(&out).unwrap()["incidents"]
        .as_array()
        .unwrap()
        .clone()
}

// Multi-threaded: the CLI runs block this thread while the Slack server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_escalate_and_resolve_by_hand_between_cronjob_runs() {
    let (slack, slack_url) = Slack::start().await;
    let f = Fixture::new(
        &settings(&slack_url, "incidents: { ack_timeout: 1s }\n"),
        &[("c.yaml", CHECKS)],
    );
    common::sqlite_partner(&f.dir.path().join("partner.db"), STALE).await;

    let (code, out) = cli(&f, &["run", "--all"]);
    assert_eq!(code, 0, "{out}");
    let open = list(&f, false);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0]["check"].as_str(), open[0]["prog_lead"].as_str()),
        (Some("stale"), Some("dana"))
    );
    assert!(
        slack
            .texts()
            .iter()
            .any(|t| t.starts_with("Prog Lead: <@U0DANA> (dana): stale:")),
        "{:?} {out}",
        slack.texts()
    );

    let (code, out) = cli(&f, &["incidents", "ack", "1", "--by", "dana"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("incident #1 (stale) acknowledged by dana"),
        "{out}"
    );
    assert!(slack
        .texts()
        .iter()
        .any(|t| t.starts_with("Acknowledged by dana")));
    let (_, again) = cli(&f, &["incidents", "ack", "1", "--by", "eli"]);
    assert!(
        again.contains("acknowledged already; nothing changed"),
        "{again}"
    );
    assert_eq!(
        cli(&f, &["incidents", "ack", "99"]).0,
        2,
        "an unknown incident is an error"
    );

    // Resolved by hand while still stale: the next run starts a new episode and pages afresh.
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "resolve",
            "1",
            "--note",
            "partner paused the export",
            "--by",
            "dana",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(slack
        .texts()
        .iter()
        .any(|t| t.starts_with("Resolved by dana: stale (partner paused the export)")));
    assert!(list(&f, false).is_empty());
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    let open = list(&f, false);
    assert_eq!(open.len(), 1);
    assert_ne!(
        open[0]["dedup_key"],
        list(&f, true)[1]["dedup_key"],
        "a new incident key"
    );

    // Not acknowledged within 1s: the next run escalates it, once.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    assert!(list(&f, false)[0]["escalated_at"].is_string());
    let escalations: Vec<String> = slack
        .texts()
        .into_iter()
        .filter(|t| t.starts_with("Escalated"))
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert!(
        escalations[0].contains("<@U0ELI>"),
        "the secondary is mentioned: {}",
        escalations[0]
    );

    let (code, shown) = cli(&f, &["incidents", "show", "2"]);
    assert_eq!(code, 0);
    assert!(
        shown.contains("incident #2 escalated — stale") && shown.contains("escalate"),
        "{shown}"
    );
    let (_, retro) = cli(&f, &["retro", "1"]);
    assert!(
        retro.contains("resolved by dana: partner paused the export"),
        "{retro}"
    );
}

#[tokio::test]
async fn reads_can_require_the_token_and_the_status_page_shows_a_stale_check_in_chromium() {
    let (_slack, slack_url) = Slack::start().await;
    let token = "read-token-0123456789abcdef";
    let extra = format!("api: {{ token: {token}, protect_reads: true }}\n");
    let checks = CHECKS.replace(
        "source: p\n",
        "source: p\n    schedule: \"*/2 * * * * *\"\n",
    );
    let f = Fixture::new(&settings(&slack_url, &extra), &[("c.yaml", &checks)]);
    common::sqlite_partner(&f.dir.path().join("partner.db"), STALE).await;
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    let c = reqwest::Client::new();
    let get = |path: &str, t: Option<&str>| {
        let mut r = c.get(format!("{base}{path}"));
        if let Some(t) = t {
            r = r.bearer_auth(t);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    for path in ["/", "/api/checks", "/api/incidents"] {
        assert_eq!(get(path, None).await, 401, "{path} without a token");
        assert_eq!(
            get(path, Some("nope-nope-nope-nope")).await,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(get(path, Some(token)).await, 200, "{path} with the token");
    }
    assert_eq!(get("/metrics", None).await, 200, "scrapes stay open");
    let html = common::eventually(15, || async {
        let body = c
            .get(format!("{base}/"))
            .bearer_auth(token)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.contains("FAIL").then_some(body)
    })
    .await
    .expect("the page shows the check failing");
    assert!(
        html.contains("Open incidents") && html.contains("dana"),
        "{html}"
    );

    // What a person sees: headless Chromium renders the page (it cannot send the header, so
    // this part serves an open copy of the same daemon state).
    let Some(chromium) = common::tool("chromium") else {
        assert!(
            !common::required(),
            "SYNCWATCH_REQUIRE_SERVICES=1 but chromium is not installed"
        );
        eprintln!("SKIP Chromium part: chromium is not installed (apt-get install chromium)");
        return;
    };
    drop(_daemon);
    std::fs::write(f.settings_path(), settings(&slack_url, "")).unwrap();
    let (_open, base) = common::serve(&f.settings_path(), &[]);
    let shot = std::env::temp_dir().join(format!("syncwatch-status-{}.png", std::process::id()));
    let profile = tempfile::tempdir().unwrap();
    let browse = |what: String| {
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(what)
            .arg(format!("{base}/"))
            .output()
            .unwrap()
    };
    let out = browse("--dump-dom".into());
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("<h1>syncwatch status</h1>"), "{dom}");
    assert!(
        dom.contains("1 check: 0 pass, 0 warn, 1 fail, 0 error. 1 open incident."),
        "{dom}"
    );
    assert!(
        dom.contains("<th scope=\"row\">stale<div class=\"muted\">Partner contacts</div></th>"),
        "{dom}"
    );
    assert!(
        dom.contains("data is 3h00m old (&gt; error_after 2h)"),
        "{dom}"
    );
    assert!(
        dom.contains("p · partner acme"),
        "grouped by source and partner: {dom}"
    );
    let taken = browse(format!("--screenshot={}", shot.display()));
    assert!(
        taken.status.success(),
        "{}",
        String::from_utf8_lossy(&taken.stderr)
    );
    assert!(
        std::fs::metadata(&shot)
            .map(|m| m.len() > 1000)
            .unwrap_or(false),
        "a screenshot was taken"
    );
    eprintln!("status page screenshot: {}", shot.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_is_announced_once_with_open_incidents_and_silences() {
    use chrono::{Timelike, Utc};
    let (slack, slack_url) = Slack::start().await;
    let handoff = Utc::now() - chrono::Duration::minutes(10);
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: {}, time: \"{:02}:{:02}\" }}\n  start: \"2026-01-05\"\n\
         \x20 members: [ {{ name: dana, slack: U0DANA }}, {{ name: eli, slack: U0ELI }} ]\n\
         incidents: {{ handoff_notice: slack }}\n",
        handoff.format("%A").to_string().to_lowercase(),
        handoff.hour(),
        handoff.minute()
    );
    let other = "checks:\n  - name: other_feed\n    source: p\n    row_count: { table: t, error_below: 1 }\n";
    let f = Fixture::new(&settings, &[("c.yaml", CHECKS), ("other.yaml", other)]);
    common::sqlite_partner(&f.dir.path().join("partner.db"), STALE).await;
    let (code, out) = cli(
        &f,
        &[
            "silence",
            "other_*",
            "--for",
            "1h",
            "--reason",
            "vendor maintenance",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    let notices: Vec<String> = slack
        .texts()
        .into_iter()
        .filter(|t| t.starts_with("Prog Lead handoff"))
        .collect();
    assert_eq!(notices.len(), 1, "announced once: {notices:?}");
    let (_, oncall) = cli(&f, &["oncall", "--format", "json"]);
    let lead = serde_json::from_str::<Value>(&oncall).unwrap()["on_call"]["prog_lead"]["slack"]
        .as_str()
        .unwrap()
        .to_string();
    let n = &notices[0];
    assert!(
        n.starts_with(&format!("Prog Lead handoff: <@{lead}> is on call now.")),
        "{n}"
    );
    assert!(
        n.contains("Open incidents (1):\n• #1 stale — open since"),
        "{n}"
    );
    assert!(
        n.contains("Active silences (1):\n• other_* until") && n.contains("vendor maintenance"),
        "{n}"
    );
}

/// Two checks of one source paging in the same pass call one incident for the source; a
/// warning degrades the status page component, through a 429 that is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_failing_together_on_one_source_call_one_incident_and_a_warning_degrades_the_status_page(
) {
    use common::contracts::{Statuspage, SLACK_PATH, SP_KEY, SP_PAGE};
    let (slack, slack_url) = Slack::start().await;
    let slack_api = slack_url.replace(SLACK_PATH, "/api");
    let (sp, sp_url) = Statuspage::start(&["cmp_c"]).await;
    sp.script.fail_with(&[429]);
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n\
         \x20 bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_api}\" }}\n\
         \x20 status: {{ type: statuspage, api_key: {SP_KEY}, page_id: {SP_PAGE}, base_url: \"{sp_url}\", components: {{ c: cmp_c }}, fail_status: partial_outage }}\n\
         incidents: {{ call: {{ slack: bot, when_failing: 2 }} }}\n"
    );
    let checks = "defaults: { source: p }\nchecks:\n\
        \x20 - name: a\n    freshness: { table: t, column: ts, error_after: 2h }\n    on_failure: { after: 1, page: bot }\n\
        \x20 - name: b\n    row_count: { table: t, error_below: 5 }\n    on_failure: { after: 1, page: bot }\n\
        \x20 - name: c\n    freshness: { table: t, column: ts, warn_after: 1h, error_after: 6h }\n    on_failure: { notify: status }\n\
        \x20 - name: d\n    row_count: { table: t, error_below: 9 }\n    on_failure: { after: 2, page: bot }\n";
    let f = Fixture::new(&settings, &[("p.yaml", checks)]);
    common::sqlite_partner(&f.dir.path().join("partner.db"), STALE).await;
    let (code, out) = cli(&f, &["run", "--all"]);
    assert_eq!(code, 0, "{out}");

    let channels = slack.channels.lock().unwrap().clone();
    assert_eq!(channels.len(), 1, "one incident called: {channels:?}");
    let (name, id) = channels.into_iter().next().unwrap();
    assert!(name.starts_with("inc-p-"), "named after the source: {name}");
    let posted = slack.posted_to(&id);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(
        posted[0].starts_with("Incident called: 2 failing (a, b)."),
        "{posted:?}"
    );
    let pages: Vec<String> = slack
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m["channel"] == "C0INCIDENTS")
        .map(|m| m.to_string())
        .collect();
    assert_eq!(pages.len(), 2, "both checks paged: {pages:?}");
    assert!(
        pages
            .iter()
            .any(|p| p.contains(&format!("Incident channel: #{name}"))),
        "the page that called it links the channel: {pages:?}"
    );
    let open = list(&f, false);
    assert!(
        open.iter().all(|i| i["call"] == name.as_str()),
        "both incidents belong to the call: {open:?}"
    );

    assert_eq!(
        sp.component("cmp_c"),
        "degraded_performance",
        "warn → degraded_performance"
    );
    let patches = sp
        .script
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 2, "the 429 was retried once");
    assert!(
        sp.incidents.lock().unwrap().is_empty(),
        "a warning opens no status page incident"
    );

    // A third check of the source pages on the next run: it joins the call.
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    assert_eq!(slack.channels.lock().unwrap().len(), 1, "no second channel");
    let posted = slack.posted_to(&id);
    assert_eq!(posted.len(), 2, "{posted:?}");
    assert!(posted[1].starts_with("Also failing: d:"), "{posted:?}");

    // Fresh data: the warning is over and the component operational again.
    common::sqlite_partner(
        &f.dir.path().join("partner.db"),
        "UPDATE t SET ts = datetime('now'); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) \
         INSERT INTO t SELECT datetime('now') FROM n;",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // Statuspage: 1 request/s
    let (code, out) = cli(&f, &["run", "--all"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sp.component("cmp_c"), "operational", "{out}");
    assert!(list(&f, false).is_empty(), "a, b and d resolved");
    assert!(
        slack
            .posted_to(&id)
            .iter()
            .filter(|t| t.starts_with("Resolved"))
            .count()
            == 3,
        "the channel hears each resolve: {:?}",
        slack.posted_to(&id)
    );
}

/// A critical HTTP check (no source) calls an incident of its own, and its resolve reaches
/// the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_http_check_calls_its_own_incident() {
    use common::contracts::SLACK_PATH;
    let (slack, slack_url) = Slack::start().await;
    let slack_api = slack_url.replace(SLACK_PATH, "/api");
    let service =
        common::http_server::start(vec![("/healthz", common::http_server::ok("ok"))]).await;
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         notifiers:\n  bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_api}\" }}\n\
         incidents: {{ call: {{ slack: bot }} }}\n"
    );
    let checks = format!(
        "checks:\n  - name: van_api\n    labels: {{ tier: critical }}\n    http: {{ url: \"{}/missing\", expect_status: 200 }}\n    on_failure: {{ after: 1, page: bot }}\n",
        service.base
    );
    let f = Fixture::new(&settings, &[("api.yaml", &checks)]);
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    let channels = slack.channels.lock().unwrap().clone();
    let (name, id) = channels
        .into_iter()
        .next()
        .expect("a channel for the critical check");
    assert!(name.starts_with("inc-van_api-"), "{name}");
    assert_eq!(list(&f, false)[0]["call"], name.as_str());

    std::fs::write(
        f.path().join("checks/api.yaml"),
        checks.replace("/missing", "/healthz"),
    )
    .unwrap();
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    let posted = slack.posted_to(&id);
    assert!(
        posted.iter().any(|t| t.starts_with("Resolved")),
        "{posted:?}"
    );
}

/// A webhook receiver hears the whole story — page, handoff, escalation, ack, resolve — each
/// with the documented fields and its own `Idempotency-Key` (a receiver that honours the key
/// would otherwise drop the resolve as a repeat of the page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_receiver_hears_every_event_with_the_documented_fields_and_its_own_key() {
    use chrono::{Timelike, Utc};
    let (hook, hook_url) = common::contracts::webhook().await;
    let handoff = Utc::now() - chrono::Duration::minutes(10);
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: {}, time: \"{:02}:{:02}\" }}\n  start: \"2026-01-05\"\n\
         \x20 members: [ {{ name: dana, slack: U0DANA }}, {{ name: eli, slack: U0ELI }} ]\n\
         routes: {{ team: [ops] }}\n\
         incidents: {{ handoff_notice: ops, ack_timeout: 1s, escalate: team }}\n",
        handoff.format("%A").to_string().to_lowercase(),
        handoff.hour(),
        handoff.minute()
    );
    let checks = CHECKS.replace("page: slack", "page: ops");
    let f = Fixture::new(&settings, &[("c.yaml", &checks)]);
    let partner = f.dir.path().join("partner.db");
    common::sqlite_partner(&partner, STALE).await;

    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(cli(&f, &["run", "--all"]).0, 0, "escalates");
    let (code, out) = cli(&f, &["incidents", "ack", "1", "--by", "dana"]);
    assert_eq!(code, 0, "{out}");
    common::sqlite_partner(&partner, "UPDATE t SET ts = datetime('now');").await;
    assert_eq!(cli(&f, &["run", "--all"]).0, 0, "resolves");

    let accepted = hook.accepted();
    assert_eq!(
        accepted.len(),
        hook.requests().len(),
        "every message accepted: {:#?}",
        hook.answered.lock().unwrap()
    );
    let mut events: Vec<String> = accepted
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("").to_string())
        .collect();
    events.sort();
    assert_eq!(events, ["ack", "escalate", "handoff", "page", "resolve"]);
    let keys: std::collections::HashSet<&String> = accepted
        .iter()
        .map(|r| &r.headers["idempotency-key"])
        .collect();
    assert_eq!(keys.len(), accepted.len(), "one key per message: {keys:?}");
    let incident: Vec<Value> = accepted
        .iter()
        .map(|r| r.json())
        .filter(|m| m["event"] != "handoff")
        .collect();
    assert!(
        incident
            .iter()
            .all(|m| m["dedup_key"] == incident[0]["dedup_key"]),
        "one dedup key ties the incident's messages together: {incident:#?}"
    );
}

/// One outage, one page, also when the check that says so and the checks that depend on it
/// run in the same pass: each dependent is judged on its dependency's verdict of this pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_run_in_the_same_pass_as_their_dependency_page_nothing() {
    let (hook, hook_url) = common::contracts::webhook().await;
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\", max_connections: 4 }}\n\
         notifiers:\n  ops: {{ type: webhook, url: \"{hook_url}/events\" }}\n"
    );
    let mut checks = String::from(
        "defaults: { source: p, on_failure: { page: ops } }\nchecks:\n\
         \x20 - name: partner_reachable\n    freshness: { table: t, column: ts, error_after: 1h }\n",
    );
    for i in 0..20 {
        checks.push_str(&format!(
            "  - name: table_{i:02}\n    depends_on: [partner_reachable]\n    freshness: {{ table: t, column: ts, error_after: 1h }}\n"
        ));
    }
    let f = Fixture::new(&settings, &[("c.yaml", &checks)]);
    common::sqlite_partner(&f.dir.path().join("partner.db"), STALE).await;
    let out = common::bin()
        .args(["run", "--all", "--format", "json", "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let responses: Vec<(String, String)> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["response"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let pages: Vec<String> = hook
        .accepted()
        .iter()
        .map(|r| {
            r.json()["details"]["check"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(pages, ["partner_reachable"], "{responses:?}");
    assert!(
        responses
            .iter()
            .filter(|(n, _)| n.starts_with("table_"))
            .all(|(_, r)| r.starts_with("blocked: depends on partner_reachable")),
        "{responses:?}"
    );
}

/// The status page as Chromium renders it: no JavaScript at all, a refresh every minute, and
/// a strip of exactly the last 20 runs with a text summary that counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_has_no_script_refreshes_and_strips_the_last_20_runs() {
    let Some(chromium) = common::tool("chromium") else {
        return;
    };
    let f = Fixture::new(
        "store: { url: \"sqlite:state.db\" }\nsources:\n  p: { url: \"sqlite:partner.db\" }\n",
        &[(
            "c.yaml",
            // A yearly schedule: the daemon makes no run of its own while the page is read
            // (with the default, a fire time falling in the test added a 23rd run).
            "checks:\n  - name: wobbly\n    source: p\n    schedule: \"0 0 1 1 *\"\n    freshness: { table: t, column: ts, error_after: 1h }\n",
        )],
    );
    let partner = f.dir.path().join("partner.db");
    common::sqlite_partner(
        &partner,
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now'));",
    )
    .await;
    // 22 runs, every third one stale: the last 20 (runs 3 to 22) hold 7 fails and 13 passes.
    for i in 1..=22 {
        let age = if i % 3 == 0 { "-3 hours" } else { "-1 minutes" };
        common::sqlite_partner(
            &partner,
            &format!("UPDATE t SET ts = datetime('now', '{age}');"),
        )
        .await;
        assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    }
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    let raw = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !raw.to_lowercase().contains("<script"),
        "no JavaScript: {raw}"
    );
    assert!(!has_inline_handler(&raw), "no inline handlers: {raw}");
    assert!(
        raw.contains("<meta http-equiv=\"refresh\" content=\"60\">"),
        "{raw}"
    );

    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("{base}/"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!dom.to_lowercase().contains("<script"), "{dom}");
    assert!(dom.contains("This page refreshes every minute."), "{dom}");
    let row = &dom[dom
        .find("<tr data-check=\"wobbly\">")
        .expect("the check's row")..];
    let row = &row[..row.find("</tr>").unwrap()];
    let strip = &row[row.find("<div class=\"strip\"").unwrap()..];
    let strip = &strip[..strip.find("</div>").unwrap()];
    assert_eq!(strip.matches("<span class=\"pass\"").count(), 13, "{strip}");
    assert_eq!(strip.matches("<span class=\"fail\"").count(), 7, "{strip}");
    assert_eq!(
        strip.matches("<span").count(),
        20,
        "exactly the last 20 runs: {strip}"
    );
    assert!(
        row.contains("last 20 runs: 13 pass, 0 warn, 7 fail, 0 error"),
        "the strip's text summary: {row}"
    );
}

/// True if the HTML has an inline event handler attribute (`onclick=`, `onload=`, …).
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    })
}

/// The status page as the Prog Lead reads it at 3 a.m., on a laptop and on a phone: the worst
/// and longest-failing checks first, times in the on-call zone (UTC in the title), banners for a
/// failed reload and for a failing check that pages nobody, and no sideways scrolling at 400 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_at_3am_worst_first_in_on_call_time_with_banners_and_no_sideways_scroll() {
    let Some(chromium) = common::tool("chromium") else {
        return;
    };
    let (_slack, slack_url) = Slack::start().await;
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         sources:\n  p: {{ url: \"sqlite:partner.db\" }}\n  q: {{ url: \"sqlite:partner.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         oncall:\n  timezone: America/New_York\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: 2026-01-05\n\
         \x20 members: [ {{ name: dana, slack: U0DANA }}, {{ name: eli, slack: U0ELI }} ]\n"
    );
    let fresh = |name: &str| {
        format!("  - name: {name}\n    freshness: {{ table: {name}_t, column: ts, warn_after: 1h, error_after: 6h }}\n")
    };
    let paged = |name: &str| format!("{}    on_failure: {{ page: slack }}\n", fresh(name));
    let p = format!(
        "defaults: {{ source: p, schedule: \"0 0 1 1 *\", labels: {{ partner: acme }} }}\nchecks:\n{}{}{}{}{}{}",
        fresh("fresh"),
        fresh("aging"),
        paged("stale_first"),
        paged("stale_second"),
        paged("broken"),
        fresh("unwatched"),
    );
    let q = format!(
        "defaults: {{ source: q, schedule: \"0 0 1 1 *\" }}\nchecks:\n  - name: q_fresh_with_a_rather_long_name_that_a_phone_must_wrap\n\
         \x20   description: \"{}\"\n    freshness: {{ table: fresh_t, column: ts, error_after: 6h }}\n",
        "A long description without spaces: https://runbooks.example.org/partners/acme/syncs/contacts/when-it-is-stale-at-3am"
    );
    let f = Fixture::new(&settings, &[("p.yaml", &p), ("q.yaml", &q)]);
    let partner = f.dir.path().join("partner.db");
    common::sqlite_partner(
        &partner,
        "CREATE TABLE fresh_t (ts TEXT); INSERT INTO fresh_t VALUES (datetime('now', '-5 minutes'));
         CREATE TABLE aging_t (ts TEXT); INSERT INTO aging_t VALUES (datetime('now', '-2 hours'));
         CREATE TABLE stale_first_t (ts TEXT); INSERT INTO stale_first_t VALUES (datetime('now', '-9 hours'));
         CREATE TABLE stale_second_t (ts TEXT); INSERT INTO stale_second_t VALUES (datetime('now'));
         CREATE TABLE unwatched_t (ts TEXT); INSERT INTO unwatched_t VALUES (datetime('now'));",
    )
    .await;
    let (code, out) = cli(&f, &["run", "--all"]);
    assert_eq!(code, 0, "{out}");
    // Later, two more go stale: they have been failing for less long than stale_first.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    common::sqlite_partner(
        &partner,
        "UPDATE stale_second_t SET ts = datetime('now', '-9 hours'); UPDATE unwatched_t SET ts = datetime('now', '-9 hours');",
    )
    .await;
    assert_eq!(cli(&f, &["run", "--all"]).0, 0);
    let (serve, base) = common::serve(&f.settings_path(), &[]);
    // A bad edit: the reload fails, the daemon keeps the last good configuration, and says so.
    std::fs::write(
        f.dir.path().join("checks/bad.yaml"),
        "checks:\n  - name: x\n    sorce: p\n",
    )
    .unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &serve.0.id().to_string()])
        .status();
    let html = common::eventually(15, || async {
        let page = reqwest::get(format!("{base}/"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        page.contains("The last configuration reload failed")
            .then_some(page)
    })
    .await
    .expect("the failed reload is on the page");

    // Worst first: the error, then the failures (longest first), the warning, the passes.
    let pos = |name: &str| {
        html.find(&format!("<tr data-check=\"{name}\">"))
            .unwrap_or_else(|| panic!("{name} missing: {html}"))
    };
    assert!(pos("broken") < pos("stale_first"), "{html}");
    assert!(pos("stale_first") < pos("stale_second") && pos("stale_first") < pos("unwatched"));
    assert!(pos("stale_second") < pos("aging") && pos("unwatched") < pos("aging"));
    assert!(pos("aging") < pos("fresh"));
    assert!(
        pos("fresh") < pos("q_fresh_with_a_rather_long_name_that_a_phone_must_wrap"),
        "the group with failures comes first"
    );
    // On-call time, with UTC in the title.
    assert!(
        html.contains(" EST") && html.contains("(on-call time, America/New_York)"),
        "{html}"
    );
    assert!(html.contains(" UTC\">"), "UTC in a title: {html}");
    // Banners.
    assert!(
        html.contains("checks/bad.yaml"),
        "the reload's problem is named: {html}"
    );
    assert!(
        html.contains("1 failing check pages nobody: unwatched"),
        "{html}"
    );

    // In Chromium, at a laptop's and a phone's width: screenshots, and no sideways scrolling.
    let harness = |width: u32| {
        format!(
            "<!doctype html><html><body style=\"margin:0\"><iframe id=\"f\" src=\"{base}/\" \
             style=\"width:{width}px;height:900px;border:0\"></iframe><script>\
             var f = document.getElementById('f');\
             f.addEventListener('load', function () {{ var d = f.contentDocument.documentElement;\
             document.body.setAttribute('data-width', d.scrollWidth + ' ' + d.clientWidth); }});\
             </script></body></html>"
        )
    };
    let pages = common::http_server::start(vec![
        ("/laptop", common::http_server::ok(&harness(1300))),
        ("/phone", common::http_server::ok(&harness(400))),
    ])
    .await;
    let profile = tempfile::tempdir().unwrap();
    for (name, width) in [("laptop", 1300), ("phone", 400)] {
        let out = std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                // Only to let the test page measure the status page in its frame.
                "--disable-web-security",
                "--disable-site-isolation-trials",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("{}/{name}", pages.base))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let measured = dom
            .split("data-width=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("{name}: not measured: {dom}"));
        let (scroll, client): (u32, u32) = {
            let mut it = measured.split(' ').map(|n| n.parse().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        };
        assert!(
            scroll <= client,
            "{name} ({width} px): the page scrolls sideways ({scroll} > {client})"
        );
        let shot = std::env::temp_dir().join(format!(
            "syncwatch-status-{name}-{}.png",
            std::process::id()
        ));
        let taken = std::process::Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu"])
            .arg(format!("--window-size={width},1400"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("{base}/"))
            .output()
            .unwrap();
        assert!(taken.status.success());
        assert!(std::fs::metadata(&shot)
            .map(|m| m.len() > 1000)
            .unwrap_or(false));
        eprintln!("status page at {width} px: {}", shot.display());
    }
    drop(serve);
}

// Multi-threaded: the CLI runs block this thread while the Slack server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_raises_an_incident_from_the_command_line_and_the_prog_lead_posts_updates() {
    let (slack, slack_url) = Slack::start().await;
    let f = Fixture::new(
        &settings(&slack_url, "routes:\n  oncall: [slack]\n"),
        &[("c.yaml", CHECKS)],
    );
    // Bad input: a clear error, nothing opened.
    let (code, out) = cli(
        &f,
        &["incidents", "open", "--title", "x", "--check", "nope"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no check \"nope\""), "{out}");
    let (code, out) = cli(&f, &["incidents", "open", "--title", "  "]);
    assert_eq!(code, 2, "{out}");
    assert!(list(&f, true).is_empty());

    // Named check: its page route (slack), the Prog Lead named.
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "open",
            "--title",
            "Acme says contacts are missing",
            "--check",
            "stale",
            "--by",
            "sam",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let opened: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(opened["paged"], serde_json::json!(["slack"]));
    assert_eq!(opened["incident"]["check"], "stale");
    assert_eq!(opened["incident"]["prog_lead"], "dana");
    assert_eq!(opened["delivered"], 1);
    let page = slack
        .texts()
        .into_iter()
        .find(|t| t.contains("Raised by sam"))
        .expect("paged");
    assert!(page.contains("<@U0DANA>"), "{page}");

    // An update goes to the route and the timeline; `resolved` resolves it.
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "update",
            "1",
            "--status",
            "identified",
            "--message",
            "export job failed",
            "--by",
            "dana",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(slack
        .texts()
        .iter()
        .any(|t| t.contains("Update on #1 stale (identified) from dana: export job failed")));
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "update",
            "1",
            "--status",
            "fixed",
            "--message",
            "x",
        ],
    );
    assert_ne!(code, 0, "{out}");
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "update",
            "1",
            "--status",
            "resolved",
            "--message",
            "reran the export",
            "--by",
            "dana",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (_, shown) = cli(&f, &["incidents", "show", "1", "--format", "json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["incident"]["resolve_note"], "reran the export");
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "update",
            "1",
            "--status",
            "monitoring",
            "--message",
            "late",
        ],
    );
    assert_eq!(code, 2, "a resolved incident takes no update: {out}");

    // Retro'd like any other, saying it was raised by hand.
    let (code, retro) = cli(&f, &["retro", "1"]);
    assert_eq!(code, 0, "{retro}");
    assert!(retro.contains("Raised by hand and paged at"), "{retro}");
    assert!(
        retro.contains("| raised | sam | raised by sam: Acme says contacts are missing |"),
        "{retro}"
    );
    assert!(
        retro.contains("| update | dana | update (identified): export job failed |"),
        "{retro}"
    );

    // No check and no raised_route: the first route declared.
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "open",
            "--title",
            "Dashboards look off",
            "--severity",
            "warning",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("paged oncall"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_incident_with_no_route_is_opened_and_says_nobody_was_paged() {
    let f = Fixture::new(
        "store: { url: \"sqlite:state.db\" }\nsources:\n  p: { url: \"sqlite:partner.db\" }\n",
        &[],
    );
    let (code, out) = cli(
        &f,
        &[
            "incidents",
            "open",
            "--title",
            "Partner portal down",
            "--source",
            "p",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("incident #1 opened: Partner portal down"),
        "{out}"
    );
    assert!(out.contains("nobody was paged"), "{out}");
    let open = list(&f, false);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["check"], "source:p");
}
