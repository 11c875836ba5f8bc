//! Slack, verified: button clicks on pages (Acknowledge, Resolve… with a note asked in a dialog,
//! Silence 1h), acting as the rotation member whose Slack id clicked, and the `/syncwatch` slash
//! command (`report`, `status`, `oncall`, `ack`). The original message is updated through its
//! `response_url` (a queued message, delivered and retried like any other).

use crate::app::App;
use crate::notify::job::{Envelope, Job};
use crate::oncall::Member;
use crate::respond::change::{change_incident_via, Via};
use crate::store::incidents::{Change, Changed, Incident};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// The notifier name response_url messages are queued under.
pub const RESPONSES: &str = "slack-response";

/// The rotation member with this Slack user id.
fn member(app: &App, user: &str) -> Option<Member> {
    app.plan
        .settings
        .oncall
        .as_ref()?
        .members
        .iter()
        .find(|m| m.slack.as_deref() == Some(user))
        .cloned()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Queues a message to a Slack `response_url`.
async fn respond(app: &App, check: &str, url: &str, body: Value) {
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return;
    }
    let e = Envelope {
        notifier: RESPONSES.into(),
        event: "response",
        dedup_key: format!(
            "syncwatch/slack-response/{}",
            app.clock.now().timestamp_nanos_opt().unwrap_or_default()
        ),
        job: Job::SlackResponse {
            url: url.to_string(),
            body,
        },
    };
    let now = app.clock.now();
    let queued = async {
        let mut tx = app.store.begin().await?;
        crate::respond::enqueue(&mut tx, now, check, std::slice::from_ref(&e)).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = queued {
        tracing::warn!(error = %err, "cannot queue the Slack response");
    }
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "replace_original": false, "text": text })
}

/// The original message with a line saying who did what above its buttons (which stay while
/// the incident is open).
fn replaced(message: &Value, line: &str) -> Value {
    let mut blocks: Vec<Value> = message["blocks"].as_array().cloned().unwrap_or_default();
    let at = blocks
        .iter()
        .position(|b| b["type"] == "actions")
        .unwrap_or(blocks.len());
    blocks.insert(
        at,
        json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": line } ] }),
    );
    let text = message["text"].as_str().unwrap_or_default();
    json!({ "replace_original": true, "text": format!("{text}\n{line}"), "blocks": blocks })
}

/// A click on a page's button, or the Resolve dialog's submission. The answer is the HTTP
/// body Slack gets (empty: nothing to say).
pub async fn interaction(app: &App, payload: &Value, now: DateTime<Utc>) -> Option<Value> {
    match payload["type"].as_str() {
        Some("block_actions") => {
            block_action(app, payload, now).await;
            None
        }
        Some("view_submission") if payload["view"]["callback_id"] == "syncwatch_resolve" => {
            resolve_submitted(app, payload, now).await
        }
        _ => None,
    }
}

