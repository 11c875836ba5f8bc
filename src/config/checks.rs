//! Decodes one check file (`defaults` + `checks`) into validated `Check`s.

use super::node::{MapNode, Node};
use super::settings::{self, Defaults};
use crate::check::*;
use crate::schedule::Schedule;
use std::collections::BTreeSet;

pub const KINDS: [&str; 4] = ["freshness", "row_count", "sql", "http"];

/// What the rest of the configuration tells a check file.
pub struct Scope<'s> {
    pub defaults: &'s Defaults,
    pub sources: &'s BTreeSet<String>,
    /// Route and notifier names `on_failure.page` / `notify` may name.
    pub routes: &'s BTreeSet<String>,
    /// The rotation's members, and the areas their `expertise` covers.
    pub people: super::oncall::People<'s>,
    /// The settings' calendars, for `expect.skip`.
    pub calendars: &'s super::expect::Calendars,
}

/// One entry of a file's `checks` list: its name (even when the check is invalid, so that
/// duplicates are still found) and the check if it is valid.
pub struct Decoded<'a> {
    pub name: Option<(String, Node<'a>)>,
    pub check: Option<Check>,
}

/// Decodes a file's checks, valid or not.
/// Problems after which the rest of a check file is not decoded.
pub const MAX_PROBLEMS_PER_FILE: usize = 100;

pub fn decode_file<'a>(root: &Node<'a>, scope: &Scope<'_>) -> Vec<Decoded<'a>> {
    let Some(m) = root.map() else {
        return Vec::new();
    };
    let file_defaults = m
        .get("defaults")
        .map(|n| settings::decode_defaults(&n, scope.routes, Some(&scope.people)))
        .unwrap_or_default();
    let defaults = merge(scope.defaults, &file_defaults);
    let mut out = Vec::new();
    match m.get("checks").and_then(|n| n.seq()) {
        Some(items) => {
            let total = items.len();
            for (i, item) in items.into_iter().enumerate() {
                // A file that is wrong throughout (a generated file gone bad) is not worth a
                // hundred thousand messages, nor the time to make them.
                if root.problems_in_file() >= MAX_PROBLEMS_PER_FILE {
                    item.error(
                        format!(
                            "{} more check{} in this file not checked: over {MAX_PROBLEMS_PER_FILE} problems so far",
                            total - i,
                            if total - i == 1 { "" } else { "s" }
                        ),
                        Some("fix the problems above first".into()),
                    );
                    break;
                }
                out.push(decode_check(&item, &defaults, scope));
            }
        }
        None if !m.has("checks") => m.missing(
            "checks",
            Some("a check file holds `checks:`, a list of checks".into()),
        ),
        None => {}
    }
    m.finish();
    out
}

pub fn merge(outer: &Defaults, inner: &Defaults) -> Defaults {
    let mut labels = outer.labels.clone();
    labels.extend(inner.labels.clone());
    Defaults {
        source: inner.source.clone().or_else(|| outer.source.clone()),
        schedule: inner.schedule.clone().or_else(|| outer.schedule.clone()),
        timezone: inner.timezone.or(outer.timezone),
        labels,
        jitter: inner.jitter.or(outer.jitter),
        on_failure: inner.on_failure.over(&outer.on_failure),
        area: inner.area.clone().or_else(|| outer.area.clone()),
        owners: inner.owners.clone().or_else(|| outer.owners.clone()),
        slo: inner.slo.or(outer.slo),
    }
}

