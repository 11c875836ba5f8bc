//! Atlassian Statuspage: what partners see — the component status while a check fails, and
//! one incident per syncwatch incident (created once, its id kept in the store, found in the
//! unresolved list if an answer was lost) — delivered at one request a second per key.

use super::context::Context;
use super::http::{request, send, Delivery, TIMEOUT};
use super::job::Job;
use crate::app::App;
use crate::notify::notifier::Statuspage;
use crate::policy::{Action, Notice};
use crate::store::incidents::Incident;
use crate::store::OutboxItem;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::time::Duration;

/// Statuspage: the check's component (if it maps to one) and, for pages, an incident.
pub fn for_action(sp: &Statuspage, action: &Action, ctx: &Context<'_>) -> Option<Job> {
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
    Some(Job::Statuspage {
        component: Some(component.to_string()),
        status: status.to_string(),
        incident,
    })
}

/// An incident's change (ack: identified; resolve: resolved) for its component and incident.
pub fn for_incident(sp: &Statuspage, inc: &Incident, sp_status: &str, text: &str) -> Job {
    Job::Statuspage {
        component: component_of(sp, inc),
        status: if sp_status == "resolved" {
            "operational".into()
        } else {
            sp.fail_status.clone()
        },
        incident: Some(json!({ "status": sp_status, "body": text })),
    }
}

/// Waits until this notifier may send again (Statuspage allows one request a second per key).
async fn pace(app: &App, notifier: &str) {
    let wait = {
        let mut last = app.pace.lock().await;
        let now = tokio::time::Instant::now();
        let next = last
            .get(notifier)
            .map(|t| *t + Duration::from_millis(1050))
            .unwrap_or(now)
            .max(now);
        last.insert(notifier.to_string(), next);
        next
    };
    tokio::time::sleep_until(wait).await;
}

/// Sets the component status, then creates, updates or resolves the Statuspage incident.
pub async fn deliver(
    app: &App,
    item: &OutboxItem,
    sp: &Statuspage,
    component: Option<&str>,
    status: &str,
    incident: Option<&Value>,
) -> Delivery {
    let page = format!(
        "{}/pages/{}",
        sp.base_url.as_str().trim_end_matches('/'),
        sp.page_id
    );
    let auth = format!("OAuth {}", sp.api_key.expose_secret());
    let http = &app.probes.http;
    let mut did = Vec::new();
    if let Some(c) = component {
        pace(app, &item.notifier).await;
        let req = http
            .patch(format!("{page}/components/{c}"))
            .header("Authorization", &auth)
            .json(&json!({ "component": { "status": status } }))
            .timeout(TIMEOUT);
        match send(req, false).await {
            Delivery::Delivered => did.push(format!("component {c} → {status}")),
            other => return other,
        }
    }
    if let Some(inc) = incident.and_then(Value::as_object) {
        let known = match app.store.incident_by_key(&item.dedup_key).await {
            Ok(i) => i.and_then(|i| i.statuspage_id),
            Err(e) => {
                return Delivery::Retry {
                    after: None,
                    error: e.to_string(),
                }
            }
        };
        let mut components = serde_json::Map::new();
        if let Some(c) = component {
            components.insert(c.to_string(), json!(status));
        }
        let mut body = Value::Object(inc.clone());
        body["components"] = Value::Object(components.clone());
        body["component_ids"] = json!(components.keys().collect::<Vec<_>>());
        let stored = known.is_some();
        let id = match known {
            Some(id) => Some(id),
            None => match unresolved(app, &item.notifier, &page, &auth, inc).await {
                Ok(found) => found,
                Err(d) => return d,
            },
        };
        let (req, verb) = match (&id, inc.get("status").and_then(Value::as_str)) {
            (Some(id), _) => (
                http.patch(format!("{page}/incidents/{id}")),
                format!("incident {id} → {}", inc["status"].as_str().unwrap_or("")),
            ),
            // Nothing to update or resolve if it was never created (a public update names
            // the incident, and creates it).
            (None, Some("resolved" | "identified" | "monitoring")) if !inc.contains_key("name") => {
                return finish(app, item, did).await
            }
            (None, _) => (
                http.post(format!("{page}/incidents")),
                "incident created".to_string(),
            ),
        };
        pace(app, &item.notifier).await;
        let sent = req
            .header("Authorization", &auth)
            .json(&json!({ "incident": body }))
            .timeout(TIMEOUT);
        let v = match request(sent, false).await {
            Ok(v) => v,
            Err(d) => return d,
        };
        crate::store::failpoint("after_statuspage_write");
        // Keep the id, whether created now or found in the unresolved list.
        let made = id.as_deref().or(v["id"].as_str());
        if let (false, Some(made)) = (stored, made) {
            let _ = app.store.set_statuspage_id(&item.dedup_key, made).await;
        }
        did.push(verb);
    }
    finish(app, item, did).await
}

