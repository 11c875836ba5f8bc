//! The HTML status page served at `/`: every check grouped by source with its verdict, data
//! age, thresholds, last run and a strip of recent runs, and the open incidents. Pure, plain
//! HTML and CSS (no JavaScript), readable by screen readers: verdicts are words, not colours.

use crate::check::Check;
use crate::store::incidents::{Incident, PastRun};
use crate::store::LastRun;
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
.summary{font-size:1.1rem}.muted{color:#555;font-weight:400}.sr{position:absolute;left:-9999px}";

/// What the page shows about one check.
pub struct Row<'a> {
    pub check: &'a Check,
    pub last: Option<&'a LastRun>,
    pub history: Vec<&'a PastRun>,
}

pub fn render(
    checks: &[Check],
    latest: &HashMap<String, LastRun>,
    history: &[PastRun],
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> String {
    let mut by_check: HashMap<&str, Vec<&PastRun>> = HashMap::new();
    for r in history {
        by_check.entry(r.check.as_str()).or_default().push(r);
    }
    let mut groups: BTreeMap<String, Vec<Row<'_>>> = BTreeMap::new();
    for c in checks {
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
    let count = |v: Verdict| {
        checks
            .iter()
            .filter(|c| latest.get(&c.name).map(|r| r.outcome.verdict) == Some(v))
            .count()
    };
    let mut h = String::with_capacity(8192 + checks.len() * 600);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"60\"><title>syncwatch status</title>\
         <style>{STYLE}</style></head><body><header><h1>syncwatch status</h1>\
         <p class=\"summary\" id=\"summary\">{} check{}: {} pass, {} warn, {} fail, {} error. \
         {} open incident{}.</p><p class=\"muted\">As of {}. This page refreshes every minute.</p></header><main>",
        checks.len(),
        if checks.len() == 1 { "" } else { "s" },
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Error),
        incidents.len(),
        if incidents.len() == 1 { "" } else { "s" },
        now.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    incidents_section(&mut h, incidents, now);
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
            check_row(&mut h, row, now);
        }
        h.push_str("</tbody></table></section>");
    }
    h.push_str("</main></body></html>\n");
    h
}

fn incidents_section(h: &mut String, incidents: &[Incident], now: DateTime<Utc>) {
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
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{} ago</td><td>{}</td><td>{}</td></tr>",
            i.id,
            escape(&i.check),
            i.status(),
            i.acked_by
                .as_ref()
                .map(|b| format!(" by {}", escape(b)))
                .unwrap_or_default(),
            crate::duration::human((now - i.opened_at).num_seconds().max(0) as f64),
            escape(i.prog_lead.as_deref().unwrap_or("-")),
            escape(&i.summary),
        );
    }
    h.push_str("</tbody></table></section>");
}

fn check_row(h: &mut String, row: &Row<'_>, now: DateTime<Utc>) {
    let c = row.check;
    let (verdict, class) = match row.last {
        Some(r) => (
            r.outcome.verdict.label().to_uppercase(),
            r.outcome.verdict.label(),
        ),
        None => ("NOT RUN YET".to_string(), "none"),
    };
    let age = match row.last.map(|r| &r.outcome.observed) {
        Some(Observed::Age { age_seconds, .. }) => crate::duration::human(*age_seconds),
        Some(o) => crate::report::observed(o, &c.kind),
        None => "-".into(),
    };
    let last = row
        .last
        .map(|r| {
            format!(
                "<time datetime=\"{}\">{} ago</time>",
                r.started_at.to_rfc3339(),
                crate::duration::human((now - r.started_at).num_seconds().max(0) as f64)
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
         <td><span class=\"v {class}\">{verdict}</span>{reason}</td><td>{age}</td><td>{}</td><td>{last}</td>\
         <td><div class=\"strip\" aria-hidden=\"true\">{strip}</div>\
         <span class=\"sr\">last {} runs: {} pass, {} warn, {} fail, {} error</span></td></tr>",
        escape(&c.kind.thresholds()),
        row.history.len(),
        counts("pass"),
        counts("warn"),
        counts("fail"),
        counts("error"),
        name = escape(&c.name),
    );
}
