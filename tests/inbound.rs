//! The Prog Lead's loop both ways, with `syncwatch serve` on a PostgreSQL state store and a
//! stale PostgreSQL partner table: acknowledging and resolving from PagerDuty (webhooks v3,
//! signed) and from Slack (buttons, the Resolve dialog, Silence 1h), a user's report through the
//! `/syncwatch` slash command, and the updates the Prog Lead posts, publicly or not. Forged,
//! replayed and stale requests are refused and change nothing. Local servers enforce the
//! PagerDuty, Slack and Statuspage contracts (shared/CONTRACTS.md).

mod common;

use common::contracts::{
    pagerduty_signature, slack_signature, PagerDuty, Slack, Statuspage, PD_KEY, RESPONSE_PATH,
    SLACK_PATH, SP_KEY, SP_PAGE,
};
use common::{api, eventually, unique, Fixture, PG_URL};
use serde_json::{json, Value};
use sqlx::Executor;

const TOKEN: &str = "test-token-0123456789abcdef";
const PD_SECRET_OLD: &str = "pd-old-secret-000000";
const PD_SECRET_NEW: &str = "pd-new-secret-111111";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const PD_KEY2: &str = "fedcba9876543210fedcba9876543210";

/// A stale partner table, a PostgreSQL store of its own, and the settings around them.
struct World {
    pg: sqlx::PgConnection,
    schema: String,
    store_url: String,
}

async fn world(prefix: &str) -> Option<World> {
    let (_admin, _db, store_url) = common::pg_store(prefix).await?;
    let mut pg = common::pg().await?;
    let schema = unique(prefix);
    pg.execute(format!("CREATE SCHEMA {schema}; CREATE TABLE {schema}.contacts (updated_at timestamptz); INSERT INTO {schema}.contacts VALUES (now() - interval '2 hours');").as_str())
        .await
        .unwrap();
    Some(World {
        pg,
        schema,
        store_url,
    })
}

