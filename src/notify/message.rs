//! What each notifier is sent for each action: PagerDuty events, Slack Block Kit, generic JSON.
//! Pure. Written for a tired engineer at 3 a.m.: what is wrong, how stale, since when, what
//! was already tried, and the runbook. Secrets (routing keys) are added only at delivery.

use crate::config::Settings;
use crate::model::{Check, NotifierKind};
use crate::policy::{Action, FixedBy, Gate, Notice, PolicyState};
use crate::verdict::{Observed, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One message for one notifier, as stored in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// A notifier name, or `restart`.
    pub notifier: String,
    /// page, reminder, resolve, notify, restart, change.
    pub event: &'static str,
    pub dedup_key: String,
    pub payload: Value,
}

pub const RESTART: &str = "restart";

/// Everything a message may mention.
pub struct Context<'a> {
    pub check: &'a Check,
    pub outcome: &'a Outcome,
    /// The state after the decision.
    pub state: &'a PolicyState,
    pub settings: &'a Settings,
    pub now: DateTime<Utc>,
    /// The Prog Lead at `now`, named (and @-mentioned in Slack) in pages.
    pub prog_lead: Option<crate::oncall::Member>,
    /// The called incident's channel name, linked from the page.
    pub call: Option<String>,
    /// For a resolve: every notifier told about the incident (escalations included).
    pub told: Vec<String>,
}

