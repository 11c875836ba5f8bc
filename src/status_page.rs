//! The HTML status page served at `/`: every check grouped by source with its verdict, data
//! age, thresholds, last run and a strip of recent runs, and the open incidents. Pure, plain
//! HTML and CSS (no JavaScript), readable by screen readers: verdicts are words, not colours.
//!
//! Built for 3 a.m.: failing checks first (worst verdict, then longest failing, in groups
//! ordered the same way), data age computed at page time, times in the on-call zone (UTC in the
//! title), a banner when the last reload failed or a failing check pages nobody, and no
//! sideways scrolling at phone width (tables become stacked cards).

use crate::check::Check;
use crate::store::incidents::{Incident, PastRun};
use crate::store::{CheckState, LastRun};
use crate::verdict::{Observed, Verdict};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1b1b1b}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
.v{font-weight:700;padding:.1rem .45rem;border-radius:.25rem;white-space:nowrap}\
.pass{background:#d9f2df;color:#0b5d1e}.warn{background:#fff1c2;color:#6b4e00}\
.fail{background:#fbd5d5;color:#8a1111}.error{background:#ead7f7;color:#5b1a84}.none{background:#eee;color:#444}\
.strip{display:flex;gap:2px}.strip span{width:.6rem;height:1.1rem;border-radius:2px}\
.strip .pass{background:#2e9e4f}.strip .warn{background:#d9a300}.strip .fail{background:#c62828}.strip .error{background:#7b3fb0}\
.days{display:flex;height:.5rem;margin-top:.3rem;min-width:9rem}.days i{display:block;min-width:1px}\
.days .pass{background:#2e9e4f}.days .warn{background:#d9a300}.days .fail{background:#c62828}.days .error{background:#7b3fb0}.days .none{background:#ddd}\
.summary{font-size:1.1rem}.muted{color:#555;font-weight:400}.sr{position:absolute;left:-9999px}\
td,th{overflow-wrap:anywhere}thead th{overflow-wrap:normal}.banner{background:#fbd5d5;color:#8a1111;border:2px solid #c62828;border-radius:.35rem;padding:.5rem .75rem;margin:.5rem 0}\
@media (max-width:40rem){table,thead,tbody,tr,th,td{display:block;width:auto}thead{position:absolute;left:-9999px}\
tr{border-bottom:1px solid #bbb;padding:.4rem 0}th,td{border:none;padding:.15rem 0}\
td[data-label]::before{content:attr(data-label) \": \";color:#555}}";

/// What the page knows besides the checks' runs: the on-call time zone for times, the checks'
/// streaks (for "longest failing"), and what the banner warns about.
#[derive(Default)]
pub struct Context {
    pub zone: Option<chrono_tz::Tz>,
    pub states: HashMap<String, CheckState>,
    /// The last reload's failure (when, and its first problem), if it failed.
    pub reload_failure: Option<(DateTime<Utc>, String)>,
    /// Failing checks whose failure pages nobody (no `page` route, or an empty one).
    pub unrouted: Vec<String>,
    /// The public updates posted on the open incidents, newest first.
    pub updates: Vec<crate::store::incidents::IncidentUpdate>,
    /// Silences and maintenance windows holding now.
    pub silences: Vec<crate::silence::Silence>,
    /// Each check's worst verdict per UTC day (`YYYY-MM-DD`), over the last `DAYS` days.
    pub daily: HashMap<String, Vec<(String, Verdict)>>,
}

/// A page shows every check up to this many. Past it, `/` is a summary (the checks needing
/// attention, worst first, up to this many, then every source with its counts) and each source
/// has pages of this many rows (`/?source=NAME&page=N`): the first screen stays small and
/// quick at 10,000 checks, and its store reads cover only the rows shown.
pub const PAGE_ROWS: usize = 200;

/// The view asked for in the query string.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Ask {
    pub source: Option<String>,
    /// 1-based.
    pub page: Option<usize>,
}

/// What a page shows beyond its rows.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Every configured check, and their current verdicts: pass, warn, fail, error.
    pub total: usize,
    pub counts: [usize; 4],
    pub view: View,
}

#[derive(Debug, Clone, Default)]
pub enum View {
    /// Every check (small configurations).
    #[default]
    Everything,
    /// The checks needing attention (of `attention` in all) and every source's counts.
    Summary {
        attention: usize,
        sources: Vec<SourceLine>,
    },
    /// One page of one source's checks.
    Source {
        name: String,
        page: usize,
        pages: usize,
        checks: usize,
    },
}

/// A source in the summary: its checks and their verdicts (pass, warn, fail, error, not run).
#[derive(Debug, Clone)]
pub struct SourceLine {
    pub name: String,
    pub checks: usize,
    pub counts: [usize; 5],
}

/// The source a check is listed under (HTTP checks have none).
fn source_of(c: &Check) -> &str {
    c.source.as_deref().unwrap_or("http")
}

/// Worst first: error, fail, warn, then not run yet, then pass.
fn rank_of(v: Option<Verdict>) -> u8 {
    match v {
        Some(Verdict::Error) => 0,
        Some(Verdict::Fail) => 1,
        Some(Verdict::Warn) => 2,
        None => 3,
        Some(Verdict::Pass) => 4,
    }
}

/// The checks a view shows, and its scope, from each check's current verdict (`verdict`) and
/// the time it has held it (`since`, for "longest failing first").
pub fn choose<'a>(
    checks: &'a [Check],
    ask: &Ask,
    verdict: impl Fn(&Check) -> Option<Verdict>,
    since: impl Fn(&Check) -> Option<DateTime<Utc>>,
) -> (Vec<&'a Check>, Scope) {
    let mut counts = [0; 4];
    for c in checks {
        if let Some(v) = verdict(c) {
            counts[v as usize] += 1;
        }
    }
    let scope = |view| Scope {
        total: checks.len(),
        counts,
        view,
    };
    if let Some(name) = &ask.source {
        let mine: Vec<&Check> = checks.iter().filter(|c| source_of(c) == name).collect();
        let pages = mine.len().div_ceil(PAGE_ROWS).max(1);
        let page = ask.page.unwrap_or(1).clamp(1, pages);
        let shown = mine
            .iter()
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .copied()
            .collect();
        return (
            shown,
            scope(View::Source {
                name: name.clone(),
                page,
                pages,
                checks: mine.len(),
            }),
        );
    }
    if checks.len() <= PAGE_ROWS {
        return (checks.iter().collect(), scope(View::Everything));
    }
    let mut sources: BTreeMap<&str, SourceLine> = BTreeMap::new();
    let mut attention: Vec<&Check> = Vec::new();
    for c in checks {
        let v = verdict(c);
        let line = sources.entry(source_of(c)).or_insert_with(|| SourceLine {
            name: source_of(c).to_string(),
            checks: 0,
            counts: [0; 5],
        });
        line.checks += 1;
        line.counts[v.map_or(4, |v| v as usize)] += 1;
        if matches!(v, Some(Verdict::Warn | Verdict::Fail | Verdict::Error)) {
            attention.push(c);
        }
    }
    let total = attention.len();
    attention.sort_by(|a, b| {
        (rank_of(verdict(a)), since(a), &a.name).cmp(&(rank_of(verdict(b)), since(b), &b.name))
    });
    attention.truncate(PAGE_ROWS);
    let mut sources: Vec<SourceLine> = sources.into_values().collect();
    // Sources with failures first, then by name.
    sources.sort_by_key(|s| (std::cmp::Reverse(s.counts[3] + s.counts[2]), s.name.clone()));
    (
        attention,
        scope(View::Summary {
            attention: total,
            sources,
        }),
    )
}

/// A link to a view of the page.
fn link(source: &str, page: usize) -> String {
    let mut q = String::new();
    for b in source.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            q.push(b as char);
        } else {
            let _ = write!(q, "%{b:02X}");
        }
    }
    if page > 1 {
        let _ = write!(q, "&amp;page={page}");
    }
    format!("?source={q}")
}

/// The summary's and a source page's own parts, after the incidents.
fn scope_section(h: &mut String, scope: &Scope, shown: usize) {
    match &scope.view {
        View::Everything => {}
        View::Summary { attention, sources } => {
            let _ = write!(
                h,
                "<section aria-labelledby=\"attention\"><h2 id=\"attention\">Needs attention: {attention} check{}</h2>",
                if *attention == 1 { "" } else { "s" }
            );
            if *attention > shown {
                let _ = write!(
                    h,
                    "<p class=\"muted\">The worst {shown} are below, worst and longest first; each source's page lists all of its checks.</p>"
                );
            } else if *attention == 0 {
                h.push_str("<p>Every check passes or has not run yet.</p>");
            }
            h.push_str("</section><section aria-labelledby=\"sources\"><h2 id=\"sources\">Sources</h2><table><thead><tr>\
                <th scope=\"col\">Source</th><th scope=\"col\">Checks</th><th scope=\"col\">Pass</th><th scope=\"col\">Warn</th>\
                <th scope=\"col\">Fail</th><th scope=\"col\">Error</th><th scope=\"col\">Not run</th></tr></thead><tbody>");
            for s in sources {
                let _ = write!(
                    h,
                    "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td data-label=\"Checks\">{}</td>",
                    link(&s.name, 1),
                    escape(&s.name),
                    s.checks
                );
                for (label, n) in ["Pass", "Warn", "Fail", "Error", "Not run"]
                    .iter()
                    .zip(s.counts)
                {
                    let _ = write!(h, "<td data-label=\"{label}\">{n}</td>");
                }
                h.push_str("</tr>");
            }
            h.push_str("</tbody></table></section>");
        }
        View::Source {
            name,
            page,
            pages,
            checks,
        } => {
            let _ = write!(
                h,
                "<nav aria-label=\"pages\"><p><a href=\"/\">Summary</a> · source {}: {checks} check{}, page {page} of {pages}",
                escape(name),
                if *checks == 1 { "" } else { "s" }
            );
            if *page > 1 {
                let _ = write!(
                    h,
                    " · <a href=\"{}\" rel=\"prev\">previous</a>",
                    link(name, page - 1)
                );
            }
            if page < pages {
                let _ = write!(
                    h,
                    " · <a href=\"{}\" rel=\"next\">next</a>",
                    link(name, page + 1)
                );
            }
            h.push_str("</p></nav>");
        }
    }
}

/// How many days the history bar shows.
pub const DAYS: u32 = 90;

/// The 90-day bar: one cell per UTC day (the day's worst verdict, or none), drawn as runs of
/// equal days so a quiet check costs a few bytes, with the counts as text for screen readers.
fn days_bar(days: Option<&Vec<(String, Verdict)>>, now: DateTime<Utc>) -> String {
    let by_day: HashMap<&str, Verdict> = days
        .map(|d| d.iter().map(|(day, v)| (day.as_str(), *v)).collect())
        .unwrap_or_default();
    let today = now.date_naive();
    let cells: Vec<(chrono::NaiveDate, Option<Verdict>)> = (0..DAYS)
        .rev()
        .map(|back| {
            let d = today - chrono::Duration::days(back as i64);
            (
                d,
                by_day
                    .get(d.format("%Y-%m-%d").to_string().as_str())
                    .copied(),
            )
        })
        .collect();
    let mut bar = String::new();
    let mut i = 0;
    while i < cells.len() {
        let (start, v) = cells[i];
        let mut j = i;
        while j + 1 < cells.len() && cells[j + 1].1 == v {
            j += 1;
        }
        let class = v.map_or("none", |v| v.label());
        let span = if i == j {
            start.format("%b %d").to_string()
        } else {
            format!("{} – {}", start.format("%b %d"), cells[j].0.format("%b %d"))
        };
        let _ = write!(
            bar,
            "<i class=\"{class}\" style=\"flex:{}\" title=\"{span}: {}\"></i>",
            j - i + 1,
            v.map_or("no data", |v| v.label())
        );
        i = j + 1;
    }
    let count = |want: Option<Verdict>| cells.iter().filter(|c| c.1 == want).count();
    format!(
        "<div class=\"days\" aria-hidden=\"true\">{bar}</div><span class=\"sr\">last {DAYS} days (worst verdict of each UTC day): {} pass, {} warn, {} fail, {} error, {} without data</span>",
        count(Some(Verdict::Pass)),
        count(Some(Verdict::Warn)),
        count(Some(Verdict::Fail)),
        count(Some(Verdict::Error)),
        count(None),
    )
}

impl Context {
    /// An instant in the on-call zone, with the UTC time in its title.
    fn time(&self, t: DateTime<Utc>, fmt: &str) -> String {
        let utc = t.format("%Y-%m-%d %H:%M:%S UTC");
        let local = match self.zone {
            Some(z) => t.with_timezone(&z).format(fmt).to_string(),
            None => t.format(fmt).to_string(),
        };
        format!(
            "<time datetime=\"{}\" title=\"{utc}\">{}</time>",
            t.to_rfc3339(),
            escape(&local)
        )
    }
}

fn rank(row: &Row<'_>) -> u8 {
    rank_of(row.last.map(|r| r.outcome.verdict))
}

/// What the page shows about one check.
pub struct Row<'a> {
    pub check: &'a Check,
    pub last: Option<&'a LastRun>,
    pub history: Vec<&'a PastRun>,
}

/// The page: `shown` (from [`choose`]) with their runs; the counts come from `scope`.
pub fn render(
    shown: &[&Check],
    scope: &Scope,
    latest: &HashMap<String, LastRun>,
    history: &[PastRun],
    incidents: &[Incident],
    ctx: &Context,
    now: DateTime<Utc>,
) -> String {
    let mut by_check: HashMap<&str, Vec<&PastRun>> = HashMap::new();
    for r in history {
        by_check.entry(r.check.as_str()).or_default().push(r);
    }
    let mut groups: BTreeMap<String, Vec<Row<'_>>> = BTreeMap::new();
    for c in shown.iter().copied() {
        let group = c
            .labels
            .get("partner")
            .map(|p| format!("{} · partner {p}", c.source.as_deref().unwrap_or("http")))
            .unwrap_or_else(|| c.source.clone().unwrap_or_else(|| "http".into()));
        groups.entry(group).or_default().push(Row {
            check: c,
            last: latest.get(&c.name),
            history: by_check.remove(c.name.as_str()).unwrap_or_default(),
        });
    }
    // Worst first, then the longest in that verdict, then by name; groups by their worst row.
    let since = |row: &Row<'_>| ctx.states.get(&row.check.name).map(|s| s.verdict_since);
    let mut groups: Vec<(String, Vec<Row<'_>>)> = groups.into_iter().collect();
    for (_, rows) in &mut groups {
        rows.sort_by(|a, b| {
            (rank(a), since(a), &a.check.name).cmp(&(rank(b), since(b), &b.check.name))
        });
    }
    groups.sort_by(|a, b| {
        let key = |g: &(String, Vec<Row<'_>>)| (g.1.first().map_or(9, rank), g.0.clone());
        key(a).cmp(&key(b))
    });
    let count = |v: Verdict| scope.counts[v as usize];
    let total = scope.total;
    let mut h = String::with_capacity(8192 + shown.len() * 600);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"60\"><title>syncwatch status</title>\
         <style>{STYLE}</style></head><body><header><h1>syncwatch status</h1>\
         <p class=\"summary\" id=\"summary\">{} check{}: {} pass, {} warn, {} fail, {} error. \
         {} open incident{}.</p><p class=\"muted\">As of {}{}. This page refreshes every minute.</p>",
        total,
        if total == 1 { "" } else { "s" },
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Error),
        incidents.len(),
        if incidents.len() == 1 { "" } else { "s" },
        ctx.time(now, "%Y-%m-%d %H:%M:%S %Z"),
        ctx.zone
            .map(|z| format!(" (on-call time, {})", z.name()))
            .unwrap_or_default(),
    );
    banners(&mut h, ctx);
    h.push_str("</header><main>");
    incidents_section(&mut h, incidents, ctx, now);
    scope_section(&mut h, scope, shown.len());
    for (group, rows) in &groups {
        let _ = write!(
            h,
            "<section aria-labelledby=\"g-{id}\"><h2 id=\"g-{id}\">{}</h2><table><thead><tr>\
             <th scope=\"col\">Check</th><th scope=\"col\">Verdict</th><th scope=\"col\">Data age</th>\
             <th scope=\"col\">Thresholds</th><th scope=\"col\">Last run</th><th scope=\"col\">Recent runs</th>\
             </tr></thead><tbody>",
            escape(group),
            id = escape(&crate::config::incidents::channel_safe(group)),
        );
        for row in rows {
            check_row(&mut h, row, ctx, now);
        }
        h.push_str("</tbody></table></section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

/// What must not be missed: a configuration that did not load, and failures that page nobody.
fn banners(h: &mut String, ctx: &Context) {
    if let Some((at, problem)) = &ctx.reload_failure {
        let _ = write!(
            h,
            "<p class=\"banner\" role=\"alert\">The last configuration reload failed ({}): {}. \
             The checks below are the last good configuration.</p>",
            ctx.time(*at, "%Y-%m-%d %H:%M %Z"),
            escape(problem)
        );
    }
    if !ctx.unrouted.is_empty() {
        let names: Vec<String> = ctx.unrouted.iter().map(|n| escape(n)).collect();
        let _ = write!(
            h,
            "<p class=\"banner\" role=\"alert\">{} failing check{} page{} nobody: {} \
             (set <code>on_failure.page</code> to a route).</p>",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            if names.len() == 1 { "s" } else { "" },
            names.join(", ")
        );
    }
}

fn incidents_section(h: &mut String, incidents: &[Incident], ctx: &Context, now: DateTime<Utc>) {
    h.push_str("<section aria-labelledby=\"incidents\"><h2 id=\"incidents\">Open incidents</h2>");
    if incidents.is_empty() {
        h.push_str("<p>None.</p></section>");
        return;
    }
    h.push_str("<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Check</th><th scope=\"col\">Status</th>\
        <th scope=\"col\">Opened</th><th scope=\"col\">Prog Lead</th><th scope=\"col\">Summary</th></tr></thead><tbody>");
    for i in incidents {
        let _ = write!(
            h,
            "<tr><td data-label=\"#\">{}</td><td data-label=\"Check\">{}</td><td data-label=\"Status\">{}{}</td>\
             <td data-label=\"Opened\">{} ({} ago)</td><td data-label=\"Prog Lead\">{}</td><td data-label=\"Summary\">{}</td></tr>",
            i.id,
            escape(&i.check),
            i.status(),
            i.acked_by
                .as_ref()
                .map(|b| format!(" by {}", escape(b)))
                .unwrap_or_default(),
            ctx.time(i.opened_at, "%a %H:%M %Z"),
            crate::duration::human((now - i.opened_at).num_seconds().max(0) as f64),
            escape(i.prog_lead.as_deref().unwrap_or("-")),
            escape(&i.summary),
        );
        let updates: Vec<_> = ctx.updates.iter().filter(|u| u.incident == i.id).collect();
        if !updates.is_empty() {
            let _ = write!(
                h,
                "<tr><td></td><td colspan=\"5\" data-label=\"Updates\"><ul class=\"updates\" aria-label=\"Updates on incident {}\">",
                i.id
            );
            for u in updates {
                let _ = write!(
                    h,
                    "<li><strong>{}</strong> {}: {}</li>",
                    escape(&u.status),
                    ctx.time(u.at, "%a %H:%M %Z"),
                    escape(&u.message)
                );
            }
            h.push_str("</ul></td></tr>");
        }
    }
    h.push_str("</tbody></table></section>");
}

fn check_row(h: &mut String, row: &Row<'_>, ctx: &Context, now: DateTime<Utc>) {
    let c = row.check;
    let (verdict, class) = match row.last {
        Some(r) => (
            r.outcome.verdict.label().to_uppercase(),
            r.outcome.verdict.label(),
        ),
        None => ("NOT RUN YET".to_string(), "none"),
    };
    // The age now, not at the last run: it keeps growing between runs.
    let age = match row.last.map(|r| (r, &r.outcome.observed)) {
        Some((r, Observed::Age { age_seconds, .. })) => {
            let since_run = (now - r.started_at).num_milliseconds().max(0) as f64 / 1000.0;
            crate::duration::human(age_seconds + since_run)
        }
        Some((_, o)) => crate::report::observed(o, &c.kind),
        None => "-".into(),
    };
    let last = row
        .last
        .map(|r| {
            format!(
                "{} ago<div class=\"muted\">{}</div>",
                crate::duration::human((now - r.started_at).num_seconds().max(0) as f64),
                ctx.time(r.started_at, "%a %H:%M %Z")
            )
        })
        .unwrap_or_else(|| "-".into());
    let reason = row
        .last
        .and_then(|r| r.outcome.reason.as_deref())
        .map(|r| format!("<div class=\"muted\">{}</div>", escape(r)))
        .unwrap_or_default();
    let desc = c
        .description
        .as_deref()
        .map(|d| format!("<div class=\"muted\">{}</div>", escape(d)))
        .unwrap_or_default();
    // A maintenance window or silence: the check runs, nothing pages; say so by the verdict.
    let held = ctx
        .silences
        .iter()
        .find(|s| s.covers(&c.name, now))
        .map(|s| {
            let (word, why) = match s.reason.strip_prefix("maintenance: ") {
                Some(why) => ("MAINTENANCE", why),
                None => ("SILENCED", s.reason.as_str()),
            };
            format!(
                " <span class=\"v none\">{word}</span><div class=\"muted\">until {}: {}</div>",
                ctx.time(s.until, "%a %H:%M %Z"),
                escape(why)
            )
        })
        .unwrap_or_default();
    let strip: String = row
        .history
        .iter()
        .map(|r| {
            format!(
                "<span class=\"{v}\" title=\"{} {v}\"></span>",
                r.started_at.format("%m-%d %H:%M"),
                v = escape(&r.verdict)
            )
        })
        .collect();
    let counts = |v: &str| row.history.iter().filter(|r| r.verdict == v).count();
    let _ = write!(
        h,
        "<tr data-check=\"{name}\"><th scope=\"row\">{name}{desc}</th>\
         <td data-label=\"Verdict\"><span class=\"v {class}\">{verdict}</span>{held}{reason}</td><td data-label=\"Data age\">{age}</td>\
         <td data-label=\"Thresholds\">{}</td><td data-label=\"Last run\">{last}</td>\
         <td data-label=\"Recent runs\"><div class=\"strip\" aria-hidden=\"true\">{strip}</div>\
         <span class=\"sr\">last {} runs: {} pass, {} warn, {} fail, {} error</span>{days}</td></tr>",
        escape(&c.kind.thresholds()),
        row.history.len(),
        counts("pass"),
        counts("warn"),
        counts("fail"),
        counts("error"),
        name = escape(&c.name),
        days = days_bar(ctx.daily.get(&c.name), now),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Outcome;

    #[test]
    fn data_age_is_computed_at_page_time_and_times_are_in_the_on_call_zone() {
        let plan = crate::demo::test_plan();
        let check = plan
            .checks
            .iter()
            .find(|c| c.name == "van_contacts_sync")
            .unwrap()
            .clone();
        let now = DateTime::parse_from_rfc3339("2026-12-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // Run two hours ago, when the data was one hour old: it is three hours old now.
        let run = LastRun {
            started_at: now - chrono::Duration::hours(2),
            duration: std::time::Duration::from_millis(3),
            outcome: Outcome {
                verdict: Verdict::Pass,
                observed: Observed::Age {
                    age_seconds: 3600.0,
                    newest: None,
                },
                reason: None,
            },
        };
        let latest = HashMap::from([(check.name.clone(), run)]);
        let ctx = Context {
            zone: Some(chrono_tz::America::New_York),
            ..Context::default()
        };
        let verdict = |c: &Check| latest.get(&c.name).map(|r| r.outcome.verdict);
        let checks = [check];
        let (shown, scope) = choose(&checks, &Ask::default(), verdict, |_| None);
        let html = render(&shown, &scope, &latest, &[], &[], &ctx, now);
        assert!(
            html.contains("<td data-label=\"Data age\">3h00m</td>"),
            "{html}"
        );
        assert!(
            html.contains("title=\"2026-12-02 06:00:00 UTC\">Wed 01:00 EST</time>"),
            "{html}"
        );
        assert!(html.contains("As of <time datetime=\"2026-12-02T08:00:00+00:00\" title=\"2026-12-02 08:00:00 UTC\">2026-12-02 03:00:00 EST</time>"), "{html}");
    }
}
