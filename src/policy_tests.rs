//! Every transition of the response policy, as a story over time.

use super::*;
use crate::restart::action::{Restart, RestartAction};
use crate::streaks::Streaks;
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
        streaks: Streaks::default(),
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
    let (s, decisions) = decisions(rules, steps, tweak);
    (s, decisions.into_iter().map(|d| d.actions).collect())
}

/// Each step's run is recorded in a real (SQLite) store, which counts the streaks — the one
/// place they are counted — and the policy decides on them, as `respond` does.
fn decisions(
    rules: &OnFailure,
    steps: &[(i64, Verdict)],
    tweak: impl Fn(usize, Input) -> Input,
) -> (PolicyState, Vec<Decision>) {
    use crate::store::{RunRecord, Store};
    use crate::verdict::{Observed, Outcome};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let spec = crate::config::StoreSpec {
            url: format!("sqlite:{}", dir.path().join("state.db").display()).into(),
            display: "state.db".into(),
            connect_timeout: Duration::from_secs(5),
        };
        let store = Store::open(&spec).await.unwrap();
        let mut s = PolicyState::default();
        let mut out = Vec::new();
        for (i, (min, v)) in steps.iter().enumerate() {
            let outcome = Outcome {
                verdict: *v,
                observed: Observed::Nothing,
                reason: None,
            };
            let run = RunRecord {
                check: "van",
                started_at: t(*min),
                duration: Duration::ZERO,
                outcome: &outcome,
                warn_fails: rules.on_warn == WarnAction::Page,
            };
            let mut tx = store.begin().await.unwrap();
            let (_, streaks) = tx.record_run(&run).await.unwrap();
            tx.commit().await.unwrap();
            let d = decide(
                "van",
                &s,
                &tweak(
                    i,
                    Input {
                        streaks,
                        ..input(*v)
                    },
                ),
                rules,
                t(*min),
            );
            s = d.state.clone();
            out.push(d);
        }
        store.close().await;
        (s, out)
    })
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
    let (_, ds) = decisions(&r, &[(0, Fail), (1, Fail), (2, Fail), (10, Fail)], silenced);
    for d in &ds[..3] {
        assert!(d.actions.is_empty());
        assert_eq!(d.held.as_deref(), Some("silenced: maintenance"));
    }
    assert_eq!(
        ds[3].actions,
        vec![Action::Restart],
        "after the silence the failure is acted on"
    );
}

