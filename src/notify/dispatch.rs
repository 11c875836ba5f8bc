//! The dispatcher: claims due outbox messages, delivers them, and records the result —
//! retrying with exponential backoff and jitter, honouring Retry-After, giving up on refusals.

use super::deliver::{deliver, job};
use super::http::Delivery;
use super::job::Job;
use crate::app::App;
use crate::metrics::Metrics;
use crate::store::{failpoint, Claimant, OutboxItem};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

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

/// Deliveries in flight at once, in all and per notifier: one slow or hanging receiver holds
/// at most `PER_NOTIFIER` slots, never the others' messages.
const IN_FLIGHT: usize = 8;
const PER_NOTIFIER: usize = 4;

/// Delivers what is due until nothing is left or `deadline` passes, several at a time. Each
/// message is claimed just before its delivery (so a slow receiver never outlives the lease of
/// messages still waiting), and its result is recorded only while this dispatcher still holds
/// the claim. At the deadline, deliveries in flight are cancelled and their claims released:
/// the next drain sends them again. Messages waiting for a retry past the deadline stay.
///
/// Each delivery is its own task, which delivers and then records its result: none waits for
/// the loop to poll it, so none can sit on a store connection (or SQLite's write lock) while
/// the loop waits on the store.
pub async fn drain(app: &Arc<App>, metrics: Option<&Metrics>, deadline: DateTime<Utc>) -> Drained {
    let mut done = Drained::default();
    write_unwritten_marks(app).await;
    recover_predecessors(app).await;
    let mut flying: JoinSet<Finished> = JoinSet::new();
    let mut busy: HashMap<String, usize> = HashMap::new();
    let until =
        tokio::time::Instant::now() + (deadline - app.clock.now()).to_std().unwrap_or_default();
    loop {
        let now = app.clock.now();
        let Ok(left) = (deadline - now).to_std() else {
            break;
        };
        if left.is_zero() {
            break;
        }
        // Claimed one at a time, so the per-notifier cap holds within one fill too.
        while flying.len() < IN_FLIGHT {
            let skip: Vec<String> = busy
                .iter()
                .filter(|(_, n)| **n >= PER_NOTIFIER)
                .map(|(k, _)| k.clone())
                .collect();
            let lease =
                chrono::Duration::from_std(app.plan.settings.outbox_lease).unwrap_or_default();
            let who = Claimant {
                owner: &app.owner,
                skip: &skip,
            };
            match app.store.outbox_claim(&who, now, now + lease, 1).await {
                Ok(items) if items.is_empty() => break,
                Ok(items) => {
                    for item in items {
                        if unwritten(item.id) {
                            // Delivered already; only its mark waits for the store.
                            let _ = app.store.outbox_release(item.id, &app.owner).await;
                            continue;
                        }
                        *busy.entry(item.notifier.clone()).or_default() += 1;
                        flying.spawn(attempt(Arc::clone(app), item, until));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox: cannot claim messages");
                    break;
                }
            }
        }
        if flying.is_empty() {
            match app.store.outbox_backlog().await {
                Ok((0, _)) | Err(_) => break,
                // Something waits for a retry, or for an earlier message to the same receiver.
                Ok(_) => {
                    tokio::time::sleep(left.min(Duration::from_millis(250))).await;
                    continue;
                }
            }
        }
        // One delivery ends, or a moment passes (to claim what came due), or the deadline.
        tokio::select! {
            Some(joined) = flying.join_next() => {
                if let Ok(f) = joined {
                    if let Some(n) = busy.get_mut(&f.item.notifier) {
                        *n = n.saturating_sub(1);
                    }
                    f.tell(metrics, &mut done);
                }
            }
            _ = tokio::time::sleep(left.min(Duration::from_millis(250))) => {}
        }
    }
    // Deliveries still in flight end at the deadline (released) or record their result.
    while let Some(joined) = flying.join_next().await {
        if let Ok(f) = joined {
            f.tell(metrics, &mut done);
        }
    }
    let backlog = app.store.outbox_backlog().await;
    done.pending = backlog.as_ref().map(|(n, _)| *n).unwrap_or(-1);
    if let (Some(m), Ok((open, unacked))) = (metrics, app.store.incident_counts().await) {
        m.incidents(open, unacked);
    }
    if let Some(m) = metrics {
        let zone = app.plan.settings.oncall_zone();
        let today = app
            .clock
            .now()
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string();
        if m.slo_due() {
            let now = app.clock.now();
            for c in app.plan.checks.iter().filter(|c| c.slo.is_some()) {
                let slo = c.slo.expect("filtered");
                let from = now - chrono::Duration::from_std(slo.window).unwrap_or_default();
                if let Ok(runs) = app.store.slo_runs(&c.name, from, now).await {
                    m.slo(
                        &c.name,
                        &crate::slo::compute(&runs, &c.schedule, from, now, slo.objective),
                    );
                }
            }
        }
        // What changes by the day or by the incident: once a minute, not every dispatch cycle.
        if m.history_due() {
            if let Ok((overdue, open)) = app.store.followthrough_counts(&today).await {
                m.followthrough(overdue, open);
            }
            if let Ok(all) = app.store.incidents_since(DateTime::UNIX_EPOCH).await {
                m.incident_history(&all, zone);
            }
        }
    }
    if let (Some(m), Ok((n, oldest))) = (metrics, backlog) {
        m.outbox(
            n,
            oldest.map(|t| (app.clock.now() - t).num_milliseconds() as f64 / 1000.0),
        );
    }
    done
}

/// Delivered marks the store refused (a full disk): (outbox id, when delivered). A message
/// whose mark is here was sent; it is never sent again by this process, and every drain first
/// tries to write the marks. Only a restart while the store still refuses writes loses them.
static UNWRITTEN: std::sync::Mutex<Vec<(i64, DateTime<Utc>)>> = std::sync::Mutex::new(Vec::new());

fn unwritten(id: i64) -> bool {
    UNWRITTEN
        .lock()
        .map(|u| u.iter().any(|(i, _)| *i == id))
        .unwrap_or(false)
}

fn keep_unwritten(id: i64, at: DateTime<Utc>) {
    if let Ok(mut u) = UNWRITTEN.lock() {
        if !u.iter().any(|(i, _)| *i == id) {
            u.push((id, at));
        }
    }
}

async fn write_unwritten_marks(app: &App) {
    let pending: Vec<(i64, DateTime<Utc>)> =
        UNWRITTEN.lock().map(|u| u.clone()).unwrap_or_default();
    for (id, at) in pending {
        match app.store.outbox_mark_delivered(id, at).await {
            Ok(()) => {
                if let Ok(mut u) = UNWRITTEN.lock() {
                    u.retain(|(i, _)| *i != id);
                }
                tracing::info!(id, "outbox: wrote a delivered mark the store had refused");
            }
            Err(_) => return, // still refused: try again next drain
        }
    }
}

/// Releases the claims of this host's dispatchers that are gone (a process killed mid-drain
/// and started again), so their messages go out now instead of when the lease ends.
async fn recover_predecessors(app: &App) {
    let mut parts = app.owner.splitn(3, '/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return;
    };
    let Ok(owners) = app
        .store
        .outbox_claimants(&format!("{host}/"), app.clock.now())
        .await
    else {
        return;
    };
    for other in owners.into_iter().filter(|o| *o != app.owner) {
        let their_pid = other.split('/').nth(1).unwrap_or_default();
        if their_pid == pid || !alive(their_pid) {
            match app.store.outbox_release_owner(&other).await {
                Ok(n) if n > 0 => {
                    tracing::warn!(owner = %other, messages = n, "outbox: taking over the claims of a dispatcher that is gone")
                }
                _ => {}
            }
        }
    }
}

/// Whether a process with this pid runs on this host.
fn alive(pid: &str) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = pid.parse::<i32>() else {
            return true;
        };
        // SAFETY: signal 0 only checks that the process exists; no signal is sent.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// How one claimed message ended in a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retried,
    GaveUp,
    /// Still in flight at the deadline: its claim was released for the next drain.
    Cancelled,
}

