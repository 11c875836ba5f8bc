//! The respond step of a run, inside the run's own transaction: load the check's policy state,
//! decide, save the new state, and write every resulting message to the outbox. A crash at any
//! point either loses the whole run (it will run again) or keeps all of it (it will be delivered).

use super::{Store, StoreError};
use crate::config::Settings;
use crate::model::{Check, Silence};
use crate::policy::{Action, Decision, PolicyState};
use chrono::{DateTime, Utc};

/// What the respond step needs besides the run.
#[derive(Clone, Copy)]
pub struct Respond<'a> {
    pub check: &'a Check,
    pub settings: &'a Settings,
    /// Active silences: the settings' and those made with `syncwatch silence`.
    pub silences: &'a [Silence],
}

pub(crate) const LOAD_STATE: &str = "SELECT state FROM policy_state WHERE check_name = $1";
pub(crate) const LOAD_STATE_LOCKED: &str =
    "SELECT state FROM policy_state WHERE check_name = $1 FOR UPDATE";
pub(crate) const SAVE_STATE: &str = "INSERT INTO policy_state (check_name, state, recheck_at, updated_at) VALUES ($1, $2, $3, $4) \
    ON CONFLICT (check_name) DO UPDATE SET state = excluded.state, recheck_at = excluded.recheck_at, updated_at = excluded.updated_at";
pub(crate) const DEP_VERDICT: &str = "SELECT last_verdict FROM check_state WHERE check_name = $1";
pub(crate) const LAST_RESTART: &str =
    "SELECT at FROM restarts WHERE target = $1 ORDER BY at DESC LIMIT 1";
pub(crate) const RESTARTS_SINCE: &str =
    "SELECT COUNT(*) FROM restarts WHERE check_name = $1 AND at > $2";
pub(crate) const ADD_RESTART: &str =
    "INSERT INTO restarts (check_name, target, at) VALUES ($1, $2, $3)";
pub(crate) const ADD_OUTBOX: &str = "INSERT INTO outbox (created_at, check_name, notifier, event, dedup_key, payload, next_attempt_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $1)";

