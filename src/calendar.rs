//! Business calendars: named sets of days (holidays, partner shutdowns) on which no load is
//! expected. Built from the settings' `calendars:` (a list of dates, or an iCalendar file read
//! in `config/calendars.rs`); pure here.

use chrono::NaiveDate;
use std::collections::BTreeSet;

/// A named set of days.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    pub name: String,
    pub days: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.days.contains(&day)
    }
}

/// The first year and the year after the last one a recurring calendar event is expanded over.
pub const EXPAND_FROM_YEAR: i32 = 2000;
pub const EXPAND_UNTIL_YEAR: i32 = 2100;

/// At most this many days in one calendar (a daily rule over a century is about 36,500).
pub const MAX_DAYS: usize = 50_000;

/// A problem in an iCalendar file: the line (1-based, of the unfolded text), what is wrong,
/// and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsProblem {
    pub line: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The days of an iCalendar file: every all-day VEVENT (`DTSTART;VALUE=DATE`), lasting its
/// `DTEND` (exclusive) or `DURATION` (days or weeks; one day without either), repeated by its
/// `RRULE` (expanded from 2000 to 2100), plus `RDATE`s and minus `EXDATE`s. Every problem is
/// reported, each at its line.
pub fn from_ics(text: &str) -> Result<BTreeSet<NaiveDate>, Vec<IcsProblem>> {
    let unfolded = icalendar::parser::unfold(text);
    let cal = match icalendar::parser::read_calendar(&unfolded) {
        Ok(c) => c,
        Err(e) => {
            let line = e
                .split("at line ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let first = e
                .lines()
                .next()
                .unwrap_or("not iCalendar")
                .trim_start_matches("error: ")
                .trim()
                .to_string();
            return Err(vec![IcsProblem {
                line,
                message: format!("is not a valid iCalendar file ({first})"),
                hint: Some("an .ics export of a calendar: BEGIN:VCALENDAR … BEGIN:VEVENT … END:VEVENT … END:VCALENDAR".into()),
            }]);
        }
    };
    // Where each VEVENT starts in the unfolded text, to locate its problems.
    let event_lines: Vec<usize> = unfolded
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_end().eq_ignore_ascii_case("BEGIN:VEVENT"))
        .map(|(i, _)| i + 1)
        .collect();
    let mut days = BTreeSet::new();
    let mut problems = Vec::new();
    let events = cal
        .components
        .iter()
        .filter(|c| c.name.as_str().eq_ignore_ascii_case("VEVENT"));
    for (i, event) in events.enumerate() {
        let line = event_lines.get(i).copied().unwrap_or(1);
        let summary = event
            .find_prop("SUMMARY")
            .map(|p| format!(" ({})", p.val.as_str()))
            .unwrap_or_default();
        let mut problem = |message: String, hint: &str| {
            problems.push(IcsProblem {
                line,
                message: format!("event {}{summary}: {message}", i + 1),
                hint: (!hint.is_empty()).then(|| hint.to_string()),
            })
        };
        match event_days(event) {
            Ok(d) => {
                days.extend(d);
                if days.len() > MAX_DAYS {
                    problem(
                        format!("the calendar has more than {MAX_DAYS} days"),
                        "a calendar lists days off; bound its rules with COUNT or UNTIL",
                    );
                    break;
                }
            }
            Err((message, hint)) => problem(message, hint),
        }
    }
    if problems.is_empty() {
        Ok(days)
    } else {
        Err(problems)
    }
}

const ALL_DAY_HINT: &str = "calendars hold all-day events, e.g. DTSTART;VALUE=DATE:20261225";

fn date(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    (v.len() == 8)
        .then(|| NaiveDate::parse_from_str(v, "%Y%m%d").ok())
        .flatten()
}

/// One all-day date property (DTSTART, DTEND, RDATE, EXDATE): a list of dates.
fn dates(p: &icalendar::parser::Property<'_>) -> Result<Vec<NaiveDate>, (String, &'static str)> {
    p.val
        .as_str()
        .split(',')
        .map(|v| {
            date(v).ok_or_else(|| {
                let what = if v.contains('T') {
                    "is a date and time, not a day"
                } else {
                    "is not a date (YYYYMMDD)"
                };
                (format!("{} \"{v}\" {what}", p.name.as_str()), ALL_DAY_HINT)
            })
        })
        .collect()
}

