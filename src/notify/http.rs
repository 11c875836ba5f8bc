//! One outbound HTTP call per the vendor's contract (shared/CONTRACTS.md), and how its answer
//! is classified: delivered, retry later (network, 5xx, 420/429 with Retry-After), or give up
//! (any other 4xx). Shared by every vendor module and the restart webhook.

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

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn join(base: &url::Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// Sends and classifies. `slack_api`: a 200 may still be `{"ok": false}`.
pub(crate) async fn send(req: reqwest::RequestBuilder, slack_api: bool) -> Delivery {
    match request(req, slack_api).await {
        Ok(_) => Delivery::Delivered,
        Err(d) => d,
    }
}

/// Sends and classifies like `send`, keeping the accepted answer's JSON body (`Null` if it
/// has none) for callers that need what was made (a channel id, an incident id).
pub(crate) async fn request(
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
pub(crate) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Errors without the URL, which may carry a token.
pub(crate) fn describe(e: &reqwest::Error) -> String {
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
