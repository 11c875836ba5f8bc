//! How on-call is going: per member, pages received (and out of hours), time to acknowledge
//! and to resolve, retros done and overdue; the share of failures a restart fixed with no page;
//! the noisiest checks. Pure: the caller loads the incidents and counts.

use crate::store::incidents::Incident;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeMap;

/// Business hours: Monday to Friday, 08:00 to 18:00 in the on-call zone. Anything else (nights
/// and weekends) is out of hours.
pub fn out_of_hours(t: DateTime<Utc>, zone: Tz) -> bool {
    let l = t.with_timezone(&zone);
    l.weekday().number_from_monday() > 5 || l.hour() < 8 || l.hour() >= 18
}

/// Median and 90th percentile (nearest rank), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
    pub count: usize,
}

pub fn spread(mut v: Vec<f64>) -> Option<Spread> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Some(Spread {
        median: rank(0.5),
        p90: rank(0.9),
        count: v.len(),
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberStats {
    pub member: String,
    pub pages: usize,
    pub out_of_hours: usize,
    pub pages_per_month: f64,
    pub time_to_ack: Option<Spread>,
    pub time_to_resolve: Option<Spread>,
    pub retros_done: usize,
    pub retros_overdue: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Noisy {
    pub check: String,
    pub pages: usize,
    pub pages_per_week: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OncallReport {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub members: Vec<MemberStats>,
    /// Failures a restart fixed with no page, and pages of checks (not raised by hand).
    pub fixed_by_restart: usize,
    pub check_pages: usize,
    /// fixed_by_restart ÷ (fixed_by_restart + check_pages), if any.
    pub restart_share: Option<f64>,
    pub noisiest: Vec<Noisy>,
}

fn secs(a: DateTime<Utc>, b: Option<DateTime<Utc>>) -> Option<f64> {
    b.map(|b| (b - a).num_milliseconds().max(0) as f64 / 1000.0)
}

/// The report over incidents opened in `[since, until)`. `members`: the rotation, in order
/// (members with no page are listed too); `today`: the date in the on-call zone.
pub fn oncall_report(
    incidents: &[Incident],
    members: &[String],
    fixed_by_restart: usize,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    zone: Tz,
    today: &str,
) -> OncallReport {
    let days = ((until - since).num_seconds().max(86_400)) as f64 / 86_400.0;
    let window: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.opened_at >= since && i.opened_at < until)
        .collect();
    let mut names: Vec<String> = members.to_vec();
    for i in &window {
        if let Some(l) = &i.prog_lead {
            if !names.contains(l) {
                names.push(l.clone());
            }
        }
    }
    let member_stats = names
        .iter()
        .map(|name| {
            let mine: Vec<&&Incident> = window
                .iter()
                .filter(|i| i.prog_lead.as_deref() == Some(name.as_str()))
                .collect();
            MemberStats {
                member: name.clone(),
                pages: mine.len(),
                out_of_hours: mine
                    .iter()
                    .filter(|i| out_of_hours(i.opened_at, zone))
                    .count(),
                pages_per_month: mine.len() as f64 * 30.0 / days,
                time_to_ack: spread(
                    mine.iter()
                        .filter_map(|i| secs(i.opened_at, i.acked_at))
                        .collect(),
                ),
                time_to_resolve: spread(
                    mine.iter()
                        .filter_map(|i| secs(i.opened_at, i.resolved_at))
                        .collect(),
                ),
                retros_done: mine.iter().filter(|i| i.retro_done_at.is_some()).count(),
                retros_overdue: mine
                    .iter()
                    .filter(|i| {
                        i.retro_done_at.is_none()
                            && i.retro_due.as_deref().is_some_and(|d| d < today)
                    })
                    .count(),
            }
        })
        .collect();
    let checks: Vec<&&Incident> = window.iter().filter(|i| !i.raised()).collect();
    let mut per_check: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &checks {
        *per_check.entry(i.check.as_str()).or_default() += 1;
    }
    let mut noisiest: Vec<Noisy> = per_check
        .into_iter()
        .map(|(c, n)| Noisy {
            check: c.to_string(),
            pages: n,
            pages_per_week: n as f64 * 7.0 / days,
        })
        .collect();
    noisiest.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.check.cmp(&b.check)));
    noisiest.truncate(5);
    let all = fixed_by_restart + checks.len();
    OncallReport {
        since,
        until,
        members: member_stats,
        fixed_by_restart,
        check_pages: checks.len(),
        restart_share: (all > 0).then(|| fixed_by_restart as f64 / all as f64),
        noisiest,
    }
}

fn d(s: Option<Spread>, pick: fn(&Spread) -> f64) -> String {
    s.map_or("—".into(), |s| crate::duration::human(pick(&s)))
}

/// The report in Markdown, with the numbers set against common benchmarks.
pub fn markdown(r: &OncallReport) -> String {
    let mut md = format!(
        "# How on-call is going\n\n{} → {} (UTC).\n\n\
         | member | pages | out of hours | per month | ack median | ack p90 | resolve median | resolve p90 | retros done | retros overdue |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        r.since.format("%Y-%m-%d %H:%M"),
        r.until.format("%Y-%m-%d %H:%M"),
    );
    for m in &r.members {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} |\n",
            m.member,
            m.pages,
            m.out_of_hours,
            m.pages_per_month,
            d(m.time_to_ack, |s| s.median),
            d(m.time_to_ack, |s| s.p90),
            d(m.time_to_resolve, |s| s.median),
            d(m.time_to_resolve, |s| s.p90),
            m.retros_done,
            m.retros_overdue,
        ));
    }
    md.push_str(
        "\nBenchmarks: PagerDuty's guidance counts about 2 interruptions per person per month as healthy \
         and 7 as too many; Google's SRE book holds an on-call shift to at most 2 incidents per 12 hours. \
         Pages out of hours (nights, 18:00–08:00, and weekends in the on-call zone) cost the most sleep.\n",
    );
    let heavy: Vec<&MemberStats> = r
        .members
        .iter()
        .filter(|m| m.pages_per_month >= 7.0)
        .collect();
    let busy: Vec<&MemberStats> = r
        .members
        .iter()
        .filter(|m| m.pages_per_month > 2.0 && m.pages_per_month < 7.0)
        .collect();
    for m in heavy {
        md.push_str(&format!(
            "\n- **{}: {:.1} pages a month — too many** by that measure.",
            m.member, m.pages_per_month
        ));
    }
    for m in busy {
        md.push_str(&format!(
            "\n- {}: {:.1} pages a month — above the healthy 2.",
            m.member, m.pages_per_month
        ));
    }
    md.push_str(&format!(
        "\n\n## Fixed without a page\n\n{} failure{} fixed by a restart with no page, {} paged: {}.\n",
        r.fixed_by_restart,
        if r.fixed_by_restart == 1 { " was" } else { "s were" },
        r.check_pages,
        r.restart_share
            .map_or("no failures in the window".to_string(), |s| format!(
                "{:.0}% fixed by a restart",
                s * 100.0
            ))
    ));
    md.push_str("\n## Noisiest checks\n\n");
    if r.noisiest.is_empty() {
        md.push_str("No check paged.\n");
    } else {
        md.push_str("| check | pages | per week |\n|---|---|---|\n");
        for n in &r.noisiest {
            md.push_str(&format!(
                "| {} | {} | {:.1} |\n",
                n.check, n.pages, n.pages_per_week
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = spread((1..=10).map(f64::from).collect()).unwrap();
        assert_eq!((s.median, s.p90, s.count), (5.0, 9.0, 10));
        let s = spread(vec![7.0]).unwrap();
        assert_eq!((s.median, s.p90), (7.0, 7.0));
        assert!(spread(vec![]).is_none());
    }

    #[test]
    fn out_of_hours_is_nights_and_weekends_in_the_zone() {
        let z: Tz = "America/New_York".parse().unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Tuesday 2026-12-01 09:00 New York = 14:00 UTC: business hours.
        assert!(!out_of_hours(at("2026-12-01T14:00:00Z"), z));
        // Tuesday 07:59 New York, 18:00 New York, Saturday noon.
        assert!(out_of_hours(at("2026-12-01T12:59:00Z"), z));
        assert!(out_of_hours(at("2026-12-01T23:00:00Z"), z));
        assert!(out_of_hours(at("2026-12-05T17:00:00Z"), z));
    }
}
