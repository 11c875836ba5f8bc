//! Expected loads over weekends, holidays and daylight-saving changes (New York, Berlin).

use super::*;
use chrono::NaiveDate;
use chrono_tz::Tz;

fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    at(chrono_tz::America::New_York, y, m, d, h, min)
}

fn loads(expr: &str, tz: Tz, grace_min: u64, warn_min: Option<u64>, skip: &[&str]) -> Expect {
    let days = skip
        .iter()
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
        .collect();
    Expect {
        schedule: Schedule::new(expr, tz).unwrap(),
        mode: Mode::Loads {
            grace: Duration::from_secs(grace_min * 60),
        },
        warn_grace: warn_min.map(|m| Duration::from_secs(m * 60)),
        skip: if skip.is_empty() {
            vec![]
        } else {
            vec![Arc::new(Calendar {
                name: "holidays".into(),
                days,
            })]
        },
    }
}

#[test]
fn a_weekday_partner_across_the_weekend() {
    // Mon–Fri 06:00 New York, missed at 08:00, warn from 07:00. Newest data: Fri 4 Dec 06:04.
    let e = loads(
        "0 6 * * 1-5",
        chrono_tz::America::New_York,
        120,
        Some(60),
        &[],
    );
    let newest = ny(2026, 12, 4, 6, 4);
    let cases = [
        // (when, verdict, reason starts with)
        (ny(2026, 12, 4, 20, 0), Verdict::Pass, ""),
        (ny(2026, 12, 5, 12, 0), Verdict::Pass, ""),
        (ny(2026, 12, 6, 23, 0), Verdict::Pass, ""),
        (ny(2026, 12, 7, 6, 59), Verdict::Pass, ""),
        (
            ny(2026, 12, 7, 7, 30),
            Verdict::Warn,
            "the Mon 06:00 load is 1h30m late (warn_grace 1h; missed at 08:00); newest data is from Fri 06:04",
        ),
        (ny(2026, 12, 7, 7, 59), Verdict::Warn, "the Mon 06:00 load is 1h59m late"),
        (
            ny(2026, 12, 7, 8, 0),
            Verdict::Fail,
            "the Mon 06:00 load is 2h00m late (grace 2h); newest data is from Fri 06:04",
        ),
        (
            ny(2026, 12, 8, 9, 0),
            Verdict::Fail,
            "the Tue 06:00 load is 3h00m late (grace 2h); newest data is from Fri 06:04",
        ),
    ];
    for (when, verdict, reason) in cases {
        let j = e.judge(newest, when);
        assert_eq!(j.verdict, verdict, "at {when}: {j:?}");
        assert!(
            j.reason.clone().unwrap_or_default().starts_with(reason),
            "at {when}: {j:?}"
        );
    }
    // The Monday load landed at 06:10: fine until Tuesday's load is late.
    assert_eq!(
        e.judge(ny(2026, 12, 7, 6, 10), ny(2026, 12, 8, 6, 59))
            .verdict,
        Verdict::Pass
    );
    assert_eq!(
        e.judge(ny(2026, 12, 7, 6, 10), ny(2026, 12, 8, 7, 59))
            .verdict,
        Verdict::Warn
    );
    assert_eq!(
        e.judge(ny(2026, 12, 7, 6, 10), ny(2026, 12, 8, 8, 0))
            .verdict,
        Verdict::Fail
    );
    assert_eq!(
        e.judge(newest, ny(2026, 12, 8, 9, 0)).lateness_seconds,
        3.0 * 3600.0
    );
}

#[test]
fn holidays_have_no_load_and_the_next_load_skips_them() {
    let e = loads(
        "0 6 * * 1-5",
        chrono_tz::America::New_York,
        120,
        Some(60),
        &["2026-12-07", "2026-12-25"],
    );
    let newest = ny(2026, 12, 4, 6, 4);
    // Monday 7 December is a holiday: Friday's load suffices on Monday.
    assert_eq!(
        e.judge(newest, ny(2026, 12, 7, 9, 0)).verdict,
        Verdict::Pass
    );
    assert_eq!(
        e.judge(newest, ny(2026, 12, 7, 7, 30)).verdict,
        Verdict::Pass
    );
    let j = e.judge(newest, ny(2026, 12, 8, 8, 30));
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reason.unwrap().starts_with("the Tue 06:00 load"));
    // The next load after Friday evening is Tuesday's, due 08:00.
    assert_eq!(
        e.next(ny(2026, 12, 4, 20, 0)),
        Some(Load {
            at: ny(2026, 12, 8, 6, 0),
            due: ny(2026, 12, 8, 8, 0)
        })
    );
    // Christmas Friday: Thursday's load suffices until Monday's grace passes.
    let thu = ny(2026, 12, 24, 6, 3);
    assert_eq!(e.judge(thu, ny(2026, 12, 27, 12, 0)).verdict, Verdict::Pass);
    assert_eq!(e.judge(thu, ny(2026, 12, 28, 8, 1)).verdict, Verdict::Fail);
    assert_eq!(
        e.latest_due(ny(2026, 12, 27, 12, 0)).unwrap().at,
        ny(2026, 12, 24, 6, 0)
    );
}

