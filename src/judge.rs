//! Turns a measured value into a verdict. Pure: thresholds and values in, `Outcome` out.
//! Freshness follows dbt source freshness: fail if age > error_after, else warn if age > warn_after.

use crate::check::{fmt_num, AgeThresholds, Bounds, Condition, OnEmpty};
use crate::duration::{canonical, human};
use crate::verdict::{Observed, Outcome, Verdict};
use chrono::{DateTime, Utc};

/// Adds the verdict of the expected loads to the age verdict: the worse wins, with its reason
/// (both reasons when they agree on a bad verdict). No data is judged by `on_empty` alone.
pub fn with_expect(
    mut o: Outcome,
    newest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    e: &crate::expect::Expect,
) -> Outcome {
    let Some(newest) = newest else {
        return o;
    };
    let j = e.judge(newest, now);
    if j.verdict > o.verdict {
        o.verdict = j.verdict;
        o.reason = j.reason;
    } else if j.verdict == o.verdict && j.verdict != Verdict::Pass {
        o.reason = match (o.reason.take(), j.reason) {
            (Some(a), Some(b)) => Some(format!("{b}; {a}")),
            (a, b) => a.or(b),
        };
    }
    o
}

/// Judges the age of the newest data. `newest == None` means the max was NULL (no rows).
pub fn age(
    newest: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
    t: &AgeThresholds,
    on_empty: OnEmpty,
) -> Outcome {
    let Some(newest) = newest else {
        let verdict = match on_empty {
            OnEmpty::Pass => Verdict::Pass,
            OnEmpty::Warn => Verdict::Warn,
            OnEmpty::Fail => Verdict::Fail,
            OnEmpty::Error => Verdict::Error,
        };
        return Outcome {
            verdict,
            observed: Observed::Nothing,
            reason: Some(
                "no data: the newest timestamp is NULL (empty table or no row matches the filter)"
                    .into(),
            ),
        };
    };
    let age = (clock - newest).num_milliseconds() as f64 / 1000.0;
    let over = |limit: Option<std::time::Duration>| limit.filter(|l| age > l.as_secs_f64());
    let (verdict, reason) = if let Some(limit) = over(t.error_after) {
        (
            Verdict::Fail,
            Some(format!(
                "data is {} old (> error_after {})",
                human(age),
                canonical(limit)
            )),
        )
    } else if let Some(limit) = over(t.warn_after) {
        (
            Verdict::Warn,
            Some(format!(
                "data is {} old (> warn_after {})",
                human(age),
                canonical(limit)
            )),
        )
    } else if -age > t.future_tolerance.as_secs_f64() {
        (
            Verdict::Warn,
            Some(format!(
                "newest timestamp is {} ahead of the database clock (> future_tolerance {}): a wrong source timezone, or clocks apart?",
                human(-age),
                canonical(t.future_tolerance)
            )),
        )
    } else if age < 0.0 {
        (
            Verdict::Pass,
            Some(format!(
                "newest timestamp is {} in the future (clock skew or time zone?)",
                human(-age)
            )),
        )
    } else {
        (Verdict::Pass, None)
    };
    Outcome {
        verdict,
        observed: Observed::Age {
            age_seconds: age,
            newest: Some(newest),
        },
        reason,
    }
}

/// Judges a row count against lower and upper bounds.
pub fn bounds(value: f64, b: &Bounds) -> Outcome {
    let checks = [
        (Verdict::Fail, b.error_below, "error_below", true),
        (Verdict::Fail, b.error_above, "error_above", false),
        (Verdict::Warn, b.warn_below, "warn_below", true),
        (Verdict::Warn, b.warn_above, "warn_above", false),
    ];
    let hit = checks.iter().find_map(|(verdict, limit, name, below)| {
        let limit = (*limit)?;
        let broken = if *below { value < limit } else { value > limit };
        broken.then(|| {
            let rel = if *below { "<" } else { ">" };
            (
                *verdict,
                format!("{} rows ({rel} {name} {})", fmt_num(value), fmt_num(limit)),
            )
        })
    });
    let (verdict, reason) = match hit {
        Some((v, r)) => (v, Some(r)),
        None => (Verdict::Pass, None),
    };
    Outcome {
        verdict,
        observed: Observed::Number { value },
        reason,
    }
}

