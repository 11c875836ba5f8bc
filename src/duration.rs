//! Human durations in check files (`30s`, `15m`, `6h`, `1d`, `1h30m`) and their display.
//! Pure: parsing and formatting only.

use std::time::Duration;

/// Why a duration string was refused, with a hint a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    pub message: String,
    pub hint: Option<String>,
}

const UNITS: [(&str, u64); 5] = [
    ("s", 1),
    ("m", 60),
    ("h", 3600),
    ("d", 86_400),
    ("w", 604_800),
];

/// Parses `30s`, `15m`, `6h`, `1d`, `2w`, or a sum such as `1h30m`.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(err(
            "is empty",
            Some("write a number and a unit, e.g. \"30m\""),
        ));
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err(
                &format!("expected a number at \"{rest}\""),
                Some("durations look like \"90s\", \"15m\", \"6h\", \"1d\" or \"1h30m\""),
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| err("number is too large", None))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        if unit.is_empty() {
            return Err(err(
                "has no unit",
                Some(&format!("try \"{number}m\" or \"{number}s\"")),
            ));
        }
        let Some(&(_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            let hint = unit_hint(unit).map(|u| format!("try \"{number}{u}\""));
            return Err(err(
                &format!("unknown unit \"{unit}\""),
                Some(hint.as_deref().unwrap_or("units are s, m, h, d, w")),
            ));
        };
        total = number
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("is too large", None))?;
    }
    Ok(Duration::from_secs(total))
}

fn err(message: &str, hint: Option<&str>) -> DurationError {
    DurationError {
        message: message.to_string(),
        hint: hint.map(str::to_string),
    }
}

/// The unit a user most likely meant by a spelling we do not accept.
fn unit_hint(unit: &str) -> Option<&'static str> {
    let u = unit.to_ascii_lowercase();
    let table: [(&[&str], &str); 5] = [
        (&["sec", "secs", "second", "seconds", "S"], "s"),
        (&["min", "mins", "minute", "minutes", "M"], "m"),
        (&["hr", "hrs", "hour", "hours", "H"], "h"),
        (&["day", "days", "D"], "d"),
        (&["wk", "wks", "week", "weeks", "W"], "w"),
    ];
    table
        .iter()
        .find(|(names, _)| names.iter().any(|n| *n == u || *n == unit))
        .map(|(_, canonical)| *canonical)
}

/// Compact display of a number of seconds for tables: `42s`, `17m`, `3h05m`, `2d04h`.
pub fn human(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    let negative = seconds < 0.0;
    let s = seconds.abs().round() as u64;
    let text = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    };
    if negative {
        format!("-{text}")
    } else {
        text
    }
}

/// Canonical display of a configured duration: the largest exact units, e.g. `1h30m`, `6h`, `1d`.
pub fn canonical(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, factor) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= factor {
            out.push_str(&format!("{}{unit}", s / factor));
            s %= factor;
        }
    }
    out
}

/// The longest value each duration setting takes, and why: a bound for every field, so no
/// value can overflow date arithmetic or an engine's limits later (a `jitter` of weeks, a
/// `statement_timeout` PostgreSQL and SQLite cannot hold). Other durations: ten years.
pub fn limit(key: &str) -> (Duration, &'static str) {
    const H: u64 = 3600;
    const D: u64 = 24 * H;
    let (secs, why) = match key {
        "statement_timeout" => (D, "PostgreSQL and SQLite keep it in milliseconds in a 32-bit integer; a check that runs for hours is not a check"),
        "connect_timeout" | "timeout" => (10 * 60, "a source that takes longer to answer is down"),
        "jitter" => (H, "jitter spreads a schedule's starts within a run's own period"),
        "drain_timeout" | "outbox_lease" => (H, "a delivery is bounded by its requests' timeouts"),
        "run_lease" | "settle" => (D, "a restarted sync should show fresh data within a day"),
        "ack_timeout" => (7 * D, "escalation is for the same shift"),
        "cooldown" | "remind_every" => (30 * D, "use a silence for longer pauses"),
        "grace" | "warn_grace" | "window" => (
            31 * D,
            "a load later than a month is missed; use error_after for longer",
        ),
        "duration" => (31 * D, "a maintenance window repeats; a longer pause is a silence"),
        _ => (3650 * D, "ten years is the longest duration syncwatch accepts"),
    };
    (Duration::from_secs(secs), why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        let cases = [
            ("30s", 30),
            ("15m", 900),
            ("6h", 21_600),
            ("1d", 86_400),
            ("2w", 1_209_600),
            ("1h30m", 5_400),
            ("1h 30m", 5_400),
            (" 90m ", 5_400),
        ];
        for (text, secs) in cases {
            assert_eq!(parse(text).unwrap(), Duration::from_secs(secs), "{text}");
        }
    }

    #[test]
    fn refuses_with_hints() {
        let e = parse("6hr").unwrap_err();
        assert_eq!(e.message, "unknown unit \"hr\"");
        assert_eq!(e.hint.as_deref(), Some("try \"6h\""));
        let e = parse("30").unwrap_err();
        assert_eq!(e.message, "has no unit");
        assert_eq!(e.hint.as_deref(), Some("try \"30m\" or \"30s\""));
        assert_eq!(
            parse("2 days").unwrap_err().hint.as_deref(),
            Some("try \"2d\"")
        );
        assert!(parse("").is_err());
        assert!(parse("h").is_err());
        assert_eq!(
            parse("5y").unwrap_err().hint.as_deref(),
            Some("units are s, m, h, d, w")
        );
    }

    #[test]
    fn formats() {
        assert_eq!(human(42.4), "42s");
        assert_eq!(human(17.0 * 60.0 + 3.0), "17m03s");
        assert_eq!(human(3.0 * 3600.0 + 300.0), "3h05m");
        assert_eq!(human(2.0 * 86_400.0 + 4.0 * 3600.0), "2d04h");
        assert_eq!(human(-5.0), "-5s");
        assert_eq!(canonical(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(canonical(Duration::from_secs(86_400)), "1d");
    }
}
