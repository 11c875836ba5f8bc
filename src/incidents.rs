//! Timers around incidents, run by `syncwatch run` after its pass and by the daemon's sweeper:
//! escalate what nobody acknowledged in time, announce each Prog Lead handoff, remind the Prog
//! Lead of retros due; and raising and updating incidents by hand, checked against the plan.

pub mod rules;
pub mod tagging;

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

/// The local hour from which the day's retro reminders go out (in the on-call zone).
pub const REMIND_FROM_HOUR: u32 = 9;

/// Reminds the Prog Lead of each retro due today or overdue, once a day (from 09:00 in the
/// on-call zone) until it is marked done; returns how many were sent here.
pub async fn remind_retros(app: &App, now: DateTime<Utc>) -> usize {
    use chrono::Timelike;
    let settings = &app.plan.settings;
    let zone = settings.oncall_zone();
    let local = now.with_timezone(&zone);
    if local.hour() < REMIND_FROM_HOUR {
        return 0;
    }
    let today = local.format("%Y-%m-%d").to_string();
    let due = match app.store.retros_to_remind(&today).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for retros to remind");
            return 0;
        }
    };
    let rules = &settings.incidents;
    let route = rules
        .retros
        .remind
        .as_ref()
        .or(rules.handoff_notice.as_ref())
        .or(rules.first_route.as_ref());
    let mut sent = 0;
    for inc in due {
        let open = app
            .store
            .actions(true, Some(inc.id))
            .await
            .unwrap_or_default();
        let text = crate::notify::incident::retro_reminder(&inc, &today, &open, settings);
        match crate::respond::change::remind_retro(
            &app.store, &inc, &today, route, &text, settings, now,
        )
        .await
        {
            Ok(true) => sent += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(incident = inc.id, error = %e, "cannot record the retro reminder")
            }
        }
    }
    sent
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
    silences.extend(crate::silence::current(
        &settings.silences,
        &settings.maintenance,
        now,
    ));
    let actions = app.store.actions(true, None).await.unwrap_or_default();
    let text =
        crate::notify::incident::handoff_text(&member, rot.at(at), &open, &silences, &actions);
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

/// A raised incident as a person asks for it (CLI, API, Slack), before it is checked.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseRequest {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub partner: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
    /// Call an incident channel.
    #[serde(default)]
    pub call: bool,
}

pub const SEVERITIES: [&str; 3] = ["critical", "error", "warning"];

/// Checks a request against the configuration and says where it pages: the route
/// `incidents.raised_route`, else the named check's page route, else the first route.
pub fn raise_plan<'a>(
    plan: &crate::config::Plan,
    req: &'a RaiseRequest,
    by: &'a str,
) -> Result<crate::respond::change::Raise<'a>, String> {
    let title = req.title.trim();
    if title.is_empty() {
        return Err("a raised incident needs a title".into());
    }
    if title.chars().count() > 1024 {
        return Err("the title is longer than 1024 characters".into());
    }
    let named = [&req.check, &req.source, &req.partner]
        .iter()
        .filter(|x| x.is_some())
        .count();
    if named > 1 {
        return Err("name at most one of check, source and partner".into());
    }
    let severity = req.severity.as_deref().unwrap_or("error");
    if !SEVERITIES.contains(&severity) {
        return Err(format!(
            "severity \"{severity}\" is not one of critical, error, warning"
        ));
    }
    let mut source = req.source.clone();
    let mut check_route = None;
    let mut critical_check = false;
    let subject = if let Some(name) = &req.check {
        let Some(c) = plan.checks.iter().find(|c| &c.name == name) else {
            return Err(format!("no check \"{name}\" (`syncwatch plan` lists them)"));
        };
        source = c.source.clone();
        check_route = c.on_failure.as_ref().and_then(|o| o.page.clone());
        critical_check = crate::notify::incident::critical(c);
        Some(name.clone())
    } else if let Some(s) = &req.source {
        if !plan.settings.sources.contains_key(s) {
            return Err(format!("no source \"{s}\" in the settings"));
        }
        Some(format!("source:{s}"))
    } else {
        req.partner.as_ref().map(|p| format!("partner:{p}"))
    };
    let rules = &plan.settings.incidents;
    let route = rules
        .raised_route
        .clone()
        .or(check_route)
        .or_else(|| rules.first_route.clone());
    Ok(crate::respond::change::Raise {
        title,
        description: req
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty()),
        subject,
        source,
        severity,
        by,
        route,
        call: req.call || critical_check,
    })
}

/// The route an incident's updates go to: its check's `notify` route (else its `page` route),
/// else the route it was paged on.
pub fn update_route(
    plan: &crate::config::Plan,
    inc: &crate::store::incidents::Incident,
) -> Vec<String> {
    let route = plan
        .checks
        .iter()
        .find(|c| c.name == inc.check)
        .and_then(|c| c.on_failure.as_ref())
        .and_then(|o| o.notify.clone().or_else(|| o.page.clone()))
        .or_else(|| inc.route.clone());
    route
        .and_then(|r| plan.settings.routes.get(&r))
        .cloned()
        .unwrap_or_default()
}

/// An update as a person writes it, checked: a known status and a message.
pub fn new_update(
    incident: i64,
    status: &str,
    message: &str,
    public: bool,
    by: Option<String>,
    now: DateTime<Utc>,
) -> Result<crate::store::incidents::IncidentUpdate, String> {
    use crate::notify::incident::UPDATE_STATUSES;
    if !UPDATE_STATUSES.contains(&status) {
        return Err(format!(
            "status \"{status}\" is not one of {}",
            UPDATE_STATUSES.join(", ")
        ));
    }
    let message = message.trim();
    if message.is_empty() {
        return Err("an update needs a message".into());
    }
    if message.chars().count() > 5000 {
        return Err("the message is longer than 5000 characters".into());
    }
    Ok(crate::store::incidents::IncidentUpdate {
        incident,
        at: now,
        status: status.to_string(),
        message: message.to_string(),
        public,
        by,
    })
}
