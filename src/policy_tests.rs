//! Every transition of the response policy, as a story over time.

use super::*;
use crate::restart::action::{Restart, RestartAction};
use std::time::Duration;
use Verdict::*;

fn t(min: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T03:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::Duration::minutes(min)
}

fn rules() -> OnFailure {
    OnFailure {
        page: Some("prog_lead".into()),
        ..OnFailure::default()
    }
}

fn with_restart(mut r: OnFailure) -> OnFailure {
    r.restart = Some(Restart {
        action: RestartAction::Command(vec!["true".into()]),
        settle: Duration::from_secs(5 * 60),
        cooldown: Duration::from_secs(3600),
        max_restarts: 3,
        window: Duration::from_secs(86_400),
    });
    r
}

fn input(v: Verdict) -> Input {
    Input {
        verdict: v,
        silenced: None,
        blocked_by: None,
        gate: Gate::Allowed,
    }
}

/// Runs (minute, verdict) steps and returns the actions of each step.
fn story(rules: &OnFailure, steps: &[(i64, Verdict)]) -> (PolicyState, Vec<Vec<Action>>) {
    story_with(rules, steps, |_, i| i)
}

fn story_with(
    rules: &OnFailure,
    steps: &[(i64, Verdict)],
    tweak: impl Fn(usize, Input) -> Input,
) -> (PolicyState, Vec<Vec<Action>>) {
    let mut s = PolicyState::default();
    let mut out = Vec::new();
    for (i, (min, v)) in steps.iter().enumerate() {
        let d = decide("van", &s, &tweak(i, input(*v)), rules, t(*min));
        s = d.state;
        out.push(d.actions);
    }
    (s, out)
}

fn page(key: &str) -> Action {
    Action::Page {
        key: key.into(),
        broken: false,
        reminder: false,
        restart_skipped: None,
    }
}

#[test]
fn flapping_data_pages_nothing_until_after() {
    let r = OnFailure {
        after: 2,
        ..rules()
    };
    let (_, acts) = story(
        &r,
        &[(0, Fail), (5, Pass), (10, Fail), (15, Pass), (20, Fail)],
    );
    assert!(acts.iter().all(Vec::is_empty), "{acts:?}");
    let (s, acts) = story(&r, &[(0, Fail), (5, Fail), (10, Fail)]);
    assert_eq!(acts, vec![vec![], vec![page("syncwatch/van/1")], vec![]]);
    assert_eq!(s.phase, Phase::Paged);
}

#[test]
fn stale_then_fresh_resolves_with_data_refreshed() {
    let (s, acts) = story(&rules(), &[(0, Fail), (15, Pass)]);
    assert_eq!(acts[0], vec![page("syncwatch/van/1")]);
    assert_eq!(
        acts[1],
        vec![Action::Resolve {
            key: "syncwatch/van/1".into(),
            fixed_by: FixedBy::DataRefreshed,
            opened_at: t(0)
        }]
    );
    assert_eq!(
        s,
        PolicyState {
            seq: 1,
            ..PolicyState::default()
        }
    );
}

#[test]
fn restart_then_fresh_is_auto_remediated_without_a_page() {
    let (s, acts) = story(&with_restart(rules()), &[(0, Fail), (2, Fail), (5, Pass)]);
    assert_eq!(acts[0], vec![Action::Restart]);
    assert_eq!(
        acts[1],
        vec![],
        "still settling: the run before recheck_at does nothing"
    );
    assert_eq!(
        acts[2],
        vec![Action::Notify(Notice::AutoRemediated {
            restarted_at: t(0)
        })]
    );
    assert_eq!(s.phase, Phase::Ok);
}

#[test]
fn restart_then_still_stale_pages_once_then_resolves_crediting_the_restart() {
    let (_, acts) = story(
        &with_restart(rules()),
        &[(0, Fail), (5, Fail), (10, Fail), (15, Pass)],
    );
    assert_eq!(acts[0], vec![Action::Restart]);
    assert_eq!(
        acts[1],
        vec![page("syncwatch/van/1")],
        "the re-check after settle pages"
    );
    assert_eq!(acts[2], vec![], "no second page for the open incident");
    assert_eq!(
        acts[3],
        vec![Action::Resolve {
            key: "syncwatch/van/1".into(),
            fixed_by: FixedBy::Restart { at: t(0) },
            opened_at: t(0)
        }]
    );
}

#[test]
fn a_restart_in_cooldown_or_over_budget_pages_at_once_and_says_why() {
    for gate in [
        Gate::Cooldown { until: t(30) },
        Gate::Exhausted { count: 3 },
    ] {
        let (_, acts) = story_with(&with_restart(rules()), &[(0, Fail)], |_, i| Input {
            gate,
            ..i
        });
        assert_eq!(
            acts[0],
            vec![Action::Page {
                key: "syncwatch/van/1".into(),
                broken: false,
                reminder: false,
                restart_skipped: Some(gate)
            }]
        );
    }
}

