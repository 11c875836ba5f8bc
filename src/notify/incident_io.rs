//! Delivering what an incident needs beyond a message: its own Slack channel (create or reuse,
//! invite the Prog Lead, post) and the Statuspage component and incident (created once, kept
//! in the store, honouring the 1 request/s limit).

use super::deliver::{join, request, send, Delivery, TIMEOUT};
use crate::app::App;
use crate::model::Statuspage;
use crate::store::OutboxItem;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::time::Duration;

/// A post in a called incident's channel; creates the channel first when asked to.
pub async fn slack_call(
    app: &App,
    item: &OutboxItem,
    token: &SecretString,
    base: &url::Url,
) -> Delivery {
    let p = &item.payload;
    let name = p["call"].as_str().unwrap_or_default().to_string();
    let web = |method: &str, body: Value| {
        app.probes
            .http
            .post(join(base, method))
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(TIMEOUT)
    };
    let mut channel = app.store.call_channel(&name).await.ok().flatten();
    if channel.is_none() && p["create"] == json!(true) {
        match request(
            web(
                "conversations.create",
                json!({ "name": name, "is_private": false }),
            ),
            true,
        )
        .await
        {
            Ok(v) => {
                let id = v["channel"]["id"].as_str().unwrap_or_default().to_string();
                crate::store::failpoint("after_channel_create");
                if let Err(e) = app.store.set_call_channel(&name, &id).await {
                    return Delivery::Retry {
                        after: None,
                        error: e.to_string(),
                    };
                }
                let _ = app
                    .store
                    .add_event(
                        chrono::Utc::now(),
                        &item.check,
                        "channel",
                        Some("slack"),
                        &format!("created #{name}"),
                    )
                    .await;
                let users: Vec<&str> = p["invite"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if !users.is_empty() {
                    let invited = request(
                        web(
                            "conversations.invite",
                            json!({ "channel": id, "users": users.join(",") }),
                        ),
                        true,
                    )
                    .await;
                    match invited {
                        Ok(_) => {}
                        Err(Delivery::GiveUp(e)) if e.contains("already_in_channel") => {}
                        Err(d) => return d,
                    }
                }
                channel = Some(id);
            }
            // Made by an earlier attempt whose answer was lost, or by hand: post by name.
            Err(Delivery::GiveUp(e)) if e.contains("name_taken") => {}
            Err(d) => return d,
        }
    }
    let mut body = p.clone();
    for k in ["call", "create", "invite"] {
        body.as_object_mut().map(|o| o.remove(k));
    }
    body["channel"] = json!(channel.unwrap_or_else(|| name.clone()));
    send(
        app.probes
            .http
            .post(join(base, "chat.postMessage"))
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(TIMEOUT),
        true,
    )
    .await
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
pub async fn statuspage(app: &App, item: &OutboxItem, sp: &Statuspage) -> Delivery {
    let p = &item.payload;
    let page = format!(
        "{}/pages/{}",
        sp.base_url.as_str().trim_end_matches('/'),
        sp.page_id
    );
    let auth = format!("OAuth {}", sp.api_key.expose_secret());
    let http = &app.probes.http;
    let status = p["status"].as_str().unwrap_or("operational");
    let component = p["component"].as_str();
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
    if let Some(inc) = p["incident"].as_object() {
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
            // Nothing to update or resolve if it was never created.
            (None, Some("resolved" | "identified" | "monitoring")) => {
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
                chrono::Utc::now(),
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
            error: super::deliver::describe(&e),
        })?;
    let code = resp.status().as_u16();
    if !(200..300).contains(&code) {
        return Err(Delivery::Retry {
            after: super::deliver::retry_after(&resp),
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
