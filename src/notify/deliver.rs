//! Delivers one outbox message per the vendor's contract (shared/CONTRACTS.md) and classifies
//! the answer: delivered, retry later (network, 5xx, 429 with Retry-After), or give up (other 4xx).

use crate::app::App;
use crate::model::{NotifierKind, RestartAction, SlackTarget};
use crate::store::OutboxItem;
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Delivered,
    Retry {
        after: Option<Duration>,
        error: String,
    },
    GiveUp(String),
}

pub(super) const TIMEOUT: Duration = Duration::from_secs(10);

pub async fn deliver(app: &App, item: &OutboxItem) -> Delivery {
    if item.notifier == super::message::RESTART {
        return restart(app, item).await;
    }
    let Some(notifier) = app.plan.settings.notifiers.get(&item.notifier) else {
        return Delivery::GiveUp(format!(
            "notifier \"{}\" is no longer configured",
            item.notifier
        ));
    };
    let http = &app.probes.http;
    let mut body = item.payload.clone();
    let req = match &notifier.kind {
        NotifierKind::PagerDuty {
            routing_key,
            base_url,
            ..
        } => {
            body["routing_key"] = Value::String(routing_key.expose_secret().to_string());
            let path = if item.event == "change" {
                "v2/change/enqueue"
            } else {
                "v2/enqueue"
            };
            http.post(join(base_url, path)).json(&body)
        }
        NotifierKind::Slack {
            target: SlackTarget::IncomingWebhook(url),
            ..
        } => http.post(url.0.clone()).json(&body),
        NotifierKind::Slack {
            target: SlackTarget::Bot { token, .. },
            base_url,
        } if item.payload.get("call").is_some() => {
            return super::incident_io::slack_call(app, item, token, base_url).await;
        }
        NotifierKind::Statuspage(sp) => return super::incident_io::statuspage(app, item, sp).await,
        NotifierKind::Slack {
            target: SlackTarget::Bot { token, channel },
            base_url,
        } => {
            body["channel"] = Value::String(channel.clone());
            http.post(join(base_url, "chat.postMessage"))
                .bearer_auth(token.expose_secret())
                .json(&body)
        }
        NotifierKind::Webhook { url, headers } => {
            let mut r = http
                .post(url.0.clone())
                .json(&body)
                .header("Idempotency-Key", &item.dedup_key);
            for (k, v) in headers {
                r = r.header(k.as_str(), v.expose_secret());
            }
            r
        }
    };
    let slack_api = matches!(
        &notifier.kind,
        NotifierKind::Slack {
            target: SlackTarget::Bot { .. },
            ..
        }
    );
    send(req.timeout(TIMEOUT), slack_api).await
}

pub(super) fn join(base: &url::Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// Sends and classifies. `slack_api`: a 200 may still be `{"ok": false}`.
pub(super) async fn send(req: reqwest::RequestBuilder, slack_api: bool) -> Delivery {
    match request(req, slack_api).await {
        Ok(_) => Delivery::Delivered,
        Err(d) => d,
    }
}

/// Sends and classifies like `send`, keeping the accepted answer's JSON body (`Null` if it
/// has none) for callers that need what was made (a channel id, an incident id).
pub(super) async fn request(
    req: reqwest::RequestBuilder,
    slack_api: bool,
) -> Result<Value, Delivery> {
    let resp = req.send().await.map_err(|e| Delivery::Retry {
        after: None,
        error: describe(&e),
    })?;
    let status = resp.status();
    let retry_after = retry_after(&resp);
    let text = resp.text().await.unwrap_or_default();
    let snippet: String = text.chars().take(300).collect();
    let body = serde_json::from_str::<Value>(&text);
    match status.as_u16() {
        200..=299 if slack_api => match body {
            Ok(v) if v["ok"] == Value::Bool(true) => Ok(v),
            Ok(v) if v["error"] == "ratelimited" => Err(Delivery::Retry {
                after: retry_after,
                error: "Slack: ratelimited".into(),
            }),
            Ok(v) => Err(Delivery::GiveUp(format!(
                "Slack refused: {}",
                v["error"].as_str().unwrap_or("unknown error")
            ))),
            Err(_) => Err(Delivery::Retry {
                after: None,
                error: format!("Slack answered {status} with {snippet}"),
            }),
        },
        200..=299 => Ok(body.unwrap_or(Value::Null)),
        // Statuspage throttles with 420; everyone else with 429.
        420 | 429 => Err(Delivery::Retry {
            after: retry_after,
            error: format!("rate limited ({status})"),
        }),
        500..=599 => Err(Delivery::Retry {
            after: retry_after,
            error: format!("{status}: {snippet}"),
        }),
        _ => Err(Delivery::GiveUp(format!("{status}: {snippet}"))),
    }
}

/// The Retry-After header in seconds, if any.
pub(super) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Errors without the URL, which may carry a token.
pub(super) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    let mut text = if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text = format!("{text}: {s}");
        src = s.source();
    }
    text
}