fn hm(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

fn target(ctx: &Context<'_>) -> Option<String> {
    ctx.check
        .on_failure
        .as_ref()?
        .restart
        .as_ref()
        .map(|r| r.action.target())
}

/// The one-line summary every channel shares (PagerDuty limits it to 1024 characters).
pub fn summary(action: &Action, ctx: &Context<'_>) -> String {
    let c = &ctx.check.name;
    let what = ctx
        .outcome
        .reason
        .clone()
        .unwrap_or_else(|| ctx.outcome.verdict.to_string());
    let since = ctx
        .state
        .since
        .map(|t| format!(", failing since {}", hm(t)))
        .unwrap_or_default();
    let text = match action {
        Action::Page {
            broken: true,
            reminder,
            ..
        } => {
            format!(
                "{}{c} cannot be checked: {what}{since}",
                if *reminder { "Still failing: " } else { "" }
            )
        }
        Action::Page {
            reminder,
            restart_skipped,
            ..
        } => {
            let tried = match (ctx.state.restarted_at, restart_skipped, target(ctx)) {
                (Some(at), _, Some(t)) => format!(
                    "; restarted {t} at {}, still failing at the re-check",
                    hm(at)
                ),
                (None, Some(Gate::Cooldown { until }), Some(t)) => {
                    format!("; restart of {t} skipped: in cooldown until {}", hm(*until))
                }
                (None, Some(Gate::Exhausted { count }), Some(t)) => {
                    format!("; restart of {t} skipped: already restarted {count} times")
                }
                _ => String::new(),
            };
            format!(
                "{}{c}: {what}{since}{tried}",
                if *reminder { "Still failing: " } else { "" }
            )
        }
        Action::Notify(Notice::Warning) => format!("{c}: {what}"),
        Action::Notify(Notice::Cleared) => format!("{c} passes again; the warning is over"),
        Action::Notify(Notice::AutoRemediated { restarted_at }) => format!(
            "{c} is fresh again after restarting {} at {}; no page was needed",
            target(ctx).unwrap_or_else(|| "the sync".into()),
            hm(*restarted_at)
        ),
        Action::Resolve {
            fixed_by,
            opened_at,
            ..
        } => {
            let lasted = crate::duration::human((ctx.now - *opened_at).num_seconds() as f64);
            let how = match fixed_by {
                FixedBy::Restart { at } => format!(
                    "fixed by restarting {} at {}",
                    target(ctx).unwrap_or_else(|| "the sync".into()),
                    hm(*at)
                ),
                FixedBy::DataRefreshed => "the data refreshed".into(),
            };
            format!("Resolved: {c} passes again after {lasted}; {how}")
        }
        Action::Restart => format!(
            "syncwatch restarted {} because {c}: {what}",
            target(ctx).unwrap_or_default()
        ),
    };
    text.chars().take(1024).collect()
}

/// The messages for one action, one per notifier of its route (and the restart itself).
pub fn render(action: &Action, ctx: &Context<'_>) -> Vec<Envelope> {
    let Some(rules) = &ctx.check.on_failure else {
        return Vec::new();
    };
    let text = summary(action, ctx);
    let (event, key, route) = match action {
        Action::Page { key, reminder, .. } => (
            if *reminder { "reminder" } else { "page" },
            key.clone(),
            rules.page.as_ref(),
        ),
        Action::Resolve { key, .. } => ("resolve", key.clone(), rules.page.as_ref()),
        Action::Notify(_) => (
            "notify",
            format!(
                "syncwatch/{}/notice/{}",
                ctx.check.name,
                ctx.now.timestamp()
            ),
            rules.notify.as_ref().or(rules.page.as_ref()),
        ),
        Action::Restart => {
            let key = format!(
                "syncwatch/{}/restart/{}",
                ctx.check.name,
                ctx.now.timestamp()
            );
            let mut out = vec![Envelope {
                notifier: RESTART.into(),
                event: "restart",
                dedup_key: key.clone(),
                payload: json!({ "check": ctx.check.name, "target": target(ctx), "restarted_at": ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) }),
            }];
            // Restarts are also recorded as PagerDuty change events, which never notify.
            for n in route_members(ctx.settings, rules.page.as_ref()) {
                if let Some(NotifierKind::PagerDuty {
                    change_events: true,
                    ..
                }) = ctx.settings.notifiers.get(&n).map(|n| &n.kind)
                {
                    out.push(Envelope {
                        notifier: n,
                        event: "change",
                        dedup_key: key.clone(),
                        payload: pd_change(&text, ctx),
                    });
                }
            }
            return out;
        }
    };
    let mut names = route_members(ctx.settings, route);
    if let Action::Resolve { .. } = action {
        for n in &ctx.told {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let mut out: Vec<Envelope> = names
        .into_iter()
        .filter_map(|name| {
            let kind = &ctx.settings.notifiers.get(&name)?.kind;
            let payload = match (kind, action) {
                // Notices never page: PagerDuty only gets pages, reminders and resolves.
                (NotifierKind::PagerDuty { .. }, Action::Notify(_)) => return None,
                (NotifierKind::PagerDuty { .. }, Action::Resolve { .. }) => {
                    json!({ "event_action": "resolve", "dedup_key": key })
                }
                (NotifierKind::PagerDuty { .. }, _) => pd_trigger(&text, &key, action, ctx),
                (
                    NotifierKind::Slack { .. },
                    Action::Notify(Notice::Cleared | Notice::AutoRemediated { .. }),
                ) => slack(&text, "resolve", ctx),
                (NotifierKind::Slack { .. }, _) => slack(&text, event, ctx),
                (NotifierKind::Webhook { .. }, _) => generic(&text, event, &key, ctx),
                (NotifierKind::Statuspage(sp), _) => statuspage(sp, &text, action, ctx)?,
            };
            Some(Envelope {
                notifier: name,
                event,
                dedup_key: key.clone(),
                payload,
            })
        })
        .collect();
    // The incident's own channel hears how it ended.
    if let (Action::Resolve { .. }, Some(name), Some(rules)) =
        (action, &ctx.call, &ctx.settings.incidents.call)
    {
        let mut payload = super::incident::slack_text(&text, "resolve");
        payload["call"] = json!(name);
        out.push(Envelope {
            notifier: rules.slack.clone(),
            event: "call",
            dedup_key: key.clone(),
            payload,
        });
    }
    out
}

/// Statuspage: the check's component (if it maps to one) and, for pages, an incident.
fn statuspage(
    sp: &crate::model::Statuspage,
    text: &str,
    action: &Action,
    ctx: &Context<'_>,
) -> Option<Value> {
    let component = sp.component(ctx.check)?;
    let name = ctx
        .check
        .description
        .clone()
        .unwrap_or_else(|| ctx.check.name.clone());
    let (status, incident) = match action {
        Action::Page {
            reminder: false, ..
        } => (
            sp.fail_status.as_str(),
            Some(
                json!({ "name": format!("Delayed data: {name}"), "status": "investigating",
                "body": format!("We are investigating delayed data for {name}.") }),
            ),
        ),
        Action::Page { .. } => return None,
        Action::Resolve { .. } => (
            "operational",
            Some(json!({ "status": "resolved", "body": format!("{name} is up to date again.") })),
        ),
        Action::Notify(Notice::Warning) => ("degraded_performance", None),
        Action::Notify(Notice::AutoRemediated { .. } | Notice::Cleared) => ("operational", None),
        Action::Restart => return None,
    };
    let _ = text;
    Some(json!({ "component": component, "status": status, "incident": incident }))
}

fn route_members(settings: &Settings, route: Option<&String>) -> Vec<String> {
    route
        .and_then(|r| settings.routes.get(r))
        .cloned()
        .unwrap_or_default()
}

fn details(ctx: &Context<'_>) -> Value {
    let c = ctx.check;
    let age = match ctx.outcome.observed {
        Observed::Age { age_seconds, .. } => Some(age_seconds),
        _ => None,
    };
    json!({
        "check": c.name,
        "description": c.description,
        "source": c.source,
        "kind": c.kind.label(),
        "verdict": ctx.outcome.verdict,
        "reason": ctx.outcome.reason,
        "age_seconds": age,
        "thresholds": crate::report::thresholds(&c.kind),
        "failing_since": ctx.state.since,
        "restarted_at": ctx.state.restarted_at,
        "restart_target": target(ctx),
        "labels": c.labels,
        "prog_lead": ctx.prog_lead.as_ref().map(|m| &m.name),
        "incident_channel": ctx.call,
    })
}

fn links(ctx: &Context<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(r) = &ctx.check.runbook {
        out.push(json!({ "href": r, "text": "Runbook" }));
    }
    if let Some(d) = &ctx.settings.dashboard_url {
        out.push(json!({ "href": d, "text": "Dashboard" }));
    }
    out
}

fn pd_trigger(text: &str, key: &str, action: &Action, ctx: &Context<'_>) -> Value {
    let severity = match action {
        Action::Page { broken: true, .. } => "error",
        _ => "critical",
    };
    let mut v = json!({
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": text,
            "source": format!("syncwatch/{}", ctx.check.source.as_deref().unwrap_or("http")),
            "severity": severity,
            "timestamp": ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "component": ctx.check.name,
            "group": ctx.check.source,
            "class": ctx.check.kind.label(),
            "custom_details": details(ctx),
        },
        "links": links(ctx),
        "client": "syncwatch",
    });
    if let Some(d) = &ctx.settings.dashboard_url {
        v["client_url"] = json!(d);
    }
    v
}

fn pd_change(text: &str, ctx: &Context<'_>) -> Value {
    json!({
        "payload": {
            "summary": text,
            "source": "syncwatch",
            "timestamp": ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "custom_details": details(ctx),
        },
        "links": links(ctx),
    })
}

fn slack(text: &str, event: &str, ctx: &Context<'_>) -> Value {
    let icon = match event {
        "page" | "reminder" => ":rotating_light:",
        "resolve" => ":white_check_mark:",
        _ => ":warning:",
    };
    let header: String = format!("{icon} {}", ctx.check.name)
        .chars()
        .take(150)
        .collect();
    let mut body = format!("*{}*", text.replace('*', ""));
    let paging = matches!(event, "page" | "reminder");
    let lead = ctx
        .prog_lead
        .as_ref()
        .filter(|_| paging)
        .map(|m| format!("Prog Lead: {} ({})", super::incident::mention(m), m.name));
    if let Some(l) = &lead {
        body = format!("{l}\n{body}");
    }
    if let (Some(c), true) = (&ctx.call, paging) {
        body.push_str(&format!("\nIncident channel: #{c}"));
    }
    if let Some(d) = &ctx.check.description {
        body.push_str(&format!("\n{d}"));
    }
    let mut context = vec![
        format!("source `{}`", ctx.check.source.as_deref().unwrap_or("http")),
        crate::report::thresholds(&ctx.check.kind),
    ];
    if let Some(r) = &ctx.check.runbook {
        context.push(format!("<{r}|runbook>"));
    }
    if let Some(d) = &ctx.settings.dashboard_url {
        context.push(format!("<{d}|dashboard>"));
    }
    let fallback = match &lead {
        Some(l) => format!("{l}: {text}"),
        None => text.to_string(),
    };
    json!({
        "text": fallback,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": header } },
            { "type": "section", "text": { "type": "mrkdwn", "text": body.chars().take(3000).collect::<String>() } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context.join(" · ") } ] },
        ],
    })
}

fn generic(text: &str, event: &str, key: &str, ctx: &Context<'_>) -> Value {
    json!({
        "event": event,
        "summary": text,
        "dedup_key": key,
        "details": details(ctx),
        "links": links(ctx),
        "at": ctx.now,
    })
}
