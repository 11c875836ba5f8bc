//! Fire times across daylight-saving changes, overlap, jitter and catch-up, in paused tokio time.

use super::*;
use chrono_tz::Tz;
use std::sync::Mutex;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Records when (on the virtual clock) each run started; each run lasts `takes`.
struct Recorder {
    clock: Clock,
    takes: Duration,
    runs: Mutex<Vec<(String, DateTime<Utc>)>>,
    /// Each group handed over: its checks and fire time.
    groups: Mutex<Vec<(Vec<String>, DateTime<Utc>)>>,
    skipped: Mutex<Vec<String>>,
    late: Mutex<Vec<Duration>>,
}

impl Recorder {
    fn new(clock: Clock, takes: Duration) -> Arc<Recorder> {
        Arc::new(Recorder {
            clock,
            takes,
            runs: Mutex::default(),
            groups: Mutex::default(),
            skipped: Mutex::default(),
            late: Mutex::default(),
        })
    }

    fn times(&self, check: &str) -> Vec<DateTime<Utc>> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == check)
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Runner for Recorder {
    fn run(
        &self,
        checks: Vec<Arc<str>>,
        due: DateTime<Utc>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let now = self.clock.now();
        let names: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
        self.runs
            .lock()
            .unwrap()
            .extend(names.iter().map(|n| (n.clone(), now)));
        self.groups.lock().unwrap().push((names, due));
        let takes = self.takes;
        async move { tokio::time::sleep(takes).await }
    }
    fn skipped(&self, check: &str) {
        self.skipped.lock().unwrap().push(check.to_string());
    }
    fn late(&self, _: &str, by: Duration) {
        self.late.lock().unwrap().push(by);
    }
}

fn timing(expr: &str, tz: Tz) -> Timing {
    Timing {
        schedule: Schedule::new(expr, tz).unwrap(),
        jitter: Duration::ZERO,
    }
}

/// Runs the scheduler for `span` of virtual time from `origin`, with every check's last run at `origin`.
async fn simulate(
    origin: &str,
    span: Duration,
    checks: Vec<(&str, Timing)>,
    takes: Duration,
) -> Arc<Recorder> {
    let clock = Clock::virtual_at(utc(origin));
    let rec = Recorder::new(clock, takes);
    let mut s = Scheduler::new(Arc::clone(&rec), clock);
    let last: HashMap<String, DateTime<Utc>> = checks
        .iter()
        .map(|(n, _)| (n.to_string(), utc(origin)))
        .collect();
    s.sync(
        checks
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
        &last,
    );
    tokio::time::sleep(span).await;
    s.stop();
    rec
}

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test(start_paused = true)]
async fn six_am_follows_daylight_saving_in_new_york_and_berlin() {
    let rec = simulate(
        "2026-03-06T12:00:00Z",
        4 * DAY,
        vec![
            ("ny", timing("0 6 * * *", chrono_tz::America::New_York)),
            ("berlin", timing("0 6 * * *", chrono_tz::Europe::Berlin)),
        ],
        Duration::from_secs(1),
    )
    .await;
    // New York springs forward on 8 March: 06:00 EST = 11:00Z, then 06:00 EDT = 10:00Z.
    assert_eq!(
        rec.times("ny"),
        [
            "2026-03-07T11:00:00Z",
            "2026-03-08T10:00:00Z",
            "2026-03-09T10:00:00Z",
            "2026-03-10T10:00:00Z"
        ]
        .map(utc)
    );
    assert_eq!(
        rec.times("berlin"),
        [
            "2026-03-07T05:00:00Z",
            "2026-03-08T05:00:00Z",
            "2026-03-09T05:00:00Z",
            "2026-03-10T05:00:00Z"
        ]
        .map(utc)
    );

    let rec = simulate(
        "2026-10-24T12:00:00Z",
        2 * DAY,
        vec![("berlin", timing("0 6 * * *", chrono_tz::Europe::Berlin))],
        Duration::from_secs(1),
    )
    .await;
    // Berlin falls back on 25 October: 06:00 CEST = 04:00Z, then 06:00 CET = 05:00Z.
    assert_eq!(
        rec.times("berlin"),
        ["2026-10-25T05:00:00Z", "2026-10-26T05:00:00Z"].map(utc)
    );
}