impl World {
    fn settings(&self, notifiers: &str, routes: &str, extra: &str) -> String {
        let now = chrono::Utc::now();
        let (from, until) = (
            (now - chrono::Duration::days(1)).to_rfc3339(),
            (now + chrono::Duration::days(1)).to_rfc3339(),
        );
        format!(
            "store: {{ url: \"{}\" }}\n\
             drain_timeout: 5s\n\
             sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
             notifiers:\n{notifiers}\
             routes:\n{routes}\
             oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
             \x20 members:\n\
             \x20   - {{ name: alice, slack: U0ALICE }}\n\
             \x20   - {{ name: bob, slack: U0BOB }}\n\
             \x20   - {{ name: carol, slack: U0CAROL }}\n\
             \x20 overrides:\n    - {{ member: alice, from: \"{from}\", until: \"{until}\" }}\n\
             api: {{ token: {TOKEN} }}\n{extra}",
            self.store_url
        )
    }

    fn checks(&self) -> String {
        format!(
            "checks:\n  - name: van_contacts_sync\n    source: pg\n    schedule: \"*/2 * * * * *\"\n\
             \x20   freshness: {{ table: {}.contacts, column: updated_at, error_after: 1h }}\n\
             \x20   on_failure: {{ page: prog_lead }}\n",
            self.schema
        )
    }

    async fn cleanup(mut self) {
        let _ = self
            .pg
            .execute(format!("DROP SCHEMA {} CASCADE", self.schema).as_str())
            .await;
    }
}

async fn post(
    url: &str,
    headers: &[(&str, String)],
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let resp = r.send().await.unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn pd_event(id: &str, kind: &str, key: &str, agent: &str) -> String {
    json!({ "event": {
        "id": id, "event_type": kind, "resource_type": "incident",
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "agent": { "id": "PUSER01", "summary": agent, "type": "user_reference", "html_url": "https://example.pagerduty.com/users/PUSER01" },
        "data": { "id": "Q0RIJJZL24RC6W", "type": "incident", "number": 7, "status": "acknowledged",
                  "incident_key": key, "title": "van_contacts_sync is stale", "html_url": "https://example.pagerduty.com/incidents/Q0RIJJZL24RC6W",
                  "assignees": [ { "id": "PUSER02", "summary": "Bob Example", "type": "user_reference" } ] }
    }})
    .to_string()
}

async fn incident(base: &str, id: i64) -> Value {
    api("GET", &format!("{base}/api/incidents/{id}"), None, "")
        .await
        .1
}

#[tokio::test]
async fn pagerduty_acks_stop_the_escalation_and_resolves_reach_every_channel_but_pagerduty() {
    let Some(w) = world("sw_inbound_pd").await else {
        return;
    };
    let (pd, pd_url) = PagerDuty::start().await;
    let (pd2, pd2_url) = PagerDuty::start_with_key(PD_KEY2).await;
    let (slack, slack_url) = Slack::start().await;
    let notifiers = format!(
        "  pagerduty: {{ type: pagerduty, routing_key: \"{PD_KEY}\", base_url: \"{pd_url}\" }}\n\
         \x20 pd_secondary: {{ type: pagerduty, routing_key: \"{PD_KEY2}\", base_url: \"{pd2_url}\" }}\n\
         \x20 slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n"
    );
    let settings = w.settings(
        &notifiers,
        "  prog_lead: [pagerduty, slack]\n  secondary: [pd_secondary, slack]\n",
        &format!(
            "incidents: {{ ack_timeout: 3s, escalate: secondary }}\n\
             inbound: {{ pagerduty: {{ secrets: [\"{PD_SECRET_OLD}\", \"${{PD_SECRET}}\"] }} }}\n"
        ),
    );
    let f = Fixture::new(&settings, &[("van.yaml", &w.checks())]);
    std::env::set_var("PD_SECRET", PD_SECRET_NEW);
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    let hook = format!("{base}/hooks/pagerduty");

    let trigger = eventually(30, || async { pd.triggers().first().cloned() })
        .await
        .expect("the Prog Lead is paged");
    let key = trigger["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(incident(&base, 1).await["status"], "open");

    // Unsigned, wrongly signed, or signed over another body: 401, nothing changes.
    let ack = pd_event("01ACK", "incident.acknowledged", &key, "Alice Example");
    let forged = pagerduty_signature("not-the-secret", &ack);
    let other_body = pagerduty_signature(PD_SECRET_NEW, &ack.replace("01ACK", "01ACL"));
    for headers in [
        vec![],
        vec![("x-pagerduty-signature", forged)],
        vec![("x-pagerduty-signature", other_body)],
    ] {
        let (code, _) = post(&hook, &headers, "application/json", &ack).await;
        assert_eq!(code, 401);
    }
    assert_eq!(
        incident(&base, 1).await["status"],
        "open",
        "a refused request changes nothing"
    );

    // Signed with the new secret of a rotation, listed second: acknowledged as the agent.
    let signed = format!(
        "v1={},{}",
        "0".repeat(64),
        pagerduty_signature(PD_SECRET_NEW, &ack).trim_start_matches(',')
    );
    let (code, body) = post(
        &hook,
        &[("x-pagerduty-signature", signed.clone())],
        "application/json",
        &ack,
    )
    .await;
    assert_eq!(
        (code, body["handled"].as_str()),
        (200, Some("Acknowledged(1)")),
        "{body}"
    );
    let shown = incident(&base, 1).await;
    assert_eq!(shown["status"], "acknowledged");
    assert_eq!(shown["incident"]["acked_by"], "Alice Example (PagerDuty)");
    // A repeated delivery of the same event changes nothing.
    let (code, body) = post(
        &hook,
        &[("x-pagerduty-signature", signed)],
        "application/json",
        &ack,
    )
    .await;
    assert_eq!((code, body["handled"].as_str()), (200, Some("Repeat")));

    // Slack hears who acknowledged; PagerDuty is not told its own ack back.
    eventually(10, || async {
        slack
            .texts()
            .iter()
            .any(|t| t.starts_with("Acknowledged by Alice Example (PagerDuty)"))
            .then_some(())
    })
    .await
    .expect("Slack hears the ack");
    // Past the ack timeout (3 s) and a sweep: no escalation.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(
        pd2.triggers().is_empty(),
        "an acknowledged incident does not escalate"
    );
    assert!(!slack.texts().iter().any(|t| t.starts_with("Escalated")));
    assert!(
        pd.events("acknowledge").is_empty(),
        "the ack is not echoed to PagerDuty"
    );

    // Other events go on the timeline.
    let reassigned = pd_event("01RAS", "incident.reassigned", &key, "Alice Example");
    let sig = pagerduty_signature(PD_SECRET_OLD, &reassigned);
    let (code, body) = post(
        &hook,
        &[("x-pagerduty-signature", sig)],
        "application/json",
        &reassigned,
    )
    .await;
    assert_eq!(
        (code, body["handled"].as_str()),
        (200, Some("Noted(1)")),
        "{body}"
    );

    // Resolved in PagerDuty: resolved here with a note naming who, every channel told but PagerDuty.
    let resolve = pd_event("01RES", "incident.resolved", &key, "Alice Example");
    let sig = pagerduty_signature(PD_SECRET_OLD, &resolve);
    let (code, body) = post(
        &hook,
        &[("x-pagerduty-signature", sig)],
        "application/json",
        &resolve,
    )
    .await;
    assert_eq!(
        (code, body["handled"].as_str()),
        (200, Some("Resolved(1)")),
        "{body}"
    );
    let shown = incident(&base, 1).await;
    assert_eq!(shown["status"], "resolved");
    assert_eq!(
        shown["incident"]["resolve_note"],
        "resolved in PagerDuty by Alice Example"
    );
    let kinds: Vec<(String, String)> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (kind, detail) in [
        ("ack", "acknowledged by Alice Example (PagerDuty)"),
        (
            "pagerduty",
            "PagerDuty: reassigned by Alice Example to Bob Example",
        ),
        (
            "resolve",
            "resolved by Alice Example (PagerDuty): resolved in PagerDuty by Alice Example",
        ),
    ] {
        assert!(
            kinds.iter().any(|(k, d)| k == kind && d == detail),
            "timeline lacks {kind}: {detail}: {kinds:?}"
        );
    }
    eventually(10, || async {
        slack
            .texts()
            .iter()
            .any(|t| t.starts_with("Resolved by Alice Example (PagerDuty)"))
            .then_some(())
    })
    .await
    .expect("Slack hears the resolve");
    // Give the dispatcher a moment; PagerDuty must still have heard nothing back.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(
        pd.events("resolve").is_empty(),
        "the resolve is not echoed to PagerDuty"
    );
    assert!(pd.events("acknowledge").is_empty());
    // Refusals are counted, so forged traffic can be alerted on.
    let (_, metrics) = common::get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains(
            "syncwatch_inbound_requests_total{result=\"refused\",vendor=\"pagerduty\"} 3"
        ),
        "{metrics}"
    );
    assert!(metrics
        .contains("syncwatch_inbound_requests_total{result=\"accepted\",vendor=\"pagerduty\"} 4"));
    // An event about an incident syncwatch never opened is accepted and ignored.
    let stranger = pd_event("01XYZ", "incident.acknowledged", "someone-elses-key", "Eve");
    let sig = pagerduty_signature(PD_SECRET_NEW, &stranger);
    let (code, body) = post(
        &hook,
        &[("x-pagerduty-signature", sig)],
        "application/json",
        &stranger,
    )
    .await;
    assert_eq!((code, body["handled"].as_str()), (200, Some("NotOurs")));
    w.cleanup().await;
}

/// A Slack interaction request: the form body and its signed headers (`age` seconds old).
fn slack_request(payload: &Value, age: i64) -> (String, Vec<(&'static str, String)>) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let (ts, sig) = slack_signature(SLACK_SECRET, chrono::Utc::now().timestamp() - age, &body);
    (
        body,
        vec![
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", sig),
        ],
    )
}

fn click(
    user: &str,
    action: &str,
    key: &str,
    message: &Value,
    response: &str,
    slack: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "user": { "id": user, "username": user.to_lowercase() },
        "actions": [ { "action_id": action, "value": key, "block_id": "syncwatch_incident", "type": "button" } ],
        "response_url": format!("{slack}{RESPONSE_PATH}{response}"),
        "trigger_id": format!("trigger-{response}"),
        "channel": { "id": "C0INCIDENTS" },
        "message": message,
    })
}