async fn block_action(app: &App, p: &Value, now: DateTime<Utc>) {
    let url = p["response_url"].as_str().unwrap_or_default();
    let user = p["user"]["id"].as_str().unwrap_or_default();
    let Some(action) = p["actions"].get(0) else {
        return;
    };
    let key = action["value"].as_str().unwrap_or_default();
    let id = action["action_id"].as_str().unwrap_or_default();
    let inc = match app.store.incident_by_key(key).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            respond(
                app,
                "(slack)",
                url,
                ephemeral("syncwatch does not know this incident."),
            )
            .await;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "Slack click: cannot read the incident");
            respond(app, "(slack)", url, ephemeral("syncwatch cannot reach its state store; try again, or use `syncwatch incidents`.")).await;
            return;
        }
    };
    let Some(m) = member(app, user) else {
        tracing::warn!(slack_user = %user, action = %id, incident = inc.id, "Slack click refused: not a rotation member");
        let text = format!(
            "Only members of the on-call rotation can {} syncwatch incidents; <@{}> is not one.",
            match id {
                "ack" => "acknowledge",
                "resolve" => "resolve",
                _ => "silence",
            },
            esc(user)
        );
        respond(app, &inc.check, url, ephemeral(&text)).await;
        return;
    };
    let settings = &app.plan.settings;
    let hm = now.format("%H:%M UTC");
    match id {
        "ack" => {
            let change = Change::Ack { by: &m.name };
            let body = match change_incident_via(&app.store, inc.id, change, Via::Slack, settings, now).await {
                Ok(Changed::Done(_)) => {
                    let line = format!(":eyes: Acknowledged by <@{user}> ({}) at {hm}", esc(&m.name));
                    replaced(&p["message"], &line)
                }
                Ok(Changed::Already(i)) => {
                    let by = i.acked_by.as_deref().or(i.resolved_by.as_deref()).unwrap_or("someone");
                    ephemeral(&format!("Incident #{} is {} already (by {}).", i.id, i.status(), esc(by)))
                }
                Ok(Changed::NotFound) | Err(_) => ephemeral(
                    "syncwatch could not record the acknowledgement; try `syncwatch incidents ack`.",
                ),
            };
            respond(app, &inc.check, url, body).await;
        }
        "resolve" => ask_for_note(app, p, &inc, url).await,
        "silence" => {
            let s = crate::silence::Silence {
                id: None,
                pattern: inc.check.clone(),
                from: now,
                until: now + chrono::Duration::hours(1),
                reason: format!("silenced from Slack by {} (incident #{})", m.name, inc.id),
            };
            match app.store.add_silence(&s, now).await {
                Ok(_) => {
                    let _ = app
                        .store
                        .add_event(
                            now,
                            &inc.check,
                            "silence",
                            Some(&m.name),
                            &format!("silenced for 1h from Slack by {}", m.name),
                        )
                        .await;
                    let until = s.until.format("%H:%M UTC");
                    let line = format!(
                        ":mute: Silenced until {until} by <@{user}> ({})",
                        esc(&m.name)
                    );
                    respond(app, &inc.check, url, replaced(&p["message"], &line)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Slack click: cannot silence");
                    respond(
                        app,
                        &inc.check,
                        url,
                        ephemeral(
                            "syncwatch could not record the silence; try `syncwatch silence`.",
                        ),
                    )
                    .await;
                }
            }
        }
        _ => {}
    }
}

/// Opens the Resolve dialog (`views.open` with the click's trigger id, which lives 3 s).
async fn ask_for_note(app: &App, p: &Value, inc: &Incident, url: &str) {
    let settings = &app.plan.settings;
    let bot = settings
        .inbound
        .slack
        .as_ref()
        .and_then(|s| s.bot.as_ref())
        .and_then(|b| settings.notifiers.get(b));
    let Some(crate::notify::notifier::NotifierKind::Slack {
        target: crate::notify::notifier::SlackTarget::Bot { token, .. },
        base_url,
    }) = bot.map(|b| &b.kind)
    else {
        let text = format!(
            "Resolve needs a note: `syncwatch incidents resolve {} --note \"what was done\"`.",
            inc.id
        );
        respond(app, &inc.check, url, ephemeral(&text)).await;
        return;
    };
    let meta = json!({ "key": inc.dedup_key, "response_url": url }).to_string();
    let view = json!({
        "trigger_id": p["trigger_id"],
        "view": {
            "type": "modal",
            "callback_id": "syncwatch_resolve",
            "private_metadata": meta,
            "title": { "type": "plain_text", "text": "Resolve incident" },
            "submit": { "type": "plain_text", "text": "Resolve" },
            "close": { "type": "plain_text", "text": "Cancel" },
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": esc(&crate::notify::context::cap(&inc.summary, 2000)) } },
                { "type": "input", "block_id": "note", "label": { "type": "plain_text", "text": "What was done" },
                  "element": { "type": "plain_text_input", "action_id": "note", "multiline": true } },
            ],
        },
    });
    let req = app
        .probes
        .http
        .post(crate::notify::http::join(base_url, "views.open"))
        .bearer_auth(token.expose_secret())
        .json(&view)
        .timeout(std::time::Duration::from_secs(2));
    if let Err(e) = crate::notify::http::request(req, true).await {
        tracing::warn!(error = ?e, "Slack: cannot open the Resolve dialog");
        let text = format!("Could not open the Resolve dialog; resolve with `syncwatch incidents resolve {} --note \"…\"`.", inc.id);
        respond(app, &inc.check, url, ephemeral(&text)).await;
    }
}

