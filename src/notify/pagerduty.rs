//! PagerDuty Events API v2: the events a page, a reminder, an escalation, an ack and a resolve
//! send (one dedup key per incident ties them), the change event a restart leaves, and their
//! delivery to `{base}/v2/enqueue` or `{base}/v2/change/enqueue` with the routing key added.

use super::context::{cap, details, links, Context};
use super::http::{join, send, Delivery, TIMEOUT};
use super::job::Job;
use crate::policy::Action;
use crate::store::incidents::Incident;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// The trigger for a page or a reminder.
pub fn trigger(text: &str, key: &str, action: &Action, ctx: &Context<'_>) -> Job {
    let severity = match action {
        Action::Page { broken: true, .. } => "error",
        _ => "critical",
    };
    let mut v = json!({
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": cap(text, 1024),
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
    Job::PagerDutyEvent { body: v }
}

/// The trigger an escalation sends on the secondary route (same dedup key, so the same alert).
pub fn escalation(inc: &Incident, text: &str) -> Job {
    Job::PagerDutyEvent {
        body: json!({
            "event_action": "trigger",
            "dedup_key": inc.dedup_key,
            "payload": {
                "summary": cap(text, 1024),
                "source": format!("syncwatch/{}", inc.source.as_deref().unwrap_or("http")),
                "severity": if inc.severity == "error" { "error" } else { "critical" },
                "component": inc.check,
                "custom_details": { "incident": inc.id, "prog_lead": inc.prog_lead, "escalated": true },
            },
            "client": "syncwatch",
        }),
    }
}

/// `acknowledge` or `resolve` for an incident's dedup key.
pub fn follow_up(event_action: &str, key: &str) -> Job {
    Job::PagerDutyEvent {
        body: json!({ "event_action": event_action, "dedup_key": key }),
    }
}

/// The change event that records a restart (it never notifies anyone).
pub fn change(text: &str, ctx: &Context<'_>) -> Job {
    Job::PagerDutyChange {
        body: json!({
            "payload": {
                "summary": cap(text, 1024),
                "source": "syncwatch",
                "timestamp": ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "custom_details": details(ctx),
            },
            "links": links(ctx),
        }),
    }
}

pub async fn deliver(
    http: &reqwest::Client,
    routing_key: &SecretString,
    base: &url::Url,
    path: &str,
    body: &Value,
) -> Delivery {
    let mut body = body.clone();
    body["routing_key"] = Value::String(routing_key.expose_secret().to_string());
    send(
        http.post(join(base, path)).json(&body).timeout(TIMEOUT),
        false,
    )
    .await
}

/// The trigger of a raised (user-reported) incident.
pub fn raised(inc: &Incident, text: &str, now: chrono::DateTime<chrono::Utc>) -> Job {
    let severity = match inc.severity.as_str() {
        "error" | "warning" => inc.severity.as_str(),
        _ => "critical",
    };
    Job::PagerDutyEvent {
        body: json!({
            "event_action": "trigger",
            "dedup_key": inc.dedup_key,
            "payload": {
                "summary": cap(text, 1024),
                "source": format!("syncwatch/{}", inc.source.as_deref().unwrap_or("raised")),
                "severity": severity,
                "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "component": inc.check,
                "class": "raised",
                "custom_details": { "incident": inc.id, "prog_lead": inc.prog_lead, "raised": true },
            },
            "client": "syncwatch",
        }),
    }
}
