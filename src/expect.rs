//! Expected loads: "this partner loads Monday to Friday at 06:00; page me at 08:00 if it has
//! not landed, never on Sunday". The data must be at least as new as the latest expected load
//! whose grace has passed; until a load's grace passes, the previous load suffices.
//! Pure: schedules, calendars and instants in, verdicts out.

use crate::calendar::Calendar;
use crate::duration::{canonical, human};
use crate::schedule::Schedule;
use crate::verdict::Verdict;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;

/// When loads are expected.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Load times (`schedule`) or deadlines (`deadline`), in the block's time zone.
    pub schedule: Schedule,
    pub mode: Mode,
    /// Warn once a load is this late (less than the grace or window).
    pub warn_grace: Option<Duration>,
    /// Days on which no load is expected.
    pub skip: Vec<Arc<Calendar>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `schedule` fires at each load; the load is missed `grace` later.
    Loads { grace: Duration },
    /// `deadline` fires at each deadline; the data must land in the `window` before it.
    Deadline { window: Duration },
}

/// One expected load: from `at` the data should be at least that new; at `due` it is missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Load {
    pub at: DateTime<Utc>,
    pub due: DateTime<Utc>,
}

/// A verdict about the loads, with its reason and how late the load in question is.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// Seconds since the late (or missed) load was expected; 0 when none is late.
    pub lateness_seconds: f64,
}