#[tokio::test(start_paused = true)]
async fn hourly_fires_once_per_real_hour_across_both_changes() {
    let fall = simulate(
        "2026-11-01T03:30:00Z",
        Duration::from_secs(4 * 3600),
        vec![("h", timing("@hourly", chrono_tz::America::New_York))],
        Duration::ZERO,
    )
    .await;
    // 01:00 EDT and 01:00 EST are both real hours: four hours, four runs, none twice.
    assert_eq!(
        fall.times("h"),
        [
            "2026-11-01T04:00:00Z",
            "2026-11-01T05:00:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T07:00:00Z"
        ]
        .map(utc)
    );
    let spring = simulate(
        "2026-03-08T05:30:00Z",
        Duration::from_secs(3 * 3600),
        vec![("h", timing("0 * * * *", chrono_tz::America::New_York))],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        spring.times("h"),
        [
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T08:00:00Z"
        ]
        .map(utc)
    );
}

#[tokio::test(start_paused = true)]
async fn a_time_skipped_by_spring_forward_runs_once_right_after_the_gap() {
    let rec = simulate(
        "2026-03-07T12:00:00Z",
        2 * DAY,
        vec![("t", timing("30 2 * * *", chrono_tz::America::New_York))],
        Duration::ZERO,
    )
    .await;
    // 02:30 does not exist on 8 March; like Vixie cron it runs at 03:00 EDT (07:00Z).
    assert_eq!(
        rec.times("t"),
        ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"].map(utc)
    );
}

#[tokio::test(start_paused = true)]
async fn five_and_six_field_expressions() {
    let rec = simulate(
        "2026-01-01T00:00:00Z",
        Duration::from_secs(125),
        vec![
            ("min", timing("* * * * *", Tz::UTC)),
            ("sec", timing("*/20 * * * * *", Tz::UTC)),
        ],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        rec.times("min"),
        ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"].map(utc)
    );
    assert_eq!(
        rec.times("sec").len(),
        6,
        "every 20 seconds for two minutes"
    );
    assert!(rec
        .late
        .lock()
        .unwrap()
        .iter()
        .all(|l| *l < Duration::from_millis(5)));
}

