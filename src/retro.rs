//! How incidents read: the `incidents list` table, `incidents show`, and the blameless retro
//! draft (`syncwatch retro ID`). Pure: the caller loads the incident, its timeline and runs.

use crate::duration::human;
use crate::store::incidents::{ActionItem, Event, Incident, PastRun};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn between(a: DateTime<Utc>, b: DateTime<Utc>) -> String {
    human((b - a).num_milliseconds().max(0) as f64 / 1000.0)
}

pub fn list_table(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "no incidents\n".into();
    }
    let rows: Vec<Vec<String>> = incidents
        .iter()
        .map(|i| {
            vec![
                i.id.to_string(),
                i.status().into(),
                i.check.clone(),
                i.severity.clone(),
                i.opened_at.format("%Y-%m-%d %H:%M").to_string(),
                i.prog_lead.clone().unwrap_or_else(|| "-".into()),
                i.acked_by.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    crate::report::table(
        &[
            "ID",
            "STATUS",
            "CHECK",
            "SEVERITY",
            "OPENED (UTC)",
            "PROG LEAD",
            "ACKED BY",
        ],
        &rows,
    )
}

pub fn show_text(inc: &Incident, timeline: &[Event]) -> String {
    let mut out = format!(
        "incident #{} {} — {}\n  {}\n  opened      {}\n  prog lead   {}\n",
        inc.id,
        inc.status(),
        inc.check,
        inc.summary,
        ts(inc.opened_at),
        inc.prog_lead.as_deref().unwrap_or("-"),
    );
    if let (Some(at), Some(by)) = (inc.acked_at, &inc.acked_by) {
        out.push_str(&format!("  acked       {} by {by}\n", ts(at)));
    }
    if let Some(at) = inc.escalated_at {
        out.push_str(&format!("  escalated   {}\n", ts(at)));
    }
    if let Some(c) = &inc.call {
        out.push_str(&format!("  channel     #{c}\n"));
    }
    if let Some(at) = inc.resolved_at {
        out.push_str(&format!(
            "  resolved    {} by {}: {}\n",
            ts(at),
            inc.resolved_by.as_deref().unwrap_or("-"),
            inc.resolve_note.as_deref().unwrap_or("")
        ));
    }
    out.push_str(&format!("  dedup key   {}\n\ntimeline:\n", inc.dedup_key));
    for e in timeline {
        out.push_str(&format!(
            "  {}  {:<11} {}\n",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.detail
        ));
    }
    out
}

/// The numbers of a retro, from the incident and the check's runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Impact {
    /// When the data stopped being updated (newest timestamp seen while failing), else the
    /// first failing run.
    pub start: DateTime<Utc>,
    pub first_failing_run: DateTime<Utc>,
    /// The first passing run after the incident opened.
    pub fresh_again: Option<DateTime<Utc>>,
}

pub fn impact(inc: &Incident, runs: &[PastRun]) -> Impact {
    let failing: Vec<&PastRun> = runs
        .iter()
        .filter(|r| r.started_at >= inc.since && r.verdict != "pass")
        .collect();
    let first_failing_run = failing.first().map_or(inc.since, |r| r.started_at);
    let start = failing
        .iter()
        .filter_map(|r| r.newest_at)
        .min()
        .map_or(first_failing_run, |t| t.min(first_failing_run));
    let fresh_again = runs
        .iter()
        .find(|r| r.started_at >= inc.opened_at && r.verdict == "pass")
        .map(|r| r.started_at);
    Impact {
        start,
        first_failing_run,
        fresh_again,
    }
}

/// What a retro draft is made of: the incident, its timeline, its check's runs and the action
/// items assigned so far.
pub struct Facts<'a> {
    pub incident: &'a Incident,
    pub timeline: &'a [Event],
    pub runs: &'a [PastRun],
    pub actions: &'a [ActionItem],
}

pub fn retro_json(f: &Facts<'_>) -> Value {
    let (inc, timeline, runs) = (f.incident, f.timeline, f.runs);
    let im = impact(inc, runs);
    let secs = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| b.map(|b| (b - a).num_seconds());
    json!({
        "incident": inc,
        "raised": inc.raised(),
        "impact": {
            "start": im.start,
            "first_failing_run": im.first_failing_run,
            "fresh_again": im.fresh_again,
            "window_seconds": secs(im.start, im.fresh_again),
        },
        "detection_seconds": (im.first_failing_run - im.start).num_seconds(),
        "time_to_acknowledge_seconds": secs(inc.opened_at, inc.acked_at),
        "time_to_resolve_seconds": secs(inc.opened_at, inc.resolved_at),
        "timeline": timeline,
        "action_items": f.actions,
        "retro": { "due": inc.retro_due, "done_at": inc.retro_done_at, "doc": inc.retro_doc },
        "tagged": inc.tagged,
    })
}

