//! When a check runs: a cron expression evaluated in the check's own IANA time zone.
//! Pure: no I/O, no clock reads (the caller passes `now`).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A parsed cron expression bound to a time zone. The parsed expression is shared: 10,000
/// checks on a handful of schedules parse each one once.
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    cron: Arc<Cron>,
    tz: Tz,
}

/// Parsed expressions by text, while loading a configuration.
#[derive(Default)]
pub struct CronCache(HashMap<String, Result<Arc<Cron>, String>>);

impl CronCache {
    pub fn get(&mut self, expr: &str) -> Result<Arc<Cron>, String> {
        if let Some(hit) = self.0.get(expr) {
            return hit.clone();
        }
        let parsed = parse_cron(expr).map(Arc::new);
        self.0.insert(expr.to_string(), parsed.clone());
        parsed
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?} in {})", self.expr, self.tz)
    }
}

/// Parses 5-field cron, an optional leading seconds field, and `@hourly`-style macros.
/// Day-of-month and day-of-week are OR'ed, as in Vixie cron and Kubernetes CronJob.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let cron = parse_cron_syntax(expr)?;
    // A valid expression can still never fire (February 31st): refuse it here, not by
    // silence at run time. Leap days fire every four years, so look eight years ahead.
    let start = chrono::DateTime::<Utc>::from_timestamp(946_684_800, 0).expect("2000-01-01");
    match cron.find_next_occurrence(&start, false) {
        Ok(t) if t < start + chrono::Duration::days(8 * 366) => Ok(cron),
        _ => Err("never fires (no such date, e.g. February 31st)".into()),
    }
}

fn parse_cron_syntax(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!(
            "has {fields} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with leading seconds"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .build()
        .parse(expr)
        .map_err(|e| e.to_string())
}

impl Schedule {
    pub fn new(expr: &str, tz: Tz) -> Result<Schedule, String> {
        Ok(Schedule::from_parts(expr, Arc::new(parse_cron(expr)?), tz))
    }

    pub fn from_parts(expr: &str, cron: Arc<Cron>, tz: Tz) -> Schedule {
        Schedule {
            expr: expr.to_string(),
            cron,
            tz,
        }
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`, evaluated on the wall clock of the time zone.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last fire time at or before `at`: the run a (re)starting replica owes.
    pub fn last_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next `n` fire times after `from`.
    pub fn upcoming(&self, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = from;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// A check is due when a fire time has passed since its last run (or it never ran).
    pub fn is_due(&self, last_run: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        match last_run {
            None => true,
            Some(last) => self.next_after(last).is_some_and(|t| t <= now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn six_am_new_york_follows_dst() {
        let s = Schedule::new("0 6 * * *", chrono_tz::America::New_York).unwrap();
        assert_eq!(
            s.next_after(utc("2026-07-01T00:00:00Z")),
            Some(utc("2026-07-01T10:00:00Z"))
        );
        assert_eq!(
            s.next_after(utc("2026-01-15T00:00:00Z")),
            Some(utc("2026-01-15T11:00:00Z"))
        );
    }

    #[test]
    fn day_fields_are_ored() {
        // 13th of the month OR any Friday.
        let s = Schedule::new("0 0 13 * 5", Tz::UTC).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let days: Vec<u32> = s
            .upcoming(start, 4)
            .iter()
            .map(chrono::Datelike::day)
            .collect();
        assert_eq!(days, vec![6, 13, 20, 27]);
    }

    #[test]
    fn accepts_macros_and_seconds() {
        let hourly = Schedule::new("@hourly", Tz::UTC).unwrap();
        assert_eq!(
            hourly.next_after(utc("2026-01-01T10:20:00Z")),
            Some(utc("2026-01-01T11:00:00Z"))
        );
        let secs = Schedule::new("30 */5 * * * *", Tz::UTC).unwrap();
        assert_eq!(
            secs.next_after(utc("2026-01-01T10:00:31Z")),
            Some(utc("2026-01-01T10:05:30Z"))
        );
    }

    #[test]
    fn refuses_bad_expressions() {
        assert!(parse_cron("* * *").unwrap_err().contains("has 3 fields"));
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("* * * * * * *").is_err());
    }

    #[test]
    fn due_after_a_fire_time_passes() {
        let s = Schedule::new("*/15 * * * *", Tz::UTC).unwrap();
        let now = utc("2026-01-01T10:16:00Z");
        assert!(s.is_due(None, now));
        assert!(s.is_due(Some(utc("2026-01-01T10:14:00Z")), now));
        assert!(!s.is_due(Some(utc("2026-01-01T10:15:30Z")), now));
    }
}

#[cfg(test)]
mod never_fires_tests {
    use super::parse_cron;

    #[test]
    fn a_cron_that_never_fires_is_refused_and_leap_days_are_not() {
        for never in ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
            let e = parse_cron(never).unwrap_err();
            assert!(e.contains("never fires"), "{never}: {e}");
        }
        for fires in ["0 0 29 2 *", "*/15 * * * *", "@yearly", "0 6 * * 1-5"] {
            assert!(parse_cron(fires).is_ok(), "{fires}");
        }
    }
}