#[test]
fn a_check_blocked_by_a_failing_dependency_pages_nothing_and_keeps_its_state() {
    let prev = PolicyState {
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

#[test]
fn warn_or_error_while_settling_waits_for_the_recheck_then_pages() {
    let r = with_restart(rules());
    // Restarted at 0; settle is 5 minutes. A warning or an error before the re-check does
    // nothing (the restart may still be rolling); a failure at the re-check pages.
    let (s, acts) = story(&r, &[(0, Fail), (2, Warn), (3, Error), (5, Fail)]);
    assert_eq!(acts[0], vec![Action::Restart]);
    assert_eq!(acts[1..3], [vec![], vec![]]);
    assert_eq!(acts[3], vec![page("syncwatch/van/1")]);
    assert_eq!(s.phase, Phase::Paged);
    // An error at the re-check pages too, saying the check is broken, not the data stale.
    let (_, acts) = story(&r, &[(0, Fail), (5, Error)]);
    assert_eq!(
        acts[1],
        vec![Action::Page {
            key: "syncwatch/van/1".into(),
            broken: true,
            reminder: false,
            restart_skipped: None
        }]
    );
    // A warning at the re-check is not a failure: no page; a pass after it needs no page either.
    let (s, acts) = story(&r, &[(0, Fail), (5, Warn), (6, Pass)]);
    assert_eq!(acts[1], vec![]);
    assert!(matches!(
        acts[2][..],
        [Action::Notify(Notice::AutoRemediated { .. })]
    ));
    assert_eq!(s.phase, Phase::Ok);
}

#[test]
fn a_pass_while_silenced_resolves_the_open_incident_and_sends_no_notices() {
    // README: silenced checks restart and page nothing; good news is not held back, so an
    // open incident whose data is fresh again is resolved (PagerDuty closes the alert).
    let r = with_restart(rules());
    let silenced = |inp: Input| Input {
        silenced: Some("maintenance".into()),
        ..inp
    };
    let quiet_from =
        |from: usize| move |i: usize, inp: Input| if i >= from { silenced(inp) } else { inp };
    let (s, acts) = story_with(
        &r,
        &[(0, Fail), (5, Fail), (10, Fail), (15, Pass)],
        quiet_from(2),
    );
    assert!(matches!(acts[1][..], [Action::Page { .. }]), "{acts:?}");
    assert!(acts[2].is_empty(), "no reminder while silenced");
    assert!(matches!(acts[3][..], [Action::Resolve { .. }]), "{acts:?}");
    assert_eq!(s.phase, Phase::Ok);
    // Settling under a silence: fresh again, but the "fixed by the restart" notice is held.
    let (settling, _) = story(&r, &[(0, Fail)]);
    let d = decide("van", &settling, &silenced(input(Pass)), &r, t(6));
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    // A warning under a silence is not announced, nor is its end.
    let warn = OnFailure {
        notify: Some("team".into()),
        ..rules()
    };
    let d = decide(
        "van",
        &PolicyState::default(),
        &silenced(input(Warn)),
        &warn,
        t(0),
    );
    assert!(d.actions.is_empty() && !d.state.warn_notified);
}

#[test]
fn blocked_while_paged_neither_reminds_nor_resolves() {
    let r = OnFailure {
        remind_every: Some(Duration::from_secs(3600)),
        ..rules()
    };
    let (paged, _) = story(&r, &[(0, Fail)]);
    for (min, v) in [(120, Fail), (180, Pass)] {
        let d = decide(
            "van",
            &paged,
            &Input {
                blocked_by: Some("pad_reachable".into()),
                ..input(v)
            },
            &r,
            t(min),
        );
        assert!(d.actions.is_empty(), "{v:?} while blocked: {:?}", d.actions);
        assert_eq!(d.state, paged, "the incident stays as it was");
    }
    // Unblocked and still failing two hours on: the reminder is due.
    let d = decide("van", &paged, &input(Fail), &r, t(120));
    assert!(matches!(
        d.actions[..],
        [Action::Page { reminder: true, .. }]
    ));
}

#[test]
fn mixed_error_and_fail_streaks() {
    let r = OnFailure {
        after: 3,
        error_after: 2,
        ..rules()
    };
    // Errors between failures neither count toward `after` nor break the run of failures.
    let (_, acts) = story(&r, &[(0, Fail), (5, Error), (10, Fail), (15, Fail)]);
    assert_eq!(acts[..3], [vec![], vec![], vec![]]);
    assert_eq!(acts[3], vec![page("syncwatch/van/1")]);
    // A failure ends a run of errors: the check could be evaluated, so it is not broken.
    let (s, acts) = story(&r, &[(0, Error), (5, Fail), (10, Error)]);
    assert!(acts.iter().all(Vec::is_empty), "{acts:?}");
    assert_eq!(s.phase, Phase::Failing, "{s:?}");
    // Two errors in a row: broken.
    let (_, acts) = story(&r, &[(0, Error), (5, Fail), (10, Error), (15, Error)]);
    assert!(matches!(acts[3][..], [Action::Page { broken: true, .. }]));
}

#[test]
fn a_broken_check_incident_is_reminded_as_broken() {
    let r = OnFailure {
        error_after: 1,
        remind_every: Some(Duration::from_secs(3600)),
        ..rules()
    };
    let (_, acts) = story(&r, &[(0, Error), (30, Error), (60, Error)]);
    assert!(matches!(
        acts[0][..],
        [Action::Page {
            broken: true,
            reminder: false,
            ..
        }]
    ));
    assert!(acts[1].is_empty());
    assert_eq!(
        acts[2],
        vec![Action::Page {
            key: "syncwatch/van/1".into(),
            broken: true,
            reminder: true,
            restart_skipped: None
        }]
    );
}

#[test]
fn a_warning_ends_a_run_of_failures_and_of_errors() {
    let r = OnFailure {
        after: 2,
        error_after: 2,
        ..rules()
    };
    // A warning is announced; what must not happen is a restart or a page.
    let acting = |acts: &[Vec<Action>]| {
        acts.iter()
            .flatten()
            .filter(|a| matches!(a, Action::Page { .. } | Action::Restart))
            .count()
    };
    let (_, acts) = story(&r, &[(0, Fail), (5, Warn), (10, Fail)]);
    assert_eq!(
        acting(&acts),
        0,
        "F, W, F is not two failures in a row: {acts:?}"
    );
    let (_, acts) = story(&r, &[(0, Error), (5, Warn), (10, Error)]);
    assert_eq!(acting(&acts), 0, "{acts:?}");
    let (_, acts) = story(&r, &[(0, Fail), (5, Warn), (10, Fail), (15, Fail)]);
    assert_eq!(acts[3], vec![page("syncwatch/van/1")]);
}