#[tokio::test(start_paused = true)]
async fn a_check_never_overlaps_itself() {
    // Every minute, each run taking 90 s: the tick at 00:02 finds 00:01's run still going.
    let rec = simulate(
        "2026-01-01T00:00:00Z",
        Duration::from_secs(4 * 60 + 30),
        vec![("slow", timing("* * * * *", Tz::UTC))],
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(
        rec.times("slow"),
        ["2026-01-01T00:01:00Z", "2026-01-01T00:03:00Z"].map(utc)
    );
    assert_eq!(
        *rec.skipped.lock().unwrap(),
        vec!["slow".to_string(), "slow".to_string()]
    );
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_starts_within_its_bound() {
    let jitter = Duration::from_secs(30);
    let checks: Vec<(String, Timing)> = (0..50)
        .map(|i| {
            (
                format!("c{i}"),
                Timing {
                    schedule: Schedule::new("*/5 * * * *", Tz::UTC).unwrap(),
                    jitter,
                },
            )
        })
        .collect();
    let clock = Clock::virtual_at(utc("2026-01-01T00:00:00Z"));
    let rec = Recorder::new(clock, Duration::ZERO);
    let mut s = Scheduler::new(Arc::clone(&rec), clock);
    let last = checks
        .iter()
        .map(|(n, _)| (n.clone(), utc("2026-01-01T00:00:00Z")))
        .collect();
    s.sync(checks, &last);
    tokio::time::sleep(Duration::from_secs(6 * 60)).await;
    let starts: Vec<DateTime<Utc>> = rec.runs.lock().unwrap().iter().map(|(_, t)| *t).collect();
    assert_eq!(starts.len(), 50);
    let fire = utc("2026-01-01T00:05:00Z");
    assert!(
        starts
            .iter()
            .all(|t| *t >= fire && *t < fire + chrono::Duration::seconds(30)),
        "{starts:?}"
    );
    let distinct: std::collections::HashSet<_> = starts.iter().collect();
    assert!(
        distinct.len() > 25,
        "starts are spread, not bunched: {} distinct",
        distinct.len()
    );
    for i in 0..1000 {
        assert!(jitter_offset(&format!("x{i}"), fire, jitter) < jitter);
    }
    assert_eq!(jitter_offset("a", fire, Duration::ZERO), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn after_a_restart_an_overdue_check_runs_once_promptly() {
    let origin = utc("2026-01-01T00:07:00Z");
    let clock = Clock::virtual_at(origin);
    let rec = Recorder::new(clock, Duration::ZERO);
    let mut s = Scheduler::new(Arc::clone(&rec), clock);
    let t = || timing("*/15 * * * *", Tz::UTC);
    let last: HashMap<String, DateTime<Utc>> = [
        ("missed".to_string(), utc("2025-12-31T23:40:00Z")), // the 23:45 and 00:00 fires passed while down
        ("recent".to_string(), utc("2026-01-01T00:01:00Z")), // next fire 00:15 is still ahead
    ]
    .into();
    s.sync(
        vec![
            ("missed".into(), t()),
            ("recent".into(), t()),
            ("new".into(), t()),
        ],
        &last,
    );
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    assert_eq!(
        rec.times("missed"),
        vec![origin, utc("2026-01-01T00:15:00Z")],
        "one catch-up run, no burst"
    );
    assert_eq!(rec.times("recent"), vec![utc("2026-01-01T00:15:00Z")]);
    assert_eq!(
        rec.times("new"),
        vec![origin, utc("2026-01-01T00:15:00Z")],
        "never run: runs at start"
    );
}

#[tokio::test(start_paused = true)]
async fn sync_keeps_unchanged_timers_and_stops_removed_checks() {
    let clock = Clock::virtual_at(utc("2026-01-01T00:00:30Z"));
    let rec = Recorder::new(clock, Duration::ZERO);
    let mut s = Scheduler::new(Arc::clone(&rec), clock);
    let last: HashMap<String, DateTime<Utc>> = [
        ("a".to_string(), utc("2026-01-01T00:00:10Z")),
        ("b".to_string(), utc("2026-01-01T00:00:10Z")),
    ]
    .into();
    s.sync(
        vec![
            ("a".into(), timing("* * * * *", Tz::UTC)),
            ("b".into(), timing("* * * * *", Tz::UTC)),
        ],
        &last,
    );
    tokio::time::sleep(Duration::from_secs(60)).await; // 00:01:30
    s.sync(vec![("a".into(), timing("* * * * *", Tz::UTC))], &last);
    tokio::time::sleep(Duration::from_secs(60)).await; // 00:02:30
    assert_eq!(
        rec.times("a"),
        ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"].map(utc)
    );
    assert_eq!(
        rec.times("b"),
        ["2026-01-01T00:01:00Z"].map(utc),
        "removed checks stop"
    );
    assert_eq!(s.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn checks_due_at_the_same_instant_are_handed_over_together() {
    // Four checks every five minutes (two in other time zones: the same UTC instants), one
    // hourly, one with jitter: the jittered one wakes on its own, the others share groups.
    let jittered = Timing {
        schedule: Schedule::new("*/5 * * * *", Tz::UTC).unwrap(),
        jitter: Duration::from_secs(60),
    };
    let rec = simulate(
        "2026-01-01T00:00:00Z",
        Duration::from_secs(60 * 60 + 90),
        vec![
            ("d", timing("*/5 * * * *", Tz::UTC)),
            ("a", timing("*/5 * * * *", Tz::UTC)),
            ("c", timing("*/5 * * * *", chrono_tz::Asia::Kolkata)),
            ("b", timing("*/5 * * * *", chrono_tz::America::New_York)),
            ("h", timing("0 * * * *", Tz::UTC)),
            ("j", jittered),
        ],
        Duration::ZERO,
    )
    .await;
    let groups = rec.groups.lock().unwrap().clone();
    let at = |t: &str| -> Vec<Vec<String>> {
        groups
            .iter()
            .filter(|(_, due)| *due == utc(t))
            .map(|(names, _)| names.clone())
            .collect()
    };
    let abcd: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    assert_eq!(
        at("2026-01-01T00:05:00Z")[0],
        abcd,
        "one group, in name order"
    );
    let top = at("2026-01-01T01:00:00Z");
    let mut with_h = abcd.clone();
    with_h.push("h".into());
    assert!(top.contains(&with_h), "{top:?}");
    assert!(
        top.contains(&vec!["j".to_string()]),
        "the jittered check wakes on its own: {top:?}"
    );
    // Every fire time of every check ran once: 12 five-minute ticks for a–d and j, one for h.
    for c in ["a", "b", "c", "d", "j"] {
        assert_eq!(rec.times(c).len(), 12, "{c}");
    }
    assert_eq!(rec.times("h").len(), 1);
}
