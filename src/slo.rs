//! Freshness SLOs: the share of time a check met its freshness (within `error_after`, or its
//! expected loads), from the run history. Time-weighted: each run's verdict holds until the
//! next run, for at most two of the check's fire times; time no run speaks for is unknown,
//! and so is time judged `error` (the data could not be read). Pure: runs in, numbers out.

use crate::schedule::Schedule;
use crate::verdict::Verdict;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// `slo: { objective: 99.5%, window: 28d }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// A ratio below 1, e.g. 0.995.
    pub objective: f64,
    pub window: Duration,
}

/// What a window of history says.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Achieved {
    pub good_seconds: f64,
    pub bad_seconds: f64,
    /// No run in time (missed fire times, before the first run) or an `error` verdict.
    pub unknown_seconds: f64,
    /// good ÷ (good + bad); `None` when nothing is known.
    pub achieved: Option<f64>,
    /// The share of the error budget left: 1 − bad ÷ ((1 − objective) × (good + bad)); below
    /// 0 when it is spent.
    pub budget_left: Option<f64>,
    /// The same in seconds of bad time still allowed (negative when over).
    pub budget_left_seconds: Option<f64>,
}

/// Whether a verdict counts as meeting the objective: `Some(true)` for pass and warn,
/// `Some(false)` for fail, `None` (unknown) for error.
pub fn good(v: Verdict) -> Option<bool> {
    match v {
        Verdict::Pass | Verdict::Warn => Some(true),
        Verdict::Fail => Some(false),
        Verdict::Error => None,
    }
}

/// How long one run speaks for at most: until the second fire time after it, plus a minute.
fn horizon(schedule: &Schedule, t: DateTime<Utc>) -> DateTime<Utc> {
    schedule
        .next_after(t)
        .and_then(|n| schedule.next_after(n))
        .map_or(t, |n| n + chrono::Duration::minutes(1))
}

/// The SLO over `[from, to)`, from runs in time order (the last run before `from` included,
/// if any, so that the window starts known).
pub fn compute(
    runs: &[(DateTime<Utc>, Verdict)],
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    objective: f64,
) -> Achieved {
    let (mut good_s, mut bad_s) = (0.0, 0.0);
    let secs =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_milliseconds().max(0) as f64 / 1000.0;
    for (i, (t, v)) in runs.iter().enumerate() {
        let next = runs.get(i + 1).map_or(to, |r| r.0);
        let end = next.min(horizon(schedule, *t)).min(to);
        let start = (*t).max(from);
        if end <= start {
            continue;
        }
        match good(*v) {
            Some(true) => good_s += secs(start, end),
            Some(false) => bad_s += secs(start, end),
            None => {}
        }
    }
    let total = secs(from, to);
    let known = good_s + bad_s;
    let allowed = (1.0 - objective) * known;
    Achieved {
        good_seconds: good_s,
        bad_seconds: bad_s,
        unknown_seconds: (total - known).max(0.0),
        achieved: (known > 0.0).then(|| good_s / known),
        budget_left: (known > 0.0 && allowed > 0.0).then(|| 1.0 - bad_s / allowed),
        budget_left_seconds: (known > 0.0).then_some(allowed - bad_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_seeded_history_gives_the_hand_computed_numbers() {
        let hourly = Schedule::new("0 * * * *", chrono_tz::UTC).unwrap();
        let h = |n: i64| {
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(n)
        };
        // 00 pass, 01 pass, 02 fail, 03 fail, 04 warn, nothing at 05–07, 08 error, 09 pass.
        let runs = [
            (h(-1), Verdict::Fail),
            (h(0), Verdict::Pass),
            (h(1), Verdict::Pass),
            (h(2), Verdict::Fail),
            (h(3), Verdict::Fail),
            (h(4), Verdict::Warn),
            (h(8), Verdict::Error),
            (h(9), Verdict::Pass),
        ];
        let a = compute(&runs, &hourly, h(0), h(10), 0.99);
        // Good: 00–02 (2h), 04–06:01 (the 04 run speaks until two fire times later and a
        // minute: 2h01m), 09–10 (1h) = 5h01m. Bad: 02–04 = 2h. Unknown: 06:01–08 and the
        // error hour = 2h59m. The run before the window counts from its start only.
        assert_eq!(a.good_seconds, (5 * 3600 + 60) as f64);
        assert_eq!(a.bad_seconds, 7200.0);
        assert_eq!(a.unknown_seconds, (2 * 3600 + 59 * 60) as f64);
        let achieved = 18060.0 / (18060.0 + 7200.0);
        assert!((a.achieved.unwrap() - achieved).abs() < 1e-12);
        let allowed = 0.01 * 25260.0;
        assert!((a.budget_left_seconds.unwrap() - (allowed - 7200.0)).abs() < 1e-9);
        assert!((a.budget_left.unwrap() - (1.0 - 7200.0 / allowed)).abs() < 1e-9);
        // Nothing known: no numbers.
        let empty = compute(&[], &hourly, h(0), h(10), 0.99);
        assert_eq!((empty.achieved, empty.unknown_seconds), (None, 36000.0));
    }
}