async fn finish(app: &App, item: &OutboxItem, did: Vec<String>) -> Delivery {
    if !did.is_empty() {
        let _ = app
            .store
            .add_event(
                app.clock.now(),
                &item.check,
                "status_page",
                Some(&item.notifier),
                &format!("status page: {}", did.join("; ")),
            )
            .await;
    }
    Delivery::Delivered
}

/// An unresolved Statuspage incident with this name: created by an attempt whose answer was
/// lost. Looking before creating keeps creation idempotent.
async fn unresolved(
    app: &App,
    notifier: &str,
    page: &str,
    auth: &str,
    inc: &serde_json::Map<String, Value>,
) -> Result<Option<String>, Delivery> {
    let Some(name) = inc.get("name").and_then(Value::as_str) else {
        return Ok(None);
    };
    pace(app, notifier).await;
    let resp = app
        .probes
        .http
        .get(format!("{page}/incidents/unresolved"))
        .header("Authorization", auth)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| Delivery::Retry {
            after: None,
            error: super::http::describe(&e),
        })?;
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        return Err(Delivery::Retry {
            after: super::http::retry_after(&resp),
            error: format!("Statuspage answered {code} listing unresolved incidents"),
        });
    }
    let list: Value = resp.json().await.unwrap_or_default();
    Ok(list.as_array().and_then(|a| {
        a.iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["id"].as_str().map(String::from))
    }))
}

/// The component a raised incident names: its check's, its source's, or its partner's (a
/// partner is named by its component key).
pub fn component_of(sp: &Statuspage, inc: &Incident) -> Option<String> {
    let subject = inc.check.split_once(':').map(|(_, s)| s);
    [Some(inc.check.as_str()), inc.source.as_deref(), subject]
        .into_iter()
        .flatten()
        .find_map(|k| sp.components.get(k).cloned())
}

/// A raised incident on the status page (its title, and the description as the body), when
/// its component is known.
pub fn raised(
    sp: &Statuspage,
    inc: &Incident,
    title: &str,
    description: Option<&str>,
) -> Option<Job> {
    let component = component_of(sp, inc)?;
    Some(Job::Statuspage {
        component: Some(component),
        status: sp.fail_status.clone(),
        incident: Some(json!({
            "name": title,
            "status": "investigating",
            "body": description.unwrap_or(title),
        })),
    })
}

/// A public update: an incident update partners receive (the incident is created with it if
/// the status page has none yet), and the component's status.
pub fn update(sp: &Statuspage, inc: &Incident, status: &str, message: &str) -> Job {
    let name: String = inc.summary.chars().take(200).collect();
    Job::Statuspage {
        component: component_of(sp, inc),
        status: if status == "resolved" {
            "operational".into()
        } else {
            sp.fail_status.clone()
        },
        incident: Some(json!({ "name": name, "status": status, "body": message })),
    }
}
