//! Changes made to incidents by people (ack, resolve) and timers (escalation, the handoff
//! notice): each in one store transaction with its timeline event and its messages.

use crate::config::Settings;
use crate::store::incidents::{Change, Changed, IncidentUpdate};
use crate::store::{Store, StoreError, Tx};
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
    change_incident_via(store, id, change, Via::Syncwatch, settings, now).await
}

/// Where a person made a change: the vendor it came from is not told about it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The CLI, the API, a timer.
    Syncwatch,
    /// A PagerDuty webhook: PagerDuty knows already; echoing the ack back would be noise.
    PagerDuty,
    Slack,
}

/// `change_incident`, made from `via`.
pub async fn change_incident_via(
    store: &Store,
    id: i64,
    change: Change<'_>,
    via: Via,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Changed, StoreError> {
    let mut tx = store.begin().await?;
    let changed = apply(&mut tx, id, change, via, &[], settings, now).await?;
    if let Changed::Done(_) = changed {
        tx.commit().await?;
    }
    Ok(changed)
}

/// Applies a change in `tx`: the row, its timeline line, its messages (to every notifier told
/// about the incident, except the vendor it came from and `skip`), and for a resolve a new
/// episode for the check.
async fn apply(
    tx: &mut Tx,
    id: i64,
    change: Change<'_>,
    via: Via,
    skip: &[String],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Changed, StoreError> {
    let (kind, by) = match change {
        Change::Ack { by } => ("ack", by),
        Change::Resolve { by, .. } => ("resolve", by),
        Change::Escalate => ("escalate", "syncwatch"),
    };
    let inc = match tx.change_incident(id, change, now).await? {
        None => return Ok(Changed::NotFound),
        Some((false, inc)) => return Ok(Changed::Already(inc)),
        Some((true, inc)) => inc,
    };
    let mut told = tx.told(&inc.dedup_key).await?;
    told.retain(|n| !skip.contains(n));
    if via == Via::PagerDuty {
        told.retain(|n| {
            !matches!(
                settings.notifiers.get(n).map(|n| &n.kind),
                Some(crate::notify::notifier::NotifierKind::PagerDuty { .. })
            )
        });
    }
    let (detail, envelopes) = crate::notify::incident::change(&inc, change, &told, settings, now);
    tx.add_event(now, &inc.check, kind, Some(by), &detail)
        .await?;
    super::enqueue(tx, now, &inc.check, &envelopes).await?;
    if let Change::Resolve { .. } = change {
        schedule_retro(tx, &inc, settings, now).await?;
        // The check starts a new episode: a later failure pages afresh.
        let state = super::load_state(tx, &inc.check).await?;
        if state
            .incident
            .as_ref()
            .is_some_and(|i| i.key == inc.dedup_key)
        {
            super::save_state(tx, &inc.check, &crate::policy::reset(&state), now).await?;
        }
    }
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

/// An update the Prog Lead posts on incident `id`: kept (with its timeline line), and sent to
/// the incident's channel, `route`'s Slack and webhook notifiers and, when public, to the
/// status page. `resolved` also resolves the incident, with the message as its note.
pub async fn post_update(
    store: &Store,
    id: i64,
    update: &IncidentUpdate,
    route: &[String],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Changed, StoreError> {
    let mut tx = store.begin().await?;
    let Some(inc) = tx.incident(id).await? else {
        return Ok(Changed::NotFound);
    };
    if inc.resolved_at.is_some() {
        return Ok(Changed::Already(inc));
    }
    tx.add_update(update).await?;
    let by = update.by.as_deref().unwrap_or("api");
    let detail = format!(
        "{}update ({}): {}",
        if update.public { "public " } else { "" },
        update.status,
        update.message
    );
    tx.add_event(now, &inc.check, "update", Some(by), &detail)
        .await?;
    // The route, and every notifier the page reached (the status page among them).
    let mut names = route.to_vec();
    for n in tx.told(&inc.dedup_key).await? {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let mut envelopes = crate::notify::incident::update(&inc, update, &names, settings);
    if update.status != "resolved" {
        super::enqueue(&mut tx, now, &inc.check, &envelopes).await?;
        tx.commit().await?;
        return Ok(Changed::Done(inc));
    }
    // Resolved: partners read the update itself; everyone else hears the resolve.
    envelopes.retain(|e| {
        matches!(
            settings.notifiers.get(&e.notifier).map(|n| &n.kind),
            Some(crate::notify::notifier::NotifierKind::Statuspage(_))
        )
    });
    super::enqueue(&mut tx, now, &inc.check, &envelopes).await?;
    let skip: Vec<String> = envelopes.into_iter().map(|e| e.notifier).collect();
    let change = Change::Resolve {
        by,
        note: &update.message,
    };
    let changed = apply(&mut tx, id, change, Via::Syncwatch, &skip, settings, now).await?;
    tx.commit().await?;
    Ok(changed)
}

/// A problem a user reports: an incident with the lifecycle of a paged one.
pub struct Raise<'a> {
    pub title: &'a str,
    pub description: Option<&'a str>,
    /// The check, source or partner it concerns, as the incident's subject (`source:NAME`,
    /// `partner:NAME`; a check by its name), if any.
    pub subject: Option<String>,
    pub source: Option<String>,
    /// critical, error or warning.
    pub severity: &'a str,
    pub by: &'a str,
    /// The route that pages (already resolved by the caller); `None`: nobody is paged.
    pub route: Option<String>,
    /// Call an incident channel (also done for severity `critical`).
    pub call: bool,
}

/// Opens a raised incident, pages `route` and calls a channel when asked: one transaction.
/// Returns the incident and the notifiers paged.
pub async fn raise(
    store: &Store,
    r: &Raise<'_>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(crate::store::incidents::Incident, Vec<String>), StoreError> {
    use crate::notify::incident as ni;
    let stamp = now.timestamp_nanos_opt().unwrap_or_default();
    let key = format!("{}{stamp:x}", crate::store::incidents::RAISED_PREFIX);
    let check = r
        .subject
        .clone()
        .unwrap_or_else(|| format!("raised:{stamp:x}"));
    let lead = crate::notify::context::prog_lead(settings, now).map(|m| m.name);
    let mut inc = crate::store::incidents::Incident {
        id: 0,
        dedup_key: key.clone(),
        check: check.clone(),
        source: r.source.clone(),
        severity: r.severity.to_string(),
        summary: match r.description {
            Some(d) => format!("{}: {d}", r.title),
            None => r.title.to_string(),
        },
        since: now,
        opened_at: now,
        prog_lead: lead.clone(),
        route: r.route.clone(),
        retro_required: r.severity == "critical",
        ..Default::default()
    };
    let mut tx = store.begin().await?;
    tx.open_incident(&inc).await?;
    inc = tx.incident_by_key(&key).await?.unwrap_or(inc);
    tx.add_event(
        now,
        &check,
        "raised",
        Some(r.by),
        &format!("raised by {}: {}", r.by, inc.summary),
    )
    .await?;
    let mut call_name = None;
    if let (true, Some(rules)) = (r.call || r.severity == "critical", &settings.incidents.call) {
        let name = ni::call_name(&rules.prefix, &check, now);
        tx.add_call(&name, r.source.as_deref(), now).await?;
        tx.set_call(inc.id, &name).await?;
        inc.call = Some(name.clone());
        let envelopes = ni::call(
            &name,
            std::slice::from_ref(&check),
            &inc.summary,
            &key,
            false,
            settings,
            now,
        );
        super::enqueue(
            &mut tx,
            now,
            &check,
            &envelopes.into_iter().collect::<Vec<_>>(),
        )
        .await?;
        tx.add_event(
            now,
            &check,
            "call",
            Some("syncwatch"),
            &format!("incident called: #{name}"),
        )
        .await?;
        call_name = Some(name);
    }
    let members: Vec<String> = r
        .route
        .as_ref()
        .and_then(|rt| settings.routes.get(rt))
        .cloned()
        .unwrap_or_default();
    let raised = ni::Raised {
        title: r.title,
        description: r.description,
        by: r.by,
        call: call_name.as_deref(),
    };
    let envelopes = ni::raised(&inc, &raised, &members, settings, now);
    let paged: Vec<String> = envelopes.iter().map(|e| e.notifier.clone()).collect();
    let detail = match (&r.route, paged.is_empty()) {
        (Some(rt), false) => format!(
            "paged {rt}{}",
            lead.map(|l| format!("; Prog Lead {l}")).unwrap_or_default()
        ),
        _ => "nobody paged: no route (set incidents.raised_route or routes:)".to_string(),
    };
    tx.add_event(now, &check, "page", Some("syncwatch"), &detail)
        .await?;
    super::enqueue(&mut tx, now, &check, &envelopes).await?;
    tx.commit().await?;
    Ok((inc, paged))
}

/// Gives a resolved incident its retro due date when it needs one: a critical check or report,
/// a called incident, or one open longer than `retros.required_after`. The date is
/// `retros.due_within` business days (Monday to Friday) after the resolve, in the on-call zone.
pub(crate) async fn schedule_retro(
    tx: &mut Tx,
    inc: &crate::store::incidents::Incident,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rules = &settings.incidents.retros;
    let resolved = inc.resolved_at.unwrap_or(now);
    let lasted = (resolved - inc.opened_at).to_std().unwrap_or_default();
    let why = if inc.retro_required {
        "critical".to_string()
    } else if inc.call.is_some() {
        "an incident was called".to_string()
    } else if lasted > rules.required_after {
        format!(
            "open {}, over {}",
            crate::duration::human(lasted.as_secs_f64()),
            crate::duration::human(rules.required_after.as_secs_f64())
        )
    } else {
        return Ok(());
    };
    let zone = settings.oncall_zone();
    let due = crate::incidents::rules::business_days_after(
        resolved.with_timezone(&zone).date_naive(),
        rules.due_within_days,
    );
    let due = due.format("%Y-%m-%d").to_string();
    if tx.schedule_retro(inc.id, &due).await? {
        tx.add_event(
            now,
            &inc.check,
            "retro",
            Some("syncwatch"),
            &format!("retro due by {due} ({why})"),
        )
        .await?;
    }
    Ok(())
}

/// Records today's reminder of incident `inc`'s retro and queues it to `route`'s Slack and
/// webhook notifiers, unless it went out today already (whichever replica sent it).
pub async fn remind_retro(
    store: &Store,
    inc: &crate::store::incidents::Incident,
    today: &str,
    route: Option<&String>,
    text: &str,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    if !tx.claim_retro_reminder(inc.id, today).await? {
        return Ok(false);
    }
    let envelopes = crate::notify::incident::reminder_envelopes(inc, route, text, today, settings);
    tx.add_event(
        now,
        &inc.check,
        "retro",
        Some("syncwatch"),
        "retro reminder sent",
    )
    .await?;
    super::enqueue(&mut tx, now, &inc.check, &envelopes).await?;
    tx.commit().await?;
    Ok(true)
}
