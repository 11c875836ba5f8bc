//! The notifiers the settings name: PagerDuty, Slack, Statuspage, a webhook, the console.

use crate::check::Check;
use crate::secret::SecretUrl;
use secrecy::SecretString;

/// A place to send pages and notices.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub name: String,
    pub kind: NotifierKind,
}

#[derive(Debug, Clone)]
pub enum NotifierKind {
    /// PagerDuty Events API v2.
    PagerDuty {
        routing_key: SecretString,
        base_url: url::Url,
        change_events: bool,
    },
    Slack {
        target: SlackTarget,
        base_url: url::Url,
    },
    /// Any HTTP endpoint taking syncwatch's JSON.
    Webhook {
        url: SecretUrl,
        headers: Vec<(String, SecretString)>,
    },
    /// Atlassian Statuspage: component statuses and one incident per syncwatch incident.
    Statuspage(Statuspage),
    /// Prints each message to standard error as Slack would show it: for trying routes locally
    /// and for the demo.
    Console,
}

#[derive(Debug, Clone)]
pub struct Statuspage {
    pub api_key: SecretString,
    pub page_id: String,
    pub base_url: url::Url,
    /// Check name or source name → component id.
    pub components: std::collections::BTreeMap<String, String>,
    /// The component status while a check fails: partial_outage or major_outage.
    pub fail_status: String,
}

impl Statuspage {
    /// The component a check maps to: its own, else its source's.
    pub fn component(&self, check: &Check) -> Option<&str> {
        self.components
            .get(&check.name)
            .or_else(|| check.source.as_ref().and_then(|s| self.components.get(s)))
            .map(String::as_str)
    }
}

impl NotifierKind {
    pub fn label(&self) -> &'static str {
        match self {
            NotifierKind::PagerDuty { .. } => "pagerduty",
            NotifierKind::Slack { .. } => "slack",
            NotifierKind::Webhook { .. } => "webhook",
            NotifierKind::Statuspage(_) => "statuspage",
            NotifierKind::Console => "console",
        }
    }
}

#[derive(Debug, Clone)]
pub enum SlackTarget {
    IncomingWebhook(SecretUrl),
    /// Web API with a bot token: `chat.postMessage` to `channel`.
    Bot {
        token: SecretString,
        channel: String,
    },
}
