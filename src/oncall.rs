//! Who is on call: a weekly rotation with a handoff weekday and time in its own time zone,
//! overrides (a member covers a range), and the secondary on-call. Pure: times are passed in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// An instant written as RFC 3339, or as `YYYY-MM-DD HH:MM` wall time in `tz`.
pub fn parse_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").ok()?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// Slack user id, for @-mentions (e.g. U0123ABC).
    pub slack: Option<String>,
    pub email: Option<String>,
    /// Areas this member knows well (checks name theirs with `area`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expertise: Vec<String>,
}

/// A member covering for the rotation from `from` until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    pub member: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Rotation {
    pub members: Vec<Member>,
    pub timezone: Tz,
    pub handoff_day: Weekday,
    pub handoff_time: NaiveTime,
    /// The first member is Prog Lead from the first handoff on or after this date.
    pub start: NaiveDate,
    pub overrides: Vec<Override>,
    /// Secondary on-call by name; empty: everyone but the Prog Lead.
    pub secondary: Vec<String>,
}

/// Who holds each role at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnCall {
    pub prog_lead: Member,
    /// Set when an override put `prog_lead` there instead of the rotation.
    pub covering_for: Option<String>,
    pub secondary: Vec<Member>,
}

impl Rotation {
    /// The handoff instant in the week of `date` (local wall time; a time skipped by a
    /// daylight-saving change hands off at the first valid instant after it).
    fn handoff_on(&self, date: NaiveDate) -> DateTime<Utc> {
        let local = date.and_time(self.handoff_time);
        let mut probe = local;
        loop {
            if let Some(t) = self.timezone.from_local_datetime(&probe).earliest() {
                return t.with_timezone(&Utc);
            }
            probe += Duration::minutes(1);
        }
    }

    /// The date of the first handoff weekday on or after `d`.
    fn weekday_on_or_after(&self, d: NaiveDate) -> NaiveDate {
        let ahead = (7 + self.handoff_day.num_days_from_monday() as i64
            - d.weekday().num_days_from_monday() as i64)
            % 7;
        d + Duration::days(ahead)
    }

    fn first_handoff(&self) -> NaiveDate {
        self.weekday_on_or_after(self.start)
    }

    /// How many handoffs have happened by `at` (0 before the first).
    fn shifts_by(&self, at: DateTime<Utc>) -> Option<i64> {
        let first = self.first_handoff();
        if at < self.handoff_on(first) {
            return None;
        }
        let local_date = at.with_timezone(&self.timezone).date_naive();
        let mut weeks = (local_date - first).num_days() / 7;
        // The handoff of the current week may still be ahead.
        if at < self.handoff_on(first + Duration::weeks(weeks)) {
            weeks -= 1;
        }
        Some(weeks)
    }

    /// The rotation's Prog Lead at `at`, before overrides (`None` before the rotation starts).
    fn scheduled(&self, at: DateTime<Utc>) -> Option<&Member> {
        let n = self.members.len() as i64;
        let shifts = self.shifts_by(at)?;
        self.members.get(shifts.rem_euclid(n) as usize)
    }

    pub fn at(&self, at: DateTime<Utc>) -> Option<OnCall> {
        let scheduled = self.scheduled(at)?;
        let covering = self
            .overrides
            .iter()
            .rev()
            .find(|o| o.from <= at && at < o.until);
        let (lead, covering_for) =
            match covering.and_then(|o| self.members.iter().find(|m| m.name == o.member)) {
                Some(m) if m != scheduled => (m.clone(), Some(scheduled.name.clone())),
                _ => (scheduled.clone(), None),
            };
        let secondary = if self.secondary.is_empty() {
            self.members
                .iter()
                .filter(|m| m.name != lead.name)
                .cloned()
                .collect()
        } else {
            self.members
                .iter()
                .filter(|m| self.secondary.contains(&m.name) && m.name != lead.name)
                .cloned()
                .collect()
        };
        Some(OnCall {
            prog_lead: lead,
            covering_for,
            secondary,
        })
    }

    /// The next `n` handoffs after `after`: when, and who takes over.
    pub fn handoffs(&self, after: DateTime<Utc>, n: usize) -> Vec<(DateTime<Utc>, Member)> {
        let local = after.with_timezone(&self.timezone).date_naive();
        let mut date = self.weekday_on_or_after(local.max(self.start) - Duration::days(7));
        let mut out = Vec::new();
        while out.len() < n {
            let t = self.handoff_on(date);
            if t > after && date >= self.first_handoff() {
                if let Some(m) = self.scheduled(t) {
                    out.push((t, m.clone()));
                }
            }
            date += Duration::weeks(1);
        }
        out
    }
}