/// Judges a query's number against `warn_if` / `error_if` conditions.
pub fn condition(value: f64, warn_if: Option<&Condition>, error_if: Option<&Condition>) -> Outcome {
    let (verdict, reason) = if let Some(c) = error_if.filter(|c| c.holds(value)) {
        (
            Verdict::Fail,
            Some(format!("value {} matches error_if {c}", fmt_num(value))),
        )
    } else if let Some(c) = warn_if.filter(|c| c.holds(value)) {
        (
            Verdict::Warn,
            Some(format!("value {} matches warn_if {c}", fmt_num(value))),
        )
    } else {
        (Verdict::Pass, None)
    };
    Outcome {
        verdict,
        observed: Observed::Number { value },
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CompareOp;
    use std::time::Duration;

    fn t(warn: u64, error: u64) -> AgeThresholds {
        AgeThresholds {
            warn_after: Some(Duration::from_secs(warn)),
            error_after: Some(Duration::from_secs(error)),
            future_tolerance: Duration::from_secs(300),
        }
    }

    #[test]
    fn freshness_uses_strict_greater_than() {
        let clock = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let th = t(3600, 6 * 3600);
        let cases = [
            (0, Verdict::Pass),
            (3600, Verdict::Pass), // exactly warn_after: not greater
            (3601, Verdict::Warn),
            (6 * 3600, Verdict::Warn), // exactly error_after
            (6 * 3600 + 1, Verdict::Fail),
            (-300, Verdict::Pass), // ahead by exactly future_tolerance: not greater
            (-301, Verdict::Warn), // further ahead: a wrong time zone looks like this
            (-3 * 3600, Verdict::Warn),
        ];
        for (age_s, want) in cases {
            let newest = clock - chrono::Duration::seconds(age_s);
            let got = age(Some(newest), clock, &th, OnEmpty::Fail);
            assert_eq!(got.verdict, want, "age {age_s}s");
        }
    }

    #[test]
    fn empty_follows_on_empty() {
        let clock = Utc::now();
        for (on_empty, want) in [
            (OnEmpty::Fail, Verdict::Fail),
            (OnEmpty::Warn, Verdict::Warn),
            (OnEmpty::Pass, Verdict::Pass),
            (OnEmpty::Error, Verdict::Error),
        ] {
            assert_eq!(age(None, clock, &t(1, 2), on_empty).verdict, want);
        }
    }

    #[test]
    fn reason_names_age_and_threshold() {
        let clock = Utc::now();
        let o = age(
            Some(clock - chrono::Duration::hours(3)),
            clock,
            &t(3600, 6 * 3600),
            OnEmpty::Fail,
        );
        assert_eq!(
            o.reason.as_deref(),
            Some("data is 3h00m old (> warn_after 1h)")
        );
    }

    #[test]
    fn bounds_fail_before_warn() {
        let b = Bounds {
            warn_below: Some(1000.0),
            error_below: Some(100.0),
            warn_above: None,
            error_above: Some(1e6),
        };
        assert_eq!(bounds(5000.0, &b).verdict, Verdict::Pass);
        assert_eq!(bounds(1000.0, &b).verdict, Verdict::Pass);
        assert_eq!(bounds(999.0, &b).verdict, Verdict::Warn);
        assert_eq!(bounds(99.0, &b).verdict, Verdict::Fail);
        assert_eq!(bounds(2e6, &b).verdict, Verdict::Fail);
        assert_eq!(
            bounds(99.0, &b).reason.as_deref(),
            Some("99 rows (< error_below 100)")
        );
    }

    #[test]
    fn conditions() {
        let warn = Condition {
            op: CompareOp::Gt,
            value: 0.0,
        };
        let error = Condition {
            op: CompareOp::Ge,
            value: 10.0,
        };
        assert_eq!(
            condition(0.0, Some(&warn), Some(&error)).verdict,
            Verdict::Pass
        );
        assert_eq!(
            condition(3.0, Some(&warn), Some(&error)).verdict,
            Verdict::Warn
        );
        assert_eq!(
            condition(10.0, Some(&warn), Some(&error)).verdict,
            Verdict::Fail
        );
        let eq0 = Condition {
            op: CompareOp::Eq,
            value: 0.0,
        };
        assert_eq!(condition(0.0, None, Some(&eq0)).verdict, Verdict::Fail);
    }
}
