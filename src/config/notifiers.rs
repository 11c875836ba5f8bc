//! Decodes where pages go (`notifiers`, `routes`), `silences`, and how to reach Kubernetes.

use super::node::{MapNode, Node};
use super::respond::{http_url, optional_headers};
use crate::notify::notifier::{Notifier, NotifierKind, SlackTarget};
use crate::restart::action::KubeSpec;
use crate::silence::{MaintenanceWindow, Silence};
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};

pub const PAGERDUTY: &str = "https://events.pagerduty.com";
pub const SLACK_API: &str = "https://slack.com/api";

pub fn notifiers(m: &MapNode<'_>) -> BTreeMap<String, Notifier> {
    let mut out = BTreeMap::new();
    let Some(nm) = m.get("notifiers").and_then(|n| n.map()) else {
        return out;
    };
    for (name, n) in nm.entries() {
        if let Some(kind) = notifier(&n) {
            out.insert(name.clone(), Notifier { name, kind });
        }
    }
    out
}

fn base_url(m: &MapNode<'_>, default: &str) -> Option<url::Url> {
    match m.get("base_url") {
        None => Some(url::Url::parse(default).expect("valid default")),
        Some(n) => http_url(&n).map(|u| u.0),
    }
}

fn notifier(node: &Node<'_>) -> Option<NotifierKind> {
    let m = node.map()?;
    let kind = m.req("type").and_then(|n| n.string().map(|s| (s, n)));
    let out = (|| match kind.as_ref().map(|(s, n)| (s.as_str(), n)) {
        None => None,
        Some(("pagerduty", _)) => {
            let key = m.req("routing_key").and_then(|n| {
                let k = n.interpolated()?;
                if k.len() != 32 {
                    n.error(
                        format!(
                            "a PagerDuty routing key has 32 characters, this one {}",
                            k.len()
                        ),
                        Some("copy the Integration Key of an Events API v2 integration".into()),
                    );
                    return None;
                }
                Some(SecretString::from(k))
            });
            let change_events = m
                .get("change_events")
                .map(|n| matches!(n.value, yaml_serde::Value::Bool(true)))
                .unwrap_or(false);
            let base = base_url(&m, PAGERDUTY);
            Some(NotifierKind::PagerDuty {
                routing_key: key?,
                base_url: base?,
                change_events,
            })
        }
        Some(("slack", n)) => {
            let webhook = m.get("webhook_url").map(|n| http_url(&n));
            let token = m
                .get("bot_token")
                .map(|n| n.interpolated().map(SecretString::from));
            let channel = m.str("channel");
            let base = base_url(&m, SLACK_API);
            let target = match (webhook, token, channel) {
                (Some(w), None, None) => w.map(SlackTarget::IncomingWebhook),
                (None, Some(t), Some(c)) => t.map(|token| SlackTarget::Bot { token, channel: c }),
                _ => {
                    n.error(
                        "a Slack notifier needs webhook_url, or bot_token and channel",
                        Some("e.g. webhook_url: ${SLACK_WEBHOOK_URL}".into()),
                    );
                    None
                }
            };
            Some(NotifierKind::Slack {
                target: target?,
                base_url: base?,
            })
        }
        Some(("webhook", _)) => {
            let url = m.req("url").and_then(|n| http_url(&n));
            let headers = optional_headers(&m);
            Some(NotifierKind::Webhook {
                url: url?,
                headers: headers?,
            })
        }
        Some(("statuspage", _)) => statuspage(&m).map(NotifierKind::Statuspage),
        Some(("console", _)) => Some(NotifierKind::Console),
        Some((other, n)) => {
            n.error(
                format!("unknown notifier type \"{other}\""),
                Some("use pagerduty, slack, statuspage, webhook or console".into()),
            );
            None
        }
    })();
    // With a missing or unknown type, the other fields cannot be judged: do not call them unknown.
    if out.is_some()
        || matches!(
            kind.as_ref().map(|(s, _)| s.as_str()),
            Some("pagerduty" | "slack" | "webhook" | "statuspage" | "console")
        )
    {
        m.finish();
    }
    out
}

pub const STATUSPAGE: &str = "https://api.statuspage.io/v1";

fn statuspage(m: &MapNode<'_>) -> Option<crate::notify::notifier::Statuspage> {
    let api_key = m
        .req("api_key")
        .and_then(|n| n.interpolated().map(SecretString::from));
    let page_id = m.req("page_id").and_then(|n| n.string());
    let base = base_url(m, STATUSPAGE);
    let components = m.req("components").and_then(|n| {
        let cm = n.map()?;
        let out: BTreeMap<String, String> = cm
            .entries()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.string()?)))
            .collect();
        Some(out)
    });
    let fail_status = match m.get("fail_status") {
        None => Some("major_outage".to_string()),
        Some(n) => n.string().and_then(|s| match s.as_str() {
            "partial_outage" | "major_outage" => Some(s),
            _ => {
                n.error(
                    format!("\"{s}\" is not a failing component status"),
                    Some("use partial_outage or major_outage".into()),
                );
                None
            }
        }),
    };
    Some(crate::notify::notifier::Statuspage {
        api_key: api_key?,
        page_id: page_id?,
        base_url: base?,
        components: components?,
        fail_status: fail_status?,
    })
}

