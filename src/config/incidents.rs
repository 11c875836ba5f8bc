//! Decodes `incidents:` (acknowledgement, escalation, calling an incident, handoff notices)
//! `api:` (who may use the HTTP API) and `inbound:` (verifying PagerDuty and Slack requests).

use super::node::MapNode;
use crate::inbound::{InboundRules, SlackInbound};
use crate::incidents::rules::{CallRules, IncidentRules};
use crate::notify::notifier::{Notifier, NotifierKind, SlackTarget};
use crate::web::access::ApiAccess;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};

pub fn decode(
    m: &MapNode<'_>,
    routes: &BTreeMap<String, Vec<String>>,
    notifiers: &BTreeMap<String, Notifier>,
) -> IncidentRules {
    let mut rules = IncidentRules {
        first_route: m
            .get("routes")
            .and_then(|n| n.map())
            .and_then(|rm| rm.entries().into_iter().next().map(|(k, _)| k)),
        ..IncidentRules::default()
    };
    let names: BTreeSet<String> = routes.keys().cloned().collect();
    if let Some(rm) = m.get("retros").and_then(|n| n.map()) {
        if let Some(d) = rm.duration("required_after") {
            rules.retros.required_after = d;
        }
        if let Some(n) = rm.get("due_within").and_then(|n| n.positive_int()) {
            rules.retros.due_within_days = n.min(366);
        }
        rules.retros.remind = rm
            .get("remind")
            .and_then(|n| super::respond::known_route(&n, &names));
        rm.finish();
    }
    let Some(im) = m.get("incidents").and_then(|n| n.map()) else {
        return rules;
    };
    if let Some(t) = im.duration("ack_timeout") {
        rules.ack_timeout = t;
    }
    let route = |k: &'static str| super::respond::known_route(&im.get(k)?, &names);
    rules.escalate = route("escalate");
    rules.handoff_notice = route("handoff_notice");
    rules.raised_route = route("raised_route");
    if let Some(n) = im.get("pinch_hit_after").and_then(|n| n.positive_int()) {
        rules.pinch_hit_after = n;
    }
    rules.call = im.get("call").and_then(|n| {
        let cm = n.map()?;
        let slack = cm.req("slack").and_then(|s| {
            let name = s.string()?;
            match notifiers.get(&name).map(|n| &n.kind) {
                Some(NotifierKind::Slack {
                    target: SlackTarget::Bot { .. },
                    ..
                }) => Some(name),
                _ => {
                    s.error(
                        format!("\"{name}\" is not a Slack bot notifier"),
                        Some("channels are created with the Web API: name a notifier with bot_token and channel".into()),
                    );
                    None
                }
            }
        });
        let when_failing = cm
            .get("when_failing")
            .map(|n| n.positive_int())
            .unwrap_or(Some(3));
        let prefix = cm.str("channel_prefix").unwrap_or_else(|| "inc".into());
        cm.finish();
        Some(CallRules {
            slack: slack?,
            when_failing: when_failing?,
            prefix: channel_safe(&prefix),
        })
    });
    im.finish();
    rules
}

/// `inbound:` — the secrets that verify PagerDuty and Slack requests.
pub fn inbound(m: &MapNode<'_>, notifiers: &BTreeMap<String, Notifier>) -> InboundRules {
    let Some(im) = m.get("inbound").and_then(|n| n.map()) else {
        return InboundRules::default();
    };
    let secret = |n: &super::node::Node<'_>, what: &str| {
        let t = n.interpolated()?;
        if t.trim().is_empty() {
            n.error(
                format!("the {what} is empty"),
                Some("set it from the environment, e.g. \"${PD_WEBHOOK_SECRET}\"".into()),
            );
            return None;
        }
        Some(SecretString::from(t))
    };
    let mut rules = InboundRules::default();
    if let Some(pm) = im.get("pagerduty").and_then(|n| n.map()) {
        if let Some(items) = pm.req("secrets").and_then(|n| {
            let seq = n.seq();
            if seq.as_ref().is_some_and(Vec::is_empty) {
                n.error(
                    "no secrets listed",
                    Some("list the webhook subscription's secret: secrets: [\"${PD_WEBHOOK_SECRET}\"]".into()),
                );
            }
            seq
        }) {
            rules.pagerduty = items
                .iter()
                .filter_map(|n| secret(n, "PagerDuty webhook secret"))
                .collect();
        }
        pm.finish();
    }
    if let Some(sm) = im.get("slack").and_then(|n| n.map()) {
        let signing_secret = sm
            .req("signing_secret")
            .and_then(|n| secret(&n, "Slack signing secret"));
        let bot = match sm.get("bot") {
            Some(n) => n.string().and_then(|name| match notifiers.get(&name).map(|n| &n.kind) {
                Some(NotifierKind::Slack {
                    target: SlackTarget::Bot { .. },
                    ..
                }) => Some(name),
                _ => {
                    n.error(
                        format!("\"{name}\" is not a Slack bot notifier"),
                        Some("name a notifier with bot_token and channel: its token opens the Resolve dialog".into()),
                    );
                    None
                }
            }),
            // The first Slack bot notifier, if any.
            None => notifiers
                .iter()
                .find(|(_, n)| {
                    matches!(
                        n.kind,
                        NotifierKind::Slack {
                            target: SlackTarget::Bot { .. },
                            ..
                        }
                    )
                })
                .map(|(k, _)| k.clone()),
        };
        sm.finish();
        rules.slack = signing_secret.map(|signing_secret| SlackInbound {
            signing_secret,
            bot,
        });
    }
    im.finish();
    rules
}

pub fn api(m: &MapNode<'_>) -> ApiAccess {
    let Some(am) = m.get("api").and_then(|n| n.map()) else {
        return ApiAccess::default();
    };
    let token = am.get("token").and_then(|n| {
        let t = n.interpolated()?;
        if t.len() < 16 {
            n.error(
                "the API token is shorter than 16 characters",
                Some("generate one, e.g. `openssl rand -hex 24`".into()),
            );
            return None;
        }
        Some(SecretString::from(t))
    });
    let protect_reads = am
        .get("protect_reads")
        .map(|n| matches!(n.value, yaml_serde::Value::Bool(true)))
        .unwrap_or(false);
    am.finish();
    ApiAccess {
        token,
        protect_reads,
    }
}

/// Lowercase letters, digits, `-` and `_`, at most 80 characters (Slack channel names).
pub fn channel_safe(s: &str) -> String {
    let mut out: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(80);
    out
}
