//! Who else a page tags in, and why: the experts of the check's area when the Prog Lead does
//! not cover it (its owners first), and a pinch hitter from the secondary on-call when the Prog
//! Lead already has several incidents open. Pure.

use crate::check::Check;
use crate::oncall::{Member, OnCall, Rotation};
use crate::store::incidents::Tag;

/// The people a page of `check` tags in besides the Prog Lead. `open_on_lead`: incidents the
/// Prog Lead already has open; `pinch_hit_after`: from how many a pinch hitter is tagged.
pub fn tags(
    rotation: &Rotation,
    oncall: &OnCall,
    check: &Check,
    open_on_lead: usize,
    pinch_hit_after: u32,
) -> Vec<(Member, Tag)> {
    let lead = &oncall.prog_lead;
    let mut out: Vec<(Member, Tag)> = Vec::new();
    let tagged = |out: &[(Member, Tag)], m: &Member| {
        m.name == lead.name || out.iter().any(|(t, _)| t.name == m.name)
    };
    let tag = |m: &Member, why: String| {
        (
            m.clone(),
            Tag {
                member: m.name.clone(),
                why,
            },
        )
    };
    if let Some(area) = check.area.as_ref().filter(|a| !lead.expertise.contains(a)) {
        let owners = check
            .owners
            .iter()
            .filter_map(|o| rotation.members.iter().find(|m| &m.name == o));
        let experts = rotation
            .members
            .iter()
            .filter(|m| m.expertise.contains(area));
        for m in owners.chain(experts) {
            if !tagged(&out, m) {
                let role = if check.owners.contains(&m.name) {
                    "owner"
                } else {
                    "expert"
                };
                let why = format!(
                    "{role} of area {area}, which the Prog Lead ({}) does not cover",
                    lead.name
                );
                out.push(tag(m, why));
            }
        }
    }
    if open_on_lead >= pinch_hit_after as usize && !oncall.secondary.is_empty() {
        // Round robin over the secondary on-call by how many incidents the lead holds, so
        // concurrent pages spread over different people.
        let n = oncall.secondary.len();
        let start = (open_on_lead - pinch_hit_after as usize) % n;
        let pick = (0..n)
            .map(|i| &oncall.secondary[(start + i) % n])
            .find(|m| !tagged(&out, m));
        if let Some(m) = pick {
            let why = format!(
                "pinch hit: the Prog Lead ({}) already has {open_on_lead} open incidents",
                lead.name
            );
            out.push(tag(m, why));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::Member;

    fn m(name: &str, expertise: &[&str]) -> Member {
        Member {
            name: name.into(),
            slack: Some(format!("U0{}", name.to_uppercase())),
            email: None,
            expertise: expertise.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn world() -> (Rotation, OnCall, Check) {
        let members = vec![
            m("ana", &["crm"]),
            m("ben", &["billing"]),
            m("cy", &["billing", "crm"]),
            m("dee", &[]),
        ];
        let rotation = Rotation {
            members: members.clone(),
            timezone: chrono_tz::UTC,
            handoff_day: chrono::Weekday::Mon,
            handoff_time: chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            start: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            overrides: Vec::new(),
            secondary: Vec::new(),
        };
        let oncall = OnCall {
            prog_lead: members[0].clone(),
            covering_for: None,
            secondary: members[1..].to_vec(),
        };
        let plan = crate::config::load_with(
            crate::config::SourceFile {
                name: "s.yaml".into(),
                text: "sources: { p: { url: \"sqlite:p.db\" } }\n".into(),
            },
            std::path::Path::new("/tmp"),
            &|_| None,
            Some(vec![crate::config::SourceFile {
                name: "c.yaml".into(),
                text: "checks:\n  - { name: invoices, source: p, freshness: { table: t, column: c, error_after: 1h } }\n".into(),
            }]),
        )
        .expect("valid");
        (rotation, oncall, plan.checks[0].clone())
    }

    fn names(t: &[(Member, Tag)]) -> Vec<&str> {
        t.iter().map(|(m, _)| m.name.as_str()).collect()
    }

    #[test]
    fn an_area_the_prog_lead_does_not_cover_tags_its_owners_then_experts() {
        let (rot, oc, mut check) = world();
        assert!(tags(&rot, &oc, &check, 0, 3).is_empty(), "no area: nobody");
        check.area = Some("crm".into());
        assert!(tags(&rot, &oc, &check, 0, 3).is_empty(), "ana covers crm");
        check.area = Some("billing".into());
        check.owners = vec!["cy".into()];
        let t = tags(&rot, &oc, &check, 0, 3);
        assert_eq!(names(&t), ["cy", "ben"], "owners first, no one twice");
        assert_eq!(
            t[0].1.why,
            "owner of area billing, which the Prog Lead (ana) does not cover"
        );
        assert!(t[1].1.why.starts_with("expert of area billing"));
    }

    #[test]
    fn pinch_hitters_go_round_the_secondary_skipping_who_is_tagged() {
        let (rot, oc, mut check) = world();
        assert!(tags(&rot, &oc, &check, 2, 3).is_empty());
        let picks: Vec<String> = (3..7)
            .map(|open| names(&tags(&rot, &oc, &check, open, 3))[0].to_string())
            .collect();
        assert_eq!(picks, ["ben", "cy", "dee", "ben"]);
        let t = tags(&rot, &oc, &check, 3, 3);
        assert_eq!(
            t[0].1.why,
            "pinch hit: the Prog Lead (ana) already has 3 open incidents"
        );
        // ben and cy are tagged as the area's experts already: the pinch hitter is dee.
        check.area = Some("billing".into());
        let t = tags(&rot, &oc, &check, 3, 3);
        assert_eq!(names(&t), ["ben", "cy", "dee"]);
        assert!(t[2].1.why.starts_with("pinch hit"));
    }
}
