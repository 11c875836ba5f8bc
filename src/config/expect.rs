//! Decodes `expect:` (expected loads or a deadline window) in a freshness or http block, and
//! the settings' `calendars:`.

use super::node::{MapNode, Node};
use crate::calendar::Calendar;
use crate::expect::{Expect, Mode};
use crate::schedule::Schedule;
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Calendars by name.
pub type Calendars = BTreeMap<String, Arc<Calendar>>;

/// `expect` in a check kind's block: `None` if it is absent, `Some(None)` if it is wrong.
pub fn decode(
    m: &MapNode<'_>,
    calendars: &Calendars,
    check_tz: Option<Tz>,
) -> Option<Option<Expect>> {
    let node = m.get("expect")?;
    Some(decode_block(&node, calendars, check_tz))
}

fn decode_block(node: &Node<'_>, calendars: &Calendars, check_tz: Option<Tz>) -> Option<Expect> {
    let em = node.map()?;
    let tz = match em.get("timezone") {
        Some(n) => super::node::timezone(&n),
        None => check_tz,
    };
    let cron = |key: &'static str| {
        let n = em.get(key)?;
        let expr = n.string()?;
        super::node::check_cron(&n, &expr).then_some(())?;
        let cron = n.ctx.crons.borrow_mut().get(&expr).ok()?;
        Some((expr, cron))
    };
    let mode = match (em.has("schedule"), em.has("deadline")) {
        (true, true) => {
            // Asked, so that they are not reported as unknown on top.
            let _ = (em.get("grace"), em.get("window"));
            node.error(
                "has both schedule and deadline",
                Some("`schedule` + `grace` for load times, or `deadline` + `window` for a window that ends at a deadline".into()),
            );
            None
        }
        (false, false) => {
            em.missing(
                "schedule",
                Some("e.g. expect: { schedule: \"0 6 * * 1-5\", grace: 2h } or expect: { deadline: \"0 10 * * *\", window: 1h }".into()),
            );
            None
        }
        (true, false) => {
            let grace = em.req("grace").and_then(|n| n.duration());
            if em.has("window") {
                em.get("window").expect("has it").error(
                    "`window` goes with `deadline`",
                    Some("with `schedule`, the load is missed `grace` after it".into()),
                );
            }
            cron("schedule")
                .zip(grace)
                .map(|(c, grace)| (c, Mode::Loads { grace }))
        }
        (false, true) => {
            let window = em.req("window").and_then(|n| n.duration());
            if em.has("grace") {
                em.get("grace").expect("has it").error(
                    "`grace` goes with `schedule`",
                    Some("with `deadline`, the data must land in the `window` before it".into()),
                );
            }
            cron("deadline")
                .zip(window)
                .map(|(c, window)| (c, Mode::Deadline { window }))
        }
    };
    let warn_grace = em.get("warn_grace").map(|n| (n.duration(), n));
    let skip: Option<Vec<Arc<Calendar>>> = match em.get("skip") {
        None => Some(Vec::new()),
        Some(n) => n.seq().map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    let name = i.string()?;
                    let found = calendars.get(&name).cloned();
                    if found.is_none() {
                        let hint =
                            super::diag::did_you_mean(&name, calendars.keys().map(String::as_str))
                                .map(|s| format!("did you mean \"{s}\"?"))
                                .unwrap_or_else(|| {
                                    "declare it under `calendars:` in the settings".into()
                                });
                        i.error(format!("unknown calendar \"{name}\""), Some(hint));
                    }
                    found
                })
                .collect()
        }),
    };
    em.finish();
    let ((expr, cron), mode) = mode?;
    let span = match mode {
        Mode::Loads { grace } => grace,
        Mode::Deadline { window } => window,
    };
    if span.is_zero() {
        node.error(
            "the grace (or window) must be longer than 0s",
            Some("e.g. grace: 2h".into()),
        );
        return None;
    }
    let warn_grace = match warn_grace {
        None => None,
        Some((None, _)) => return None,
        Some((Some(w), n)) if w >= span => {
            n.error(
                format!(
                    "warn_grace ({}) must be less than the {} ({})",
                    crate::duration::canonical(w),
                    if matches!(mode, Mode::Loads { .. }) {
                        "grace"
                    } else {
                        "window"
                    },
                    crate::duration::canonical(span)
                ),
                Some("a late load warns first, then fails".into()),
            );
            return None;
        }
        Some((Some(w), _)) => Some(w),
    };
    Some(Expect {
        schedule: Schedule::from_parts(&expr, cron, tz?),
        mode,
        warn_grace,
        skip: skip?,
    })
}

/// `calendars: { NAME: { dates: [YYYY-MM-DD, …] } | { ics: PATH } }`; an ICS path is relative
/// to the settings file, read like a configuration file (a regular file of at most 4 MiB), and
/// its problems are located in it.
pub fn calendars(m: &MapNode<'_>, base_dir: &Path) -> Calendars {
    let mut out = Calendars::new();
    let Some(cm) = m.get("calendars").and_then(|n| n.map()) else {
        return out;
    };
    for (name, n) in cm.entries() {
        let Some(e) = n.map() else { continue };
        let days = match (e.get("dates"), e.get("ics")) {
            (Some(_), Some(_)) | (None, None) => {
                n.error(
                    "a calendar has `dates` or `ics`",
                    Some("e.g. holidays: { dates: [2026-12-25, 2027-01-01] } or holidays: { ics: holidays.ics }".into()),
                );
                None
            }
            (Some(d), None) => dates(&d),
            (None, Some(i)) => ics(&i, base_dir),
        };
        e.finish();
        // A calendar with a problem is kept (empty, or its good dates) so that checks naming
        // it are not reported too: the problem itself refuses the configuration.
        let days = days.unwrap_or_default();
        out.insert(name.clone(), Arc::new(Calendar { name, days }));
    }
    out
}

fn dates(n: &Node<'_>) -> Option<std::collections::BTreeSet<NaiveDate>> {
    let items = n.seq()?;
    let mut days = std::collections::BTreeSet::new();
    for i in items {
        let Some(s) = i.string() else {
            continue;
        };
        match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(d) => {
                days.insert(d);
            }
            Err(_) => {
                i.error(
                    format!("\"{s}\" is not a date"),
                    Some("write YYYY-MM-DD, e.g. 2026-12-25".into()),
                );
            }
        }
    }
    Some(days)
}

fn ics(n: &Node<'_>, base_dir: &Path) -> Option<std::collections::BTreeSet<NaiveDate>> {
    let rel = n.string()?;
    let path = base_dir.join(&rel);
    let text = match super::read_file(&path) {
        Ok(t) => t,
        Err(d) => {
            n.error(
                format!("cannot use \"{rel}\": {}", d.message),
                d.hint.clone(),
            );
            return None;
        }
    };
    match crate::calendar::from_ics(&text) {
        Ok(days) => Some(days),
        Err(problems) => {
            let mut diags = n.ctx.diags.borrow_mut();
            for p in problems {
                diags.push(super::diag::Diagnostic {
                    file: path.display().to_string(),
                    line: p.line,
                    col: 1,
                    check: None,
                    field: None,
                    message: p.message,
                    hint: p.hint,
                });
            }
            None
        }
    }
}