/// Who covers one area of expertise while `on_call` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AreaCover {
    pub area: String,
    /// The Prog Lead covers it: its pages tag nobody else.
    pub prog_lead: bool,
    /// On-call members (Prog Lead and secondary) who know it.
    pub experts: Vec<String>,
    /// Members of the rotation who know it but are not on call now.
    pub off_rota: Vec<String>,
}

/// Who covers each area this week: `areas` are those the checks name and the members know.
pub fn coverage(rotation: &Rotation, on_call: &OnCall, areas: &[String]) -> Vec<AreaCover> {
    let on: Vec<&Member> = std::iter::once(&on_call.prog_lead)
        .chain(on_call.secondary.iter())
        .collect();
    areas
        .iter()
        .map(|a| {
            let experts: Vec<String> = on
                .iter()
                .filter(|m| m.expertise.contains(a))
                .map(|m| m.name.clone())
                .collect();
            let off_rota = rotation
                .members
                .iter()
                .filter(|m| m.expertise.contains(a) && !experts.contains(&m.name))
                .map(|m| m.name.clone())
                .collect();
            AreaCover {
                area: a.clone(),
                prog_lead: on_call.prog_lead.expertise.contains(a),
                experts,
                off_rota,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str) -> Member {
        Member {
            name: name.into(),
            slack: None,
            email: None,
            expertise: Vec::new(),
        }
    }

    fn rotation() -> Rotation {
        Rotation {
            members: vec![m("ana"), m("ben"), m("cho")],
            timezone: chrono_tz::America::New_York,
            handoff_day: Weekday::Mon,
            handoff_time: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            start: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), // a Thursday: first handoff Mon 5 Jan
            overrides: vec![],
            secondary: vec![],
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn lead(r: &Rotation, t: &str) -> Option<String> {
        r.at(utc(t)).map(|o| o.prog_lead.name)
    }

    #[test]
    fn weekly_turns_at_local_handoff_time_across_dst() {
        let r = rotation();
        assert_eq!(
            lead(&r, "2026-01-05T14:59:00Z"),
            None,
            "before the first handoff (10:00 EST = 15:00Z)"
        );
        assert_eq!(lead(&r, "2026-01-05T15:00:00Z").as_deref(), Some("ana"));
        assert_eq!(lead(&r, "2026-01-12T14:59:59Z").as_deref(), Some("ana"));
        assert_eq!(lead(&r, "2026-01-12T15:00:00Z").as_deref(), Some("ben"));
        // After spring forward (8 March) the handoff is 10:00 EDT = 14:00Z.
        let handoffs = r.handoffs(utc("2026-03-01T00:00:00Z"), 3);
        let times: Vec<String> = handoffs.iter().map(|(t, _)| t.to_rfc3339()).collect();
        assert_eq!(
            times,
            [
                "2026-03-02T15:00:00+00:00",
                "2026-03-09T14:00:00+00:00",
                "2026-03-16T14:00:00+00:00"
            ]
        );
        assert_eq!(
            lead(&r, "2026-03-09T13:59:00Z"),
            lead(&r, "2026-03-08T12:00:00Z")
        );
        assert_ne!(
            lead(&r, "2026-03-09T14:00:00Z"),
            lead(&r, "2026-03-09T13:59:00Z")
        );
    }

    #[test]
    fn the_rotation_carries_over_the_year_boundary() {
        let r = rotation();
        // Mon 28 Dec 2026 is handoff 51 (0-based) since 5 Jan: 51 % 3 = 0 → ana; Mon 4 Jan 2027 → ben.
        assert_eq!(lead(&r, "2026-12-31T12:00:00Z").as_deref(), Some("ana"));
        assert_eq!(lead(&r, "2027-01-04T15:00:00Z").as_deref(), Some("ben"));
        let next = r.handoffs(utc("2026-12-30T00:00:00Z"), 2);
        assert_eq!(next[0].0, utc("2027-01-04T15:00:00Z"));
        assert_eq!(
            (next[0].1.name.as_str(), next[1].1.name.as_str()),
            ("ben", "cho")
        );
    }

    #[test]
    fn overrides_and_secondary() {
        let mut r = rotation();
        r.overrides.push(Override {
            member: "cho".into(),
            from: utc("2026-01-06T00:00:00Z"),
            until: utc("2026-01-07T00:00:00Z"),
        });
        let during = r.at(utc("2026-01-06T12:00:00Z")).unwrap();
        assert_eq!(
            (
                during.prog_lead.name.as_str(),
                during.covering_for.as_deref()
            ),
            ("cho", Some("ana"))
        );
        let names: Vec<&str> = during.secondary.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["ana", "ben"], "everyone else is secondary");
        assert_eq!(
            lead(&r, "2026-01-07T00:00:00Z").as_deref(),
            Some("ana"),
            "the override ended"
        );
        r.secondary = vec!["ben".into()];
        let names: Vec<String> = r
            .at(utc("2026-01-08T00:00:00Z"))
            .unwrap()
            .secondary
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["ben"]);
    }
}