async fn resolve_submitted(app: &App, p: &Value, now: DateTime<Utc>) -> Option<Value> {
    let user = p["user"]["id"].as_str().unwrap_or_default();
    let meta: Value = serde_json::from_str(p["view"]["private_metadata"].as_str()?).ok()?;
    let (key, url) = (
        meta["key"].as_str()?,
        meta["response_url"].as_str().unwrap_or_default(),
    );
    let note = p["view"]["state"]["values"]["note"]["note"]["value"]
        .as_str()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let errors =
        |text: &str| Some(json!({ "response_action": "errors", "errors": { "note": text } }));
    let Some(m) = member(app, user) else {
        return errors("Only members of the on-call rotation can resolve syncwatch incidents.");
    };
    if note.is_empty() {
        return errors("Say what was done: it goes in the timeline and the retro.");
    }
    let inc = app.store.incident_by_key(key).await.ok()??;
    let change = Change::Resolve {
        by: &m.name,
        note: &note,
    };
    match change_incident_via(
        &app.store,
        inc.id,
        change,
        Via::Slack,
        &app.plan.settings,
        now,
    )
    .await
    {
        Ok(Changed::Done(_)) => {
            let line = format!(
                ":white_check_mark: Resolved by <@{user}> ({}): {}",
                esc(&m.name),
                esc(&note)
            );
            let body = json!({ "replace_original": true, "text": format!("{}\n{line}", esc(&inc.summary)),
                "blocks": [ { "type": "section", "text": { "type": "mrkdwn", "text": esc(&inc.summary) } },
                            { "type": "context", "elements": [ { "type": "mrkdwn", "text": line } ] } ] });
            respond(app, &inc.check, url, body).await;
            None
        }
        Ok(Changed::Already(i)) => {
            errors(&format!("Incident #{} is {} already.", i.id, i.status()))
        }
        Ok(Changed::NotFound) | Err(_) => {
            errors("syncwatch could not record the resolve; try again.")
        }
    }
}

