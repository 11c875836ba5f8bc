//! Slack: Block Kit messages (a run's page or notice, a plain note), and their delivery to an
//! incoming webhook or through the bot (`chat.postMessage`, whose 200 may still be `ok: false`),
//! including a called incident's own channel (created once, the Prog Lead invited).

use super::context::{cap, Context};
use super::http::{join, request, send, Delivery, TIMEOUT};
use super::job::Job;
use crate::app::App;
use crate::config::Settings;
use crate::notify::notifier::SlackTarget;
use crate::store::OutboxItem;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// A run's message in Block Kit: header, the summary (naming the Prog Lead when paging), and
/// a context line with the source, thresholds, runbook and dashboard.
pub fn message(text: &str, event: &str, ctx: &Context<'_>) -> Job {
    let icon = match event {
        "page" | "reminder" => ":rotating_light:",
        "resolve" => ":white_check_mark:",
        _ => ":warning:",
    };
    let header: String = format!("{icon} {}", ctx.check.name)
        .chars()
        .take(150)
        .collect();
    let said = mrkdwn(text, ctx.settings);
    let mut body = format!("*{}*", said.replace('*', ""));
    let paging = matches!(event, "page" | "reminder");
    let lead = ctx
        .prog_lead
        .as_ref()
        .filter(|_| paging)
        .map(|m| format!("Prog Lead: {} ({})", super::context::mention(m), m.name));
    if let Some(l) = &lead {
        body = format!("{l}\n{body}");
    }
    let tagged = (paging && !ctx.tagged.is_empty()).then(|| {
        let who: Vec<String> = ctx
            .tagged
            .iter()
            .map(|(m, t)| format!("{} ({})", super::context::mention(m), t.why))
            .collect();
        format!("Tagged in: {}", who.join("; "))
    });
    if let Some(t) = &tagged {
        body.push_str(&format!("\n{t}"));
    }
    if let (Some(c), true) = (&ctx.call, paging) {
        body.push_str(&format!("\nIncident channel: #{c}"));
    }
    if let Some(d) = &ctx.check.description {
        body.push_str(&format!("\n{}", mrkdwn(d, ctx.settings)));
    }
    let mut context = vec![
        format!("source `{}`", ctx.check.source.as_deref().unwrap_or("http")),
        ctx.check.kind.thresholds(),
    ];
    if let Some(r) = &ctx.check.runbook {
        context.push(format!("<{r}|runbook>"));
    }
    if let Some(d) = &ctx.settings.dashboard_url {
        context.push(format!("<{d}|dashboard>"));
    }
    // The fallback is what notifications show: it names everyone the page is for.
    let mut fallback = match &lead {
        Some(l) => format!("{l}: {said}"),
        None => said.clone(),
    };
    if let Some(t) = &tagged {
        fallback.push_str(&format!("\n{t}"));
    }
    let fallback = cap(&fallback, 3000);
    Job::Slack {
        body: json!({
            "text": fallback,
            "blocks": [
                { "type": "header", "text": { "type": "plain_text", "text": header } },
                { "type": "section", "text": { "type": "mrkdwn", "text": cap(&body, 3000) } },
                { "type": "context", "elements": [ { "type": "mrkdwn", "text": context.join(" · ") } ] },
            ],
        }),
    }
}

/// Text built from data (database errors, values, HTTP bodies) made safe for mrkdwn: `&`, `<`
/// and `>` escaped, so a `<!channel>` or a disguised `<https://…|Open runbook>` in a partner's
/// error message stays text. syncwatch's own @-mentions of the rotation's members and the
/// partners' Slack contacts stay live.
pub fn mrkdwn(text: &str, settings: &Settings) -> String {
    let mut out = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let members = settings
        .oncall
        .iter()
        .flat_map(|r| r.members.iter())
        .filter_map(|m| m.slack.clone());
    let partners = settings.partners.values().flat_map(|p| p.slack_ids());
    for id in members.chain(partners) {
        out = out.replace(&format!("&lt;@{id}&gt;"), &format!("<@{id}>"));
    }
    out
}

/// A plain Slack message: fallback text plus one section.
pub fn plain(text: &str, event: &str, settings: &Settings) -> Value {
    let text = mrkdwn(text, settings);
    let icon = match event {
        "resolve" => ":white_check_mark:",
        "ack" => ":eyes:",
        "escalate" | "page" | "call" => ":rotating_light:",
        _ => ":information_source:",
    };
    json!({
        "text": cap(&text, 3000),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": cap(&format!("{icon} {text}"), 3000) } },
        ],
    })
}