/// Route name → notifier names. A notifier's own name is also a route to it alone.
pub fn routes(m: &MapNode<'_>, notifiers: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = notifiers
        .iter()
        .map(|n| (n.clone(), vec![n.clone()]))
        .collect();
    let Some(rm) = m.get("routes").and_then(|n| n.map()) else {
        return out;
    };
    for (name, n) in rm.entries() {
        let Some(items) = n.seq() else { continue };
        let mut members = Vec::new();
        for item in items {
            let Some(target) = item.string() else {
                continue;
            };
            if notifiers.contains(&target) {
                members.push(target);
            } else {
                let hint = super::diag::did_you_mean(&target, notifiers.iter().map(String::as_str))
                    .map(|s| format!("did you mean \"{s}\"?"));
                item.error(
                    format!("unknown notifier \"{target}\""),
                    hint.or_else(|| Some("define it under `notifiers:`".into())),
                );
            }
        }
        out.insert(name, members);
    }
    out
}

/// Fixed silences (`from` + `until`) and recurring maintenance windows (`schedule` +
/// `duration`, in `timezone`, default UTC).
pub fn silences(m: &MapNode<'_>) -> (Vec<Silence>, Vec<MaintenanceWindow>) {
    let Some(items) = m.get("silences").and_then(|n| n.seq()) else {
        return Default::default();
    };
    let mut fixed = Vec::new();
    let mut windows = Vec::new();
    for node in items {
        let recurring = node
            .map()
            .is_some_and(|sm| sm.has("schedule") || sm.has("duration"));
        if recurring {
            windows.extend(window(&node));
        } else {
            fixed.extend(silence(&node));
        }
    }
    (fixed, windows)
}

fn window(node: &Node<'_>) -> Option<MaintenanceWindow> {
    let sm = node.map()?;
    let pattern = sm.req("check").and_then(|n| n.string());
    let expr = sm.req("schedule").and_then(|n| {
        let s = n.string()?;
        super::node::check_cron(&n, &s).then_some((s, n))
    });
    let duration = sm.req("duration").and_then(|n| {
        let d = n.duration()?;
        if d.is_zero() {
            n.error(
                "a maintenance window lasts longer than 0s",
                Some("e.g. duration: 2h".into()),
            );
            return None;
        }
        Some(d)
    });
    let tz = match sm.get("timezone") {
        Some(n) => super::node::timezone(&n),
        None => Some(chrono_tz::UTC),
    };
    let reason = sm.req("reason").and_then(|n| n.string());
    for k in ["from", "until"] {
        if let Some(n) = sm.get(k) {
            n.key_error(
                format!("`{k}` goes with a one-off silence; this one repeats on `schedule`"),
                Some("a recurring window is schedule + duration (+ timezone)".into()),
            );
        }
    }
    sm.finish();
    let (expr, n) = expr?;
    let cron = n.ctx.crons.borrow_mut().get(&expr).ok()?;
    Some(MaintenanceWindow {
        pattern: pattern?,
        schedule: crate::schedule::Schedule::from_parts(&expr, cron, tz?),
        duration: duration?,
        reason: reason?,
    })
}

fn silence(node: &Node<'_>) -> Option<Silence> {
    let sm = node.map()?;
    let time = |k: &'static str| {
        let n = sm.req(k)?;
        let s = n.string()?;
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|_| {
                n.error(
                    format!("\"{s}\" is not an RFC 3339 time"),
                    Some("e.g. 2026-11-24T02:00:00Z".into()),
                )
            })
            .ok()
    };
    let pattern = sm.req("check").and_then(|n| n.string());
    let (from, until) = (time("from"), time("until"));
    let reason = sm.req("reason").and_then(|n| n.string());
    sm.finish();
    let (from, until) = (from?, until?);
    if until <= from {
        node.error("`until` must be after `from`", None);
        return None;
    }
    Some(Silence {
        id: None,
        pattern: pattern?,
        from,
        until,
        reason: reason?,
    })
}

pub fn kubernetes(m: &MapNode<'_>, env: &dyn Fn(&str) -> Option<String>) -> Option<KubeSpec> {
    let Some(km) = m.get("kubernetes").and_then(|n| n.map()) else {
        return in_cluster(env);
    };
    let api = km.get("api_url").and_then(|n| http_url(&n)).map(|u| u.0);
    let token = km
        .get("token")
        .and_then(|n| n.interpolated())
        .map(SecretString::from);
    let ca_file = km.str("ca_file").map(std::path::PathBuf::from);
    km.finish();
    match api {
        Some(api_url) => Some(KubeSpec {
            api_url,
            token,
            ca_file,
        }),
        None => in_cluster(env),
    }
}

/// Inside a pod: the API server from the environment, the service account's token and CA.
fn in_cluster(env: &dyn Fn(&str) -> Option<String>) -> Option<KubeSpec> {
    let host = env("KUBERNETES_SERVICE_HOST")?;
    let port = env("KUBERNETES_SERVICE_PORT").unwrap_or_else(|| "443".into());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    Some(KubeSpec {
        api_url: url::Url::parse(&format!("https://{host}:{port}")).ok()?,
        token: std::fs::read_to_string(format!("{sa}/token"))
            .ok()
            .map(|t| SecretString::from(t.trim().to_string())),
        ca_file: Some(format!("{sa}/ca.crt").into()),
    })
}