async fn restart(app: &App, item: &OutboxItem) -> Delivery {
    let Some(restart) = app
        .index_of(&item.check)
        .and_then(|i| app.plan.checks[i].on_failure.as_ref()?.restart.as_ref())
    else {
        return Delivery::GiveUp(format!(
            "check \"{}\" no longer has a restart action",
            item.check
        ));
    };
    let at = item.payload["restarted_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match &restart.action {
        RestartAction::Kubernetes {
            namespace,
            deployment,
        } => kubernetes(app, namespace, deployment, &at).await,
        RestartAction::Webhook {
            url,
            method,
            headers,
            body,
        } => {
            let mut r = app
                .probes
                .http
                .request(method.clone(), url.0.clone())
                .header("Idempotency-Key", &item.dedup_key);
            for (k, v) in headers {
                r = r.header(k.as_str(), v.expose_secret());
            }
            if let Some(b) = body {
                r = r
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.clone());
            }
            send(r.timeout(TIMEOUT), false).await
        }
        RestartAction::Command(argv) => command(argv, &item.check).await,
    }
}

/// `kubectl rollout restart`: refuse a paused Deployment, then a strategic-merge PATCH of the
/// restartedAt annotation. The timestamp was fixed when the restart was decided, so a redelivery
/// patches the same value and does not roll the pods again.
async fn kubernetes(app: &App, ns: &str, name: &str, at: &str) -> Delivery {
    let Some(kube) = &app.kube else {
        return Delivery::GiveUp(
            "no Kubernetes API: set `kubernetes.api_url` or run in a cluster".into(),
        );
    };
    let url = format!(
        "{}/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        kube.base.trim_end_matches('/')
    );
    let auth = |r: reqwest::RequestBuilder| match &kube.token {
        Some(t) => r.bearer_auth(t.expose_secret()),
        None => r,
    };
    let got = match auth(kube.client.get(&url)).timeout(TIMEOUT).send().await {
        Ok(r) => r,
        Err(e) => {
            return Delivery::Retry {
                after: None,
                error: describe(&e),
            }
        }
    };
    let status = got.status();
    if !status.is_success() {
        let text = got.text().await.unwrap_or_default();
        return match status.as_u16() {
            429 | 500..=599 => Delivery::Retry {
                after: None,
                error: format!("GET deployment: {status}"),
            },
            _ => Delivery::GiveUp(format!(
                "GET deployment {ns}/{name}: {status}: {}",
                text.chars().take(200).collect::<String>()
            )),
        };
    }
    let dep: Value = got.json().await.unwrap_or_default();
    if dep["spec"]["paused"] == Value::Bool(true) {
        return Delivery::GiveUp(format!(
            "deployment {ns}/{name} is paused; not restarting it"
        ));
    }
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": at}}}}});
    let req = auth(kube.client.patch(&url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/strategic-merge-patch+json",
        )
        .body(patch.to_string());
    send(req.timeout(TIMEOUT), false).await
}

/// Runs the program without a shell, for at most 50 s (less than the outbox lease, so no other
/// dispatcher takes the restart over while it runs). Commands are not idempotent: a failure is
/// not retried.
async fn command(argv: &[String], check: &str) -> Delivery {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env("SYNCWATCH_CHECK", check)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match tokio::time::timeout(Duration::from_secs(50), cmd.output()).await {
        Err(_) => Delivery::GiveUp(format!("{} did not finish within 50s", argv[0])),
        Ok(Err(e)) => Delivery::GiveUp(format!("cannot run {}: {e}", argv[0])),
        Ok(Ok(out)) if out.status.success() => Delivery::Delivered,
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err
                .trim()
                .chars()
                .rev()
                .take(300)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Delivery::GiveUp(format!("{} exited with {}: {tail}", argv[0], out.status))
        }
    }
}