/// The `/syncwatch` slash command: `report TEXT`, `status`, `oncall`, `ack ID`. The answer is
/// the HTTP body (Slack shows it within its 3 s).
pub async fn command(app: &App, form: &[(String, String)], now: DateTime<Utc>) -> Value {
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let (user, user_name) = (field("user_id"), field("user_name"));
    let text = field("text").trim();
    let (verb, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let rest = rest.trim();
    let plan = &app.plan;
    match verb {
        "report" if !rest.is_empty() => {
            let by = member(app, user).map(|m| m.name).unwrap_or_else(|| {
                if user_name.is_empty() { format!("slack:{user}") } else { user_name.to_string() }
            });
            let req = crate::incidents::RaiseRequest {
                title: rest.to_string(),
                ..Default::default()
            };
            let raise = match crate::incidents::raise_plan(plan, &req, &by) {
                Ok(r) => r,
                Err(e) => return ephemeral(&format!("Cannot report: {}", esc(&e))),
            };
            match crate::respond::change::raise(&app.store, &raise, &plan.settings, now).await {
                Ok((inc, paged)) => {
                    tracing::info!(incident = inc.id, by = %by, "incident raised from Slack");
                    let who = inc.prog_lead.as_deref().map(|l| format!("the Prog Lead ({l})")).unwrap_or_else(|| "the on-call route".into());
                    let said = if paged.is_empty() {
                        "nobody was paged (no route is configured)".to_string()
                    } else {
                        format!("{who} is paged")
                    };
                    json!({ "response_type": "in_channel",
                            "text": format!("<@{}> reported incident #{}: {}. {said}.", esc(user), inc.id, esc(&inc.summary)) })
                }
                Err(e) => ephemeral(&format!("Cannot report: the state store failed ({})", esc(&e.to_string()))),
            }
        }
        "status" => ephemeral(&status_text(app, now).await),
        "oncall" => ephemeral(&oncall_text(app, now)),
        "ack" => {
            let Some(m) = member(app, user) else {
                return ephemeral("Only members of the on-call rotation can acknowledge syncwatch incidents.");
            };
            let Ok(id) = rest.trim_start_matches('#').parse::<i64>() else {
                return ephemeral("Usage: `/syncwatch ack ID` (the incident number, e.g. 12).");
            };
            let change = Change::Ack { by: &m.name };
            match change_incident_via(&app.store, id, change, Via::Slack, &plan.settings, now).await {
                Ok(Changed::Done(i)) => json!({ "response_type": "in_channel",
                    "text": format!("Incident #{id} ({}) acknowledged by <@{}> ({}).", esc(&i.check), esc(user), esc(&m.name)) }),
                Ok(Changed::Already(i)) => ephemeral(&format!("Incident #{id} is {} already.", i.status())),
                Ok(Changed::NotFound) => ephemeral(&format!("No incident #{id}.")),
                Err(e) => ephemeral(&format!("The state store failed: {}", esc(&e.to_string()))),
            }
        }
        _ => ephemeral(
            "Usage: `/syncwatch report WHAT IS WRONG` · `/syncwatch status` · `/syncwatch oncall` · `/syncwatch ack ID`",
        ),
    }
}

async fn status_text(app: &App, _now: DateTime<Utc>) -> String {
    let latest = app.store.latest_runs().await.unwrap_or_default();
    let mut failing: Vec<String> = app
        .plan
        .checks
        .iter()
        .filter_map(|c| {
            let r = latest.get(&c.name)?;
            matches!(
                r.outcome.verdict,
                crate::verdict::Verdict::Fail | crate::verdict::Verdict::Error
            )
            .then(|| {
                format!(
                    "• {} {}: {}",
                    r.outcome.verdict,
                    esc(&c.name),
                    esc(&crate::notify::context::cap(
                        r.outcome.reason.as_deref().unwrap_or(""),
                        200
                    ))
                )
            })
        })
        .collect();
    failing.truncate(20);
    let open = app.store.incidents(true, 20).await.unwrap_or_default();
    let mut out = if failing.is_empty() {
        format!("All {} checks pass or warn.", app.plan.checks.len())
    } else {
        format!("Failing ({}):\n{}", failing.len(), failing.join("\n"))
    };
    if open.is_empty() {
        out.push_str("\nNo open incidents.");
    } else {
        out.push_str(&format!("\nOpen incidents ({}):", open.len()));
        for i in &open {
            out.push_str(&format!(
                "\n• #{} {} — {} since {}",
                i.id,
                esc(&i.check),
                i.status(),
                i.opened_at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    out
}

fn oncall_text(app: &App, now: DateTime<Utc>) -> String {
    let Some(rot) = &app.plan.settings.oncall else {
        return "No on-call rotation is configured.".into();
    };
    let Some(o) = rot.at(now) else {
        return "Nobody is on call yet (the rotation starts later).".into();
    };
    let name = |m: &Member| match &m.slack {
        Some(id) => format!("<@{id}> ({})", esc(&m.name)),
        None => esc(&m.name),
    };
    let mut text = format!("Prog Lead: {}", name(&o.prog_lead));
    if let Some(f) = &o.covering_for {
        text.push_str(&format!(", covering for {}", esc(f)));
    }
    if !o.secondary.is_empty() {
        let s: Vec<String> = o.secondary.iter().map(name).collect();
        text.push_str(&format!("\nSecondary: {}", s.join(", ")));
    }
    text
}