/// Kinds of timeline events that are automation at work.
const AUTOMATION: &[&str] = &[
    "restart",
    "restart_done",
    "recheck",
    "page",
    "reminder",
    "escalate",
    "call",
    "channel",
    "status_page",
    "delivered",
    "resolve",
];

pub fn retro_markdown(f: &Facts<'_>) -> String {
    let (inc, timeline, runs) = (f.incident, f.timeline, f.runs);
    let im = impact(inc, runs);
    let mut md = format!(
        "# Retro draft: incident #{} — {}\n\n\
         _Blameless: this is about how the system and our process behaved, not about people._\n\n\
         ## Summary\n\n{}.\n\n{} at {} with **{}** as Prog Lead",
        inc.id,
        inc.check,
        inc.summary,
        if inc.raised() {
            "Raised by hand and paged"
        } else {
            "Paged"
        },
        ts(inc.opened_at),
        inc.prog_lead.as_deref().unwrap_or("nobody on the rotation"),
    );
    match (inc.acked_at, &inc.acked_by) {
        (Some(at), Some(by)) => md.push_str(&format!("; acknowledged by {by} at {}", ts(at))),
        _ => md.push_str("; never acknowledged"),
    }
    if let Some(at) = inc.escalated_at {
        md.push_str(&format!(
            "; escalated to the secondary on-call at {}",
            ts(at)
        ));
    }
    match inc.resolved_at {
        Some(at) => md.push_str(&format!(
            "; resolved at {} by {} ({}).\n\n",
            ts(at),
            inc.resolved_by.as_deref().unwrap_or("-"),
            inc.resolve_note.as_deref().unwrap_or("")
        )),
        None => md.push_str("; still open.\n\n"),
    }
    if !inc.tagged.is_empty() {
        md.push_str("Tagged in: ");
        let who: Vec<String> = inc
            .tagged
            .iter()
            .map(|t| format!("{} ({})", t.member, t.why))
            .collect();
        md.push_str(&who.join("; "));
        md.push_str(".\n\n");
    }
    match (&inc.retro_due, inc.retro_done_at) {
        (_, Some(at)) => md.push_str(&format!(
            "Retro done {}{}.\n\n",
            ts(at),
            inc.retro_doc
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )),
        (Some(due), None) => md.push_str(&format!(
            "Retro due by {due} (`syncwatch retro {} --done --doc URL` when written).\n\n",
            inc.id
        )),
        (None, None) => {}
    }
    let fresh = im.fresh_again.map_or("not yet".to_string(), ts);
    let window = im
        .fresh_again
        .map_or("ongoing".to_string(), |t| between(im.start, t));
    let dash =
        |d: Option<DateTime<Utc>>| d.map_or("—".to_string(), |t| between(inc.opened_at, t));
    let (first, detection) = if inc.raised() {
        ("Reported by a user", "— (a user reported it)".to_string())
    } else {
        ("First failing run", between(im.start, im.first_failing_run))
    };
    md.push_str(&format!(
        "## Impact\n\n| | |\n|---|---|\n\
         | Impact window | {} → {fresh} ({window}) |\n\
         | {first} | {} |\n\
         | Detection time (stale data → first failing run) | {detection} |\n\
         | Time to acknowledge (page → ack) | {} |\n\
         | Time to resolve (page → resolved) | {} |\n\n",
        ts(im.start),
        ts(im.first_failing_run),
        dash(inc.acked_at),
        dash(inc.resolved_at),
    ));
    md.push_str("## Timeline\n\n| time (UTC) | event | by | detail |\n|---|---|---|---|\n");
    for e in timeline {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.actor.as_deref().unwrap_or(""),
            e.detail.replace('|', "\\|")
        ));
    }
    md.push_str("\n## What automation did\n\n");
    let auto: Vec<&Event> = timeline
        .iter()
        .filter(|e| AUTOMATION.contains(&e.kind.as_str()) && e.actor.as_deref() != Some("person"))
        .collect();
    if auto.is_empty() {
        md.push_str("- nothing\n");
    }
    for e in auto {
        md.push_str(&format!("- {} {}\n", e.at.format("%H:%M:%S"), e.detail));
    }
    md.push_str("\n## What went well\n\n- \n\n## What could improve\n\n- \n\n## Action items\n\n");
    for a in f.actions {
        md.push_str(&format!(
            "- [{}] #{} {} — {}{}\n",
            if a.done_at.is_some() { "x" } else { " " },
            a.id,
            a.text,
            a.owner,
            crate::notify::incident::due_suffix(a)
        ));
    }
    md.push_str("- [ ] \n");
    md
}
