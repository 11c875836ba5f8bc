//! Timers around incidents, run by `syncwatch run` after its pass and by the daemon's sweeper:
//! escalate what nobody acknowledged in time, and announce each Prog Lead handoff.

pub mod rules;

use crate::app::App;
use crate::store::incidents::{Change, Changed};
use chrono::{DateTime, Utc};

/// Escalates every incident past its ack timeout; returns how many were escalated here.
pub async fn escalate_due(app: &App, now: DateTime<Utc>) -> usize {
    let settings = &app.plan.settings;
    let due = match app
        .store
        .due_escalations(now, settings.incidents.ack_timeout)
        .await
    {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for incidents to escalate");
            return 0;
        }
    };
    let mut done = 0;
    for id in due {
        match crate::respond::change::change_incident(
            &app.store,
            id,
            Change::Escalate,
            settings,
            now,
        )
        .await
        {
            Ok(Changed::Done(inc)) => {
                done += 1;
                tracing::warn!(incident = id, check = %inc.check, "not acknowledged in time: escalated to the secondary on-call");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(incident = id, error = %e, "cannot escalate"),
        }
    }
    done
}

/// Tells the handoff route who took over at the latest handoff (within the last hour), with
/// the open incidents and silences; once per handoff.
pub async fn announce_handoff(app: &App, now: DateTime<Utc>) -> bool {
    let settings = &app.plan.settings;
    let (Some(route), Some(rot)) = (&settings.incidents.handoff_notice, &settings.oncall) else {
        return false;
    };
    let Some((at, member)) = rot
        .handoffs(now - chrono::Duration::days(8), 2)
        .into_iter()
        .rfind(|(t, _)| *t <= now)
    else {
        return false;
    };
    // The sweeper asks every few seconds: a cheap look first, before reading what to announce.
    if now - at > chrono::Duration::hours(1)
        || app.store.handoff_announced(at).await.unwrap_or(true)
    {
        return false;
    }
    let open = app.store.incidents(true, 50).await.unwrap_or_default();
    let mut silences = app.store.silences(now).await.unwrap_or_default();
    silences.extend(
        settings
            .silences
            .iter()
            .filter(|s| s.from <= now && now < s.until)
            .cloned(),
    );
    let text = crate::notify::incident::handoff_text(&member, rot.at(at), &open, &silences);
    match crate::respond::change::announce_handoff(
        &app.store,
        at,
        &member.name,
        route,
        &text,
        settings,
        now,
    )
    .await
    {
        Ok(sent) => sent,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the handoff notice");
            false
        }
    }
}
