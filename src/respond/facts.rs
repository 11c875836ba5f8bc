//! The facts `policy::decide` needs about one run besides its verdict, read in the run's
//! transaction: is it silenced, is a dependency failing, may its restart target restart now.

use super::Respond;
use crate::policy::{Gate, Input};
use crate::store::{StoreError, Tx};
use crate::verdict::{Outcome, Verdict};
use chrono::{DateTime, Utc};

pub async fn gather(
    tx: &mut Tx,
    r: &Respond<'_>,
    outcome: &Outcome,
    streaks: crate::streaks::Streaks,
    now: DateTime<Utc>,
) -> Result<Input, StoreError> {
    let check = r.check;
    let mut blocked_by = None;
    for dep in &check.depends_on {
        let v = tx.last_verdict(dep).await?;
        if matches!(
            v.as_deref().and_then(Verdict::parse),
            Some(Verdict::Fail | Verdict::Error)
        ) {
            blocked_by = Some(dep.clone());
            break;
        }
    }
    let mut gate = Gate::Allowed;
    if let Some(restart) = check.on_failure.as_ref().and_then(|o| o.restart.as_ref()) {
        let last = tx.last_restart(&restart.action.target()).await?;
        let window_start = now - chrono::Duration::from_std(restart.window).unwrap_or_default();
        let count = tx.restarts_since(&check.name, window_start).await?;
        let until =
            last.map(|t| t + chrono::Duration::from_std(restart.cooldown).unwrap_or_default());
        gate = match until {
            Some(until) if until > now => Gate::Cooldown { until },
            _ if count >= i64::from(restart.max_restarts) => Gate::Exhausted {
                count: count as u32,
            },
            _ => Gate::Allowed,
        };
    }
    let silenced = r
        .silences
        .iter()
        .find(|s| s.covers(&check.name, now))
        .map(|s| s.reason.clone());
    Ok(Input {
        verdict: outcome.verdict,
        streaks,
        silenced,
        blocked_by,
        gate,
    })
}