#[tokio::test]
async fn slack_buttons_ack_resolve_and_silence_as_the_member_who_clicked_and_refuse_the_rest() {
    let Some(w) = world("sw_inbound_slack").await else {
        return;
    };
    let (slack, slack_url) = Slack::start().await;
    let slack_base = slack_url.replace(SLACK_PATH, "");
    let notifiers = format!(
        "  slack_bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_base}/api\" }}\n"
    );
    let settings = w.settings(
        &notifiers,
        "  prog_lead: [slack_bot]\n",
        "inbound: { slack: { signing_secret: \"${SLACK_SECRET}\" } }\n",
    );
    let f = Fixture::new(&settings, &[("van.yaml", &w.checks())]);
    std::env::set_var("SLACK_SECRET", SLACK_SECRET);
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    let hook = format!("{base}/hooks/slack/actions");
    let form = "application/x-www-form-urlencoded";

    // The page carries the three buttons, each with the incident's dedup key.
    let page = eventually(30, || async {
        slack.messages().into_iter().find(|m| {
            m["blocks"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["type"] == "actions"))
        })
    })
    .await
    .expect("the page reaches the Slack bot's channel with buttons");
    let actions = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()
        .clone();
    let ids: Vec<&str> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ack", "resolve", "silence"]);
    let key = actions["elements"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = incident(&base, 1).await;
    assert_eq!(shown["incident"]["dedup_key"], key.as_str());

    // A stranger's click is refused with an ephemeral message; nothing changes.
    let (body, headers) = slack_request(
        &click("U0MALLORY", "ack", &key, &page, "r1", &slack_base),
        0,
    );
    assert_eq!(post(&hook, &headers, form, &body).await.0, 200);
    let refusal = eventually(10, || async { slack.responses_to("r1").first().cloned() })
        .await
        .expect("the stranger is told");
    assert_eq!(refusal["response_type"], "ephemeral");
    assert!(
        refusal["text"]
            .as_str()
            .unwrap()
            .contains("<@U0MALLORY> is not one"),
        "{refusal}"
    );
    assert_eq!(incident(&base, 1).await["status"], "open");

    // Forged, stale and replayed requests: 401, nothing changes.
    let alice_ack = click("U0ALICE", "ack", &key, &page, "r2", &slack_base);
    let (body, mut headers) = slack_request(&alice_ack, 0);
    let good = headers.clone();
    headers[1].1 = format!("v0={}", "ab".repeat(32));
    assert_eq!(post(&hook, &headers, form, &body).await.0, 401, "forged");
    let (stale_body, stale) = slack_request(&alice_ack, 301);
    assert_eq!(post(&hook, &stale, form, &stale_body).await.0, 401, "stale");
    assert_eq!(post(&hook, &[], form, &body).await.0, 401, "unsigned");
    assert_eq!(
        post(&hook, &good, form, &body.replace("U0ALICE", "U0BOB"))
            .await
            .0,
        401,
        "a body changed after signing"
    );
    assert_eq!(incident(&base, 1).await["status"], "open");

    // Alice acknowledges: acked as alice, the original message shows who.
    assert_eq!(post(&hook, &good, form, &body).await.0, 200);
    let shown = incident(&base, 1).await;
    assert_eq!(
        (
            shown["status"].as_str(),
            shown["incident"]["acked_by"].as_str()
        ),
        (Some("acknowledged"), Some("alice"))
    );
    let replaced = eventually(10, || async { slack.responses_to("r2").first().cloned() })
        .await
        .expect("the original message is updated");
    assert_eq!(replaced["replace_original"], true);
    assert!(
        replaced["text"]
            .as_str()
            .unwrap()
            .contains("Acknowledged by <@U0ALICE> (alice)"),
        "{replaced}"
    );

    // Bob silences the check for an hour.
    let (body, headers) = slack_request(
        &click("U0BOB", "silence", &key, &page, "r3", &slack_base),
        0,
    );
    assert_eq!(post(&hook, &headers, form, &body).await.0, 200);
    let silenced = eventually(10, || async { slack.responses_to("r3").first().cloned() })
        .await
        .expect("the message shows the silence");
    assert!(
        silenced["text"]
            .as_str()
            .unwrap()
            .contains("Silenced until"),
        "{silenced}"
    );
    let listed = f.cli(&["silence", "--list"]);
    assert!(
        listed.stdout.contains("van_contacts_sync")
            && listed.stdout.contains("silenced from Slack by bob"),
        "{}",
        listed.stdout
    );

    // Resolve… asks for a note in a dialog; an empty note is refused in the dialog.
    let (body, headers) = slack_request(
        &click("U0ALICE", "resolve", &key, &page, "r4", &slack_base),
        0,
    );
    assert_eq!(post(&hook, &headers, form, &body).await.0, 200);
    let view = eventually(10, || async {
        slack.views.lock().unwrap().first().cloned()
    })
    .await
    .expect("views.open is called");
    assert_eq!(view["trigger_id"], "trigger-r4");
    let submit = |note: &str, user: &str| {
        json!({
            "type": "view_submission",
            "user": { "id": user },
            "view": {
                "callback_id": view["view"]["callback_id"],
                "private_metadata": view["view"]["private_metadata"],
                "state": { "values": { "note": { "note": { "type": "plain_text_input", "value": note } } } },
            },
        })
    };
    let (body, headers) = slack_request(&submit("  ", "U0ALICE"), 0);
    let (code, answer) = post(&hook, &headers, form, &body).await;
    assert_eq!(
        (code, answer["response_action"].as_str()),
        (200, Some("errors"))
    );
    let (body, headers) =
        slack_request(&submit("restarted the VAN export by hand", "U0MALLORY"), 0);
    let (_, answer) = post(&hook, &headers, form, &body).await;
    assert_eq!(
        answer["response_action"], "errors",
        "a stranger cannot resolve"
    );
    assert_eq!(incident(&base, 1).await["status"], "acknowledged");
    let (body, headers) = slack_request(&submit("restarted the VAN export by hand", "U0ALICE"), 0);
    assert_eq!(post(&hook, &headers, form, &body).await.0, 200);
    let shown = incident(&base, 1).await;
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["incident"]["resolved_by"], "alice");
    assert_eq!(
        shown["incident"]["resolve_note"],
        "restarted the VAN export by hand"
    );
    let done = eventually(10, || async { slack.responses_to("r4").first().cloned() })
        .await
        .expect("the original message shows the resolve");
    assert!(
        done["text"]
            .as_str()
            .unwrap()
            .contains("Resolved by <@U0ALICE> (alice): restarted the VAN export by hand"),
        "{done}"
    );
    assert!(
        done["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "no buttons once resolved"
    );
    w.cleanup().await;
}

