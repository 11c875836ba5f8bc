//! What an incident's life says and sends: the timeline lines a run adds, and the messages for
//! acknowledgement, escalation, a manual resolve and calling an incident. Pure.

use super::context::{mention, prog_lead, secondary};
use super::job::{Envelope, Job};
use super::{pagerduty, slack, statuspage, webhook};
use crate::check::Check;
use crate::config::Settings;
use crate::notify::notifier::NotifierKind;
use crate::oncall::Member;
use crate::policy::{Action, Decision, Notice, Phase, PolicyState};
use crate::store::incidents::{Change, Incident};
use crate::verdict::Outcome;
use chrono::{DateTime, Utc};

/// The timeline line of a failure a restart fixed with no page (counted by `report oncall`).
pub const AUTO_FIXED: &str = "fresh again after the restart; no page needed";

/// The timeline lines one run adds: (kind, detail).
pub fn run_events(
    check: &Check,
    prev: &PolicyState,
    decision: &Decision,
    outcome: &Outcome,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let v = outcome.verdict;
    let why = outcome
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    if prev.last != Some(v) {
        let from = prev.last.map_or("first run".to_string(), |p| p.to_string());
        out.push(("verdict", format!("{from} → {v}{why}")));
    }
    if prev.phase == Phase::Settling && prev.recheck_at.is_some_and(|t| t <= now) {
        out.push(("recheck", format!("re-check after the restart: {v}{why}")));
    }
    if let Some(h) = &decision.held {
        if prev.last != Some(v) {
            out.push(("held", h.clone()));
        }
    }
    let rules = check.on_failure.as_ref();
    let route = rules.and_then(|r| r.page.clone()).unwrap_or_default();
    for action in &decision.actions {
        let line = match action {
            Action::Restart => {
                let target = rules
                    .and_then(|r| r.restart.as_ref())
                    .map(|r| r.action.target())
                    .unwrap_or_default();
                ("restart", format!("restart of {target} issued"))
            }
            Action::Page {
                reminder: false, ..
            } => {
                let lead = prog_lead(settings, now)
                    .map(|m| format!("; Prog Lead {}", m.name))
                    .unwrap_or_default();
                ("page", format!("paged {route}{lead}"))
            }
            Action::Page { reminder: true, .. } => ("reminder", format!("reminded {route}")),
            Action::Notify(Notice::Warning) => ("notice", "warning sent".to_string()),
            Action::Notify(Notice::Cleared) => {
                ("notice", "warning over: passing again".to_string())
            }
            Action::Notify(Notice::AutoRemediated { .. }) => ("notice", AUTO_FIXED.to_string()),
            Action::Resolve { .. } => ("resolve", format!("resolved automatically: {v} again")),
        };
        out.push(line);
    }
    out
}

