//! The incident settings: ack timeout, escalation route, calls, the handoff notice, pinch
//! hitting and retros.

use std::time::Duration;

/// What happens to a page after it is sent: acknowledgement, escalation, calling an incident.
#[derive(Debug, Clone)]
pub struct IncidentRules {
    /// Escalate to the secondary on-call when nobody acknowledged within this.
    pub ack_timeout: Duration,
    /// The route that reaches the secondary on-call; without it, the page route's Slack
    /// notifiers mention the team.
    pub escalate: Option<String>,
    pub call: Option<CallRules>,
    /// A route told at each Prog Lead handoff (open incidents and silences).
    pub handoff_notice: Option<String>,
    /// Where a raised (user-reported) incident pages: `incidents.raised_route`; without it the
    /// named check's page route, else `first_route`.
    pub raised_route: Option<String>,
    /// The first route declared under `routes:`.
    pub first_route: Option<String>,
    /// With this many open incidents already on the Prog Lead, a further page also tags a
    /// secondary on-call member.
    pub pinch_hit_after: u32,
    pub retros: RetroRules,
}

/// `retros:` — which resolved incidents need a retro, by when, and who is reminded.
#[derive(Debug, Clone)]
pub struct RetroRules {
    /// An incident open longer than this needs a retro (critical and called ones always do).
    pub required_after: Duration,
    /// Business days (Monday to Friday, in the on-call zone) from the resolve to the due date.
    pub due_within_days: u32,
    /// The route reminded; default `incidents.handoff_notice`, else the first route.
    pub remind: Option<String>,
}

impl Default for RetroRules {
    fn default() -> Self {
        RetroRules {
            required_after: Duration::from_secs(3600),
            due_within_days: 5,
            remind: None,
        }
    }
}

impl Default for IncidentRules {
    fn default() -> Self {
        IncidentRules {
            ack_timeout: Duration::from_secs(15 * 60),
            escalate: None,
            call: None,
            handoff_notice: None,
            raised_route: None,
            first_route: None,
            pinch_hit_after: 3,
            retros: RetroRules::default(),
        }
    }
}

/// When and where to call an incident: a dedicated Slack channel.
#[derive(Debug, Clone)]
pub struct CallRules {
    /// A Slack bot notifier (the Web API can create channels).
    pub slack: String,
    /// Call when this many checks of one source have open incidents (and for `tier: critical`).
    pub when_failing: u32,
    /// Channel names start with this.
    pub prefix: String,
}

/// The date `days` business days (Monday to Friday) after `from`.
pub fn business_days_after(from: chrono::NaiveDate, days: u32) -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = from;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().unwrap_or(d);
        if d.weekday().number_from_monday() <= 5 {
            left -= 1;
        }
    }
    d
}
