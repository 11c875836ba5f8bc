//! The dispatcher: claims due outbox messages, delivers them, and records the result —
//! retrying with exponential backoff and jitter, honouring Retry-After, giving up on refusals.

use super::deliver::{deliver, job};
use super::http::Delivery;
use super::job::Job;
use crate::app::App;
use crate::metrics::Metrics;
use crate::store::{failpoint, OutboxItem};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// What one drain did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drained {
    pub delivered: usize,
    pub retried: usize,
    pub gave_up: usize,
    /// Messages still waiting when the drain ended.
    pub pending: i64,
}

/// Delay before attempt `attempts + 1`: 2 s doubling to at most 5 min, plus up to 1 s of jitter.
pub fn backoff(attempts: i64, id: i64) -> Duration {
    let base = 2u64.saturating_mul(1u64 << attempts.clamp(0, 16)).min(300);
    Duration::from_secs(base)
        + Duration::from_millis((id as u64).wrapping_mul(2_654_435_761) % 1000)
}

/// Delivers what is due until nothing is left or `deadline` passes; messages that must wait
/// for a retry past the deadline stay in the outbox for the next drain.
pub async fn drain(app: &App, metrics: Option<&Metrics>, deadline: DateTime<Utc>) -> Drained {
    let mut done = Drained::default();
    loop {
        let now = app.clock.now();
        if now >= deadline {
            break;
        }
        let lease = chrono::Duration::from_std(app.plan.settings.outbox_lease).unwrap_or_default();
        let items = match app.store.outbox_claim(now, now + lease, 20).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot claim messages");
                break;
            }
        };
        if items.is_empty() {
            match app.store.outbox_backlog().await {
                Ok((0, _)) | Err(_) => break,
                // Something waits for a retry: look again shortly, within the deadline.
                Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
            continue;
        }
        for item in items {
            one(app, metrics, &item, &mut done).await;
        }
    }
    done.pending = app
        .store
        .outbox_backlog()
        .await
        .map(|(n, _)| n)
        .unwrap_or(-1);
    if let (Some(m), Ok((open, unacked))) = (metrics, app.store.incident_counts().await) {
        m.incidents(open, unacked);
    }
    if let (Some(m), Ok((n, oldest))) = (metrics, app.store.outbox_backlog().await) {
        m.outbox(
            n,
            oldest.map(|t| (app.clock.now() - t).num_milliseconds() as f64 / 1000.0),
        );
    }
    done
}

async fn one(app: &App, metrics: Option<&Metrics>, item: &OutboxItem, done: &mut Drained) {
    let job = job(app, item);
    let result = match &job {
        Ok(job) => deliver(app, item, job).await,
        Err(e) => Delivery::GiveUp(e.clone()),
    };
    let job = job.ok();
    let now = app.clock.now();
    let (kind, stored) = match &result {
        Delivery::Delivered => {
            failpoint("before_mark_delivered");
            done.delivered += 1;
            tracing::info!(check = %item.check, notifier = %item.notifier, event = %item.event, key = %item.dedup_key, "delivered");
            ("delivered", app.store.outbox_delivered(item.id, now).await)
        }
        Delivery::Retry { after, error } => {
            done.retried += 1;
            let wait = after.unwrap_or_else(|| backoff(item.attempts, item.id));
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::warn!(check = %item.check, notifier = %item.notifier, event = %item.event, error = %error, retry_in = ?wait, "delivery failed; will retry");
            ("retried", app.store.outbox_retry(item.id, at, error).await)
        }
        Delivery::GiveUp(error) => {
            done.gave_up += 1;
            tracing::error!(check = %item.check, notifier = %item.notifier, event = %item.event, error = %error, "delivery refused; giving up");
            (
                "failed",
                app.store.outbox_give_up(item.id, now, error).await,
            )
        }
    };
    if let Err(e) = stored {
        tracing::error!(check = %item.check, error = %e, "outbox: cannot record the delivery result");
    }
    if let Some((kind, detail)) = timeline_line(item, job.as_ref(), &result) {
        if let Err(e) = app
            .store
            .add_event(now, &item.check, kind, Some(&item.notifier), &detail)
            .await
        {
            tracing::warn!(check = %item.check, error = %e, "cannot add the delivery to the timeline");
        }
    }
    if let Some(m) = metrics {
        m.delivery(item, job.as_ref().and_then(Job::restart_action), kind);
    }
}

/// What a delivery adds to the check's timeline (retries are left out: only outcomes).
fn timeline_line(
    item: &OutboxItem,
    job: Option<&Job>,
    result: &Delivery,
) -> Option<(&'static str, String)> {
    let what = match item.event.as_str() {
        "restart" => "restart",
        "change" | "notify" | "handoff" => return None,
        e => e,
    };
    match (result, what) {
        (Delivery::Delivered, "restart") => Some((
            "restart_done",
            format!(
                "restart of {} done",
                match job {
                    Some(Job::Restart {
                        target: Some(t), ..
                    }) => t.as_str(),
                    _ => "the sync",
                }
            ),
        )),
        (Delivery::Delivered, _) => Some((
            "delivered",
            format!("{what} delivered to {}", item.notifier),
        )),
        (Delivery::GiveUp(e), "restart") => Some(("restart_done", format!("restart failed: {e}"))),
        (Delivery::GiveUp(e), _) => Some((
            "delivered",
            format!("{what} to {} given up: {e}", item.notifier),
        )),
        (Delivery::Retry { .. }, _) => None,
    }
}
