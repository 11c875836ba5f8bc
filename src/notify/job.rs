//! What the outbox holds: one typed job per message, stored as tagged JSON. The dispatcher
//! matches on the job — never on notifier names or payload keys — and hands it to the vendor's
//! module (or to `restart`). Secrets (routing keys, tokens) are added only at delivery.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One message for one notifier, as `respond` queues it in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// A notifier name, or `restart`.
    pub notifier: String,
    /// page, reminder, resolve, notify, restart, change, ack, escalate, call, handoff.
    pub event: &'static str,
    pub dedup_key: String,
    pub job: Job,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// A PagerDuty Events API v2 event: trigger, acknowledge or resolve.
    PagerDutyEvent { body: Value },
    /// A PagerDuty change event (never notifies): a record of a restart.
    PagerDutyChange { body: Value },
    /// A Slack message to the notifier's webhook, or its bot's channel.
    Slack { body: Value },
    /// A post in a called incident's own channel, created first when `create` (and the Prog
    /// Lead invited).
    SlackCall {
        channel: String,
        create: bool,
        invite: Vec<String>,
        body: Value,
    },
    /// Statuspage: a component status, and an incident to create, update or resolve.
    Statuspage {
        component: Option<String>,
        status: String,
        incident: Option<Value>,
    },
    /// The generic webhook's JSON.
    Webhook { body: Value },
    /// A reply to a Slack interaction through its `response_url`: an ephemeral message, or the
    /// original message updated to show who did what.
    SlackResponse { url: String, body: Value },
    /// Restarting the check's sync; the instant is fixed when the restart was decided, so a
    /// redelivery patches the same Kubernetes annotation.
    Restart {
        target: Option<String>,
        restarted_at: String,
    },
}

impl Job {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("jobs serialize")
    }

    /// Reads a stored job. Rows written before jobs were typed held the vendor's JSON itself;
    /// they are read by the rules of that time (`notifier` "restart", a `call` key, the
    /// notifier's kind), so an upgrade loses no message waiting in the outbox.
    pub fn read(text: &str, notifier: &str, event: &str, kind: Option<&str>) -> Option<Job> {
        if let Ok(job) = serde_json::from_str::<Job>(text) {
            return Some(job);
        }
        let mut v: Value = serde_json::from_str(text).ok()?;
        if notifier == "restart" {
            return Some(Job::Restart {
                target: v["target"].as_str().map(String::from),
                restarted_at: v["restarted_at"].as_str().unwrap_or_default().into(),
            });
        }
        if let Some(channel) = v.get("call").and_then(Value::as_str).map(String::from) {
            let create = v["create"] == Value::Bool(true);
            let invite = v["invite"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                for k in ["call", "create", "invite"] {
                    o.remove(k);
                }
            }
            return Some(Job::SlackCall {
                channel,
                create,
                invite,
                body: v,
            });
        }
        Some(match (kind?, event) {
            ("pagerduty", "change") => Job::PagerDutyChange { body: v },
            ("pagerduty", _) => Job::PagerDutyEvent { body: v },
            ("slack", _) => Job::Slack { body: v },
            ("webhook", _) => Job::Webhook { body: v },
            ("statuspage", _) => Job::Statuspage {
                component: v["component"].as_str().map(String::from),
                status: v["status"].as_str().unwrap_or("operational").into(),
                incident: v.get("incident").filter(|i| !i.is_null()).cloned(),
            },
            _ => return None,
        })
    }

    /// The restart target's kind for metrics (`kubernetes`, `webhook`, `command`).
    pub fn restart_action(&self) -> Option<&str> {
        match self {
            Job::Restart { target, .. } => Some(
                target
                    .as_deref()
                    .and_then(|t| t.split(':').next())
                    .unwrap_or("unknown"),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Job;
    use serde_json::json;

    #[test]
    fn jobs_round_trip_and_old_rows_still_read() {
        let job = Job::SlackCall {
            channel: "inc-van".into(),
            create: true,
            invite: vec!["U1".into()],
            body: json!({"text": "x"}),
        };
        assert_eq!(
            Job::read(&job.to_json(), "slack", "call", None),
            Some(job.clone())
        );
        let old = json!({"text": "x", "call": "inc-van", "create": true, "invite": ["U1"]});
        assert_eq!(
            Job::read(&old.to_string(), "slack", "call", Some("slack")),
            Some(job)
        );
        let old =
            json!({"check": "c", "target": "command:true", "restarted_at": "2026-01-01T00:00:00Z"});
        let job = Job::read(&old.to_string(), "restart", "restart", None).unwrap();
        assert_eq!(job.restart_action(), Some("command"));
        let old = json!({"event_action": "resolve", "dedup_key": "k"});
        assert_eq!(
            Job::read(&old.to_string(), "pd", "resolve", Some("pagerduty")),
            Some(Job::PagerDutyEvent { body: old })
        );
        assert_eq!(Job::read("not json", "pd", "page", Some("pagerduty")), None);
    }
}
