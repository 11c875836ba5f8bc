//! Tagging in the right people, partners, retros followed through, and how on-call is going —
//! on a PostgreSQL state store with stale PostgreSQL partner tables and the Slack contract
//! server, the clock passed in where days must go by.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::contracts::{Slack, SLACK_PATH};
use common::{unique, Fixture, PG_URL};
use serde_json::Value;
use sqlx::Executor;
use syncwatch::app::App;
use syncwatch::pass::{self, Selection};

const ROTATION: &str = concat!(
    "oncall:\n",
    "  timezone: America/New_York\n",
    "  handoff: { weekday: monday, time: \"10:00\" }\n",
    "  start: \"2026-01-05\"\n",
    "  members:\n",
    "    - { name: alice, slack: U0ALICE, expertise: [crm] }\n",
    "    - { name: ben, slack: U0BEN, expertise: [billing] }\n",
    "    - { name: cy, slack: U0CY, expertise: [billing, crm] }\n",
    "    - { name: dee, slack: U0DEE }\n",
    "  overrides:\n",
    "    - { member: alice, from: \"2020-01-01 00:00\", until: \"2100-01-01 00:00\" }\n",
);

fn settings(store: &str, slack_api: &str, slack_hook: &str, extra: &str) -> String {
    format!(
        "store: {{ url: \"{store}\" }}\n\
         sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
         notifiers:\n\
         \x20 slack: {{ type: slack, webhook_url: \"{slack_hook}\" }}\n\
         \x20 slack_bot: {{ type: slack, bot_token: xoxb-test-token, channel: C0INCIDENTS, base_url: \"{slack_api}\" }}\n\
         routes:\n  oncall: [slack]\n\
         {ROTATION}\
         partners:\n  acme: {{ name: Acme Corp, component: cmp_acme, contacts: [U0PARTNERS, partnerships@example.org] }}\n\
         incidents: {{ call: {{ slack: slack_bot, when_failing: 99 }} }}\n{extra}"
    )
}

async fn drain(app: &std::sync::Arc<App>) {
    let deadline = app.clock.now() + Duration::seconds(10);
    syncwatch::notify::dispatch::drain(app, None, deadline).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_tag_the_areas_experts_a_pinch_hitter_and_a_partners_contacts() {
    let Some((_admin, _db, store)) = common::pg_store("sw_tags").await else {
        return;
    };
    let mut pg = common::pg().await.unwrap();
    let schema = unique("sw_tags_p");
    let mut ddl = format!("CREATE SCHEMA {schema};");
    for t in ["invoices", "c1", "c2", "c3", "c4", "orders"] {
        ddl.push_str(&format!("CREATE TABLE {schema}.{t} (ts timestamptz); INSERT INTO {schema}.{t} VALUES (now() - interval '3 hours');"));
    }
    pg.execute(ddl.as_str()).await.unwrap();
    let (slack, slack_url) = Slack::start().await;
    let api = slack_url.replace(SLACK_PATH, "/api");
    let check = |name: &str, extra: &str| {
        format!(
            "  - name: {name}\n    source: pg\n    freshness: {{ table: {schema}.{name}, column: ts, error_after: 1h }}\n    on_failure: {{ after: 1, page: oncall }}\n{extra}"
        )
    };
    let mut checks = String::from("checks:\n");
    checks.push_str(&check("invoices", "    area: billing\n    owners: [cy]\n"));
    for c in ["c1", "c2", "c3", "c4"] {
        checks.push_str(&check(c, "    area: crm\n"));
    }
    checks.push_str(&check(
        "orders",
        "    description: Acme orders sync\n    labels: { partner: acme, tier: critical }\n",
    ));
    let f = Fixture::new(
        &settings(&store, &api, &slack_url, ""),
        &[("c.yaml", &checks)],
    );
    let app = App::build(f.plan()).await.unwrap();
    let only = |names: &[&str]| Selection::Only(names.iter().map(|s| s.to_string()).collect());

    // An area alice does not cover: its owner first, then its other expert.
    pass::run(app.clone(), &only(&["invoices"]), Utc::now())
        .await
        .unwrap();
    drain(&app).await;
    let page = slack
        .texts()
        .into_iter()
        .find(|t| t.contains("invoices"))
        .expect("paged");
    assert!(page.contains("Prog Lead: <@U0ALICE> (alice)"), "{page}");
    assert!(
        page.contains("Tagged in: <@U0CY> (owner of area billing, which the Prog Lead (alice) does not cover); <@U0BEN> (expert of area billing"),
        "{page}"
    );
    let inc = app.store.incident(1).await.unwrap().unwrap();
    let who: Vec<&str> = inc.tagged.iter().map(|t| t.member.as_str()).collect();
    assert_eq!(who, ["cy", "ben"]);

    // Three crm pages alice covers: nobody tagged. The fourth open incident... is the fourth
    // page: alice already has 4 open, so a pinch hitter is tagged (round robin from ben).
    pass::run(app.clone(), &only(&["c1", "c2"]), Utc::now())
        .await
        .unwrap();
    pass::run(app.clone(), &only(&["c3"]), Utc::now())
        .await
        .unwrap();
    for id in 2..=4 {
        let i = app.store.incident(id).await.unwrap().unwrap();
        if id < 4 {
            assert!(i.tagged.is_empty(), "#{id} {:?}", i.tagged);
        } else {
            assert_eq!(
                i.tagged.len(),
                1,
                "the fourth concurrent incident tags a pinch hitter"
            );
            assert_eq!(
                i.tagged[0].why,
                "pinch hit: the Prog Lead (alice) already has 3 open incidents"
            );
        }
    }
    pass::run(app.clone(), &only(&["c4"]), Utc::now())
        .await
        .unwrap();
    let fifth = app.store.incident(5).await.unwrap().unwrap();
    assert_eq!(
        fifth.tagged[0].why,
        "pinch hit: the Prog Lead (alice) already has 4 open incidents"
    );
    let pinch = [
        app.store.incident(4).await.unwrap().unwrap().tagged[0]
            .member
            .clone(),
        fifth.tagged[0].member.clone(),
    ];
    assert_eq!(pinch, ["ben", "cy"], "round robin over the secondary");
    drain(&app).await;
    assert!(slack
        .texts()
        .iter()
        .any(|t| t.contains("c4") && t.contains("<@U0CY> (pinch hit")));

    // A critical partner check calls an incident: Partnerships invited, a draft notice posted.
    pass::run(app.clone(), &only(&["orders"]), Utc::now())
        .await
        .unwrap();
    drain(&app).await;
    let channel = slack
        .channels
        .lock()
        .unwrap()
        .iter()
        .find(|(n, _)| n.starts_with("inc-orders-"))
        .map(|(_, id)| id.clone())
        .expect("a channel is created");
    let invited = slack.invites.lock().unwrap().clone();
    // Alice holds five open incidents: the round robin has come to dee.
    assert_eq!(
        invited,
        vec![(channel.clone(), "U0ALICE,U0DEE,U0PARTNERS".to_string())],
        "the Prog Lead, the pinch hitter and Partnerships"
    );
    let posts = slack.posted_to(&channel);
    let notice = posts
        .iter()
        .find(|p| p.starts_with("Draft notice for Acme Corp"))
        .expect("a draft notice");
    assert!(
        notice.contains("Partnerships (<@U0PARTNERS>, partnerships@example.org)"),
        "{notice}"
    );
    assert!(
        notice.contains("data from Acme orders sync has been delayed since"),
        "{notice}"
    );
    assert!(notice.contains("will send the next update by"), "{notice}");
    pg.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await
        .unwrap();
}

fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::America::New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retro_is_due_in_business_days_and_reminded_once_a_day_until_done() {
    use syncwatch::incidents::remind_retros;
    let Some((_admin, _db, store)) = common::pg_store("sw_retros").await else {
        return;
    };
    let (slack, slack_url) = Slack::start().await;
    let api = slack_url.replace(SLACK_PATH, "/api");
    let extra = "retros: { required_after: 1h, due_within: 5, remind: oncall }\nincidents: { handoff_notice: oncall, call: { slack: slack_bot } }\n";
    let s = settings(&store, &api, &slack_url, "").replace(
        "incidents: { call: { slack: slack_bot, when_failing: 99 } }\n",
        extra,
    );
    let f = Fixture::new(&s, &[]);
    // The messages are queued at the instants passed in; a clock after all of them delivers.
    let clock = syncwatch::clock::Clock::virtual_at(ny(2026, 12, 20, 12, 0));
    let app = App::build_with_clock(f.plan(), clock).await.unwrap();

    // Raised Thursday 2026-12-03 09:00 New York, resolved 10:30: open 90 minutes, over 1h.
    let req = syncwatch::incidents::RaiseRequest {
        title: "Acme portal shows stale totals".into(),
        ..Default::default()
    };
    let raise = syncwatch::incidents::raise_plan(&app.plan, &req, "sam").unwrap();
    let (inc, _) = syncwatch::respond::change::raise(
        &app.store,
        &raise,
        &app.plan.settings,
        ny(2026, 12, 3, 9, 0),
    )
    .await
    .unwrap();
    // A short one: no retro.
    let (short, _) = syncwatch::respond::change::raise(
        &app.store,
        &raise,
        &app.plan.settings,
        ny(2026, 12, 3, 9, 1),
    )
    .await
    .unwrap();
    use syncwatch::store::incidents::Change;
    for (id, at) in [
        (inc.id, ny(2026, 12, 3, 10, 30)),
        (short.id, ny(2026, 12, 3, 9, 20)),
    ] {
        syncwatch::respond::change::change_incident(
            &app.store,
            id,
            Change::Resolve {
                by: "alice",
                note: "fixed",
            },
            &app.plan.settings,
            at,
        )
        .await
        .unwrap();
    }
    let inc = app.store.incident(inc.id).await.unwrap().unwrap();
    // Five business days after Thursday: Fri, Mon, Tue, Wed, Thu.
    assert_eq!(inc.retro_due.as_deref(), Some("2026-12-10"));
    assert_eq!(
        app.store
            .incident(short.id)
            .await
            .unwrap()
            .unwrap()
            .retro_due,
        None,
        "40 minutes: no retro"
    );
    app.store
        .add_action(
            inc.id,
            "Alert on Acme's export job",
            "ben",
            Some("2026-12-20"),
            Utc::now(),
        )
        .await
        .unwrap();

    let reminders = || {
        slack
            .texts()
            .into_iter()
            .filter(|t| t.contains("the retro for incident"))
            .collect::<Vec<_>>()
    };
    // The day before: nothing. On the due date before 09:00: nothing. From 09:00: once.
    assert_eq!(remind_retros(&app, ny(2026, 12, 9, 12, 0)).await, 0);
    assert_eq!(remind_retros(&app, ny(2026, 12, 10, 8, 59)).await, 0);
    assert_eq!(remind_retros(&app, ny(2026, 12, 10, 9, 0)).await, 1);
    assert_eq!(
        remind_retros(&app, ny(2026, 12, 10, 17, 0)).await,
        0,
        "once a day"
    );
    let other = App::build(f.plan()).await.unwrap();
    assert_eq!(
        remind_retros(&other, ny(2026, 12, 10, 18, 0)).await,
        0,
        "whichever replica looks"
    );
    drain(&app).await;
    let sent = reminders();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].starts_with("<@U0ALICE>: the retro for incident #1"),
        "{}",
        sent[0]
    );
    assert!(
        sent[0].contains("is due today (2026-12-10)")
            && sent[0].contains("#1 Alert on Acme's export job (ben)"),
        "{}",
        sent[0]
    );
    // Daily after it, overdue, until done.
    assert_eq!(remind_retros(&app, ny(2026, 12, 11, 9, 5)).await, 1);
    drain(&app).await;
    assert!(reminders()[1].contains("was due 2026-12-10 (overdue)"));
    app.store
        .retro_done(
            inc.id,
            ny(2026, 12, 11, 12, 0),
            Some("https://docs.example.org/retro-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        remind_retros(&app, ny(2026, 12, 14, 9, 5)).await,
        0,
        "done: no more reminders"
    );
    assert_eq!(
        app.store.followthrough_counts("2026-12-14").await.unwrap(),
        (0, 1)
    );

    // The retro draft and the handoff notice list the open action item.
    let (code, out) = {
        let r = f.cli(&["retro", "1"]);
        (r.code, r.stdout)
    };
    assert_eq!(code, 0);
    assert!(
        out.contains("- [ ] #1 Alert on Acme's export job — ben, due 2026-12-20"),
        "{out}"
    );
    assert!(
        out.contains("Retro done") && out.contains("https://docs.example.org/retro-1"),
        "{out}"
    );
    let r = f.cli(&["actions", "list", "--format", "json"]);
    let items: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(items["action_items"][0]["owner"], "ben");
    assert!(syncwatch::incidents::announce_handoff(&app, ny(2026, 12, 14, 10, 5)).await);
    drain(&app).await;
    let handoff = slack
        .texts()
        .into_iter()
        .find(|t| t.starts_with("Prog Lead handoff"))
        .expect("handoff");
    assert!(handoff.contains("Open action items (1):\n• #1 Alert on Acme's export job (ben, due 2026-12-20; incident #1)"), "{handoff}");
    assert_eq!(f.cli(&["actions", "done", "1"]).code, 0);
    assert_ne!(f.cli(&["actions", "done", "1"]).code, 0, "done once");
    assert_eq!(
        app.store.followthrough_counts("2026-12-14").await.unwrap(),
        (0, 0)
    );
}

/// A seeded incident: key, check, Prog Lead, opened, ack after, resolve after, retro due, done.
type Seeded = (
    &'static str,
    &'static str,
    &'static str,
    DateTime<Utc>,
    Option<Duration>,
    Option<Duration>,
    Option<String>,
    bool,
);

/// The most recent `weekday` at least two days before `now`, at `h:00` New York time.
fn last(weekday: chrono::Weekday, h: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Datelike;
    let mut d = (now - Duration::days(2))
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    while d.weekday() != weekday {
        d = d.pred_opt().unwrap();
    }
    chrono_tz::America::New_York
        .from_local_datetime(&d.and_hms_opt(h, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oncall_report_on_a_seeded_history_equals_the_hand_computed_numbers() {
    let Some((_admin, _db, store)) = common::pg_store("sw_report").await else {
        return;
    };
    let f = Fixture::new(
        &settings(
            &store,
            "http://127.0.0.1:9/api",
            "http://127.0.0.1:9/hook",
            "",
        ),
        &[],
    );
    // Migrates the store.
    assert_eq!(f.cli(&["incidents", "list"]).code, 0);
    let mut db: sqlx::PgConnection = sqlx::Connection::connect(&store).await.unwrap();
    let now = Utc::now();
    let wed = |h| last(chrono::Weekday::Wed, h, now);
    let sat = last(chrono::Weekday::Sat, 12, now);
    let m = Duration::minutes;
    let today = now
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let yesterday = (today - Duration::days(1)).format("%Y-%m-%d").to_string();
    // (key, check, lead, opened, ack after, resolve after, retro due, retro done)
    let rows: Vec<Seeded> = vec![
        (
            "k1",
            "van",
            "alice",
            wed(11),
            Some(m(5)),
            Some(m(60)),
            None,
            true,
        ),
        (
            "k2",
            "van",
            "alice",
            wed(3),
            Some(m(15)),
            Some(m(180)),
            Some(yesterday.clone()),
            false,
        ),
        (
            "k3",
            "van",
            "alice",
            sat,
            Some(m(30)),
            Some(m(120)),
            None,
            false,
        ),
        (
            "k4",
            "orders",
            "ben",
            wed(14),
            None,
            Some(m(20)),
            None,
            false,
        ),
        (
            "syncwatch/raised/k6",
            "raised:k6",
            "ben",
            wed(16),
            Some(m(1)),
            Some(m(10)),
            None,
            false,
        ),
        (
            "k5",
            "van",
            "alice",
            now - Duration::days(40),
            Some(m(1)),
            Some(m(1)),
            None,
            false,
        ),
    ];
    for (key, check, lead, opened, ack, resolve, due, done) in rows {
        sqlx::query("INSERT INTO incidents (dedup_key, check_name, severity, summary, since, opened_at, prog_lead, acked_at, acked_by, resolved_at, retro_due, retro_done_at) \
                     VALUES ($1, $2, 'critical', 's', $3, $3, $4, $5, $4, $6, $7, $8)")
            .bind(key).bind(check).bind(opened).bind(lead)
            .bind(ack.map(|a| opened + a)).bind(resolve.map(|r| opened + r)).bind(due)
            .bind(done.then_some(opened + m(600)))
            .execute(&mut db).await.unwrap();
    }
    for at in [wed(9), sat, now - Duration::days(45)] {
        sqlx::query("INSERT INTO events (at, check_name, kind, actor, detail) VALUES ($1, 'van', 'notice', 'syncwatch', $2)")
            .bind(at).bind(syncwatch::notify::incident::AUTO_FIXED)
            .execute(&mut db).await.unwrap();
    }
    let r = f.cli(&["report", "oncall", "--since", "30d", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let member = |name: &str| {
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["member"] == name)
            .unwrap()
            .clone()
    };
    let alice = member("alice");
    assert_eq!(
        (alice["pages"].as_u64(), alice["out_of_hours"].as_u64()),
        (Some(3), Some(2)),
        "{alice}"
    );
    assert_eq!(alice["time_to_ack"]["median"], 900.0);
    assert_eq!(alice["time_to_ack"]["p90"], 1800.0);
    assert_eq!(alice["time_to_resolve"]["median"], 7200.0);
    assert_eq!(alice["time_to_resolve"]["p90"], 10800.0);
    assert_eq!(
        (
            alice["retros_done"].as_u64(),
            alice["retros_overdue"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let ben = member("ben");
    assert_eq!(
        (ben["pages"].as_u64(), ben["out_of_hours"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        (
            ben["time_to_ack"]["median"].as_f64(),
            ben["time_to_ack"]["count"].as_u64()
        ),
        (Some(60.0), Some(1))
    );
    assert_eq!(ben["time_to_resolve"]["median"], 600.0);
    assert_eq!(ben["time_to_resolve"]["p90"], 1200.0);
    assert_eq!(member("dee")["pages"], 0, "members with no page are listed");
    assert_eq!(
        (v["fixed_by_restart"].as_u64(), v["check_pages"].as_u64()),
        (Some(2), Some(4))
    );
    assert!((v["restart_share"].as_f64().unwrap() - 2.0 / 6.0).abs() < 1e-9);
    assert_eq!(v["noisiest"][0]["check"], "van");
    assert_eq!(v["noisiest"][0]["pages"], 3);
    assert_eq!(v["noisiest"][1]["check"], "orders");
    let md = f.cli(&["report", "oncall"]).stdout;
    assert!(
        md.contains("| alice | 3 | 2 | 3.0 | 15m00s | 30m00s | 2h00m | 3h00m | 1 | 1 |"),
        "{md}"
    );
    assert!(
        md.contains("- alice: 3.0 pages a month — above the healthy 2."),
        "{md}"
    );
    assert!(
        md.contains(
            "2 failures were fixed by a restart with no page, 4 paged: 33% fixed by a restart."
        ),
        "{md}"
    );

    // The same history as Prometheus metrics, on a running daemon; promtool accepts them.
    let (_serve, base) = common::serve(&f.settings_path(), &[]);
    let metrics = common::eventually(20, || async {
        let (_, m) = common::get(&format!("{base}/metrics")).await;
        m.contains("syncwatch_incident_time_to_resolve_seconds_count 6")
            .then_some(m)
    })
    .await
    .expect("the incident history is in /metrics");
    for line in [
        // Acknowledged after 1m, 1m, 5m, 15m, 30m; one never acknowledged.
        "syncwatch_incident_time_to_ack_seconds_bucket{le=\"60\"} 2",
        "syncwatch_incident_time_to_ack_seconds_bucket{le=\"300\"} 3",
        "syncwatch_incident_time_to_ack_seconds_bucket{le=\"1800\"} 5",
        "syncwatch_incident_time_to_ack_seconds_count 5",
        "syncwatch_incident_time_to_ack_seconds_sum 3120",
        "syncwatch_incident_pages_total{hours=\"business\",member=\"ben\"} 2",
        "syncwatch_retros_overdue 1",
        "syncwatch_action_items_open 0",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
    if let Some(promtool) = common::tool("promtool") {
        common::promtool_check_metrics(&promtool, &metrics);
    }
}
