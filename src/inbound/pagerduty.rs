//! PagerDuty webhooks v3: an `incident.acknowledged` acknowledges the incident whose dedup key
//! PagerDuty calls `incident_key`, `incident.resolved` resolves it (naming who), anything else
//! goes on the timeline. A repeated event id changes nothing.

use crate::app::App;
use crate::respond::change::{change_incident_via, Via};
use crate::store::incidents::{Change, Changed};
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a delivery did (the answer is 200 for all of them: PagerDuty retries anything else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Acknowledged(i64),
    Resolved(i64),
    /// Kept on the incident's timeline only.
    Noted(i64),
    /// The incident was acknowledged or resolved already.
    Already(i64),
    /// The event id was handled before.
    Repeat,
    /// Not about an incident syncwatch opened.
    NotOurs,
}

/// Handles one verified delivery; `Err` when its body is not a webhook event.
pub async fn handle(app: &App, body: &[u8], now: DateTime<Utc>) -> Result<Handled, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let ev = &v["event"];
    let (Some(id), Some(kind)) = (ev["id"].as_str(), ev["event_type"].as_str()) else {
        return Err("not a webhook v3 event: event.id and event.event_type are required".into());
    };
    let store = &app.store;
    let fail = |e: StoreError| e.to_string();
    if store.inbound_seen("pagerduty", id).await.map_err(fail)? {
        return Ok(Handled::Repeat);
    }
    let key = ev["data"]["incident_key"].as_str().unwrap_or_default();
    let Some(inc) = store.incident_by_key(key).await.map_err(fail)? else {
        store
            .inbound_handled("pagerduty", id, now)
            .await
            .map_err(fail)?;
        return Ok(Handled::NotOurs);
    };
    let agent = ev["agent"]["summary"]
        .as_str()
        .map(|a| a.chars().take(200).collect::<String>());
    let who = agent.clone().unwrap_or_else(|| "PagerDuty".into());
    let settings = &app.plan.settings;
    let handled = match kind {
        "incident.acknowledged" => {
            let by = format!("{who} (PagerDuty)");
            let change = Change::Ack { by: &by };
            outcome(
                change_incident_via(store, inc.id, change, Via::PagerDuty, settings, now).await,
                Handled::Acknowledged,
            )?
        }
        "incident.resolved" => {
            let by = format!("{who} (PagerDuty)");
            let note = format!("resolved in PagerDuty by {who}");
            let change = Change::Resolve {
                by: &by,
                note: &note,
            };
            outcome(
                change_incident_via(store, inc.id, change, Via::PagerDuty, settings, now).await,
                Handled::Resolved,
            )?
        }
        other => {
            let what = other.strip_prefix("incident.").unwrap_or(other);
            let mut detail = format!("PagerDuty: {what}");
            if let Some(a) = &agent {
                detail.push_str(&format!(" by {a}"));
            }
            let assignees: Vec<&str> = ev["data"]["assignees"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["summary"].as_str())
                .collect();
            if what == "reassigned" && !assignees.is_empty() {
                detail.push_str(&format!(" to {}", assignees.join(", ")));
            }
            store
                .add_event(now, &inc.check, "pagerduty", Some("pagerduty"), &detail)
                .await
                .map_err(fail)?;
            Handled::Noted(inc.id)
        }
    };
    store
        .inbound_handled("pagerduty", id, now)
        .await
        .map_err(fail)?;
    Ok(handled)
}

fn outcome(r: Result<Changed, StoreError>, done: fn(i64) -> Handled) -> Result<Handled, String> {
    match r.map_err(|e| e.to_string())? {
        Changed::Done(i) => Ok(done(i.id)),
        Changed::Already(i) => Ok(Handled::Already(i.id)),
        Changed::NotFound => Ok(Handled::NotOurs),
    }
}
