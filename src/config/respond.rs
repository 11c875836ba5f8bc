//! Decodes `on_failure` (in checks, file defaults and settings defaults) into `OnFailure`.
//! Each level decodes to a partial at its own location; the check's fields win, field by field.

use super::node::{MapNode, Node};
use crate::policy::rules::{OnFailure, WarnAction};
use crate::restart::action::{Restart, RestartAction};
use crate::secret::SecretUrl;
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::time::Duration;

/// `on_failure` as written at one level: every field optional.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    after: Option<u32>,
    resolve_after: Option<u32>,
    error_after: Option<u32>,
    on_warn: Option<WarnAction>,
    restart: Option<Restart>,
    page: Option<String>,
    notify: Option<String>,
    remind_every: Option<Duration>,
    /// Whether the level wrote `on_failure` at all.
    present: bool,
}

impl Partial {
    /// `self` (inner) over `outer`.
    pub fn over(&self, outer: &Partial) -> Partial {
        Partial {
            after: self.after.or(outer.after),
            resolve_after: self.resolve_after.or(outer.resolve_after),
            error_after: self.error_after.or(outer.error_after),
            on_warn: self.on_warn.or(outer.on_warn),
            restart: self.restart.clone().or_else(|| outer.restart.clone()),
            page: self.page.clone().or_else(|| outer.page.clone()),
            notify: self.notify.clone().or_else(|| outer.notify.clone()),
            remind_every: self.remind_every.or(outer.remind_every),
            present: self.present || outer.present,
        }
    }

    pub fn finish(self) -> Option<OnFailure> {
        let d = OnFailure::default();
        self.present.then(|| OnFailure {
            after: self.after.unwrap_or(d.after),
            resolve_after: self.resolve_after.unwrap_or(d.resolve_after),
            error_after: self.error_after.unwrap_or(d.error_after),
            on_warn: self.on_warn.unwrap_or(d.on_warn),
            restart: self.restart,
            page: self.page,
            notify: self.notify,
            remind_every: self.remind_every,
        })
    }
}

/// A route name that must be one of `routes` (route and notifier names), with a did-you-mean.
pub fn known_route(n: &Node<'_>, routes: &BTreeSet<String>) -> Option<String> {
    let name = n.string()?;
    if routes.contains(&name) {
        return Some(name);
    }
    let hint = super::diag::did_you_mean(&name, routes.iter().map(String::as_str))
        .map(|s| format!("did you mean \"{s}\"?"))
        .unwrap_or_else(|| "define it under `routes:` or `notifiers:` in the settings".into());
    n.error(format!("unknown route \"{name}\""), Some(hint));
    None
}

/// Decodes one level; `routes` are the route and notifier names a `page`/`notify` may name.
pub fn decode(node: &Node<'_>, routes: &BTreeSet<String>) -> Partial {
    let Some(m) = node.map() else {
        return Partial::default();
    };
    let count = |k: &'static str| m.get(k).and_then(|n| n.positive_int());
    let route = |k: &'static str| known_route(&m.get(k)?, routes);
    let on_warn = m.get("on_warn").and_then(|n| {
        let s = n.string()?;
        match s.as_str() {
            "notify" => Some(WarnAction::Notify),
            "page" => Some(WarnAction::Page),
            "ignore" => Some(WarnAction::Ignore),
            _ => {
                n.error(
                    format!("\"{s}\" is not a warn action"),
                    Some("use notify, page or ignore".into()),
                );
                None
            }
        }
    });
    let p = Partial {
        after: count("after"),
        resolve_after: count("resolve_after"),
        error_after: count("error_after"),
        on_warn,
        restart: m.get("restart").and_then(|n| restart(&n)),
        page: route("page"),
        notify: route("notify"),
        remind_every: m.duration("remind_every"),
        present: true,
    };
    m.finish();
    p
}

