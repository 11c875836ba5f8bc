//! `/hooks/…`: what PagerDuty and Slack send back. Each request is verified against its
//! vendor's signature over the raw body before anything is read; a path whose secrets are not
//! configured answers 404. These are the only paths that must be reachable from outside.

use crate::daemon::Daemon;
use crate::inbound::{self, SlackRefusal};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn refuse(code: StatusCode, why: &str) -> Response {
    (code, Json(json!({ "error": why }))).into_response()
}

pub async fn pagerduty(State(d): State<Arc<Daemon>>, headers: HeaderMap, body: Bytes) -> Response {
    let app = d.current();
    let secrets = &app.plan.settings.inbound.pagerduty;
    if secrets.is_empty() {
        return refuse(
            StatusCode::NOT_FOUND,
            "PagerDuty webhooks are not configured (inbound.pagerduty)",
        );
    }
    if !inbound::pagerduty_signed(secrets, header(&headers, "x-pagerduty-signature"), &body) {
        d.metrics.inbound("pagerduty", "refused");
        tracing::warn!("PagerDuty webhook refused: missing or wrong X-PagerDuty-Signature");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-PagerDuty-Signature",
        );
    }
    match inbound::pagerduty::handle(&app, &body, d.clock.now()).await {
        Ok(h) => {
            d.metrics.inbound("pagerduty", "accepted");
            tracing::info!(handled = ?h, "PagerDuty webhook");
            if matches!(
                h,
                inbound::pagerduty::Handled::Acknowledged(_)
                    | inbound::pagerduty::Handled::Resolved(_)
            ) {
                d.wake_dispatcher();
            }
            (StatusCode::OK, Json(json!({ "handled": format!("{h:?}") }))).into_response()
        }
        Err(e) if e.starts_with("not ") => {
            d.metrics.inbound("pagerduty", "refused");
            refuse(StatusCode::BAD_REQUEST, &e)
        }
        // The store failed: PagerDuty retries a 5xx.
        Err(e) => {
            d.metrics.inbound("pagerduty", "failed");
            tracing::error!(error = %e, "PagerDuty webhook: cannot record");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot record the event now",
            )
        }
    }
}

/// Verifies a Slack request; the refusal as a response.
fn slack_verified(d: &Daemon, headers: &HeaderMap, body: &[u8]) -> Result<(), Box<Response>> {
    let app = d.current();
    let Some(s) = &app.plan.settings.inbound.slack else {
        return Err(Box::new(refuse(
            StatusCode::NOT_FOUND,
            "Slack is not configured (inbound.slack)",
        )));
    };
    inbound::slack_signed(
        &s.signing_secret,
        header(headers, "x-slack-request-timestamp"),
        header(headers, "x-slack-signature"),
        body,
        d.clock.now(),
    )
    .map(|()| d.metrics.inbound("slack", "accepted"))
    .map_err(|r| {
        let why = match r {
            SlackRefusal::Unsigned => "missing X-Slack-Request-Timestamp or X-Slack-Signature",
            SlackRefusal::Stale => "request timestamp more than 5 minutes from now",
            SlackRefusal::BadSignature => "wrong X-Slack-Signature",
        };
        tracing::warn!(reason = why, "Slack request refused");
        d.metrics.inbound("slack", "refused");
        Box::new(refuse(StatusCode::UNAUTHORIZED, why))
    })
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub async fn slack_actions(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = slack_verified(&d, &headers, &body) {
        return *r;
    }
    let fields = form(&body);
    let Some(payload) = fields
        .iter()
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(v).ok())
    else {
        return refuse(StatusCode::BAD_REQUEST, "no payload field");
    };
    let app = d.current();
    let answer = inbound::slack::interaction(&app, &payload, d.clock.now()).await;
    d.wake_dispatcher();
    match answer {
        Some(v) => (StatusCode::OK, Json(v)).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

pub async fn slack_commands(
    State(d): State<Arc<Daemon>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = slack_verified(&d, &headers, &body) {
        return *r;
    }
    let app = d.current();
    let answer = inbound::slack::command(&app, &form(&body), d.clock.now()).await;
    d.wake_dispatcher();
    (StatusCode::OK, Json(answer)).into_response()
}
