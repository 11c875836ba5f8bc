//! Freshness that knows when loads are due: a real PostgreSQL table loaded Monday to Friday at
//! 06:00 New York time, judged at chosen instants (the clock passed in), with a holiday
//! calendar from an iCalendar file, a deadline window, and a recurring maintenance window.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{unique, Fixture, PG_URL};
use sqlx::Executor;
use std::collections::HashMap;
use syncwatch::app::App;
use syncwatch::pass::{self, Selection};
use syncwatch::verdict::Verdict;

fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::America::New_York
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

const HOLIDAYS_ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//syncwatch test//EN\r\n\
BEGIN:VEVENT\r\nUID:h1\r\nSUMMARY:Partner day off\r\nDTSTART;VALUE=DATE:20261207\r\nDTEND;VALUE=DATE:20261208\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:h2\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20201225\r\nRRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

/// Runs every check with the clock at `at`; verdicts and reasons by check.
async fn judge_at(
    f: &Fixture,
    at: DateTime<Utc>,
) -> HashMap<String, (Verdict, String, Option<String>)> {
    let plan = f.plan();
    let names: Vec<String> = plan.checks.iter().map(|c| c.name.clone()).collect();
    let app = App::build_with_clock(plan, syncwatch::clock::Clock::virtual_at(at))
        .await
        .unwrap();
    let report = pass::run(app.clone(), &Selection::All, at).await.unwrap();
    app.close().await;
    report
        .results
        .iter()
        .map(|r| {
            (
                names[r.index].clone(),
                (
                    r.outcome.verdict,
                    r.outcome.reason.clone().unwrap_or_default(),
                    r.decision.as_ref().and_then(|d| d.held.clone()),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekday_load_judged_on_friday_evening_sunday_and_monday_morning() {
    let Some(mut pg) = common::pg().await else {
        return;
    };
    let schema = unique("sw_expect");
    // Friday 4 December 2026's load landed at 06:04 New York; nothing since.
    pg.execute(
        format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.orders (id int, loaded_at timestamptz);\
             INSERT INTO {schema}.orders VALUES (1, '2026-12-04 06:04:00 America/New_York');"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let settings = format!(
        "sources:\n  pg: {{ url: \"{PG_URL}\" }}\n\
         calendars:\n  partner_days_off: {{ ics: holidays.ics }}\n  none: {{ dates: [] }}\n\
         silences:\n  - {{ check: \"maint_*\", schedule: \"0 2 * * 0\", duration: 2h, timezone: America/New_York, reason: Acme weekly maintenance }}\n\
         routes:\n  console: [console]\n\
         notifiers:\n  console: {{ type: console }}\n"
    );
    let table = format!("{{ table: {schema}.orders, column: loaded_at");
    let checks = format!(
        "defaults: {{ source: pg, timezone: America/New_York }}\n\
         checks:\n\
         \x20 - name: weekday\n    freshness: {table}, expect: {{ schedule: \"0 6 * * 1-5\", grace: 2h, warn_grace: 1h }} }}\n\
         \x20 - name: weekday_off\n    freshness: {table}, expect: {{ schedule: \"0 6 * * 1-5\", grace: 2h, warn_grace: 1h, skip: [partner_days_off] }} }}\n\
         \x20 - name: with_age\n    freshness: {table}, error_after: 4d, expect: {{ schedule: \"0 6 * * 1-5\", grace: 2h }} }}\n\
         \x20 - name: window\n    freshness: {table}, expect: {{ deadline: \"0 10 * * 1-5\", window: 4h30m }} }}\n\
         \x20 - name: maint_orders\n    freshness: {table}, expect: {{ schedule: \"0 6 * * *\", grace: 1h }} }}\n\
         \x20   on_failure: {{ after: 1, page: console }}\n"
    );
    let f = Fixture::new(&settings, &[("orders.yaml", &checks)]);
    std::fs::write(f.path().join("holidays.ics"), HOLIDAYS_ICS).unwrap();

    // Friday evening: the day's load is in.
    let v = judge_at(&f, ny(2026, 12, 4, 20, 0)).await;
    for c in ["weekday", "weekday_off", "with_age", "window"] {
        assert_eq!(v[c].0, Verdict::Pass, "{c} Friday evening: {:?}", v[c]);
    }
    // Sunday: no load is expected at weekends, although the data is two days old.
    let v = judge_at(&f, ny(2026, 12, 6, 12, 0)).await;
    for c in ["weekday", "weekday_off", "with_age", "window"] {
        assert_eq!(v[c].0, Verdict::Pass, "{c} on Sunday: {:?}", v[c]);
    }
    // Monday 07:30: the 06:00 load is late (warn from 1h), not missed (grace 2h).
    let v = judge_at(&f, ny(2026, 12, 7, 7, 30)).await;
    assert_eq!(v["weekday"].0, Verdict::Warn, "{:?}", v["weekday"]);
    assert_eq!(
        v["weekday"].1,
        "the Mon 06:00 load is 1h30m late (warn_grace 1h; missed at 08:00); newest data is from Fri 06:04"
    );
    // The partner's day off (from the iCalendar file): nothing is expected on Monday.
    assert_eq!(v["weekday_off"].0, Verdict::Pass, "{:?}", v["weekday_off"]);
    // Monday 09:00: the load is missed.
    let v = judge_at(&f, ny(2026, 12, 7, 9, 0)).await;
    assert_eq!(v["weekday"].0, Verdict::Fail);
    assert_eq!(
        v["weekday"].1,
        "the Mon 06:00 load is 3h00m late (grace 2h); newest data is from Fri 06:04"
    );
    assert_eq!(v["weekday_off"].0, Verdict::Pass, "{:?}", v["weekday_off"]);
    assert_eq!(v["with_age"].0, Verdict::Fail, "the worse of the two wins");
    // The window 05:30–10:00 is still open.
    assert_eq!(v["window"].0, Verdict::Pass, "{:?}", v["window"]);
    let v = judge_at(&f, ny(2026, 12, 7, 10, 15)).await;
    assert_eq!(v["window"].0, Verdict::Fail);
    assert!(
        v["window"]
            .1
            .starts_with("the Mon 05:30–10:00 load missed its deadline by 15m00s"),
        "{:?}",
        v["window"]
    );
    // Tuesday 09:00 after the day off: Tuesday's load is missed.
    let v = judge_at(&f, ny(2026, 12, 8, 9, 0)).await;
    assert_eq!(v["weekday_off"].0, Verdict::Fail);
    assert!(v["weekday_off"]
        .1
        .starts_with("the Tue 06:00 load is 3h00m late"));

    // Sunday 02:30: the maintenance window holds. The check runs and fails, nothing pages.
    let v = judge_at(&f, ny(2026, 12, 6, 8, 0)).await;
    assert_eq!(v["maint_orders"].0, Verdict::Fail);
    let held = v["maint_orders"].2.clone().unwrap_or_default();
    assert!(
        held.is_empty(),
        "outside the window nothing is held: {held}"
    );
    let v = judge_at(&f, ny(2026, 12, 13, 2, 30)).await;
    assert_eq!(
        v["maint_orders"].0,
        Verdict::Fail,
        "checks run during maintenance"
    );
    let held = v["maint_orders"].2.clone().unwrap_or_default();
    assert!(
        held.starts_with("silenced") && held.contains("maintenance: Acme weekly maintenance"),
        "{held}"
    );

    // `plan` shows the next expected load and its deadline.
    let out = f.cli(&["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let weekday = plan["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "weekday")
        .unwrap();
    let next = weekday["expect"]["next_load"].as_str().unwrap();
    assert!(
        next.ends_with("T06:00:00-05:00") || next.ends_with("T06:00:00-04:00"),
        "{next}"
    );
    assert!(weekday["expect"]["next_deadline"]
        .as_str()
        .unwrap()
        .contains("T08:00:00"));
    let table = f.cli(&["plan"]).stdout;
    assert!(
        table.contains("NEXT EXPECTED LOAD") && table.contains("(missed at "),
        "{table}"
    );
    // `silence --list` shows the maintenance window.
    let list = f.cli(&["silence", "--list"]).stdout;
    assert!(
        list.contains("maintenance") && list.contains("maint_*"),
        "{list}"
    );
}
