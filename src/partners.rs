//! The partners whose data syncs are watched: who to tell (Partnerships' contacts) and their
//! status page component, matched by a check's `partner` label.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partner {
    /// The key under `partners:` (a check's `partner` label value).
    pub key: String,
    /// How partners are named in notices.
    pub name: String,
    /// Their Statuspage component id.
    pub component: Option<String>,
    /// Partnerships contacts: Slack user ids (invited to a called incident's channel) or
    /// email addresses (named in the draft notice).
    pub contacts: Vec<String>,
}

impl Partner {
    /// Contacts that are Slack user ids (`U…` or `W…`), which a channel can invite.
    pub fn slack_ids(&self) -> Vec<String> {
        self.contacts
            .iter()
            .filter(|c| !c.contains('@') && c.starts_with(['U', 'W']))
            .cloned()
            .collect()
    }

    pub fn emails(&self) -> Vec<&str> {
        self.contacts
            .iter()
            .filter(|c| c.contains('@'))
            .map(String::as_str)
            .collect()
    }
}

/// The partner a check's `partner` label names, if configured.
pub fn of<'a>(
    partners: &'a std::collections::BTreeMap<String, Partner>,
    check: &crate::check::Check,
) -> Option<&'a Partner> {
    partners.get(check.labels.get("partner")?)
}
