//! One tick of the pipeline, the same steps for both modes (no step exists in one mode only):
//!
//! 1. what is due: checks whose schedule fired, and re-checks whose restart has settled
//!    (`pass::select` with `Selection::Due`, built on `pass::due_rechecks`);
//! 2. the pass over them: probe → judge → record → respond (`pass::run_shard`);
//! 3. the incident timers: escalate what nobody acknowledged in time, announce a handoff;
//! 4. delivery of the outbox, until a deadline (`notify::dispatch::drain`).
//!
//! `syncwatch run` calls `once`. The daemon calls the same pieces on its own rhythm: step 2 for
//! each fire time its scheduler claims, `pass::due_rechecks` and `timers` from its sweeper, step 4
//! from its dispatcher.

use crate::app::App;
use crate::metrics::Metrics;
use crate::notify::dispatch::Drained;
use crate::pass::{self, PassReport, Selection};
use crate::shard::Shard;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What one tick did.
pub struct Tick {
    pub pass: PassReport,
    pub timers: Timers,
    pub drained: Drained,
}

/// What the incident timers did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timers {
    pub escalated: usize,
    pub handoff_announced: bool,
    pub retros_reminded: usize,
}

impl Timers {
    /// Whether they queued messages.
    pub fn wrote(&self) -> bool {
        self.escalated > 0 || self.handoff_announced || self.retros_reminded > 0
    }
}

/// One whole tick, as a CronJob runs it; `metrics` are filled when they are to be pushed. `now` is the pass's instant; the timers and the
/// delivery deadline read the clock after the pass, since a pass can take a while.
pub async fn once(
    app: Arc<App>,
    sel: &Selection,
    shard: Option<Shard>,
    metrics: Option<&Metrics>,
    now: DateTime<Utc>,
) -> Result<Tick, StoreError> {
    let report = pass::run_shard(app.clone(), sel, shard, now).await?;
    // Only when they are pushed: at 10,000 checks the series cost ~9 MB.
    if let Some(metrics) = metrics {
        metrics.set_plan(&app.plan, report.started_at);
        metrics.observe_pass(&app.plan.checks, &report);
    }
    let timers = timers(&app, app.clock.now()).await;
    let deadline = app.clock.now()
        + chrono::Duration::from_std(app.plan.settings.drain_timeout).unwrap_or_default();
    let drained = crate::notify::dispatch::drain(&app, metrics, deadline).await;
    Ok(Tick {
        pass: report,
        timers,
        drained,
    })
}

/// Step 3: escalation, the handoff notice and retro reminders (each exactly once across
/// replicas).
pub async fn timers(app: &App, now: DateTime<Utc>) -> Timers {
    Timers {
        escalated: crate::incidents::escalate_due(app, now).await,
        handoff_announced: crate::incidents::announce_handoff(app, now).await,
        retros_reminded: crate::incidents::remind_retros(app, now).await,
    }
}