impl Drained {
    fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::GaveUp => self.gave_up += 1,
            Outcome::Cancelled => {}
        }
    }
}

/// What one delivery task did, for the drain's counts and the metrics.
struct Finished {
    item: OutboxItem,
    outcome: Outcome,
    /// `delivered`, `retried` or `failed`, for the metrics (none if cancelled).
    kind: Option<&'static str>,
    restart_action: Option<String>,
    lost_claim: bool,
}

impl Finished {
    fn tell(self, metrics: Option<&Metrics>, done: &mut Drained) {
        done.count(self.outcome);
        if let (Some(m), Some(kind)) = (metrics, self.kind) {
            m.delivery(&self.item, self.restart_action.as_deref(), kind);
            if self.lost_claim {
                m.lost_claim();
            }
        }
    }
}

/// Reads and delivers one claimed message (cut off at `until`), then records the result.
async fn attempt(app: Arc<App>, item: OutboxItem, until: tokio::time::Instant) -> Finished {
    let (job, result) = match job(&app, &item) {
        Ok(job) => match tokio::time::timeout_at(until, deliver(&app, &item, &job)).await {
            Ok(result) => (Some(job), result),
            Err(_) => {
                // Give the claim back so nothing waits for a lease to end.
                if let Err(e) = app.store.outbox_release(item.id, &app.owner).await {
                    tracing::warn!(error = %e, "outbox: cannot release a claim; it frees itself after outbox_lease");
                }
                return Finished {
                    item,
                    outcome: Outcome::Cancelled,
                    kind: None,
                    restart_action: None,
                    lost_claim: false,
                };
            }
        },
        Err(e) => (None, Delivery::GiveUp(e)),
    };
    let (outcome, kind, lost_claim) = record(&app, &item, job.as_ref(), result).await;
    Finished {
        restart_action: job.as_ref().and_then(Job::restart_action).map(String::from),
        item,
        outcome,
        kind: Some(kind),
        lost_claim,
    }
}

