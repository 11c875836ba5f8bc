//! What every message may mention, shared by the routing (`message`, `incident`) and the
//! vendor modules: the run's context, the details and links each vendor carries, and who is
//! on call. Pure.

use crate::check::Check;
use crate::config::Settings;
use crate::oncall::Member;
use crate::policy::PolicyState;
use crate::verdict::{Observed, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Everything a message may mention.
pub struct Context<'a> {
    pub check: &'a Check,
    pub outcome: &'a Outcome,
    /// The state after the decision.
    pub state: &'a PolicyState,
    pub settings: &'a Settings,
    pub now: DateTime<Utc>,
    /// The Prog Lead at `now`, named (and @-mentioned in Slack) in pages.
    pub prog_lead: Option<crate::oncall::Member>,
    /// The called incident's channel name, linked from the page.
    pub call: Option<String>,
    /// For a resolve: every notifier told about the incident (escalations included).
    pub told: Vec<String>,
    /// For a page: who else it tags in, and why.
    pub tagged: Vec<(crate::oncall::Member, crate::store::incidents::Tag)>,
}

/// The check's restart target, as `kind:name`.
pub(crate) fn target(ctx: &Context<'_>) -> Option<String> {
    ctx.check
        .on_failure
        .as_ref()?
        .restart
        .as_ref()
        .map(|r| r.action.target())
}

/// The details every vendor carries (PagerDuty custom_details, the webhook's `details`).
pub(crate) fn details(ctx: &Context<'_>) -> Value {
    let c = ctx.check;
    let age = match ctx.outcome.observed {
        Observed::Age { age_seconds, .. } => Some(age_seconds),
        _ => None,
    };
    json!({
        "check": c.name,
        "description": c.description,
        "source": c.source,
        "kind": c.kind.label(),
        "verdict": ctx.outcome.verdict,
        "reason": ctx.outcome.reason,
        "age_seconds": age,
        "thresholds": c.kind.thresholds(),
        "failing_since": ctx.state.since,
        "restarted_at": ctx.state.restarted_at,
        "restart_target": target(ctx),
        "labels": c.labels,
        "prog_lead": ctx.prog_lead.as_ref().map(|m| &m.name),
        "incident_channel": ctx.call,
        "tagged": ctx.tagged.iter().map(|(_, t)| t).collect::<Vec<_>>(),
    })
}

/// Runbook and dashboard links.
pub(crate) fn links(ctx: &Context<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(r) = &ctx.check.runbook {
        out.push(json!({ "href": r, "text": "Runbook" }));
    }
    if let Some(d) = &ctx.settings.dashboard_url {
        out.push(json!({ "href": d, "text": "Dashboard" }));
    }
    out
}

/// The Prog Lead at `now`, if a rotation is configured.
pub fn prog_lead(settings: &Settings, now: DateTime<Utc>) -> Option<Member> {
    Some(settings.oncall.as_ref()?.at(now)?.prog_lead)
}

/// `<@U123>` for a member with a Slack id, else their name.
pub fn mention(m: &Member) -> String {
    match &m.slack {
        Some(id) => format!("<@{id}>"),
        None => m.name.clone(),
    }
}

/// The secondary on-call at `now` (everyone but the Prog Lead, unless listed).
pub fn secondary(settings: &Settings, now: DateTime<Utc>) -> Vec<Member> {
    settings
        .oncall
        .as_ref()
        .and_then(|r| r.at(now))
        .map(|o| o.secondary)
        .unwrap_or_default()
}

/// At most `max` characters, ending in `…` when cut (vendors cap their fields; partner text can
/// be long).
pub fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