async fn slash(base: &str, user: &str, name: &str, text: &str, age: i64) -> (u16, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "deprecated-verification-token")
        .append_pair("team_id", "T000")
        .append_pair("channel_id", "C0GENERAL")
        .append_pair("user_id", user)
        .append_pair("user_name", name)
        .append_pair("command", "/syncwatch")
        .append_pair("text", text)
        .append_pair(
            "response_url",
            "https://hooks.slack.invalid/commands/T000/1/x",
        )
        .append_pair("trigger_id", "trigger-slash")
        .finish();
    let (ts, sig) = slack_signature(SLACK_SECRET, chrono::Utc::now().timestamp() - age, &body);
    post(
        &format!("{base}/hooks/slack/commands"),
        &[
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", sig),
        ],
        "application/x-www-form-urlencoded",
        &body,
    )
    .await
}

#[tokio::test]
async fn a_users_report_pages_the_prog_lead_and_public_updates_reach_the_status_pages_until_resolved(
) {
    let Some(w) = world("sw_inbound_report").await else {
        return;
    };
    let (pd, pd_url) = PagerDuty::start().await;
    let (slack, slack_url) = Slack::start().await;
    let slack_base = slack_url.replace(SLACK_PATH, "");
    let (sp, sp_url) = Statuspage::start(&["cmp_van"]).await;
    let notifiers = format!(
        "  pagerduty: {{ type: pagerduty, routing_key: \"{PD_KEY}\", base_url: \"{pd_url}\" }}\n\
         \x20 slack_bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_base}/api\" }}\n\
         \x20 status: {{ type: statuspage, api_key: {SP_KEY}, page_id: {SP_PAGE}, base_url: \"{sp_url}\", components: {{ van_contacts_sync: cmp_van }} }}\n"
    );
    let settings = w.settings(
        &notifiers,
        "  prog_lead: [pagerduty, slack_bot, status]\n",
        "inbound: { slack: { signing_secret: \"${SLACK_SECRET}\" } }\n",
    );
    // No check: the report is the only incident.
    let f = Fixture::new(&settings, &[]);
    std::env::set_var("SLACK_SECRET", SLACK_SECRET);
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);

    // Stale or unsigned commands are refused.
    assert_eq!(slash(&base, "U0CAROL", "carol", "status", 600).await.0, 401);
    // Who is on call; what is failing.
    let (code, oncall) = slash(&base, "U0DAN", "dan", "oncall", 0).await;
    assert_eq!(code, 200);
    assert!(
        oncall["text"]
            .as_str()
            .unwrap()
            .starts_with("Prog Lead: <@U0ALICE> (alice)"),
        "{oncall}"
    );
    assert!(
        oncall["text"]
            .as_str()
            .unwrap()
            .contains("Secondary: <@U0BOB> (bob), <@U0CAROL> (carol)"),
        "{oncall}"
    );

    // Anyone in the workspace may report; the Prog Lead is paged.
    let (code, said) = slash(
        &base,
        "U0DAN",
        "dan",
        "report Acme says VAN contacts are missing since 06:00",
        0,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(said["response_type"], "in_channel");
    assert!(
        said["text"]
            .as_str()
            .unwrap()
            .contains("reported incident #1"),
        "{said}"
    );
    assert!(
        said["text"]
            .as_str()
            .unwrap()
            .contains("the Prog Lead (alice) is paged"),
        "{said}"
    );
    let trigger = eventually(15, || async { pd.triggers().first().cloned() })
        .await
        .expect("PagerDuty is paged");
    assert_eq!(
        trigger["payload"]["summary"],
        "Raised by dan: Acme says VAN contacts are missing since 06:00"
    );
    assert_eq!(trigger["payload"]["custom_details"]["prog_lead"], "alice");
    let page = eventually(10, || async {
        slack
            .texts()
            .into_iter()
            .find(|t| t.contains("Raised by dan"))
    })
    .await
    .expect("Slack is paged");
    assert!(page.contains("<@U0ALICE>"), "{page}");
    let (_, status) = slash(&base, "U0DAN", "dan", "status", 0).await;
    assert!(
        status["text"].as_str().unwrap().contains("#1 raised:"),
        "{status}"
    );

    // Acks from Slack need a rotation member.
    assert!(slash(&base, "U0DAN", "dan", "ack 1", 0).await.1["text"]
        .as_str()
        .unwrap()
        .starts_with("Only members"));
    let (_, acked) = slash(&base, "U0ALICE", "alice", "ack 1", 0).await;
    assert!(
        acked["text"]
            .as_str()
            .unwrap()
            .contains("acknowledged by <@U0ALICE> (alice)"),
        "{acked}"
    );

    // A public update: Statuspage gets an incident update, our status page shows it.
    let updates = format!("{base}/api/incidents/1/updates");
    let public = r#"{"status": "identified", "message": "The Acme export failed at 05:40; rerunning it.", "public": true, "by": "alice"}"#;
    assert_eq!(
        api("POST", &updates, None, public).await.0,
        401,
        "updates need the token"
    );
    assert_eq!(
        api(
            "POST",
            &updates,
            Some(TOKEN),
            r#"{"status": "fixed", "message": "x"}"#
        )
        .await
        .0,
        400
    );
    let (code, body) = api("POST", &updates, Some(TOKEN), public).await;
    assert_eq!(code, 200, "{body}");
    let sent = eventually(15, || async { sp.updates.lock().unwrap().first().cloned() })
        .await
        .expect("Statuspage gets the update");
    assert_eq!(sent.1, "identified");
    assert_eq!(sent.2, "The Acme export failed at 05:40; rerunning it.");
    // Private: the channel hears it, partners do not.
    let private = r#"{"status": "monitoring", "message": "rerun at 60%; watching the row counts", "by": "alice"}"#;
    assert_eq!(api("POST", &updates, Some(TOKEN), private).await.0, 200);
    eventually(10, || async {
        slack
            .texts()
            .iter()
            .any(|t| t.contains("rerun at 60%"))
            .then_some(())
    })
    .await
    .expect("Slack hears the private update");
    let later = r#"{"status": "monitoring", "message": "Rerun at 90%; all contacts by 09:00.", "public": true, "by": "alice"}"#;
    assert_eq!(api("POST", &updates, Some(TOKEN), later).await.0, 200);
    eventually(15, || async {
        (sp.updates.lock().unwrap().len() == 2).then_some(())
    })
    .await
    .expect("Statuspage gets the second public update");
    let (_, html) = common::get(&format!("{base}/")).await;
    let (first, second) = (
        html.find("The Acme export failed at 05:40; rerunning it.")
            .expect("our status page shows the public update"),
        html.find("Rerun at 90%; all contacts by 09:00.")
            .expect("and the later one"),
    );
    assert!(second < first, "newest first");
    assert!(!html.contains("rerun at 60%"), "and not the private one");
    let sent: Vec<String> = sp
        .updates
        .lock()
        .unwrap()
        .iter()
        .map(|u| u.2.clone())
        .collect();
    assert!(
        !sent.iter().any(|b| b.contains("60%")),
        "partners do not get the private update: {sent:?}"
    );

    // Resolved by an update: the incident closes and the status page says so.
    let done = r#"{"status": "resolved", "message": "Rerun complete; all Acme contacts are in.", "public": true, "by": "alice"}"#;
    let (code, body) = api("POST", &updates, Some(TOKEN), done).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("resolved")),
        "{body}"
    );
    eventually(15, || async {
        let incs = sp.incidents.lock().unwrap().clone();
        (incs.len() == 1 && incs[0]["status"] == "resolved").then_some(())
    })
    .await
    .expect("the Statuspage incident is resolved");
    assert_eq!(
        pd.events("resolve").len(),
        1,
        "PagerDuty's alert is resolved"
    );
    let shown = incident(&base, 1).await;
    let kinds: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["raised", "page", "ack", "update", "resolve"] {
        assert!(kinds.contains(&k), "timeline lacks {k}: {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "update").count(), 4);
    w.cleanup().await;
}

#[tokio::test]
async fn without_inbound_secrets_the_hooks_are_absent_and_raising_over_the_api_needs_the_token() {
    let (slack, slack_url) = Slack::start().await;
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         notifiers:\n  slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         routes:\n  oncall: [slack]\n\
         api: {{ token: {TOKEN} }}\n"
    );
    let f = Fixture::new(&settings, &[]);
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);
    for path in [
        "/hooks/pagerduty",
        "/hooks/slack/actions",
        "/hooks/slack/commands",
    ] {
        let body = pd_event("01A", "incident.acknowledged", "k", "x");
        let sig = pagerduty_signature(PD_SECRET_NEW, &body);
        let (code, _) = post(
            &format!("{base}{path}"),
            &[("x-pagerduty-signature", sig)],
            "application/json",
            &body,
        )
        .await;
        assert_eq!(code, 404, "{path}");
    }
    let url = format!("{base}/api/incidents");
    let report = r#"{"title": "Partner portal shows yesterday's numbers", "severity": "warning", "by": "sam"}"#;
    assert_eq!(api("POST", &url, None, report).await.0, 401);
    assert_eq!(
        api(
            "POST",
            &url,
            Some(TOKEN),
            r#"{"title": "x", "check": "nope"}"#
        )
        .await
        .0,
        400
    );
    assert_eq!(
        api(
            "POST",
            &url,
            Some(TOKEN),
            r#"{"title": "x", "severity": "sev1"}"#
        )
        .await
        .0,
        400
    );
    assert_eq!(
        api("POST", &url, Some(TOKEN), r#"{"titel": "x"}"#).await.0,
        400
    );
    let (code, body) = api("POST", &url, Some(TOKEN), report).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["paged"], json!(["slack"]));
    assert_eq!(body["incident"]["severity"], "warning");
    eventually(10, || async {
        slack
            .texts()
            .iter()
            .any(|t| t.contains("Raised by sam: Partner portal shows yesterday's numbers"))
            .then_some(())
    })
    .await
    .expect("the route hears the report");
    let (_, listed) = api("GET", &url, None, "").await;
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 1);
}