fn restart(node: &Node<'_>) -> Option<Restart> {
    let m = node.map()?;
    let kinds = ["kubernetes", "webhook", "command"];
    let present: Vec<(&str, Node<'_>)> = kinds
        .iter()
        .filter_map(|k| m.get(k).map(|n| (*k, n)))
        .collect();
    let action = match present.as_slice() {
        [] => {
            m.missing(
                "kubernetes",
                Some("say how to restart: kubernetes, webhook or command".into()),
            );
            None
        }
        [("kubernetes", n)] => kubernetes(n),
        [("webhook", n)] => webhook(n),
        [(_, n)] => command(n),
        [_, (second, n), ..] => {
            n.key_error(
                format!(
                    "a restart has one action; this one also has {}",
                    present[0].0
                ),
                Some(format!("remove \"{second}\"")),
            );
            None
        }
    };
    let settle = m.duration("settle").unwrap_or(Duration::from_secs(300));
    let cooldown = m.duration("cooldown").unwrap_or(Duration::from_secs(3600));
    let max_restarts = m
        .get("max_restarts")
        .and_then(|n| n.positive_int())
        .unwrap_or(3);
    let window = m.duration("window").unwrap_or(Duration::from_secs(86_400));
    m.finish();
    Some(Restart {
        action: action?,
        settle,
        cooldown,
        max_restarts,
        window,
    })
}

fn kubernetes(node: &Node<'_>) -> Option<RestartAction> {
    let m = node.map()?;
    let name_ok = |n: &Node<'_>, what: &str| {
        let s = n.string()?;
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !ok {
            n.error(
                format!("\"{s}\" is not a Kubernetes {what} name"),
                Some("lowercase letters, digits, - and .".into()),
            );
        }
        ok.then_some(s)
    };
    let namespace = m.req("namespace").and_then(|n| name_ok(&n, "namespace"));
    let deployment = m.req("deployment").and_then(|n| name_ok(&n, "deployment"));
    m.finish();
    Some(RestartAction::Kubernetes {
        namespace: namespace?,
        deployment: deployment?,
    })
}

fn webhook(node: &Node<'_>) -> Option<RestartAction> {
    let m = node.map()?;
    let url = m.req("url").and_then(|n| http_url(&n));
    let method = method(
        &m,
        reqwest::Method::POST,
        &["POST", "PUT", "PATCH", "GET"],
        "",
    );
    let headers = optional_headers(&m);
    let body = m.get("body").and_then(|n| n.interpolated());
    m.finish();
    Some(RestartAction::Webhook {
        url: url?,
        method: method?,
        headers: headers?,
        body,
    })
}

fn command(node: &Node<'_>) -> Option<RestartAction> {
    let items = node.seq()?;
    let argv: Vec<String> = items.iter().filter_map(|n| n.interpolated()).collect();
    if argv.len() != items.len() {
        return None;
    }
    if argv.is_empty() {
        node.error(
            "command is empty",
            Some("a list: [program, arg, …], run without a shell".into()),
        );
        return None;
    }
    Some(RestartAction::Command(argv))
}

pub fn http_url(n: &Node<'_>) -> Option<SecretUrl> {
    let raw = n.interpolated()?;
    match url::Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(SecretUrl(u)),
        Ok(u) => {
            n.error(
                format!("unsupported URL scheme \"{}\"", u.scheme()),
                Some("use http:// or https://".into()),
            );
            None
        }
        Err(e) => {
            n.error(format!("not a valid URL: {e}"), None);
            None
        }
    }
}

/// The `method` field: `default` when absent; one of `allowed` (any case) when present.
/// `context` ends the refusal, e.g. " for a health check".
pub fn method(
    m: &MapNode<'_>,
    default: reqwest::Method,
    allowed: &[&str],
    context: &str,
) -> Option<reqwest::Method> {
    let Some(n) = m.get("method") else {
        return Some(default);
    };
    let s = n.string()?;
    let up = s.to_ascii_uppercase();
    if allowed.contains(&up.as_str()) {
        return reqwest::Method::from_bytes(up.as_bytes()).ok();
    }
    n.error(
        format!("method \"{s}\" is not allowed{context}"),
        Some(format!("use {}", join_or(allowed))),
    );
    None
}

/// "A, B or C".
fn join_or(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The optional `headers` field: none is an empty list; `None` if any header is invalid.
pub fn optional_headers(m: &MapNode<'_>) -> Option<Vec<(String, SecretString)>> {
    m.get("headers")
        .map(|n| headers(&n))
        .unwrap_or(Some(Vec::new()))
}

/// A map of header names to values (`${VAR}` allowed); `None` if any is invalid.
pub fn headers(node: &Node<'_>) -> Option<Vec<(String, SecretString)>> {
    let hm: MapNode<'_> = node.map()?;
    let mut out = Vec::new();
    let mut ok = true;
    for (k, n) in hm.entries() {
        match n.interpolated() {
            Some(v) if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok() => {
                out.push((k, SecretString::from(v)))
            }
            Some(_) => {
                n.key_error(format!("\"{k}\" is not a valid header name"), None);
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}