/// Records a delivery's result, if this dispatcher still holds the claim: (outcome, metric
/// kind, whether the claim was lost).
async fn record(
    app: &App,
    item: &OutboxItem,
    job: Option<&Job>,
    result: Delivery,
) -> (Outcome, &'static str, bool) {
    let now = app.clock.now();
    let owner = app.owner.as_str();
    let (kind, stored) = match &result {
        Delivery::Delivered => {
            failpoint("before_mark_delivered");
            tracing::info!(check = %item.check, notifier = %item.notifier, event = %item.event, key = %item.dedup_key, "delivered");
            (
                "delivered",
                app.store.outbox_delivered(item.id, owner, now).await,
            )
        }
        Delivery::Retry { after, error } => {
            let wait = after.unwrap_or_else(|| backoff(item.attempts, item.id));
            let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::warn!(check = %item.check, notifier = %item.notifier, event = %item.event, error = %error, retry_in = ?wait, "delivery failed; will retry");
            (
                "retried",
                app.store.outbox_retry(item.id, owner, at, error).await,
            )
        }
        Delivery::GiveUp(error) => {
            tracing::error!(check = %item.check, notifier = %item.notifier, event = %item.event, error = %error, "delivery refused; giving up");
            (
                "failed",
                app.store.outbox_give_up(item.id, owner, now, error).await,
            )
        }
    };
    let lost = matches!(stored, Ok(false));
    match stored {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(check = %item.check, notifier = %item.notifier, "outbox: the claim ran out before the result was recorded; another dispatcher has the message");
        }
        Err(e) => {
            if matches!(result, Delivery::Delivered) {
                keep_unwritten(item.id, now);
                tracing::error!(check = %item.check, error = %e, "outbox: delivered, but the store refused the mark; kept in memory and written when it can be");
            } else {
                tracing::error!(check = %item.check, error = %e, "outbox: cannot record the delivery result")
            }
        }
    }
    if let Some((kind, detail)) = timeline_line(item, job, &result) {
        if let Err(e) = app
            .store
            .add_event(now, &item.check, kind, Some(&item.notifier), &detail)
            .await
        {
            tracing::warn!(check = %item.check, error = %e, "cannot add the delivery to the timeline");
        }
    }
    let outcome = match result {
        Delivery::Delivered => Outcome::Delivered,
        Delivery::Retry { .. } => Outcome::Retried,
        Delivery::GiveUp(_) => Outcome::GaveUp,
    };
    (outcome, kind, lost)
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
