//! The generic webhook: one JSON document per message (event, summary, dedup key, details,
//! links), POSTed with the notifier's headers and an `Idempotency-Key` of the dedup key.

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

/// A message about an incident (ack, resolve, escalation).
pub fn incident(event: &str, text: &str, inc: &Incident) -> Job {
    Job::Webhook {
        body: json!({
            "event": event,
            "summary": text,
            "dedup_key": inc.dedup_key,
            "incident": inc.id,
            "check": inc.check,
        }),
    }
}

/// The Prog Lead handoff notice.
pub fn handoff(text: &str, at: DateTime<Utc>) -> Job {
    Job::Webhook {
        body: json!({ "event": "handoff", "summary": text, "at": at }),
    }
}

pub async fn deliver(
    http: &reqwest::Client,
    url: &url::Url,
    headers: &[(String, SecretString)],
    dedup_key: &str,
    body: &Value,
) -> Delivery {
    let mut r = http
        .post(url.clone())
        .json(body)
        .header("Idempotency-Key", dedup_key);
    for (k, v) in headers {
        r = r.header(k.as_str(), v.expose_secret());
    }
    send(r.timeout(TIMEOUT), false).await
}
