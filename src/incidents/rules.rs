//! The incident settings: ack timeout, escalation route, calls, the handoff notice.

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