/// `P1D`, `P2W`, `P1DT0H`: a whole number of days.
fn duration_days(v: &str) -> Option<i64> {
    let rest = v.trim().strip_prefix('P')?;
    let (n, unit) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    match unit {
        "D" | "DT0H" | "DT0H0M0S" => Some(n),
        "W" => n.checked_mul(7),
        _ => None,
    }
}

type EventError = (String, &'static str);

fn event_days(e: &icalendar::parser::Component<'_>) -> Result<Vec<NaiveDate>, EventError> {
    use chrono::TimeZone;
    let start = match e.find_prop("DTSTART") {
        Some(p) => *dates(p)?
            .first()
            .ok_or(("DTSTART is empty".to_string(), ALL_DAY_HINT))?,
        None => return Err(("has no DTSTART".into(), ALL_DAY_HINT)),
    };
    let length = match (e.find_prop("DTEND"), e.find_prop("DURATION")) {
        (Some(_), Some(_)) => {
            return Err((
                "has both DTEND and DURATION".into(),
                "RFC 5545 allows one of them",
            ))
        }
        (Some(p), None) => {
            let end = *dates(p)?
                .first()
                .ok_or(("DTEND is empty".to_string(), ""))?;
            (end - start).num_days()
        }
        (None, Some(p)) => duration_days(p.val.as_str()).ok_or((
            format!(
                "DURATION \"{}\" is not a number of days or weeks",
                p.val.as_str()
            ),
            "e.g. DURATION:P1D or DURATION:P1W",
        ))?,
        (None, None) => 1,
    };
    if !(1..=366).contains(&length) {
        return Err((
            format!("lasts {length} days (DTEND is exclusive: it must be after DTSTART)"),
            "an all-day event on 25 December: DTSTART;VALUE=DATE:20261225 and DTEND;VALUE=DATE:20261226",
        ));
    }
    let mut starts = vec![start];
    if let Some(p) = e.find_prop("RRULE") {
        // All-day events end their rules with a date (`UNTIL=20261231`, RFC 5545 3.3.10); the
        // engine takes UNTIL as a UTC date-time like DTSTART here, so that date's last second.
        let text: Vec<String> = p
            .val
            .as_str()
            .split(';')
            .map(|part| match part.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("UNTIL") && date(v).is_some() => {
                    format!("UNTIL={v}T235959Z")
                }
                _ => part.to_string(),
            })
            .collect();
        let rule: rrule::RRule<rrule::Unvalidated> = text.join(";").parse().map_err(|err| {
            (
                format!("RRULE \"{}\": {err}", p.val.as_str()),
                "e.g. RRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25 or RRULE:FREQ=WEEKLY;BYDAY=SA,SU",
            )
        })?;
        let dt = |d: NaiveDate| {
            rrule::Tz::UTC
                .with_ymd_and_hms(
                    chrono::Datelike::year(&d),
                    chrono::Datelike::month(&d),
                    chrono::Datelike::day(&d),
                    0,
                    0,
                    0,
                )
                .single()
        };
        let first = dt(start).ok_or(("DTSTART is out of range".to_string(), ""))?;
        let set = rule.build(first).map_err(|err| {
            (
                format!("RRULE \"{}\": {err}", p.val.as_str()),
                "e.g. RRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25",
            )
        })?;
        let until = dt(NaiveDate::from_ymd_opt(EXPAND_UNTIL_YEAR, 1, 1).expect("a date"))
            .expect("in range");
        let occurrences = set.before(until).all(u16::MAX);
        if occurrences.limited {
            return Err((
                format!(
                    "RRULE \"{}\" repeats more than {} times before {EXPAND_UNTIL_YEAR}",
                    p.val.as_str(),
                    u16::MAX
                ),
                "a calendar lists days off; bound the rule with COUNT or UNTIL",
            ));
        }
        starts = occurrences.dates.iter().map(|d| d.date_naive()).collect();
    }
    for p in e.properties.iter().filter(|p| p.name.as_str() == "RDATE") {
        starts.extend(dates(p)?);
    }
    let mut excluded = BTreeSet::new();
    for p in e.properties.iter().filter(|p| p.name.as_str() == "EXDATE") {
        excluded.extend(dates(p)?);
    }
    let from = NaiveDate::from_ymd_opt(EXPAND_FROM_YEAR, 1, 1).expect("a date");
    let mut out = Vec::new();
    for s in starts
        .into_iter()
        .filter(|s| !excluded.contains(s) && *s >= from)
    {
        let mut d = s;
        for _ in 0..length {
            out.push(d);
            d = match d.succ_opt() {
                Some(n) => n,
                None => break,
            };
        }
        if out.len() > MAX_DAYS {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const HOLIDAYS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Christmas\r\nDTSTART;VALUE=DATE:20241225\r\nDTEND;VALUE=DATE:20241226\r\nRRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:2\r\nSUMMARY:Thanksgiving and the day after\r\nDTSTART;VALUE=DATE:20241128\r\nDURATION:P2D\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:3\r\nSUMMARY:Shutdown\r\nDTSTART;VALUE=DATE:20260810\r\nDTEND;VALUE=DATE:20260815\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:4\r\nSUMMARY:Partner closed on Saturdays in summer\r\nDTSTART;VALUE=DATE:20260606\r\n\
RRULE:FREQ=WEEKLY;BYDAY=SA;UNTIL=20260829\r\nEXDATE;VALUE=DATE:20260704\r\nRDATE;VALUE=DATE:20260703\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn all_day_events_durations_yearly_and_weekly_rules() {
        let days = from_ics(HOLIDAYS).unwrap();
        for day in [
            "2024-12-25",
            "2026-12-25",
            "2099-12-25",
            "2026-11-26",
            "2026-11-27",
            "2027-11-25",
            "2026-08-10",
            "2026-08-14",
            "2026-06-06",
            "2026-08-29",
            "2026-07-03",
        ] {
            assert!(days.contains(&d(day)), "{day}");
        }
        for day in [
            "2026-12-24",
            "2026-12-26",
            "2026-11-28",
            "2026-08-16",
            "2026-07-04",
            "2026-09-05",
            "2026-06-07",
        ] {
            assert!(!days.contains(&d(day)), "{day}");
        }
    }

    #[test]
    fn bad_events_are_each_reported_at_their_line() {
        let text = "BEGIN:VCALENDAR\nVERSION:2.0\n\
BEGIN:VEVENT\nSUMMARY:Meeting\nDTSTART:20261225T090000Z\nEND:VEVENT\n\
BEGIN:VEVENT\nSUMMARY:Backwards\nDTSTART;VALUE=DATE:20261226\nDTEND;VALUE=DATE:20261225\nEND:VEVENT\n\
BEGIN:VEVENT\nSUMMARY:Odd rule\nDTSTART;VALUE=DATE:20261225\nRRULE:FREQ=SOMETIMES\nEND:VEVENT\n\
BEGIN:VEVENT\nSUMMARY:Forever daily\nDTSTART;VALUE=DATE:20000101\nRRULE:FREQ=DAILY\nEND:VEVENT\n\
END:VCALENDAR\n";
        let problems = from_ics(text).unwrap_err();
        let got: Vec<(usize, String)> = problems
            .iter()
            .map(|p| (p.line, p.message.clone()))
            .collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0].0, 3);
        assert!(
            got[0]
                .1
                .starts_with("event 1 (Meeting): DTSTART \"20261225T090000Z\" is a date and time"),
            "{got:?}"
        );
        assert_eq!(got[1].0, 7);
        assert!(got[1].1.contains("lasts -1 days"), "{got:?}");
        assert_eq!(got[2].0, 12);
        assert!(
            got[2]
                .1
                .starts_with("event 3 (Odd rule): RRULE \"FREQ=SOMETIMES\""),
            "{got:?}"
        );
        // Not a calendar at all.
        let p = from_ics("hello\nworld\n").unwrap_err();
        assert!(
            p[0].message.starts_with("is not a valid iCalendar file"),
            "{p:?}"
        );
    }
}
