//! Interprets one database value as a timestamp or a number, whatever the engine and column type.
//! Pure: drivers hand over a `Raw`, this decides what it means.

use crate::check::NumberFormat;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A database value, decoded just enough to interpret it.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Null,
    Utc(DateTime<Utc>),
    /// A timestamp without a time zone (interpreted in the source's time zone).
    Naive(NaiveDateTime),
    Date(NaiveDate),
    Int(i64),
    Float(f64),
    Text(String),
    /// PostgreSQL's `'infinity'` (true) or `'-infinity'` (false) timestamp or date.
    Infinity(bool),
    /// A type we do not interpret; carries the database's type name.
    Other(String),
}

/// A timestamp; numbers only as the check's `format` says. `Ok(None)` is NULL.
pub fn timestamp(
    raw: &Raw,
    tz: Tz,
    numbers: NumberFormat,
) -> Result<Option<DateTime<Utc>>, String> {
    let naive = |n: &NaiveDateTime| {
        tz.from_local_datetime(n)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("{n} does not exist in time zone {tz}"))
    };
    match raw {
        Raw::Null => Ok(None),
        Raw::Utc(t) => Ok(Some(*t)),
        Raw::Naive(n) => naive(n).map(Some),
        Raw::Date(d) => naive(&d.and_hms_opt(0, 0, 0).expect("midnight exists")).map(Some),
        Raw::Int(n) => epoch(*n as f64, numbers).map(Some),
        Raw::Float(n) => epoch(*n, numbers).map(Some),
        Raw::Text(s) => match parse_dates(s, tz) {
            Some(t) => Ok(Some(t)),
            None => match s.trim().parse::<f64>() {
                Ok(n) => epoch(n, numbers).map(Some),
                Err(_) => Err(format!(
                    "\"{s}\" is not a timestamp I can read (use ISO 8601 / RFC 3339, or a number with `format: epoch_seconds`)"
                )),
            },
        },
        Raw::Infinity(true) => Ok(Some(DateTime::<Utc>::MAX_UTC)),
        Raw::Infinity(false) => Ok(Some(DateTime::<Utc>::MIN_UTC)),
        Raw::Other(ty) => Err(format!(
            "cannot read a timestamp from a {ty} value (cast it to a timestamp or epoch seconds)"
        )),
    }
}

/// A number as the check's `format` reads it.
fn epoch(n: f64, numbers: NumberFormat) -> Result<DateTime<Utc>, String> {
    let millis = match numbers {
        NumberFormat::NotATime => {
            return Err(format!(
                "{n} is a number, not a time (if it counts seconds since 1970, set `format: epoch_seconds`; milliseconds: `format: epoch_millis`)"
            ))
        }
        NumberFormat::EpochSeconds => n * 1000.0,
        NumberFormat::EpochMillis => n,
    };
    if !millis.is_finite() || millis.abs() > 8.2e15 {
        return Err(format!("{n} is too far from 1970 to be a time"));
    }
    DateTime::from_timestamp_millis(millis as i64)
        .ok_or_else(|| format!("{n} is too far from 1970 to be a time"))
}

/// Text timestamps (dates and times, not numbers), or `None`.
fn parse_dates(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    parse_text(s, tz)
        .ok()
        .filter(|_| s.trim().parse::<f64>().is_err())
}

/// Text timestamps: RFC 3339 with an offset, or `YYYY-MM-DD[ T]HH:MM:SS[.fff]` in the source's zone,
/// or a number of epoch seconds (for JSON bodies of HTTP checks).
pub fn parse_text(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S%.f%#z",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return timestamp(&Raw::Naive(n), tz, NumberFormat::NotATime)
                .map(|t| t.expect("not null"));
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return timestamp(&Raw::Date(d), tz, NumberFormat::NotATime).map(|t| t.expect("not null"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return timestamp(&Raw::Float(secs), tz, NumberFormat::EpochSeconds)
            .map(|t| t.expect("not null"));
    }
    Err(format!(
        "\"{s}\" is not a timestamp I can read (use ISO 8601 / RFC 3339 or epoch seconds)"
    ))
}

/// A number from a count or a query.
pub fn number(raw: &Raw) -> Result<f64, String> {
    match raw {
        Raw::Int(i) => Ok(*i as f64),
        Raw::Float(f) => Ok(*f),
        Raw::Text(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("\"{s}\" is not a number")),
        Raw::Null => Err("the query returned NULL, not a number".into()),
        other => Err(format!("expected a number, got {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn naive_values_use_the_source_time_zone() {
        let n = NaiveDateTime::parse_from_str("2026-07-01 06:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            timestamp(&Raw::Naive(n), Tz::UTC, NumberFormat::NotATime).unwrap(),
            Some(utc("2026-07-01T06:00:00Z"))
        );
        assert_eq!(
            timestamp(
                &Raw::Naive(n),
                chrono_tz::America::New_York,
                NumberFormat::NotATime
            )
            .unwrap(),
            Some(utc("2026-07-01T10:00:00Z"))
        );
    }

    #[test]
    fn reads_epochs_and_text_forms() {
        assert_eq!(
            timestamp(
                &Raw::Int(1_700_000_000),
                Tz::UTC,
                NumberFormat::EpochSeconds
            )
            .unwrap(),
            Some(utc("2023-11-14T22:13:20Z"))
        );
        assert_eq!(
            timestamp(
                &Raw::Int(1_700_000_000_000),
                Tz::UTC,
                NumberFormat::EpochMillis
            )
            .unwrap(),
            Some(utc("2023-11-14T22:13:20Z"))
        );
        // A number is not a time unless the check says how to read it.
        for raw in [
            Raw::Int(42),
            Raw::Float(1.7e9),
            Raw::Text("1700000000".into()),
        ] {
            let e = timestamp(&raw, Tz::UTC, NumberFormat::NotATime).unwrap_err();
            assert!(e.contains("format: epoch_seconds"), "{raw:?}: {e}");
        }
        assert!(timestamp(&Raw::Int(i64::MAX), Tz::UTC, NumberFormat::EpochSeconds).is_err());
        assert_eq!(
            timestamp(&Raw::Null, Tz::UTC, NumberFormat::NotATime).unwrap(),
            None
        );
        for s in [
            "2026-01-02 03:04:05",
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05Z",
            "2026-01-02 03:04:05.000",
            "2026-01-02T04:04:05+01:00",
        ] {
            assert_eq!(
                parse_text(s, Tz::UTC).unwrap(),
                utc("2026-01-02T03:04:05Z"),
                "{s}"
            );
        }
        assert!(parse_text("yesterday", Tz::UTC).is_err());
        assert!(timestamp(
            &Raw::Other("NUMERIC".into()),
            Tz::UTC,
            NumberFormat::NotATime
        )
        .unwrap_err()
        .contains("NUMERIC"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(&Raw::Int(3)).unwrap(), 3.0);
        assert_eq!(number(&Raw::Text("12.50".into())).unwrap(), 12.5);
        assert!(number(&Raw::Null).is_err());
    }
}
