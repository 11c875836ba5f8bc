//! What a run adds to incidents, after `decide` and before its messages are rendered: its
//! timeline lines, the incident a page opens (and calling it, for a critical check or several
//! failing on one source), and closing the incident a resolve ends.

use crate::check::Check;
use crate::config::Settings;
use crate::notify::incident as ni;
use crate::policy::{Action, Decision, PolicyState};
use crate::store::incidents::OpenIncident;
use crate::store::{StoreError, Tx};
use crate::verdict::Outcome;
use chrono::{DateTime, Utc};

/// What rendering the run's messages needs to know.
pub struct Planned {
    /// The called incident's channel name.
    pub call: Option<String>,
    /// The notifiers told about the incident a resolve ends.
    pub told: Vec<String>,
    /// Who the page tags in besides the Prog Lead, and why.
    pub tagged: Vec<(crate::oncall::Member, crate::store::incidents::Tag)>,
}

pub async fn plan(
    tx: &mut Tx,
    check: &Check,
    prev: &PolicyState,
    decision: &Decision,
    outcome: &Outcome,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Planned, StoreError> {
    for (kind, detail) in ni::run_events(check, prev, decision, outcome, settings, now) {
        tx.add_event(now, &check.name, kind, Some("syncwatch"), &detail)
            .await?;
    }
    let mut planned = Planned {
        call: None,
        told: Vec::new(),
        tagged: Vec::new(),
    };
    let mut call_envelopes = Vec::new();
    for action in &decision.actions {
        match action {
            Action::Page {
                key,
                broken,
                reminder: false,
                ..
            } => {
                let summary = outcome
                    .reason
                    .clone()
                    .unwrap_or_else(|| outcome.verdict.to_string());
                let summary = format!("{}: {summary}", check.name);
                let mut inc = ni::opened(
                    check,
                    key,
                    *broken,
                    &summary,
                    &decision.state,
                    settings,
                    now,
                );
                planned.tagged = tags(tx, check, settings, now).await?;
                inc.tagged = planned.tagged.iter().map(|(_, t)| t.clone()).collect();
                inc.retro_required = ni::critical(check);
                tx.open_incident(&inc).await?;
                for t in &inc.tagged {
                    let line = format!("tagged {}: {}", t.member, t.why);
                    tx.add_event(now, &check.name, "tag", Some("syncwatch"), &line)
                        .await?;
                }
                if settings.incidents.call.is_some() {
                    let people = Invite {
                        tagged: &planned.tagged,
                        partner: crate::partners::of(&settings.partners, check),
                    };
                    let (name, envelopes) =
                        call(tx, check, key, &summary, &people, settings, now).await?;
                    call_envelopes.extend(envelopes);
                    planned.call = name.or(planned.call);
                }
            }
            Action::Resolve { key, .. } => {
                planned.told = tx.told(key).await?;
                planned.call = tx.call_of(key).await?;
                let note = format!("{} passes again", check.name);
                tx.resolve_by_key(key, now, "syncwatch", &note).await?;
                if let Some(name) = &planned.call {
                    tx.close_call(name, now).await?;
                }
                if let Some(inc) = tx.incident_by_key(key).await? {
                    super::change::schedule_retro(tx, &inc, settings, now).await?;
                }
            }
            _ => {}
        }
    }
    super::enqueue(tx, now, &check.name, &call_envelopes).await?;
    Ok(planned)
}

/// Who the page tags in: the area's experts and a pinch hitter (see `incidents::tagging`).
async fn tags(
    tx: &mut Tx,
    check: &Check,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Vec<(crate::oncall::Member, crate::store::incidents::Tag)>, StoreError> {
    let Some(rot) = &settings.oncall else {
        return Ok(Vec::new());
    };
    let Some(oc) = rot.at(now) else {
        return Ok(Vec::new());
    };
    let open = tx.open_for_lead(&oc.prog_lead.name).await?;
    let pinch = settings.incidents.pinch_hit_after;
    Ok(crate::incidents::tagging::tags(
        rot, &oc, check, open, pinch,
    ))
}

/// Who a called incident's channel invites besides the Prog Lead.
struct Invite<'a> {
    tagged: &'a [(crate::oncall::Member, crate::store::incidents::Tag)],
    /// The check's partner: its Partnerships contacts, and a draft notice for them.
    partner: Option<&'a crate::partners::Partner>,
}

/// Calls an incident (or joins the open call) for the incident `key` just opened: a critical
/// check's call covers it alone; a source's covers all its open incidents.
async fn call(
    tx: &mut Tx,
    check: &Check,
    key: &str,
    summary: &str,
    people: &Invite<'_>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(Option<String>, Vec<crate::notify::job::Envelope>), StoreError> {
    let Some(rules) = &settings.incidents.call else {
        return Ok((None, Vec::new()));
    };
    // The open incidents of the check's source (an HTTP check has none but its own).
    let open: Vec<OpenIncident> = match &check.source {
        Some(src) => tx.open_on_source(src).await?,
        None => tx.open_by_key(key).await?,
    };
    let existing = open.iter().find_map(|(_, _, c)| c.clone());
    let name = if let Some(name) = existing {
        name
    } else if ni::critical(check) {
        ni::call_name(&rules.prefix, &check.name, now)
    } else if open.len() >= rules.when_failing as usize {
        match &check.source {
            Some(s) => ni::call_name(&rules.prefix, s, now),
            None => return Ok((None, Vec::new())),
        }
    } else {
        return Ok((None, Vec::new()));
    };
    let fresh = tx.add_call(&name, check.source.as_deref(), now).await?;
    let own_call = open.iter().any(|(_, _, c)| c.as_ref() == Some(&name));
    let covered: Vec<&OpenIncident> = if ni::critical(check) && !own_call {
        open.iter().filter(|(_, c, _)| c == &check.name).collect()
    } else {
        open.iter().filter(|(_, _, c)| c.is_none()).collect()
    };
    for (id, _, _) in &covered {
        tx.set_call(*id, &name).await?;
    }
    let mut names: Vec<String> = covered.iter().map(|(_, c, _)| c.clone()).collect();
    names.sort();
    let mut envelopes: Vec<crate::notify::job::Envelope> =
        ni::call(&name, &names, summary, key, !fresh, settings, now)
            .into_iter()
            .collect();
    let mut extra: Vec<String> = people
        .tagged
        .iter()
        .filter_map(|(m, _)| m.slack.clone())
        .collect();
    extra.extend(people.partner.map(|p| p.slack_ids()).unwrap_or_default());
    for e in &mut envelopes {
        if let crate::notify::job::Job::SlackCall { invite, .. } = &mut e.job {
            for id in &extra {
                if !invite.contains(id) {
                    invite.push(id.clone());
                }
            }
        }
    }
    if let (true, Some(p), Some(rules)) = (fresh, people.partner, &settings.incidents.call) {
        let since = decision_since(tx, key).await?.unwrap_or(now);
        let text = ni::partner_notice(p, check, since, now, settings);
        envelopes.push(crate::notify::job::Envelope {
            notifier: rules.slack.clone(),
            event: "call",
            dedup_key: key.to_string(),
            job: crate::notify::slack::call_post(
                &name,
                false,
                Vec::new(),
                &text,
                "notice",
                settings,
            ),
        });
        tx.add_event(
            now,
            &check.name,
            "partner",
            Some("syncwatch"),
            &format!("draft notice for {} posted in #{name}", p.name),
        )
        .await?;
    }
    let what = if fresh {
        "incident called"
    } else {
        "joined the incident"
    };
    tx.add_event(
        now,
        &check.name,
        "call",
        Some("syncwatch"),
        &format!("{what}: #{name}"),
    )
    .await?;
    Ok((Some(name), envelopes))
}

/// When the incident's episode started (its first failing run).
async fn decision_since(tx: &mut Tx, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(tx.incident_by_key(key).await?.map(|i| i.since))
}