/// A post in a called incident's channel.
pub fn call_post(
    channel: &str,
    create: bool,
    invite: Vec<String>,
    text: &str,
    event: &str,
    settings: &Settings,
) -> Job {
    Job::SlackCall {
        channel: channel.to_string(),
        create,
        invite,
        body: plain(text, event, settings),
    }
}

/// A message to the notifier's webhook, or to its bot's channel.
pub async fn deliver(
    http: &reqwest::Client,
    target: &SlackTarget,
    base: &url::Url,
    body: &Value,
) -> Delivery {
    match target {
        SlackTarget::IncomingWebhook(url) => {
            send(http.post(url.0.clone()).json(body).timeout(TIMEOUT), false).await
        }
        SlackTarget::Bot { token, channel } => {
            let mut body = body.clone();
            body["channel"] = Value::String(channel.clone());
            let req = http
                .post(join(base, "chat.postMessage"))
                .bearer_auth(token.expose_secret())
                .json(&body)
                .timeout(TIMEOUT);
            send(req, true).await
        }
    }
}

/// A post in a called incident's channel; creates the channel first when asked to.
pub async fn deliver_call(
    app: &App,
    item: &OutboxItem,
    token: &SecretString,
    base: &url::Url,
    call: (&str, bool, &[String]),
    body: &Value,
) -> Delivery {
    let (name, create, invite) = call;
    let name = name.to_string();
    let web = |method: &str, body: Value| {
        app.probes
            .http
            .post(join(base, method))
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(TIMEOUT)
    };
    let mut channel = app.store.call_channel(&name).await.ok().flatten();
    if channel.is_none() && create {
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
                        app.clock.now(),
                        &item.check,
                        "channel",
                        Some("slack"),
                        &format!("created #{name}"),
                    )
                    .await;
                channel = Some(id);
            }
            // Made by an earlier attempt whose answer was lost, or by hand: post by name.
            Err(Delivery::GiveUp(e)) if e.contains("name_taken") => {}
            Err(d) => return d,
        }
    }
    // Invite the Prog Lead and whoever this post tags in (experts, a pinch hitter, a partner's
    // contacts), into a new channel or an existing one; who is in already is no error.
    if let (Some(id), false) = (&channel, invite.is_empty()) {
        let invited = request(
            web(
                "conversations.invite",
                json!({ "channel": id, "users": invite.join(",") }),
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
    let mut body = body.clone();
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

/// Whether pages to this notifier carry buttons: a bot (whose messages Slack can route
/// clicks back from) while `inbound.slack` is set.
pub fn buttons_for(settings: &Settings, notifier: &str) -> bool {
    settings.inbound.slack.is_some()
        && matches!(
            settings.notifiers.get(notifier).map(|n| &n.kind),
            Some(crate::notify::notifier::NotifierKind::Slack {
                target: SlackTarget::Bot { .. },
                ..
            })
        )
}

/// Adds the incident's buttons to a Slack message: Acknowledge, Resolve… (asks for a note)
/// and Silence 1h. Each carries the incident's dedup key, which `inbound::slack` matches.
pub fn with_buttons(mut body: Value, key: &str) -> Value {
    let button = |text: &str, id: &str, style: Option<&str>| {
        let mut b = json!({
            "type": "button",
            "text": { "type": "plain_text", "text": text },
            "action_id": id,
            "value": key,
        });
        if let Some(s) = style {
            b["style"] = json!(s);
        }
        b
    };
    let actions = json!({
        "type": "actions",
        "block_id": "syncwatch_incident",
        "elements": [
            button("Acknowledge", "ack", Some("primary")),
            button("Resolve…", "resolve", None),
            button("Silence 1h", "silence", None),
        ],
    });
    if let Some(blocks) = body["blocks"].as_array_mut() {
        blocks.push(actions);
    }
    body
}

/// A message to a Slack interaction's `response_url` (it answers `ok`, or JSON with `ok`).
pub async fn respond(http: &reqwest::Client, url: &str, body: &Value) -> Delivery {
    send(http.post(url).json(body).timeout(TIMEOUT), false).await
}