/// Runs `decide` for one run, with everything read and written in the caller's transaction `$tx`.
macro_rules! respond_in_tx {
    ($tx:expr, $locked:expr, $r:expr, $outcome:expr, $now:expr) => {{
        let (r, outcome, now): (
            &$crate::store::respond::Respond<'_>,
            &$crate::verdict::Outcome,
            chrono::DateTime<chrono::Utc>,
        ) = ($r, $outcome, $now);
        let check = r.check;
        let rules = check
            .on_failure
            .as_ref()
            .expect("caller checked on_failure");
        let sql = if $locked {
            $crate::store::respond::LOAD_STATE_LOCKED
        } else {
            $crate::store::respond::LOAD_STATE
        };
        let prev: $crate::policy::PolicyState = match sqlx::query(sql)
            .bind(&check.name)
            .fetch_optional(&mut *$tx)
            .await?
        {
            Some(row) => {
                serde_json::from_str(&sqlx::Row::try_get::<String, _>(&row, 0)?).unwrap_or_default()
            }
            None => $crate::policy::PolicyState::default(),
        };
        let mut blocked_by = None;
        for dep in &check.depends_on {
            let v: Option<String> = sqlx::query_scalar($crate::store::respond::DEP_VERDICT)
                .bind(dep)
                .fetch_optional(&mut *$tx)
                .await?;
            if matches!(
                v.as_deref().and_then($crate::verdict::Verdict::parse),
                Some($crate::verdict::Verdict::Fail | $crate::verdict::Verdict::Error)
            ) {
                blocked_by = Some(dep.clone());
                break;
            }
        }
        let mut gate = $crate::policy::Gate::Allowed;
        if let Some(restart) = &rules.restart {
            let target = restart.action.target();
            let last: Option<chrono::DateTime<chrono::Utc>> =
                sqlx::query_scalar($crate::store::respond::LAST_RESTART)
                    .bind(&target)
                    .fetch_optional(&mut *$tx)
                    .await?;
            let window_start = now - chrono::Duration::from_std(restart.window).unwrap_or_default();
            let count: i64 = sqlx::query_scalar($crate::store::respond::RESTARTS_SINCE)
                .bind(&check.name)
                .bind(window_start)
                .fetch_one(&mut *$tx)
                .await?;
            let until =
                last.map(|t| t + chrono::Duration::from_std(restart.cooldown).unwrap_or_default());
            gate = match until {
                Some(until) if until > now => $crate::policy::Gate::Cooldown { until },
                _ if count >= i64::from(restart.max_restarts) => $crate::policy::Gate::Exhausted {
                    count: count as u32,
                },
                _ => $crate::policy::Gate::Allowed,
            };
        }
        let silenced = r
            .silences
            .iter()
            .find(|s| s.covers(&check.name, now))
            .map(|s| s.reason.clone());
        let input = $crate::policy::Input {
            verdict: outcome.verdict,
            silenced,
            blocked_by,
            gate,
        };
        let mut decision = $crate::policy::decide(&check.name, &prev, &input, rules, now);
        decision.state.last = Some(outcome.verdict);
        let json = serde_json::to_string(&decision.state).expect("state serializes");
        sqlx::query($crate::store::respond::SAVE_STATE)
            .bind(&check.name)
            .bind(json)
            .bind(decision.state.recheck_at)
            .bind(now)
            .execute(&mut *$tx)
            .await?;
        let (call, told) = $crate::store::timeline::track_in_tx!(
            $tx, check, &prev, &decision, outcome, r.settings, now
        );
        let ctx = $crate::notify::message::Context {
            check,
            outcome,
            state: &decision.state,
            settings: r.settings,
            now,
            // Only messages name the Prog Lead: a run that sends nothing skips the rotation.
            prog_lead: if decision.actions.is_empty() {
                None
            } else {
                $crate::notify::incident::prog_lead(r.settings, now)
            },
            call,
            told,
        };
        for action in &decision.actions {
            if let ($crate::policy::Action::Restart, Some(restart)) = (action, &rules.restart) {
                sqlx::query($crate::store::respond::ADD_RESTART)
                    .bind(&check.name)
                    .bind(restart.action.target())
                    .bind(now)
                    .execute(&mut *$tx)
                    .await?;
            }
            $crate::store::incidents::outbox_in_tx!(
                $tx,
                now,
                &check.name,
                &$crate::notify::message::render(action, &ctx)
            );
        }
        decision
    }};
}
pub(super) use respond_in_tx;

impl Store {
    /// Whether this store takes row locks (PostgreSQL); SQLite's write lock covers the transaction.
    pub(super) fn locks_rows(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Checks whose restart settled and whose re-check is due by `now`.
    pub async fn due_rechecks(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        const SQL: &str = "SELECT check_name, recheck_at FROM policy_state WHERE recheck_at IS NOT NULL AND recheck_at <= $1";
        Ok(super::with_pool!(self, p => sqlx::query_as(SQL).bind(now).fetch_all(p).await?))
    }

    /// Every pending re-check, whenever due (the daemon schedules them).
    pub async fn pending_rechecks(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        const SQL: &str =
            "SELECT check_name, recheck_at FROM policy_state WHERE recheck_at IS NOT NULL";
        Ok(super::with_pool!(self, p => sqlx::query_as(SQL).fetch_all(p).await?))
    }

    /// A check's policy state (for `syncwatch` output and tests).
    pub async fn policy_state(&self, check: &str) -> Result<Option<PolicyState>, StoreError> {
        let json: Option<String> = super::with_pool!(self, p => sqlx::query_scalar(LOAD_STATE).bind(check).fetch_optional(p).await?);
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
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