#[test]
fn a_calendar_of_every_day_for_years_ends_the_walk_without_an_expected_load() {
    let mut days = std::collections::BTreeSet::new();
    let mut d = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    while d.year_ce().1 < 2027 {
        days.insert(d);
        d = d.succ_opt().unwrap();
    }
    let mut e = loads("* * * * *", chrono_tz::UTC, 60, None, &[]);
    e.skip = vec![Arc::new(Calendar {
        name: "closed".into(),
        days,
    })];
    let now = at(chrono_tz::UTC, 2026, 6, 1, 12, 0);
    assert_eq!(e.latest_due(now), None);
    assert_eq!(
        e.judge(at(chrono_tz::UTC, 2010, 1, 1, 0, 0), now).verdict,
        Verdict::Pass
    );
    assert_eq!(
        e.next(now).unwrap().at,
        at(chrono_tz::UTC, 2027, 1, 1, 0, 0)
    );
}

use chrono::Datelike;

#[test]
fn loads_follow_the_wall_clock_across_daylight_saving_changes() {
    // New York springs forward on Sunday 8 March 2026: 06:00 is 11:00Z on the 7th, 10:00Z on the 8th.
    let e = loads("0 6 * * *", chrono_tz::America::New_York, 120, None, &[]);
    let l = e.latest_due(ny(2026, 3, 8, 8, 0)).unwrap();
    assert_eq!(l.at.to_rfc3339(), "2026-03-08T10:00:00+00:00");
    assert_eq!(l.due.to_rfc3339(), "2026-03-08T12:00:00+00:00");
    let l = e.latest_due(ny(2026, 3, 8, 7, 59)).unwrap();
    assert_eq!(l.at.to_rfc3339(), "2026-03-07T11:00:00+00:00");
    // New York falls back on 1 November: 06:00 EST is 11:00Z.
    let l = e.latest_due(ny(2026, 11, 1, 8, 0)).unwrap();
    assert_eq!(l.at.to_rfc3339(), "2026-11-01T11:00:00+00:00");

    // Berlin falls back on Sunday 25 October 2026: 02:30 happens twice; the load is expected
    // once that day, and Monday's at 02:30 CET (01:30Z).
    let berlin = chrono_tz::Europe::Berlin;
    let e = loads("30 2 * * *", berlin, 60, None, &[]);
    let sunday = e.latest_due(at(berlin, 2026, 10, 25, 12, 0)).unwrap();
    assert_eq!(sunday.at.with_timezone(&berlin).date_naive().day(), 25);
    let monday = e.latest_due(at(berlin, 2026, 10, 26, 4, 0)).unwrap();
    assert_eq!(monday.at.to_rfc3339(), "2026-10-26T01:30:00+00:00");
    // Berlin springs forward on 29 March: 02:30 does not exist that day. A load is still
    // expected that day (croner fires at the first valid instant), never skipped silently.
    let march = e.latest_due(at(berlin, 2026, 3, 29, 12, 0)).unwrap();
    assert_eq!(march.at.with_timezone(&berlin).date_naive().day(), 29);
}

#[test]
fn a_deadline_window_needs_data_that_landed_inside_it() {
    // Data must land between 09:00 and 10:00 New York; warn from 09:40.
    let e = Expect {
        schedule: Schedule::new("0 10 * * *", chrono_tz::America::New_York).unwrap(),
        mode: Mode::Deadline {
            window: Duration::from_secs(3600),
        },
        warn_grace: Some(Duration::from_secs(40 * 60)),
        skip: vec![],
    };
    let yesterday = ny(2026, 12, 1, 9, 30);
    assert_eq!(
        e.judge(yesterday, ny(2026, 12, 2, 9, 30)).verdict,
        Verdict::Pass
    );
    let warn = e.judge(yesterday, ny(2026, 12, 2, 9, 45));
    assert_eq!(warn.verdict, Verdict::Warn, "{warn:?}");
    let fail = e.judge(yesterday, ny(2026, 12, 2, 10, 30));
    assert_eq!(fail.verdict, Verdict::Fail);
    assert_eq!(
        fail.reason.as_deref(),
        Some(
            "the Wed 09:00–10:00 load missed its deadline by 30m00s; newest data is from Tue 09:30"
        )
    );
    // Landed at 09:12: passes after the deadline. Data from 08:59 is before the window.
    assert_eq!(
        e.judge(ny(2026, 12, 2, 9, 12), ny(2026, 12, 2, 10, 30))
            .verdict,
        Verdict::Pass
    );
    assert_eq!(
        e.judge(ny(2026, 12, 2, 8, 59), ny(2026, 12, 2, 10, 30))
            .verdict,
        Verdict::Fail
    );
    assert_eq!(
        e.next(ny(2026, 12, 2, 10, 30)),
        Some(Load {
            at: ny(2026, 12, 3, 9, 0),
            due: ny(2026, 12, 3, 10, 0)
        })
    );
}

#[test]
fn lateness_of_the_current_load() {
    let e = loads("0 6 * * 1-5", chrono_tz::America::New_York, 120, None, &[]);
    let newest = ny(2026, 12, 4, 6, 4);
    assert_eq!(e.lateness(Some(newest), ny(2026, 12, 4, 20, 0)), 0.0);
    assert_eq!(e.lateness(Some(newest), ny(2026, 12, 7, 7, 0)), 3600.0);
    assert_eq!(
        e.lateness(Some(newest), ny(2026, 12, 7, 9, 0)),
        3.0 * 3600.0
    );
}
