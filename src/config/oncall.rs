//! Decodes the people in the settings: the `oncall` rotation and the `partners`.

use super::node::{MapNode, Node};
use crate::oncall::{Member, Override, Rotation};
use chrono::{NaiveDate, NaiveTime, Utc, Weekday};

pub fn decode(m: &MapNode<'_>) -> Option<Rotation> {
    let om = m.get("oncall")?.map()?;
    let timezone = om
        .get("timezone")
        .map(|n| super::node::timezone(&n))
        .unwrap_or(Some(chrono_tz::Tz::UTC));
    let handoff = om.req("handoff").and_then(|n| {
        let hm = n.map()?;
        let day = hm.req("weekday").and_then(|d| {
            let s = d.string()?;
            s.parse::<Weekday>()
                .map_err(|_| {
                    d.error(
                        format!("\"{s}\" is not a weekday"),
                        Some("e.g. monday".into()),
                    )
                })
                .ok()
        });
        let time = hm.req("time").and_then(|t| {
            let s = t.string()?;
            NaiveTime::parse_from_str(&s, "%H:%M")
                .map_err(|_| {
                    t.error(
                        format!("\"{s}\" is not a time"),
                        Some("write HH:MM, e.g. \"10:00\"".into()),
                    )
                })
                .ok()
        });
        hm.finish();
        Some((day?, time?))
    });
    let start = om.req("start").and_then(|n| {
        let s = n.string()?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map_err(|_| {
                n.error(
                    format!("\"{s}\" is not a date"),
                    Some("write YYYY-MM-DD".into()),
                )
            })
            .ok()
    });
    let members = om.req("members").and_then(|n| n.seq()).map(|items| {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for n in &items {
            let Some(m) = member(n) else { continue };
            if seen.contains(&m.name) {
                n.error(
                    format!("\"{}\" is listed twice", m.name),
                    Some("each member once; the rotation goes round them in order".into()),
                );
                continue;
            }
            seen.push(m.name.clone());
            out.push(m);
        }
        out
    });
    let secondary: Vec<String> = om
        .get("secondary")
        .and_then(|n| n.seq())
        .map(|i| i.iter().filter_map(|n| n.string()).collect())
        .unwrap_or_default();
    let tz = timezone;
    let overrides = om.get("overrides").and_then(|n| n.seq()).map(|items| {
        items
            .iter()
            .filter_map(|n| override_(n, tz))
            .collect::<Vec<_>>()
    });
    om.finish();
    let members = members?;
    if members.is_empty() {
        m.get("oncall")?.error("the rotation has no members", None);
        return None;
    }
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    let unknown = secondary
        .iter()
        .chain(overrides.iter().flatten().map(|o| &o.member))
        .find(|n| !names.contains(&n.as_str()));
    if let Some(n) = unknown {
        m.get("oncall")?.error(
            format!("\"{n}\" is not a member of the rotation"),
            Some(format!("members: {}", names.join(", "))),
        );
        return None;
    }
    let (handoff_day, handoff_time) = handoff?;
    Some(Rotation {
        members,
        timezone: tz?,
        handoff_day,
        handoff_time,
        start: start?,
        overrides: overrides.unwrap_or_default(),
        secondary,
    })
}

fn member(n: &Node<'_>) -> Option<Member> {
    let mm = n.map()?;
    let name = mm.req("name").and_then(|n| n.string());
    let slack = mm.str("slack");
    let email = mm.str("email");
    let expertise = mm
        .get("expertise")
        .and_then(|n| n.seq())
        .map(|items| items.iter().filter_map(|i| i.string()).collect())
        .unwrap_or_default();
    mm.finish();
    Some(Member {
        name: name?,
        slack,
        email,
        expertise,
    })
}

