//! What to do after a check run: `decide(state, input, rules, now) -> Decision`.
//! Pure: no I/O, no clock reads. The caller stores the new state and carries out the actions
//! (through the outbox), in the same transaction as the run.

pub mod rules;

use crate::policy::rules::{OnFailure, WarnAction};
use crate::streaks::Streaks;
use crate::verdict::Verdict;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a check stands in its failure episode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Ok,
    /// Failing, not yet acted on (below `after`).
    Failing,
    /// Restarted; waiting for `settle` to re-check.
    Settling,
    /// A page was sent; the incident is open until the check passes `resolve_after` times.
    Paged,
}

/// A check's response state, kept in the store between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    pub phase: Phase,
    /// First failing (or warning) run of the current episode.
    pub since: Option<DateTime<Utc>>,
    pub warn_notified: bool,
    /// The restart tried in this episode, if any.
    pub restarted_at: Option<DateTime<Utc>>,
    pub recheck_at: Option<DateTime<Utc>>,
    /// The open incident: its dedup key and when it was paged and last reminded.
    pub incident: Option<Incident>,
    /// Incidents opened so far; makes each incident's key unique and stable.
    pub seq: u64,
    /// The previous run's verdict (set by the caller, for the timeline's verdict changes).
    #[serde(default)]
    pub last: Option<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub key: String,
    pub paged_at: DateTime<Utc>,
    pub reminded_at: DateTime<Utc>,
    /// Paged because the check could not be evaluated, not because data is stale.
    pub broken: bool,
}

/// Whether a restart may happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Allowed,
    /// The target was restarted recently (by this or another check).
    Cooldown {
        until: DateTime<Utc>,
    },
    /// This check used its `max_restarts` in the window.
    Exhausted {
        count: u32,
    },
}

/// What the caller knows about this run besides the verdict.
#[derive(Debug, Clone)]
pub struct Input {
    pub verdict: Verdict,
    /// The check's streaks after this run, as the store counted them (`crate::streaks`).
    pub streaks: Streaks,
    /// A silence or maintenance window covers the check (its reason).
    pub silenced: Option<String>,
    /// A check this one depends on is failing (its name).
    pub blocked_by: Option<String>,
    pub gate: Gate,
}