/// The incident row a page opens.
pub fn opened(
    check: &Check,
    key: &str,
    broken: bool,
    summary: &str,
    state: &PolicyState,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Incident {
    Incident {
        id: 0,
        dedup_key: key.to_string(),
        check: check.name.clone(),
        source: check.source.clone(),
        severity: if broken { "error" } else { "critical" }.into(),
        summary: summary.to_string(),
        since: state.since.unwrap_or(now),
        opened_at: now,
        prog_lead: prog_lead(settings, now).map(|m| m.name),
        route: check.on_failure.as_ref().and_then(|r| r.page.clone()),
        ..Default::default()
    }
}

/// Whether a check is marked critical (its page always calls an incident).
pub fn critical(check: &Check) -> bool {
    check.labels.get("tier").map(String::as_str) == Some("critical")
}

/// The channel name of an incident called for `subject` (a check or a source) at `now`:
/// deterministic, so a redelivery or another replica finds the same channel.
pub fn call_name(prefix: &str, subject: &str, now: DateTime<Utc>) -> String {
    crate::config::incidents::channel_safe(&format!(
        "{prefix}-{subject}-{}",
        now.format("%Y%m%d-%H%M")
    ))
}

/// The messages of a change made by a person or the escalation timer, and its timeline line.
pub fn change(
    inc: &Incident,
    change: Change<'_>,
    told: &[String],
    settings: &Settings,
    now: DateTime<Utc>,
) -> (String, Vec<Envelope>) {
    match change {
        Change::Ack { by } => {
            let text = format!("Acknowledged by {by}: {}", inc.summary);
            let mut out: Vec<Envelope> = told
                .iter()
                .filter_map(|n| note(settings, n, inc, "ack", &text, "identified"))
                .collect();
            out.extend(call_note(settings, inc, "ack", &text));
            (format!("acknowledged by {by}"), out)
        }
        Change::Resolve { by, note: why } => {
            let text = format!("Resolved by {by}: {} ({why})", inc.check);
            let mut out: Vec<Envelope> = told
                .iter()
                .filter_map(|n| note(settings, n, inc, "resolve", &text, "resolved"))
                .collect();
            out.extend(call_note(settings, inc, "resolve", &text));
            (format!("resolved by {by}: {why}"), out)
        }
        Change::Escalate => escalate(inc, settings, now),
    }
}

fn escalate(inc: &Incident, settings: &Settings, now: DateTime<Utc>) -> (String, Vec<Envelope>) {
    let team = secondary(settings, now);
    let names: Vec<&str> = team.iter().map(|m| m.name.as_str()).collect();
    let mentions: Vec<String> = team.iter().map(mention).collect();
    let waited = crate::duration::human(settings.incidents.ack_timeout.as_secs_f64());
    let lead = inc.prog_lead.as_deref().unwrap_or("the Prog Lead");
    let text = format!(
        "Escalated: nobody acknowledged within {waited} ({lead} was paged). {} please look: {}",
        mentions.join(" "),
        inc.summary
    );
    let (route, only_slack) = match &settings.incidents.escalate {
        Some(r) => (Some(r), false),
        None => (inc.route.as_ref(), true),
    };
    let members = route
        .and_then(|r| settings.routes.get(r))
        .cloned()
        .unwrap_or_default();
    let out = members
        .iter()
        .filter(|n| {
            !only_slack
                || matches!(
                    settings.notifiers.get(*n).map(|n| &n.kind),
                    Some(NotifierKind::Slack { .. })
                )
        })
        .filter_map(|n| note(settings, n, inc, "escalate", &text, "investigating"))
        .collect();
    let to = if names.is_empty() {
        "the secondary on-call".to_string()
    } else {
        names.join(", ")
    };
    (format!("escalated to {to}: no ack within {waited}"), out)
}

/// One notifier's message about an incident (no run at hand).
fn note(
    settings: &Settings,
    notifier: &str,
    inc: &Incident,
    event: &'static str,
    text: &str,
    sp_status: &str,
) -> Option<Envelope> {
    let kind = &settings.notifiers.get(notifier)?.kind;
    let job = match (kind, event) {
        (NotifierKind::PagerDuty { .. }, "ack") => {
            pagerduty::follow_up("acknowledge", &inc.dedup_key)
        }
        (NotifierKind::PagerDuty { .. }, "resolve") => {
            pagerduty::follow_up("resolve", &inc.dedup_key)
        }
        (NotifierKind::PagerDuty { .. }, _) => pagerduty::escalation(inc, text),
        (NotifierKind::Slack { .. } | NotifierKind::Console, _) => Job::Slack {
            body: slack::plain(text, event, settings),
        },
        (NotifierKind::Webhook { .. }, _) => webhook::incident(event, text, inc),
        (NotifierKind::Statuspage(_), "escalate") => return None,
        (NotifierKind::Statuspage(sp), _) => statuspage::for_incident(sp, inc, sp_status, text),
    };
    Some(Envelope {
        notifier: notifier.to_string(),
        event,
        dedup_key: inc.dedup_key.clone(),
        job,
    })
}

/// A post in the incident's own channel, if it was called.
pub fn call_note(settings: &Settings, inc: &Incident, event: &str, text: &str) -> Option<Envelope> {
    let (call, name) = (settings.incidents.call.as_ref()?, inc.call.as_ref()?);
    Some(Envelope {
        notifier: call.slack.clone(),
        event: "call",
        dedup_key: inc.dedup_key.clone(),
        job: slack::call_post(name, false, Vec::new(), text, event, settings),
    })
}

/// Calling an incident: create channel `name` (unless `joined`: the call exists and another
/// check joins it), invite the Prog Lead, post the summary of the incidents it covers.
pub fn call(
    name: &str,
    checks: &[String],
    summary: &str,
    key: &str,
    joined: bool,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Option<Envelope> {
    let rules = settings.incidents.call.as_ref()?;
    let lead = prog_lead(settings, now);
    let text = if joined {
        format!("Also failing: {summary}")
    } else {
        format!(
            "Incident called: {} failing ({}). {summary}{}",
            checks.len(),
            checks.join(", "),
            lead.as_ref()
                .map(|m| format!(" Prog Lead: {}", mention(m)))
                .unwrap_or_default()
        )
    };
    let invite = lead.and_then(|m| m.slack).into_iter().collect();
    Some(Envelope {
        notifier: rules.slack.clone(),
        event: "call",
        dedup_key: key.to_string(),
        job: slack::call_post(name, !joined, invite, &text, "call", settings),
    })
}

/// The handoff notice: who is Prog Lead now, and what they inherit.
pub fn handoff_text(
    lead: &Member,
    oncall: Option<crate::oncall::OnCall>,
    open: &[Incident],
    silences: &[crate::silence::Silence],
    actions: &[crate::store::incidents::ActionItem],
) -> String {
    let mut text = format!("Prog Lead handoff: {} is on call now.", mention(lead));
    if let Some(o) = oncall.filter(|o| !o.secondary.is_empty()) {
        let names: Vec<&str> = o.secondary.iter().map(|m| m.name.as_str()).collect();
        text.push_str(&format!(" Secondary: {}.", names.join(", ")));
    }
    if open.is_empty() {
        text.push_str("\nNo open incidents.");
    } else {
        text.push_str(&format!("\nOpen incidents ({}):", open.len()));
        for i in open {
            text.push_str(&format!(
                "\n• #{} {} — {} since {}",
                i.id,
                i.check,
                i.status(),
                i.opened_at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    if !actions.is_empty() {
        text.push_str(&format!("\nOpen action items ({}):", actions.len()));
        for a in actions {
            text.push_str(&format!(
                "\n• #{} {} ({}{}; incident #{})",
                a.id,
                a.text,
                a.owner,
                due_suffix(a),
                a.incident
            ));
        }
    }
    if !silences.is_empty() {
        text.push_str(&format!("\nActive silences ({}):", silences.len()));
        for s in silences {
            text.push_str(&format!(
                "\n• {} until {}: {}",
                s.pattern,
                s.until.format("%Y-%m-%d %H:%M UTC"),
                s.reason
            ));
        }
    }
    text
}

/// The handoff notice for each Slack or webhook notifier of `route`.
pub fn handoff(route: &str, at: DateTime<Utc>, text: &str, settings: &Settings) -> Vec<Envelope> {
    let key = format!("syncwatch/handoff/{}", at.timestamp());
    settings
        .routes
        .get(route)
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let job = match &settings.notifiers.get(n)?.kind {
                NotifierKind::Slack { .. } | NotifierKind::Console => Job::Slack {
                    body: slack::plain(text, "handoff", settings),
                },
                NotifierKind::Webhook { .. } => webhook::handoff(text, &key, at),
                NotifierKind::PagerDuty { .. } | NotifierKind::Statuspage(_) => return None,
            };
            Some(Envelope {
                notifier: n.clone(),
                event: "handoff",
                dedup_key: key.clone(),
                job,
            })
        })
        .collect()
}

/// The statuses an incident update can announce (Statuspage's incident statuses).
pub const UPDATE_STATUSES: [&str; 4] = ["investigating", "identified", "monitoring", "resolved"];

/// An update the Prog Lead posts: to the incident's channel, each Slack and webhook notifier of
/// `route`, and — when public — each Statuspage notifier (an incident update partners read).
/// PagerDuty has no place for it.
pub fn update(
    inc: &Incident,
    u: &crate::store::incidents::IncidentUpdate,
    route: &[String],
    settings: &Settings,
) -> Vec<Envelope> {
    let by = u.by.as_deref().unwrap_or("the Prog Lead");
    let text = format!(
        "Update on #{} {} ({}) from {by}: {}",
        inc.id, inc.check, u.status, u.message
    );
    let mut out: Vec<Envelope> = route
        .iter()
        .filter_map(|n| {
            let job = match &settings.notifiers.get(n)?.kind {
                NotifierKind::Slack { .. } | NotifierKind::Console => Job::Slack {
                    body: slack::plain(&text, "update", settings),
                },
                NotifierKind::Webhook { .. } => webhook::incident("update", &text, inc),
                NotifierKind::Statuspage(sp) if u.public => {
                    statuspage::update(sp, inc, &u.status, &u.message)
                }
                NotifierKind::Statuspage(_) | NotifierKind::PagerDuty { .. } => return None,
            };
            Some(Envelope {
                notifier: n.clone(),
                event: "update",
                dedup_key: inc.dedup_key.clone(),
                job,
            })
        })
        .collect();
    out.extend(call_note(settings, inc, "update", &text));
    out
}

/// What a user reported, for the raised incident's page.
pub struct Raised<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub by: &'a str,
    /// The incident channel, when the incident is called.
    pub call: Option<&'a str>,
}

/// The page of a raised incident, one message per notifier of `route`.
pub fn raised(
    inc: &Incident,
    r: &Raised<'_>,
    route: &[String],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Vec<Envelope> {
    let lead = prog_lead(settings, now);
    let mut text = format!("Raised by {}: {}", r.by, r.title);
    if let Some(d) = r.description {
        text.push_str(&format!(" — {d}"));
    }
    let slack_text = match &lead {
        Some(m) => format!("Prog Lead: {} ({})\n{text}", mention(m), m.name),
        None => text.clone(),
    };
    let slack_text = match r.call {
        Some(c) => format!("{slack_text}\nIncident channel: #{c}"),
        None => slack_text,
    };
    route
        .iter()
        .filter_map(|n| {
            let job = match &settings.notifiers.get(n)?.kind {
                NotifierKind::PagerDuty { .. } => pagerduty::raised(inc, &text, now),
                NotifierKind::Slack { .. } => {
                    let body = slack::plain(&slack_text, "page", settings);
                    Job::Slack {
                        body: if slack::buttons_for(settings, n) {
                            slack::with_buttons(body, &inc.dedup_key)
                        } else {
                            body
                        },
                    }
                }
                NotifierKind::Console => Job::Slack {
                    body: slack::plain(&slack_text, "page", settings),
                },
                NotifierKind::Webhook { .. } => webhook::incident("page", &text, inc),
                NotifierKind::Statuspage(sp) => {
                    statuspage::raised(sp, inc, r.title, r.description)?
                }
            };
            Some(Envelope {
                notifier: n.clone(),
                event: "page",
                dedup_key: inc.dedup_key.clone(),
                job,
            })
        })
        .collect()
}

/// A draft notice for a partner's Partnerships contacts, posted in a called incident's channel:
/// what is affected, since when, and when the next update comes (in the on-call zone).
pub fn partner_notice(
    partner: &crate::partners::Partner,
    check: &Check,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    settings: &Settings,
) -> String {
    let zone = settings.oncall_zone();
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%a %H:%M %Z").to_string();
    let what = check
        .description
        .clone()
        .unwrap_or_else(|| check.name.clone());
    let mut to: Vec<String> = partner
        .slack_ids()
        .iter()
        .map(|id| format!("<@{id}>"))
        .collect();
    to.extend(partner.emails().iter().map(|e| e.to_string()));
    let to = if to.is_empty() {
        "Partnerships".to_string()
    } else {
        format!("Partnerships ({})", to.join(", "))
    };
    format!(
        "Draft notice for {name}, for {to} to send:\n\"Hello {name} team — data from {what} has been delayed since {since}. \
         We are working on it and will send the next update by {next}.\"",
        name = partner.name,
        since = local(since),
        next = local(now + chrono::Duration::hours(1)),
    )
}

/// `, due 2026-12-20` for an action item with a due date, else nothing.
pub fn due_suffix(a: &crate::store::incidents::ActionItem) -> String {
    a.due
        .as_deref()
        .map(|d| format!(", due {d}"))
        .unwrap_or_default()
}

/// The retro reminder: whose it is, when it was due, how to draft and close it, what is open.
pub fn retro_reminder(
    inc: &Incident,
    today: &str,
    open: &[crate::store::incidents::ActionItem],
    settings: &Settings,
) -> String {
    let due = inc.retro_due.as_deref().unwrap_or(today);
    let lead = inc
        .prog_lead
        .as_deref()
        .and_then(|name| {
            settings
                .oncall
                .as_ref()?
                .members
                .iter()
                .find(|m| m.name == name)
        })
        .map(mention)
        .or_else(|| inc.prog_lead.clone())
        .unwrap_or_else(|| "Prog Lead".into());
    let when = if due < today {
        format!("was due {due} (overdue)")
    } else {
        format!("is due today ({due})")
    };
    let mut text = format!(
        "{lead}: the retro for incident #{} ({}) {when}. `syncwatch retro {}` drafts it; \
         `syncwatch retro {} --done --doc URL` once it is written.",
        inc.id, inc.check, inc.id, inc.id
    );
    if !open.is_empty() {
        text.push_str(&format!("\nOpen action items ({}):", open.len()));
        for a in open {
            text.push_str(&format!("\n• #{} {} ({})", a.id, a.text, a.owner));
        }
    }
    text
}

/// The reminder for each Slack (or console) and webhook notifier of `route`.
pub fn reminder_envelopes(
    inc: &Incident,
    route: Option<&String>,
    text: &str,
    today: &str,
    settings: &Settings,
) -> Vec<Envelope> {
    let key = format!("{}/retro/{today}", inc.dedup_key);
    route
        .and_then(|r| settings.routes.get(r))
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let job = match &settings.notifiers.get(n)?.kind {
                NotifierKind::Slack { .. } | NotifierKind::Console => Job::Slack {
                    body: slack::plain(text, "retro", settings),
                },
                NotifierKind::Webhook { .. } => webhook::incident("retro", text, inc),
                NotifierKind::PagerDuty { .. } | NotifierKind::Statuspage(_) => return None,
            };
            Some(Envelope {
                notifier: n.clone(),
                event: "retro",
                dedup_key: key.clone(),
                job,
            })
        })
        .collect()
}
