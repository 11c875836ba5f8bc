//! Freshness SLOs on a seeded run history: `report slo`, the daemon's SLO and expected-load
//! metrics, the status page's 90-day bars and its maintenance badge.

mod common;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::Fixture;
use serde_json::Value;

async fn seed(f: &Fixture, runs: &[(&str, DateTime<Utc>, &str)]) {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}",
        f.path().join(".syncwatch/state.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for (check, at, verdict) in runs {
        sqlx::query("INSERT INTO runs (check_name, started_at, duration_ms, verdict, reason) VALUES ($1, $2, 5, $3, 'seeded')")
            .bind(check)
            .bind(at)
            .bind(verdict)
            .execute(&mut db)
            .await
            .unwrap();
    }
    db.close().await.unwrap();
}

fn metric(text: &str, name: &str, check: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&format!("check=\"{check}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_numbers_on_a_seeded_history_equal_the_hand_computed_ones() {
    let settings = "sources:\n  p: { url: \"sqlite:p.db\" }\n\
         calendars:\n  none: { dates: [] }\n\
         silences:\n  - { check: ledger, schedule: \"* * * * *\", duration: 1h, reason: nightly vacuum }\n";
    let checks = "checks:\n\
         \x20 - name: orders\n    source: p\n    schedule: \"0 * * * *\"\n    slo: { objective: 99%, window: 10h }\n\
         \x20   freshness: { table: t, column: ts, error_after: 2h, expect: { schedule: \"0 6 * * 1-5\", timezone: America/New_York, grace: 2h } }\n\
         \x20 - name: ledger\n    source: p\n    schedule: \"0 * * * *\"\n    row_count: { table: t, error_below: 1 }\n";
    let f = Fixture::new(settings, &[("c.yaml", checks)]);
    common::sqlite_partner(
        &f.path().join("p.db"),
        "CREATE TABLE t (ts TEXT); INSERT INTO t VALUES (datetime('now'));",
    )
    .await;
    // Migrates the store.
    assert_eq!(f.cli(&["incidents", "list"]).code, 0);
    // Not across an hour boundary while the commands below run.
    let mut now = Utc::now();
    if now.duration_trunc(Duration::hours(1)).unwrap() + Duration::minutes(59) < now {
        tokio::time::sleep(std::time::Duration::from_secs(65)).await;
        now = Utc::now();
    }
    let base = now.duration_trunc(Duration::hours(1)).unwrap();
    let h = |n: i64| base + Duration::hours(n);
    let mut runs = vec![
        ("orders", h(-10), "pass"),
        ("orders", h(-9), "pass"),
        ("orders", h(-8), "fail"),
        ("orders", h(-7), "fail"),
        ("orders", h(-6), "warn"),
        ("orders", h(-2), "error"),
        ("orders", h(-1), "pass"),
        ("orders", h(0), "pass"),
    ];
    let day = |back: i64| {
        (now - Duration::days(back))
            .duration_trunc(Duration::days(1))
            .unwrap()
            + Duration::hours(12)
    };
    runs.extend([
        ("ledger", day(89), "pass"),
        ("ledger", day(45), "warn"),
        ("ledger", day(30), "pass"),
        ("ledger", day(30) + Duration::hours(1), "fail"),
        ("ledger", day(95), "fail"),
    ]);
    seed(&f, &runs).await;

    // By hand, over the ten hours before now (δ = now − base):
    // good: the run at −10h from the window's start to −9h (1h − δ), −9h to −8h (1h), the warn
    // at −6h until two fire times and a minute later (2h01m), −1h to 0 (1h), 0 to now (δ)
    //   = 5h01m = 18,060 s;
    // bad: −8h to −6h = 7,200 s; unknown: −3h59m to −2h and the error hour = 2h59m = 10,740 s.
    let (good, bad, unknown) = (18_060.0, 7_200.0, 10_740.0);
    let achieved = good / (good + bad);
    let budget_left = 1.0 - bad / (0.01 * (good + bad));
    let r = f.cli(&["report", "slo", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let orders = &v["checks"][0];
    assert_eq!(orders["check"], "orders");
    assert_eq!(
        v["checks"].as_array().unwrap().len(),
        1,
        "only checks with an slo"
    );
    let close = |x: &Value, want: f64| (x.as_f64().unwrap() - want).abs() < 0.01;
    assert!(close(&orders["good_seconds"], good), "{orders}");
    assert!(close(&orders["bad_seconds"], bad), "{orders}");
    assert!(close(&orders["unknown_seconds"], unknown), "{orders}");
    assert!(
        (orders["achieved"].as_f64().unwrap() - achieved).abs() < 1e-6,
        "{orders}"
    );
    assert!(
        (orders["budget_left"].as_f64().unwrap() - budget_left).abs() < 1e-4,
        "{orders}"
    );
    assert_eq!(orders["met"], false);
    let md = f.cli(&["report", "slo"]).stdout;
    assert!(
        md.contains(
            "| orders | 99.000% | 10h | 71.496% | 2h59m | -2750% (over by 1h55m) | MISSED |"
        ),
        "{md}"
    );

    // The daemon: SLO and expected-load metrics, the 90-day bars, the maintenance badge.
    let (_serve, base_url) = common::serve(&f.settings_path(), &[]);
    let text = common::eventually(20, || async {
        let (_, m) = common::get(&format!("{base_url}/metrics")).await;
        m.contains("syncwatch_check_slo_achieved_ratio")
            .then_some(m)
    })
    .await
    .expect("SLO metrics");
    assert_eq!(
        metric(&text, "syncwatch_check_slo_objective_ratio", "orders"),
        Some(0.99)
    );
    let got = metric(&text, "syncwatch_check_slo_achieved_ratio", "orders").unwrap();
    assert!((got - achieved).abs() < 1e-6, "{got} vs {achieved}");
    let got = metric(
        &text,
        "syncwatch_check_slo_error_budget_remaining_ratio",
        "orders",
    )
    .unwrap();
    assert!((got - budget_left).abs() < 1e-4, "{got} vs {budget_left}");
    assert!(metric(&text, "syncwatch_check_slo_objective_ratio", "ledger").is_none());
    assert!(
        metric(&text, "syncwatch_check_load_lateness_seconds", "orders").is_some_and(|l| l >= 0.0)
    );
    assert!(metric(&text, "syncwatch_check_load_lateness_seconds", "ledger").is_none());
    // `ledger` never ran: the daemon runs it as it starts; wait for that run.
    let page = common::eventually(20, || async {
        let page = common::get(&format!("{base_url}/")).await.1;
        page.contains("data-check=\"ledger\"><th scope=\"row\">ledger</th><td data-label=\"Verdict\"><span class=\"v pass\">").then_some(page)
    })
    .await
    .expect("ledger ran");
    let row = page
        .split("data-check=\"ledger\"")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        // Seeded: 89 days ago pass, 45 warn, 30 pass then fail (the worst counts), 95 (too old);
        // and today's pass (never run before, `ledger` runs as the daemon starts).
        row.contains("last 90 days (worst verdict of each UTC day): 2 pass, 1 warn, 1 fail, 0 error, 86 without data"),
        "{row}"
    );
    assert!(
        row.contains("MAINTENANCE") && row.contains("nightly vacuum"),
        "{row}"
    );
    let orders_row = page
        .split("data-check=\"orders\"")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(!orders_row.contains("MAINTENANCE"), "{orders_row}");
    // /api/checks: the next expected load and its deadline.
    let (_, api) = common::get(&format!("{base_url}/api/checks")).await;
    let api: Value = serde_json::from_str(&api).unwrap();
    let o = api["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "orders")
        .unwrap();
    assert!(
        o["expect"]["next_deadline"]
            .as_str()
            .unwrap()
            .contains("T08:00:00"),
        "{o}"
    );
    // Exported from the last recorded run (restored at start): the next 08:00 New York deadline.
    let d = metric(
        &text,
        "syncwatch_check_next_deadline_timestamp_seconds",
        "orders",
    )
    .expect("deadline exported");
    assert!(
        d > now.timestamp() as f64 && d <= (now + Duration::days(4)).timestamp() as f64,
        "{d}"
    );
    let ny = DateTime::from_timestamp(d as i64, 0)
        .unwrap()
        .with_timezone(&chrono_tz::America::New_York);
    assert_eq!(ny.format("%H:%M").to_string(), "08:00");
}
