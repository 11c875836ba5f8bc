//! The response to each run, inside the run's own store transaction: gather the facts →
//! `policy::decide` → plan the incident → render the messages → save the state and queue the
//! messages. A crash at any point either loses the whole run (it runs again) or keeps all of it
//! (it is delivered). The store only persists, the policy only decides, `notify` only renders;
//! this module puts them in order. Changes made by people and timers are in `change`.

pub mod change;
mod facts;
mod incident;

use crate::check::Check;
use crate::config::Settings;
use crate::notify::context::Context;
use crate::notify::job::Envelope;
use crate::notify::message::render;
use crate::policy::{Action, Decision, PolicyState};
use crate::silence::Silence;
use crate::store::{failpoint, CheckState, NewJob, RunRecord, Store, StoreError, Tx};
use crate::verdict::Outcome;
use chrono::{DateTime, Utc};

/// What the respond step needs besides the run.
#[derive(Clone, Copy)]
pub struct Respond<'a> {
    pub check: &'a Check,
    pub settings: &'a Settings,
    /// Active silences: the settings' and those made with `syncwatch silence`.
    pub silences: &'a [Silence],
}

/// One run to record, with what its respond step needs.
pub struct Recording<'a> {
    pub run: RunRecord<'a>,
    pub respond: Option<Respond<'a>>,
}

/// What recording a run produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub state: CheckState,
    /// The response decided, for checks with `on_failure`.
    pub decision: Option<Decision>,
}

/// Records runs, advances each check's streaks and responds to each, in one transaction, so a
/// pass over thousands of checks commits a few times instead of thousands.
pub async fn record_batch(
    store: &Store,
    items: &[Recording<'_>],
) -> Result<Vec<Recorded>, StoreError> {
    let mut tx = store.begin().await?;
    let mut out = Vec::with_capacity(items.len());
    // Every run and streak first (a few statements for the whole batch), then the responses in
    // order. A response reads only its own check's streaks and its dependencies' verdicts,
    // and a dependency comes earlier in a batch (`pass::DependencyOrder`), so it decides on
    // what it decided on when each run was recorded just before its response.
    let runs: Vec<&crate::store::RunRecord<'_>> = items.iter().map(|i| &i.run).collect();
    let states = tx.record_runs(&runs).await?;
    for (item, state) in items.iter().zip(states) {
        let decision = match item
            .respond
            .as_ref()
            .filter(|r| r.check.on_failure.is_some())
        {
            Some(r) => {
                Some(respond(&mut tx, r, item.run.outcome, &state.1, item.run.started_at).await?)
            }
            None => None,
        };
        out.push(Recorded {
            state: state.0,
            decision,
        });
    }
    tx.commit().await?;
    failpoint("after_state_change");
    Ok(out)
}

async fn respond(
    tx: &mut Tx,
    r: &Respond<'_>,
    outcome: &Outcome,
    streaks: &crate::streaks::Streaks,
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    let check = r.check;
    let rules = check
        .on_failure
        .as_ref()
        .expect("caller checked on_failure");
    let prev = load_state(tx, &check.name).await?;
    let input = facts::gather(tx, r, outcome, *streaks, now).await?;
    let mut decision = crate::policy::decide(&check.name, &prev, &input, rules, now);
    decision.state.last = Some(outcome.verdict);
    save_state(tx, &check.name, &decision.state, now).await?;
    let planned = incident::plan(tx, check, &prev, &decision, outcome, r.settings, now).await?;
    let ctx = Context {
        check,
        outcome,
        state: &decision.state,
        settings: r.settings,
        now,
        // Only messages name the Prog Lead: a run that sends nothing skips the rotation.
        prog_lead: if decision.actions.is_empty() {
            None
        } else {
            crate::notify::context::prog_lead(r.settings, now)
        },
        call: planned.call,
        told: planned.told,
        tagged: planned.tagged,
    };
    for action in &decision.actions {
        if let (Action::Restart, Some(restart)) = (action, &rules.restart) {
            tx.add_restart(&check.name, &restart.action.target(), now)
                .await?;
        }
        enqueue(tx, now, &check.name, &render(action, &ctx)).await?;
    }
    Ok(decision)
}

async fn load_state(tx: &mut Tx, check: &str) -> Result<PolicyState, StoreError> {
    let json = tx.policy_state(check).await?;
    Ok(json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default())
}

async fn save_state(
    tx: &mut Tx,
    check: &str,
    state: &PolicyState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(state).expect("state serializes");
    tx.save_policy_state(check, &json, state.recheck_at, now)
        .await
}

/// Queues rendered messages in the run's transaction.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    now: DateTime<Utc>,
    check: &str,
    envelopes: &[Envelope],
) -> Result<(), StoreError> {
    for e in envelopes {
        let job = NewJob {
            notifier: &e.notifier,
            event: e.event,
            dedup_key: &e.dedup_key,
            payload: e.job.to_json(),
        };
        tx.enqueue(now, check, &job).await?;
    }
    Ok(())
}

/// Whether a decision holds anything worth telling in output.
pub fn summary(d: &Decision) -> Option<String> {
    if let Some(h) = &d.held {
        return Some(h.clone());
    }
    let words: Vec<&str> = d
        .actions
        .iter()
        .map(|a| match a {
            Action::Restart => "restart",
            Action::Page { reminder: true, .. } => "reminder",
            Action::Page { .. } => "page",
            Action::Notify(_) => "notice",
            Action::Resolve { .. } => "resolve",
        })
        .collect();
    (!words.is_empty()).then(|| words.join(", "))
}