/// How an incident ended, for the resolve message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixedBy {
    Restart { at: DateTime<Utc> },
    DataRefreshed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Carry out the check's restart action, then re-check after `settle`.
    Restart,
    /// Page the `page` route. `restart_skipped` says why no restart was tried first.
    Page {
        key: String,
        broken: bool,
        reminder: bool,
        restart_skipped: Option<Gate>,
    },
    /// A notice on the notify route that never pages.
    Notify(Notice),
    /// Resolve the incident on every channel that was told.
    Resolve {
        key: String,
        fixed_by: FixedBy,
        opened_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    Warning,
    /// Passing again after a warning that was sent.
    Cleared,
    /// Fresh again after the restart: no page was needed.
    AutoRemediated {
        restarted_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: PolicyState,
    pub actions: Vec<Action>,
    /// Why nothing was done although the check fails (silenced, blocked), for output.
    pub held: Option<String>,
}

/// Decides the response to one run. `check` names the incident keys.
pub fn decide(
    check: &str,
    prev: &PolicyState,
    input: &Input,
    rules: &OnFailure,
    now: DateTime<Utc>,
) -> Decision {
    let mut s = prev.clone();
    let mut actions = Vec::new();
    if let Some(dep) = &input.blocked_by {
        // One outage, one page: the check it depends on speaks for both.
        return Decision {
            state: s,
            actions,
            held: Some(format!("blocked: depends on {dep}, which is failing")),
        };
    }
    let verdict = match (input.verdict, rules.on_warn) {
        (Verdict::Warn, WarnAction::Page) => Verdict::Fail,
        (v, _) => v,
    };
    let held = input.silenced.as_ref().map(|r| format!("silenced: {r}"));
    let quiet = held.is_some();
    match verdict {
        Verdict::Pass => {
            if let Some(inc) = s.incident.clone() {
                if input.streaks.passes >= rules.resolve_after {
                    let fixed_by = s
                        .restarted_at
                        .map_or(FixedBy::DataRefreshed, |at| FixedBy::Restart { at });
                    actions.push(Action::Resolve {
                        key: inc.key,
                        fixed_by,
                        opened_at: s.since.unwrap_or(inc.paged_at),
                    });
                    s = reset(&s);
                }
            } else {
                if let (Phase::Settling, Some(at), false) = (s.phase, s.restarted_at, quiet) {
                    actions.push(Action::Notify(Notice::AutoRemediated { restarted_at: at }));
                } else if s.warn_notified && !quiet {
                    // Whoever heard the warning (and a status page) hears that it is over.
                    actions.push(Action::Notify(Notice::Cleared));
                }
                s = reset(&s);
            }
        }
        Verdict::Warn => {
            s.since.get_or_insert(now);
            // No warning while settling: the episode is already being handled, and data
            // that went from failing to aging is the restart starting to work.
            if rules.on_warn == WarnAction::Notify
                && !s.warn_notified
                && !quiet
                && s.incident.is_none()
                && s.phase != Phase::Settling
            {
                actions.push(Action::Notify(Notice::Warning));
                s.warn_notified = true;
            }
        }
        Verdict::Fail => {
            s.since.get_or_insert(now);
            if !quiet {
                act_on_failure(check, &mut s, &mut actions, input, rules, now, false);
            } else if s.phase == Phase::Ok {
                s.phase = Phase::Failing;
            }
        }
        Verdict::Error => {
            s.since.get_or_insert(now);
            if !quiet {
                act_on_failure(check, &mut s, &mut actions, input, rules, now, true);
            }
        }
    }
    Decision {
        state: s,
        actions,
        held,
    }
}

fn act_on_failure(
    check: &str,
    s: &mut PolicyState,
    actions: &mut Vec<Action>,
    input: &Input,
    rules: &OnFailure,
    now: DateTime<Utc>,
    broken: bool,
) {
    match s.phase {
        Phase::Paged => remind(s, actions, rules, now),
        Phase::Settling if s.recheck_at.is_some_and(|t| now < t) => {}
        Phase::Settling => page(check, s, actions, now, broken, None),
        Phase::Ok | Phase::Failing if broken => {
            if input.streaks.errors >= rules.error_after {
                page(check, s, actions, now, true, None);
            }
        }
        Phase::Ok | Phase::Failing => {
            s.phase = Phase::Failing;
            if input.streaks.fails < rules.after {
                return;
            }
            match (&rules.restart, s.restarted_at, input.gate) {
                (Some(r), None, Gate::Allowed) => {
                    actions.push(Action::Restart);
                    s.phase = Phase::Settling;
                    s.restarted_at = Some(now);
                    s.recheck_at =
                        Some(now + chrono::Duration::from_std(r.settle).unwrap_or_default());
                }
                (Some(_), None, gate) => page(check, s, actions, now, false, Some(gate)),
                _ => page(check, s, actions, now, false, None),
            }
        }
    }
}

fn page(
    check: &str,
    s: &mut PolicyState,
    actions: &mut Vec<Action>,
    now: DateTime<Utc>,
    broken: bool,
    skipped: Option<Gate>,
) {
    s.seq += 1;
    let key = format!("syncwatch/{check}/{}", s.seq);
    actions.push(Action::Page {
        key: key.clone(),
        broken,
        reminder: false,
        restart_skipped: skipped,
    });
    s.phase = Phase::Paged;
    s.recheck_at = None;
    s.incident = Some(Incident {
        key,
        paged_at: now,
        reminded_at: now,
        broken,
    });
}

fn remind(s: &mut PolicyState, actions: &mut Vec<Action>, rules: &OnFailure, now: DateTime<Utc>) {
    let (Some(every), Some(inc)) = (rules.remind_every, s.incident.as_mut()) else {
        return;
    };
    if now - inc.reminded_at >= chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX) {
        inc.reminded_at = now;
        actions.push(Action::Page {
            key: inc.key.clone(),
            broken: inc.broken,
            reminder: true,
            restart_skipped: None,
        });
    }
}

/// Back to `Ok`, keeping only the incident counter.
pub fn reset(s: &PolicyState) -> PolicyState {
    PolicyState {
        seq: s.seq,
        last: s.last,
        ..PolicyState::default()
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
