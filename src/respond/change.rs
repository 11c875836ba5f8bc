//! Changes made to incidents by people (ack, resolve) and timers (escalation, the handoff
//! notice): each in one store transaction with its timeline event and its messages.

use crate::config::Settings;
use crate::store::incidents::{Change, Changed};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

/// Acknowledges, resolves or escalates incident `id`, once: the store changes the row only if
/// the change still applies, so two replicas (or a person and a timer) never do it twice.
pub async fn change_incident(
    store: &Store,
    id: i64,
    change: Change<'_>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Changed, StoreError> {
    let (kind, by) = match change {
        Change::Ack { by } => ("ack", by),
        Change::Resolve { by, .. } => ("resolve", by),
        Change::Escalate => ("escalate", "syncwatch"),
    };
    let mut tx = store.begin().await?;
    let inc = match tx.change_incident(id, change, now).await? {
        None => return Ok(Changed::NotFound),
        Some((false, inc)) => return Ok(Changed::Already(inc)),
        Some((true, inc)) => inc,
    };
    let told = tx.told(&inc.dedup_key).await?;
    let (detail, envelopes) = crate::notify::incident::change(&inc, change, &told, settings, now);
    tx.add_event(now, &inc.check, kind, Some(by), &detail)
        .await?;
    super::enqueue(&mut tx, now, &inc.check, &envelopes).await?;
    if let Change::Resolve { .. } = change {
        // The check starts a new episode: a later failure pages afresh.
        let state = super::load_state(&mut tx, &inc.check).await?;
        if state
            .incident
            .as_ref()
            .is_some_and(|i| i.key == inc.dedup_key)
        {
            super::save_state(&mut tx, &inc.check, &crate::policy::reset(&state), now).await?;
        }
    }
    tx.commit().await?;
    Ok(Changed::Done(inc))
}

/// Records the handoff at `at` and queues its notice, unless it was announced already.
pub async fn announce_handoff(
    store: &Store,
    at: DateTime<Utc>,
    member: &str,
    route: &str,
    text: &str,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let envelopes = crate::notify::incident::handoff(route, at, text, settings);
    let mut tx = store.begin().await?;
    let fresh = tx.add_handoff(at, member).await?;
    if fresh {
        super::enqueue(&mut tx, now, "(handoff)", &envelopes).await?;
    }
    tx.commit().await?;
    Ok(fresh)
}