/// `from`/`until` are local times in the rotation's zone (`YYYY-MM-DD HH:MM`) or RFC 3339.
fn override_(n: &Node<'_>, tz: Option<chrono_tz::Tz>) -> Option<Override> {
    let om = n.map()?;
    let time = |k: &'static str| {
        let node = om.req(k)?;
        let s = node.string()?;
        // With the zone in error (already reported), only RFC 3339 can be read.
        let parsed = match tz {
            Some(tz) => crate::oncall::parse_time(&s, tz),
            None => chrono::DateTime::parse_from_rfc3339(&s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        };
        if parsed.is_none() {
            node.error(
                format!("\"{s}\" is not a time"),
                Some("write \"YYYY-MM-DD HH:MM\" (rotation time zone) or RFC 3339".into()),
            );
        }
        parsed
    };
    let member = om.req("member").and_then(|n| n.string());
    let (from, until) = (time("from"), time("until"));
    if let (Some(f), Some(u)) = (from, until) {
        if u <= f {
            om.get("until")?.error(
                "the override ends before it starts",
                Some("`until` must be after `from`".into()),
            );
            return None;
        }
    }
    om.finish();
    Some(Override {
        member: member?,
        from: from?,
        until: until?,
    })
}

/// `partners: NAME: { name, component, contacts }`.
pub fn partners(m: &MapNode<'_>) -> std::collections::BTreeMap<String, crate::partners::Partner> {
    let mut out = std::collections::BTreeMap::new();
    let Some(pm) = m.get("partners").and_then(|n| n.map()) else {
        return out;
    };
    for (key, n) in pm.entries() {
        let Some(e) = n.map() else {
            n.error(
                "a partner is a mapping",
                Some("e.g. acme: { name: Acme Corp, component: cmp_acme, contacts: [U0PARTNERSHIPS] }".into()),
            );
            continue;
        };
        let name = e.str("name").unwrap_or_else(|| key.clone());
        let component = e.str("component");
        let contacts: Vec<String> = e
            .get("contacts")
            .and_then(|n| n.seq())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| {
                        let c = i.string()?;
                        let ok = c.contains('@') || c.starts_with(['U', 'W']);
                        if !ok {
                            i.error(
                                format!("\"{c}\" is neither a Slack user id nor an email address"),
                                Some("write a Slack user id (U0123ABC) or an email".into()),
                            );
                        }
                        ok.then_some(c)
                    })
                    .collect()
            })
            .unwrap_or_default();
        e.finish();
        out.insert(
            key.clone(),
            crate::partners::Partner {
                key,
                name,
                component,
                contacts,
            },
        );
    }
    out
}

/// The rotation's members and the areas their `expertise` covers: what a check's (or a
/// file's defaults') `owners` and `area` may name.
#[derive(Clone, Copy)]
pub struct People<'s> {
    pub members: &'s std::collections::BTreeSet<String>,
    pub areas: &'s std::collections::BTreeSet<String>,
}

/// An area some member of the rotation covers (`expertise`).
pub fn known_area(n: &Node<'_>, area: &str, people: &People<'_>) -> bool {
    if people.areas.contains(area) {
        return true;
    }
    let hint = super::diag::did_you_mean(area, people.areas.iter().map(String::as_str))
        .map(|s| format!("did you mean \"{s}\"?"))
        .unwrap_or_else(|| {
            format!("add `expertise: [{area}]` to the members of `oncall` who know it")
        });
    n.error(
        format!("no member of the rotation covers area \"{area}\""),
        Some(hint),
    );
    false
}

/// A member of the rotation.
pub fn known_member(n: &Node<'_>, name: &str, people: &People<'_>) -> bool {
    if people.members.contains(name) {
        return true;
    }
    let hint = super::diag::did_you_mean(name, people.members.iter().map(String::as_str))
        .map(|s| format!("did you mean \"{s}\"?"))
        .unwrap_or_else(|| {
            if people.members.is_empty() {
                "no `oncall` rotation is configured".into()
            } else {
                let names: Vec<&str> = people.members.iter().map(String::as_str).collect();
                format!("members: {}", names.join(", "))
            }
        });
    n.error(
        format!("\"{name}\" is not a member of the rotation"),
        Some(hint),
    );
    false
}