fn decode_check<'a>(item: &Node<'a>, defaults: &Defaults, scope: &Scope<'_>) -> Decoded<'a> {
    let raw_name = item.value.get("name").and_then(|v| v.as_str());
    let node = item.clone().in_check(raw_name.unwrap_or(&item.path));
    let Some(m) = node.map() else {
        return Decoded {
            name: None,
            check: None,
        };
    };
    let name_node = m.req("name");
    let name = name_node
        .as_ref()
        .and_then(|n| n.string())
        .filter(|name| match name_rule(name) {
            None => true,
            Some(rule) => {
                if let Some(n) = &name_node {
                    n.error(
                        format!("check name \"{name}\" {rule}"),
                        Some(
                            "names appear in metrics, Slack channel names, file names and commands; e.g. \"van_contacts_sync\""
                                .into(),
                        ),
                    );
                }
                false
            }
        });
    let description = m.str("description");
    let tz = m
        .get("timezone")
        .map(|n| super::node::timezone(&n))
        .unwrap_or(Some(defaults.timezone.unwrap_or(chrono_tz::Tz::UTC)));
    let schedule_node = m.get("schedule");
    let expr = match &schedule_node {
        Some(n) => n.string().filter(|s| super::node::check_cron(n, s)),
        None => Some(
            defaults
                .schedule
                .clone()
                .unwrap_or_else(|| settings::DEFAULT_SCHEDULE.into()),
        ),
    };
    let jitter = match m.get("jitter") {
        Some(n) => n.duration(),
        None => Some(defaults.jitter.unwrap_or_default()),
    };
    let mut labels = defaults.labels.clone();
    let own_labels = m.get("labels").map(|n| settings::labels(&n));
    if let Some(Some(l)) = &own_labels {
        labels.extend(l.clone());
    }
    let on_failure = m
        .get("on_failure")
        .map(|n| super::respond::decode(&n, scope.routes))
        .unwrap_or_default()
        .over(&defaults.on_failure)
        .finish();
    let runbook = m.str("runbook");
    let area = match m.get("area") {
        Some(n) => n
            .string()
            .filter(|a| super::oncall::known_area(&n, a, &scope.people)),
        None => defaults.area.clone(),
    };
    let owners = match m.get("owners") {
        Some(n) => n
            .seq()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        i.string()
                            .filter(|o| super::oncall::known_member(i, o, &scope.people))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        None => defaults.owners.clone().unwrap_or_default(),
    };
    let depends_on: Vec<String> = m
        .get("depends_on")
        .and_then(|n| n.seq())
        .map(|items| items.iter().filter_map(|i| i.string()).collect())
        .unwrap_or_default();
    let kind = decode_kind(&m, scope.calendars, tz);
    let slo = match m.get("slo") {
        Some(n) => settings::slo(&n).map(Some),
        None => Some(defaults.slo),
    };
    let is_http = m.has("http");
    let source = decode_source(&m, defaults, scope, is_http);
    m.finish();
    let valid = !matches!(own_labels, Some(None));
    let check = (|| {
        Some(Check {
            name: name.clone()?,
            description,
            source: source?,
            schedule: {
                let expr = expr?;
                let cron = item.ctx.crons.borrow_mut().get(&expr).ok()?;
                Schedule::from_parts(&expr, cron, tz?)
            },
            jitter: jitter?,
            on_failure: on_failure.map(Box::new),
            depends_on,
            runbook,
            area,
            owners,
            slo: slo?,
            labels,
            kind: kind?,
            defined_at: item.location(),
        })
    })()
    .filter(|_| valid);
    Decoded {
        name: name.zip(name_node),
        check,
    }
}

/// `Some(None)` is a valid check without a source (HTTP); `None` is an error.
fn decode_source(
    m: &MapNode<'_>,
    defaults: &Defaults,
    scope: &Scope<'_>,
    is_http: bool,
) -> Option<Option<String>> {
    let node = m.get("source");
    if is_http {
        if let Some(n) = node {
            n.error(
                "HTTP checks do not read a source",
                Some("remove `source` from this check".into()),
            );
            return None;
        }
        return Some(None);
    }
    let Some(name) = node
        .as_ref()
        .and_then(|n| n.string())
        .or_else(|| defaults.source.clone())
    else {
        if node.is_none() {
            m.missing(
                "source",
                Some("set `source:` on the check or in the file's `defaults`".into()),
            );
        }
        return None;
    };
    if scope.sources.contains(&name) {
        return Some(Some(name));
    }
    let hint = super::diag::did_you_mean(&name, scope.sources.iter().map(String::as_str))
        .map(|s| format!("did you mean \"{s}\"?"))
        .unwrap_or_else(|| {
            let names: Vec<_> = scope.sources.iter().map(String::as_str).collect();
            if names.is_empty() {
                "no sources are defined in the settings file".into()
            } else {
                format!("sources defined in settings: {}", names.join(", "))
            }
        });
    match node {
        Some(n) => n.error(format!("unknown source \"{name}\""), Some(hint)),
        None => m.node.error(
            format!("unknown source \"{name}\" (from the file's defaults)"),
            Some(hint),
        ),
    }
    None
}

fn decode_kind(
    m: &MapNode<'_>,
    calendars: &super::expect::Calendars,
    tz: Option<chrono_tz::Tz>,
) -> Option<CheckKind> {
    let present: Vec<(&str, Node<'_>)> = KINDS
        .iter()
        .filter_map(|k| m.get(k).map(|n| (*k, n)))
        .collect();
    match present.as_slice() {
        [] => {
            m.node.error(
                "no check kind",
                Some("add one of: freshness, row_count, sql, http".into()),
            );
            None
        }
        [(kind, node)] => match *kind {
            "freshness" => super::kinds::freshness(node, calendars, tz).map(CheckKind::Freshness),
            "row_count" => super::kinds::row_count(node).map(CheckKind::RowCount),
            "sql" => super::kinds::sql(node).map(CheckKind::Sql),
            _ => super::http::decode(node, calendars, tz).map(|h| CheckKind::Http(Box::new(h))),
        },
        [_, (second, node), ..] => {
            node.key_error(
                format!("a check has one kind; this one also has {}", present[0].0),
                Some(format!("split \"{second}\" into its own check")),
            );
            None
        }
    }
}

/// The longest check name: a Prometheus label value, a part of a Slack channel name and a
/// file name must all hold it.
pub const MAX_NAME: usize = 128;

/// Which rule a check name breaks, if any.
fn name_rule(name: &str) -> Option<String> {
    let n = name.chars().count();
    if name.is_empty() {
        Some("is empty".into())
    } else if n > MAX_NAME {
        Some(format!("is {n} characters long; at most {MAX_NAME}"))
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
    {
        Some("has characters other than letters, digits, _ - . :".into())
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("must start with a letter or a digit".into())
    } else {
        None
    }
}