/// How many fire times one question walks at most (each skipped day costs one step).
const MAX_STEPS: usize = 2000;

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn add(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn sub(t: DateTime<Utc>, d: chrono::Duration) -> DateTime<Utc> {
    t.checked_sub_signed(d).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Expect {
    /// The grace (or window) between a load and its deadline.
    pub fn span(&self) -> Duration {
        match self.mode {
            Mode::Loads { grace } => grace,
            Mode::Deadline { window } => window,
        }
    }

    fn load(&self, fire: DateTime<Utc>) -> Load {
        match self.mode {
            Mode::Loads { grace } => Load {
                at: fire,
                due: add(fire, chrono_dur(grace)),
            },
            Mode::Deadline { window } => Load {
                at: sub(fire, chrono_dur(window)),
                due: fire,
            },
        }
    }

    /// The fire time whose load is due at `due`.
    fn fire_due_at(&self, due: DateTime<Utc>) -> DateTime<Utc> {
        match self.mode {
            Mode::Loads { grace } => sub(due, chrono_dur(grace)),
            Mode::Deadline { .. } => due,
        }
    }

    /// A fire time on a day of a skipped calendar (the fire's own date in the zone).
    fn skipped(&self, fire: DateTime<Utc>) -> bool {
        let day = fire.with_timezone(&self.schedule.timezone()).date_naive();
        self.skip.iter().any(|c| c.contains(day))
    }

    /// The start of the local day of `t` (the first instant of that date in the zone).
    fn day_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let tz = self.schedule.timezone();
        let day = t.with_timezone(&tz).date_naive();
        (0..24)
            .find_map(|h| {
                tz.from_local_datetime(&day.and_hms_opt(h, 0, 0)?)
                    .earliest()
            })
            .map_or(t, |l| l.with_timezone(&Utc))
    }

    /// The latest expected load whose deadline is at or before `now`.
    pub fn latest_due(&self, now: DateTime<Utc>) -> Option<Load> {
        let mut fire = self.schedule.last_at_or_before(self.fire_due_at(now))?;
        for _ in 0..MAX_STEPS {
            if !self.skipped(fire) {
                return Some(self.load(fire));
            }
            // A skipped day: go on from just before it starts.
            let before = self.day_start(fire) - chrono::Duration::seconds(1);
            fire = self.schedule.last_at_or_before(before)?;
        }
        None
    }

    /// Loads not yet due, from the earliest, while `keep` holds for their load time.
    fn forward(&self, now: DateTime<Utc>, mut keep: impl FnMut(&Load) -> bool) -> Option<Load> {
        let mut fire = self.schedule.next_after(self.fire_due_at(now))?;
        for _ in 0..MAX_STEPS {
            let load = self.load(fire);
            if !keep(&load) {
                return None;
            }
            if !self.skipped(fire) {
                return Some(load);
            }
            // A skipped day: go on from the start of the next one.
            let next_day = self.day_start(add(self.day_start(fire), chrono::Duration::hours(36)));
            fire = self
                .schedule
                .next_after(next_day - chrono::Duration::seconds(1))?;
        }
        None
    }

    /// The next load not yet due (its deadline is after `now`), for `plan` and the metrics.
    pub fn next(&self, now: DateTime<Utc>) -> Option<Load> {
        self.forward(now, |_| true)
    }

    /// The earliest load whose time has come but whose deadline has not (`at <= now < due`).
    pub fn pending(&self, now: DateTime<Utc>) -> Option<Load> {
        self.forward(now, |l| l.at <= now)
    }

    /// Judges the newest data at `now`.
    pub fn judge(&self, newest: DateTime<Utc>, now: DateTime<Utc>) -> Judged {
        let tz = self.schedule.timezone();
        let local = |t: DateTime<Utc>| {
            let l = t.with_timezone(&tz);
            if (now - t).num_days().abs() >= 6 {
                l.format("%a %Y-%m-%d %H:%M").to_string()
            } else {
                l.format("%a %H:%M").to_string()
            }
        };
        let late = |load: &Load| (now - load.at).num_milliseconds() as f64 / 1000.0;
        let name = |load: &Load| match self.mode {
            Mode::Loads { .. } => format!("the {} load", local(load.at)),
            Mode::Deadline { .. } => format!(
                "the {}–{} load",
                local(load.at),
                load.due.with_timezone(&tz).format("%H:%M")
            ),
        };
        if let Some(missed) = self.latest_due(now).filter(|l| newest < l.at) {
            let how = match self.mode {
                Mode::Loads { grace } => format!(
                    "{} is {} late (grace {})",
                    name(&missed),
                    human(late(&missed)),
                    canonical(grace)
                ),
                Mode::Deadline { .. } => format!(
                    "{} missed its deadline by {}",
                    name(&missed),
                    human((now - missed.due).num_milliseconds() as f64 / 1000.0)
                ),
            };
            return Judged {
                verdict: Verdict::Fail,
                reason: Some(format!("{how}; newest data is from {}", local(newest))),
                lateness_seconds: late(&missed),
            };
        }
        if let Some(warn) = self.warn_grace {
            let warned = self
                .pending(now)
                .filter(|l| newest < l.at && add(l.at, chrono_dur(warn)) <= now);
            if let Some(l) = warned {
                return Judged {
                    verdict: Verdict::Warn,
                    reason: Some(format!(
                        "{} is {} late (warn_grace {}; missed at {}); newest data is from {}",
                        name(&l),
                        human(late(&l)),
                        canonical(warn),
                        l.due.with_timezone(&tz).format("%H:%M"),
                        local(newest)
                    )),
                    lateness_seconds: late(&l),
                };
            }
        }
        Judged {
            verdict: Verdict::Pass,
            reason: None,
            lateness_seconds: 0.0,
        }
    }

    /// How late the current load is at `now` (0 when the data is as new as the loads due).
    pub fn lateness(&self, newest: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
        let Some(newest) = newest else {
            return self
                .latest_due(now)
                .map_or(0.0, |l| (now - l.at).num_milliseconds() as f64 / 1000.0);
        };
        let late =
            |l: Load| (newest < l.at).then(|| (now - l.at).num_milliseconds() as f64 / 1000.0);
        self.latest_due(now)
            .and_then(late)
            .or_else(|| self.pending(now).and_then(late))
            .unwrap_or(0.0)
    }

    /// A short description: `Mon-Fri 06:00 (0 6 * * 1-5 America/New_York), grace 2h`.
    pub fn describe(&self) -> String {
        let what = match self.mode {
            Mode::Loads { grace } => format!(
                "loads at \"{}\" grace {}",
                self.schedule.expr(),
                canonical(grace)
            ),
            Mode::Deadline { window } => format!(
                "deadline \"{}\" window {}",
                self.schedule.expr(),
                canonical(window)
            ),
        };
        let skip: Vec<&str> = self.skip.iter().map(|c| c.name.as_str()).collect();
        if skip.is_empty() {
            format!("{what} in {}", self.schedule.timezone())
        } else {
            format!(
                "{what} in {}, skipping {}",
                self.schedule.timezone(),
                skip.join(", ")
            )
        }
    }
}

#[cfg(test)]
#[path = "expect_tests.rs"]
mod tests;
