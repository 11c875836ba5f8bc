//! The generic webhook: one JSON document per message (event, summary, dedup key, details,
//! links, time), POSTed with the notifier's headers and an `Idempotency-Key` of its own.

use super::context::{details, links, Context};
use super::http::{send, Delivery, TIMEOUT};
use super::job::Job;
use crate::store::incidents::Incident;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// A run's message: page, reminder, resolve or notice.
pub fn event(text: &str, event: &str, key: &str, ctx: &Context<'_>) -> Job {
    Job::Webhook {
        body: json!({
            "event": event,
            "summary": text,
            "dedup_key": key,
            "details": details(ctx),
            "links": links(ctx),
            "at": ctx.now,
        }),
    }
}

/// A message about an incident (ack, resolve, escalation): the documented fields, with the
/// incident's facts in `details` (and, as before, its id and check at the top level).
pub fn incident(event: &str, text: &str, inc: &Incident) -> Job {
    let at = match event {
        "ack" => inc.acked_at,
        "resolve" => inc.resolved_at,
        "escalate" => inc.escalated_at,
        _ => None,
    }
    .unwrap_or(inc.opened_at);
    Job::Webhook {
        body: json!({
            "event": event,
            "summary": text,
            "dedup_key": inc.dedup_key,
            "details": {
                "incident": inc.id,
                "check": inc.check,
                "source": inc.source,
                "severity": inc.severity,
                "status": inc.status(),
                "prog_lead": inc.prog_lead,
                "opened_at": inc.opened_at,
                "acknowledged_by": inc.acked_by,
                "resolved_by": inc.resolved_by,
                "resolve_note": inc.resolve_note,
            },
            "links": [],
            "at": at,
            "incident": inc.id,
            "check": inc.check,
        }),
    }
}

/// The Prog Lead handoff notice (its dedup key names the handoff instant).
pub fn handoff(text: &str, key: &str, at: DateTime<Utc>) -> Job {
    Job::Webhook {
        body: json!({
            "event": "handoff",
            "summary": text,
            "dedup_key": key,
            "details": {},
            "links": [],
            "at": at,
        }),
    }
}

/// POSTs one message. Its `Idempotency-Key` is the message's own (dedup key, event and outbox
/// id): stable across redeliveries, and never shared by two messages of one incident, so a
/// receiver that honours the key drops repeats and nothing else.
pub async fn deliver(
    http: &reqwest::Client,
    url: &url::Url,
    headers: &[(String, SecretString)],
    idempotency_key: &str,
    body: &Value,
) -> Delivery {
    let mut r = http
        .post(url.clone())
        .json(body)
        .header("Idempotency-Key", idempotency_key);
    for (k, v) in headers {
        r = r.header(k.as_str(), v.expose_secret());
    }
    send(r.timeout(TIMEOUT), false).await
}
