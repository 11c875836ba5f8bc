//! The Prog Lead story, end to end with `syncwatch serve`: a stale check is restarted, re-checked
//! and paged to the Prog Lead by name; nobody acknowledges, so it escalates to the secondary
//! on-call; someone acknowledges over the API (after a wrong token is refused); the data turns
//! fresh; every channel told hears the resolve; the retro shows the whole timeline in order.
//! Real PostgreSQL partner table; local servers enforce the PagerDuty, Slack (webhook and Web
//! API), Statuspage and Kubernetes contracts.

mod common;

use common::contracts::{Kube, PagerDuty, Slack, Statuspage, PD_KEY, SP_KEY, SP_PAGE};
use common::{api, eventually, unique, Fixture, PG_URL};
use sqlx::Executor;

const CHECK: &str = "van_contacts_sync";
const PD_KEY2: &str = "fedcba9876543210fedcba9876543210";
const TOKEN: &str = "test-token-0123456789abcdef";

#[tokio::test]
async fn stale_check_pages_the_prog_lead_escalates_is_acked_resolves_everywhere_and_has_a_retro() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let schema = unique("sw_proglead");
    pg.execute(format!("CREATE SCHEMA {schema}; CREATE TABLE {schema}.contacts (updated_at timestamptz); INSERT INTO {schema}.contacts VALUES (now() - interval '2 hours');").as_str())
        .await
        .unwrap();
    let (pd, pd_url) = PagerDuty::start().await;
    let (pd2, pd2_url) = PagerDuty::start_with_key(PD_KEY2).await;
    let (slack, slack_url) = Slack::start().await;
    let slack_api = slack_url.replace(common::contracts::SLACK_PATH, "/api");
    let (sp, sp_url) = Statuspage::start(&["cmp_van"]).await;
    let (kube, kube_url) = Kube::start("syncs", "van-sync", false).await;
    let now = chrono::Utc::now();
    let (from, until) = (
        (now - chrono::Duration::days(1)).to_rfc3339(),
        (now + chrono::Duration::days(1)).to_rfc3339(),
    );
    let settings = format!(
        "store: {{ url: \"sqlite:state.db\" }}\n\
         run_lease: 4s\n\
         drain_timeout: 5s\n\
         sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
         notifiers:\n\
         \x20 pagerduty: {{ type: pagerduty, routing_key: \"{PD_KEY}\", base_url: \"{pd_url}\" }}\n\
         \x20 pd_secondary: {{ type: pagerduty, routing_key: \"{PD_KEY2}\", base_url: \"{pd2_url}\" }}\n\
         \x20 slack: {{ type: slack, webhook_url: \"{slack_url}\" }}\n\
         \x20 slack_bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_api}\" }}\n\
         \x20 status: {{ type: statuspage, api_key: {SP_KEY}, page_id: {SP_PAGE}, base_url: \"{sp_url}\", components: {{ {CHECK}: cmp_van }} }}\n\
         routes:\n  prog_lead: [pagerduty, slack, status]\n  secondary: [pd_secondary, slack]\n\
         kubernetes: {{ api_url: \"{kube_url}\", token: kube-test-token }}\n\
         oncall:\n  timezone: UTC\n  handoff: {{ weekday: monday, time: \"10:00\" }}\n  start: \"2026-01-05\"\n\
         \x20 members:\n\
         \x20   - {{ name: alice, slack: U0ALICE }}\n\
         \x20   - {{ name: bob, slack: U0BOB }}\n\
         \x20   - {{ name: carol, slack: U0CAROL }}\n\
         \x20 overrides:\n    - {{ member: alice, from: \"{from}\", until: \"{until}\" }}\n\
         incidents:\n  ack_timeout: 2s\n  escalate: secondary\n  call: {{ slack: slack_bot }}\n\
         api: {{ token: {TOKEN} }}\n"
    );
    let checks = format!(
        "checks:\n  - name: {CHECK}\n    description: VAN contacts sync\n    source: pg\n    schedule: \"*/2 * * * * *\"\n\
         \x20   labels: {{ tier: critical }}\n\
         \x20   freshness: {{ table: {schema}.contacts, column: updated_at, error_after: 1h }}\n\
         \x20   on_failure:\n\
         \x20     restart: {{ kubernetes: {{ namespace: syncs, deployment: van-sync }}, settle: 1s, cooldown: 1h }}\n\
         \x20     page: prog_lead\n"
    );
    let f = Fixture::new(&settings, &[("van.yaml", &checks)]);
    let (_daemon, base) = common::serve(&f.settings_path(), &[]);

    // Restarted, re-checked, still stale: paged, naming the Prog Lead.
    let trigger = eventually(30, || async { pd.triggers().first().cloned() })
        .await
        .expect("the Prog Lead is paged");
    assert_eq!(
        kube.rollouts.lock().unwrap().len(),
        1,
        "restarted once before paging"
    );
    assert_eq!(trigger["payload"]["custom_details"]["prog_lead"], "alice");
    let page = eventually(10, || async {
        slack
            .texts()
            .into_iter()
            .find(|t| t.contains("van_contacts_sync:"))
    })
    .await
    .expect("the page reaches Slack");
    assert!(
        page.contains("<@U0ALICE>"),
        "Slack @-mentions the Prog Lead: {page}"
    );

    // tier: critical calls an incident: its own channel, the Prog Lead invited, the summary posted.
    let channel = eventually(10, || async {
        slack
            .channels
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _)| n.starts_with("inc-van_contacts_sync-"))
            .map(|(_, id)| id.clone())
    })
    .await
    .expect("an incident channel is created");
    assert_eq!(
        slack.invites.lock().unwrap().clone(),
        vec![(channel.clone(), "U0ALICE".to_string())]
    );
    eventually(10, || async {
        slack
            .posted_to(&channel)
            .iter()
            .any(|t| t.starts_with("Incident called"))
            .then_some(())
    })
    .await
    .expect("the summary is posted in the incident channel");
    eventually(10, || async {
        (sp.component("cmp_van") == "major_outage").then_some(())
    })
    .await
    .expect("the status page shows a major outage");

    // Nobody acknowledges within 2s: the secondary on-call is paged and mentioned.
    let escalation = eventually(20, || async { pd2.triggers().first().cloned() })
        .await
        .expect("escalated to the secondary PagerDuty route");
    assert_eq!(escalation["dedup_key"], trigger["dedup_key"]);
    let mention = eventually(10, || async {
        slack
            .texts()
            .into_iter()
            .find(|t| t.starts_with("Escalated"))
    })
    .await
    .expect("escalation reaches Slack");
    assert!(
        mention.contains("<@U0BOB>") && mention.contains("<@U0CAROL>"),
        "{mention}"
    );

    // The API refuses a wrong or missing token and changes nothing.
    let ack_url = format!("{base}/api/incidents/1/ack");
    assert_eq!(
        api("POST", &ack_url, Some("wrong-token-000000000"), "")
            .await
            .0,
        401
    );
    assert_eq!(
        api("POST", &ack_url, None, r#"{"by":"mallory"}"#).await.0,
        401
    );
    let (_, shown) = api("GET", &format!("{base}/api/incidents/1"), None, "").await;
    assert_eq!(shown["status"], "escalated", "nothing changed: {shown}");
    let (code, acked) = api("POST", &ack_url, Some(TOKEN), r#"{"by":"bob"}"#).await;
    assert_eq!(
        (code, acked["status"].as_str()),
        (200, Some("acknowledged")),
        "{acked}"
    );
    let (_, again) = api("POST", &ack_url, Some(TOKEN), r#"{"by":"bob"}"#).await;
    assert_eq!(again["changed"], false, "a second ack changes nothing");

    // The ack is heard everywhere the page went: PagerDuty acknowledges the alert, Slack and
    // the incident channel say who took it, and Statuspage moves to `identified`.
    let ack = eventually(10, || async { pd.events("acknowledge").first().cloned() })
        .await
        .expect("PagerDuty gets an acknowledge");
    assert_eq!(ack["dedup_key"], trigger["dedup_key"]);
    eventually(10, || async {
        (slack
            .texts()
            .iter()
            .any(|t| t.starts_with("Acknowledged by bob"))
            && slack
                .posted_to(&channel)
                .iter()
                .any(|t| t.starts_with("Acknowledged by bob")))
        .then_some(())
    })
    .await
    .expect("Slack and the incident channel hear the ack");
    eventually(10, || async {
        let incs = sp.incidents.lock().unwrap().clone();
        (incs.len() == 1 && incs[0]["status"] == "identified").then_some(())
    })
    .await
    .expect("the Statuspage incident moves to identified");

    // Fresh data: resolved on every channel that was told.
    pg.execute(format!("UPDATE {schema}.contacts SET updated_at = now()").as_str())
        .await
        .unwrap();
    eventually(30, || async {
        (*pd.resolved.lock().unwrap() == 1 && *pd2.resolved.lock().unwrap() == 1).then_some(())
    })
    .await
    .expect("both PagerDuty routes get the resolve");
    eventually(10, || async {
        (slack.texts().iter().any(|t| t.starts_with("Resolved"))
            && slack
                .posted_to(&channel)
                .iter()
                .any(|t| t.starts_with("Resolved")))
        .then_some(())
    })
    .await
    .expect("Slack and the incident channel hear the resolve");
    eventually(10, || async {
        let incs = sp.incidents.lock().unwrap().clone();
        (sp.component("cmp_van") == "operational"
            && incs.len() == 1
            && incs[0]["status"] == "resolved")
            .then_some(())
    })
    .await
    .expect("the status page is operational and its one incident resolved");
    assert_eq!(
        *sp.throttled.lock().unwrap(),
        0,
        "Statuspage's 1 request/s was honoured"
    );
    // Over the whole story (a run every 2 s): one page, one escalation, nothing repeated.
    assert_eq!(pd.triggers().len(), 1, "one page: {:?}", pd.triggers());
    assert_eq!(
        pd2.triggers().len(),
        1,
        "one escalation: {:?}",
        pd2.triggers()
    );
    let escalations = slack
        .texts()
        .into_iter()
        .filter(|t| t.starts_with("Escalated"))
        .count();
    assert_eq!(escalations, 1, "one escalation in Slack");

    // The retro tells the whole story, in order.
    let out = common::bin()
        .args(["retro", "1", "--config"])
        .arg(f.settings_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    let timeline = &md[md.find("## Timeline").unwrap()..md.find("## What automation did").unwrap()];
    let at = |needle: &str| {
        timeline
            .find(needle)
            .unwrap_or_else(|| panic!("the retro's timeline lacks {needle:?}:\n{md}"))
    };
    let order = [
        "first run → fail",
        "restart of kubernetes:syncs/van-sync issued",
        "restart of kubernetes:syncs/van-sync done",
        "re-check after the restart: fail",
        "paged prog_lead; Prog Lead alice",
        "incident called: #inc-van_contacts_sync-",
        "escalated to bob, carol",
        "acknowledged by bob",
        "fail → pass",
        "resolved automatically",
        "status page: component cmp_van → operational",
    ];
    let positions: Vec<usize> = order.iter().map(|n| at(n)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "timeline out of order:\n{md}"
    );
    for section in [
        "## Impact",
        "Time to acknowledge (page → ack) | ",
        "## What automation did",
        "## What went well",
        "## Action items",
    ] {
        assert!(md.contains(section), "the retro lacks {section:?}:\n{md}");
    }
    let _ = pg
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await;
}
