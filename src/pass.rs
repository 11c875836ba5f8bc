//! One pass: pick the due checks, probe them concurrently, record each result and state.
//! `syncwatch run` calls this once; the daemon calls it from its scheduler.

use crate::app::App;
use crate::model::Check;
use crate::model::Silence;
use crate::policy::Decision;
use crate::store::{CheckState, Recording, Respond, RunRecord, StoreError};
use crate::verdict::{Outcome, Verdict};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Which checks a pass runs.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Those whose schedule fired since their last recorded run.
    Due,
    All,
    /// These names, due or not.
    Only(Vec<String>),
    /// These positions in the plan (the scheduler's one-check passes).
    Indices(Vec<usize>),
}

/// One check's result in a pass.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub index: usize,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: Outcome,
    /// State after this run; `None` if recording it failed.
    pub state: Option<CheckState>,
    /// The response decided (checks with `on_failure`).
    pub decision: Option<Decision>,
}

#[derive(Debug)]
pub struct PassReport {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub results: Vec<CheckResult>,
    /// Checks not run because they were not due.
    pub not_due: usize,
    /// Store writes that failed (the run happened but is not recorded).
    pub store_errors: Vec<String>,
}

impl PassReport {
    pub fn count(&self, v: Verdict) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.verdict == v)
            .count()
    }

    pub fn worst(&self) -> Option<Verdict> {
        self.results.iter().map(|r| r.outcome.verdict).max()
    }
}

/// Indices of the checks this pass runs. Unknown `Only` names are the caller's to refuse first.
pub async fn select(
    app: &App,
    sel: &Selection,
    now: DateTime<Utc>,
) -> Result<Vec<usize>, StoreError> {
    let checks = &app.plan.checks;
    Ok(match sel {
        Selection::All => (0..checks.len()).collect(),
        Selection::Only(names) => (0..checks.len())
            .filter(|i| names.contains(&checks[*i].name))
            .collect(),
        Selection::Indices(list) => list.iter().copied().filter(|i| *i < checks.len()).collect(),
        Selection::Due => {
            let states = app.store.states().await?;
            (0..checks.len())
                .filter(|i| {
                    let c = &checks[*i];
                    c.schedule
                        .is_due(states.get(&c.name).map(|s| s.last_run_at), now)
                })
                .collect()
        }
    })
}

/// Runs the selected checks. Each source caps its own concurrency; HTTP checks share `http_slots`.
/// One slow or broken check never blocks or fails the others.
pub async fn run(
    app: Arc<App>,
    sel: &Selection,
    now: DateTime<Utc>,
) -> Result<PassReport, StoreError> {
    let clock = Instant::now();
    let chosen = select(&app, sel, now).await?;
    let not_due = app.plan.checks.len() - chosen.len();
    let http_slots = Arc::new(Semaphore::new(app.plan.settings.http_concurrency));
    let mut silences = app.plan.settings.silences.clone();
    silences.extend(app.store.silences(now).await?);
    let silences = Arc::new(silences);
    let mut tasks = JoinSet::new();
    for index in chosen {
        let app = Arc::clone(&app);
        let http_slots = Arc::clone(&http_slots);
        tasks.spawn(async move { probe_one(&app, index, &http_slots).await });
    }
    let mut results = Vec::new();
    let mut store_errors = Vec::new();
    // Record what has finished in one transaction, then wait for more: batches grow with load.
    while let Some(first) = tasks.join_next().await {
        let mut batch = vec![first];
        while let Some(more) = tasks.try_join_next() {
            batch.push(more);
        }
        let mut probed = Vec::with_capacity(batch.len());
        for joined in batch {
            match joined {
                Ok(r) => probed.push(r),
                Err(e) => store_errors.push(format!("a check task crashed: {e}")),
            }
        }
        record(&app, probed, &silences, &mut results, &mut store_errors).await;
    }
    results.sort_by_key(|r| r.index);
    Ok(PassReport {
        started_at: now,
        duration: clock.elapsed(),
        results,
        not_due,
        store_errors,
    })
}

/// Runs one check's probe; queueing for a slot (the source's cap, or the HTTP cap) is not
/// part of the check's time.
async fn probe_one(app: &App, index: usize, http_slots: &Semaphore) -> CheckResult {
    let check: &Check = &app.plan.checks[index];
    let (_http_slot, _source_slot) = match check
        .source
        .as_ref()
        .and_then(|s| app.probes.sources.get(s))
    {
        Some(src) => (None, src.slot().await.ok()),
        None => (http_slots.acquire().await.ok(), None),
    };
    let started_at = Utc::now();
    let clock = Instant::now();
    let outcome = app.probes.run(check).await;
    let duration = clock.elapsed();
    log_outcome(check, &outcome, duration);
    CheckResult {
        index,
        started_at,
        duration,
        outcome,
        state: None,
        decision: None,
    }
}

/// Records a batch of probed checks (runs, states, responses) in one store transaction.
async fn record(
    app: &App,
    mut probed: Vec<CheckResult>,
    silences: &[Silence],
    results: &mut Vec<CheckResult>,
    errors: &mut Vec<String>,
) {
    let items: Vec<Recording<'_>> = probed
        .iter()
        .map(|r| {
            let check = &app.plan.checks[r.index];
            Recording {
                run: RunRecord {
                    check: &check.name,
                    started_at: r.started_at,
                    duration: r.duration,
                    outcome: &r.outcome,
                },
                respond: Some(Respond {
                    check,
                    settings: &app.plan.settings,
                    silences,
                }),
            }
        })
        .collect();
    match app.store.record_batch(&items).await {
        Ok(recorded) => {
            drop(items);
            for (r, rec) in probed.iter_mut().zip(recorded) {
                if let Some(said) = rec
                    .decision
                    .as_ref()
                    .and_then(crate::store::respond::summary)
                {
                    tracing::info!(check = %app.plan.checks[r.index].name, response = %said, "responded");
                }
                r.state = Some(rec.state);
                r.decision = rec.decision;
            }
        }
        Err(e) => {
            drop(items);
            tracing::error!(error = %e, runs = probed.len(), "could not record the runs");
            for r in &probed {
                errors.push(format!("check \"{}\": {e}", app.plan.checks[r.index].name));
            }
        }
    }
    results.extend(probed);
}

/// One line per check run; verdicts are data (the table shows them), so info level.
fn log_outcome(check: &Check, o: &Outcome, took: Duration) {
    tracing::info!(
        check = %check.name,
        source = check.source.as_deref().unwrap_or("-"),
        verdict = o.verdict.label(),
        duration_ms = took.as_millis() as u64,
        reason = o.reason.as_deref().unwrap_or(""),
        "check ran"
    );
}
