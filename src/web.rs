//! The daemon's HTTP surface: `/metrics`, `/healthz`, `/readyz`, `/api/checks`.

use crate::daemon::Daemon;
use crate::report;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub fn router(d: Arc<Daemon>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/api/checks", get(checks))
        .with_state(d)
}

async fn metrics(State(d): State<Arc<Daemon>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        d.metrics.render(),
    )
}

/// Ready when a configuration is loaded (always, once serving) and the store answers.
async fn ready(State(d): State<Arc<Daemon>>) -> (StatusCode, String) {
    let app = d.current();
    match tokio::time::timeout(Duration::from_secs(2), app.store.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            format!("ready: {} checks\n", app.plan.checks.len()),
        ),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the state store did not answer within 2s\n".into(),
        ),
    }
}

async fn checks(State(d): State<Arc<Daemon>>) -> Json<Value> {
    let app = d.current();
    let latest = d.latest();
    let now = d.clock.now();
    let checks: Vec<Value> = app
        .plan
        .checks
        .iter()
        .map(|c| {
            let last = latest.get(&c.name);
            json!({
                "name": c.name,
                "description": c.description,
                "kind": c.kind.label(),
                "source": c.source,
                "labels": c.labels,
                "schedule": c.schedule.expr(),
                "timezone": c.schedule.timezone().to_string(),
                "thresholds": report::thresholds(&c.kind),
                "next_run": c.schedule.next_after(now),
                "verdict": last.map(|r| r.outcome.verdict),
                "reason": last.and_then(|r| r.outcome.reason.clone()),
                "observed": last.map(|r| &r.outcome.observed),
                "last_run_at": last.map(|r| r.started_at),
                "last_duration_seconds": last.map(|r| r.duration.as_secs_f64()),
                "consecutive_failures": last.and_then(|r| r.state.as_ref()).map(|s| s.consecutive_failures),
                "last_success_at": last.and_then(|r| r.state.as_ref()).and_then(|s| s.last_success_at),
            })
        })
        .collect();
    Json(json!({ "checks": checks }))
}