#[test]
fn one_restart_per_episode_and_a_new_episode_may_restart_again() {
    let (_, acts) = story(&with_restart(rules()), &[(0, Fail), (5, Pass), (10, Fail)]);
    assert_eq!(acts[0], vec![Action::Restart]);
    assert_eq!(
        acts[2],
        vec![Action::Restart],
        "the remediated episode ended; a new one may restart"
    );
}

#[test]
fn warn_notifies_once_per_episode_and_never_pages() {
    let (_, acts) = story(&rules(), &[(0, Warn), (5, Warn), (10, Pass), (15, Warn)]);
    assert_eq!(
        acts,
        vec![
            vec![Action::Notify(Notice::Warning)],
            vec![],
            vec![Action::Notify(Notice::Cleared)],
            vec![Action::Notify(Notice::Warning)]
        ]
    );
    let quiet = OnFailure {
        on_warn: WarnAction::Ignore,
        ..rules()
    };
    assert!(story(&quiet, &[(0, Warn)]).1[0].is_empty());
    let strict = OnFailure {
        on_warn: WarnAction::Page,
        ..rules()
    };
    assert_eq!(
        story(&strict, &[(0, Warn)]).1[0],
        vec![page("syncwatch/van/1")]
    );
}

#[test]
fn a_broken_check_pages_after_its_own_threshold_and_says_so() {
    let (s, acts) = story(
        &with_restart(rules()),
        &[(0, Error), (5, Error), (10, Error), (15, Error)],
    );
    assert_eq!(acts[..2], [vec![], vec![]]);
    assert_eq!(
        acts[2],
        vec![Action::Page {
            key: "syncwatch/van/1".into(),
            broken: true,
            reminder: false,
            restart_skipped: None
        }],
        "no restart for a check that cannot be evaluated"
    );
    assert!(acts[3].is_empty());
    assert!(s.incident.unwrap().broken);
}

#[test]
fn silenced_checks_count_but_send_nothing_and_act_when_the_silence_ends() {
    let r = OnFailure {
        after: 2,
        ..with_restart(rules())
    };
    let silenced = |i: usize, inp: Input| {
        if i < 3 {
            Input {
                silenced: Some("maintenance".into()),
                ..inp
            }
        } else {
            inp
        }
    };
    let mut s = PolicyState::default();
    for (i, v) in [Fail, Fail, Fail].into_iter().enumerate() {
        let d = decide("van", &s, &silenced(i, input(v)), &r, t(i as i64));
        assert!(d.actions.is_empty());
        assert_eq!(d.held.as_deref(), Some("silenced: maintenance"));
        s = d.state;
    }
    let d = decide("van", &s, &input(Fail), &r, t(10));
    assert_eq!(
        d.actions,
        vec![Action::Restart],
        "after the silence the failure is acted on"
    );
}

#[test]
fn a_check_blocked_by_a_failing_dependency_pages_nothing_and_keeps_its_state() {
    let prev = PolicyState {
        fails: 1,
        phase: Phase::Failing,
        ..PolicyState::default()
    };
    let d = decide(
        "van",
        &prev,
        &Input {
            blocked_by: Some("pad_reachable".into()),
            ..input(Fail)
        },
        &rules(),
        t(0),
    );
    assert!(d.actions.is_empty());
    assert_eq!(d.state, prev);
    assert_eq!(
        d.held.as_deref(),
        Some("blocked: depends on pad_reachable, which is failing")
    );
}

#[test]
fn reminders_repeat_the_same_key_every_remind_every() {
    let r = OnFailure {
        remind_every: Some(Duration::from_secs(4 * 3600)),
        ..rules()
    };
    let (_, acts) = story(
        &r,
        &[(0, Fail), (60, Fail), (240, Fail), (300, Fail), (480, Fail)],
    );
    let reminder = Action::Page {
        key: "syncwatch/van/1".into(),
        broken: false,
        reminder: true,
        restart_skipped: None,
    };
    assert_eq!(
        acts,
        vec![
            vec![page("syncwatch/van/1")],
            vec![],
            vec![reminder.clone()],
            vec![],
            vec![reminder]
        ]
    );
}

#[test]
fn resolve_after_needs_consecutive_passes_and_keys_stay_unique() {
    let r = OnFailure {
        resolve_after: 2,
        ..rules()
    };
    let (s, acts) = story(
        &r,
        &[
            (0, Fail),
            (5, Pass),
            (10, Fail),
            (15, Pass),
            (20, Pass),
            (25, Fail),
        ],
    );
    assert_eq!(acts[1], vec![]);
    assert_eq!(
        acts[2],
        vec![],
        "a failure between passes restarts the count, and the incident stays open"
    );
    assert!(matches!(acts[4][..], [Action::Resolve { .. }]));
    assert_eq!(
        acts[5],
        vec![page("syncwatch/van/2")],
        "the next incident gets a new key"
    );
    assert_eq!(s.seq, 2);
}
