//! One pass: pick the due checks, probe them concurrently, record each result and state.
//! `syncwatch run` calls this once; the daemon calls it from its scheduler.

use crate::app::App;
use crate::check::Check;
use crate::policy::Decision;
use crate::respond::{Recording, Respond};
use crate::shard::Shard;
use crate::silence::Silence;
use crate::store::{CheckState, RunRecord, StoreError};
use crate::verdict::{Outcome, Verdict};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Which checks a pass runs.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Those whose schedule fired since their last recorded run, and those whose re-check
    /// after a restart is due.
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
            // A re-check after a restart's `settle` is due whatever the cron schedule says.
            let rechecks: std::collections::HashSet<usize> = due_rechecks(app, now)
                .await?
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            (0..checks.len())
                .filter(|i| {
                    let c = &checks[*i];
                    rechecks.contains(i)
                        || c.schedule
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
    run_shard(app, sel, None, now).await
}

/// A pass over one shard's share of the selection (`--shard I/N` in an Indexed Job).
pub async fn run_shard(
    app: Arc<App>,
    sel: &Selection,
    shard: Option<Shard>,
    now: DateTime<Utc>,
) -> Result<PassReport, StoreError> {
    let clock = Instant::now();
    let mut chosen = select(&app, sel, now).await?;
    if let Some(shard) = shard {
        chosen.retain(|i| shard.owns(&app.plan.checks[*i].name));
    }
    let not_due = app.plan.checks.len() - chosen.len();
    let http_slots = Arc::new(Semaphore::new(app.plan.settings.http_concurrency));
    let settings = &app.plan.settings;
    let mut silences = crate::silence::current(&settings.silences, &settings.maintenance, now);
    // A store that cannot be read (an outage) does not stop the watching: the settings'
    // silences still hold, and the runs are judged and exported, if not recorded.
    let mut store_errors = Vec::new();
    match app.store.silences(now).await {
        Ok(more) => silences.extend(more),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read silences from the store; using the settings' only");
            store_errors.push(format!("cannot read silences: {e}"));
        }
    }
    let silences = Arc::new(silences);
    // One feeder per source (and one for HTTP checks) starts a check only when a slot is free,
    // so at most the sum of the caps are in flight: memory stays flat with 10,000 checks, and a
    // slow source never holds back the others.
    let in_pass: std::collections::HashSet<usize> = chosen.iter().copied().collect();
    let mut queues: std::collections::BTreeMap<Option<String>, Vec<usize>> = Default::default();
    for index in chosen {
        queues
            .entry(app.plan.checks[index].source.clone())
            .or_default()
            .push(index);
    }
    let expected: usize = queues.values().map(Vec::len).sum();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<CheckResult>();
    for (source, indices) in queues {
        let (slots, batch_size) = match source.as_ref().and_then(|s| app.probes.sources.get(s)) {
            Some(src) => (src.slots(), src.spec.batch_size),
            None => (Arc::clone(&http_slots), 1),
        };
        // Freshness checks on a table and a column go in batches of `batch_size`, one slot
        // (connection) each; the rest one by one.
        let (batched, indices): (Vec<usize>, Vec<usize>) = if batch_size > 1 {
            indices
                .into_iter()
                .partition(|i| crate::probe::batchable(&app.plan.checks[*i]))
        } else {
            (Vec::new(), indices)
        };
        let (app, tx) = (Arc::clone(&app), tx.clone());
        tokio::spawn(async move {
            for chunk in batched.chunks(batch_size) {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (app, tx, chunk) = (Arc::clone(&app), tx.clone(), chunk.to_vec());
                tokio::spawn(async move {
                    for result in probe_batch(&app, &chunk).await {
                        let _ = tx.send(result);
                    }
                    drop(slot);
                });
            }
            for index in indices {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (app, tx) = (Arc::clone(&app), tx.clone());
                tokio::spawn(async move {
                    let result = probe_one(&app, index).await;
                    drop(slot);
                    let _ = tx.send(result);
                });
            }
        });
    }
    drop(tx);
    let mut results = Vec::with_capacity(expected);
    let mut order = DependencyOrder::new(in_pass);
    // Record what has finished in one transaction, then wait for more: batches grow with load.
    // A check whose dependency runs in this pass waits for it to be recorded first, so it is
    // judged "blocked" on this pass's verdict (one outage, one page).
    while let Some(first) = rx.recv().await {
        let mut probed = vec![first];
        while let Ok(more) = rx.try_recv() {
            probed.push(more);
        }
        // `ready` releases, in one batch, every check whose dependencies are recorded by now
        // or come earlier in that batch.
        let ready = order.ready(&app, probed);
        if !ready.is_empty() {
            record(&app, ready, &silences, &mut results, &mut store_errors).await;
        }
    }
    // Whatever still waits (its dependency's task crashed) is recorded as it is.
    let rest = order.release_all();
    if !rest.is_empty() {
        record(&app, rest, &silences, &mut results, &mut store_errors).await;
    }
    if results.len() < expected {
        store_errors.push(format!(
            "{} checks did not finish (a check task crashed)",
            expected - results.len()
        ));
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

/// Holds back probed checks whose dependencies in the same pass are not recorded yet.
struct DependencyOrder {
    /// Checks of this pass not recorded yet.
    unrecorded: std::collections::HashSet<usize>,
    parked: Vec<CheckResult>,
}

impl DependencyOrder {
    fn new(in_pass: std::collections::HashSet<usize>) -> DependencyOrder {
        DependencyOrder {
            unrecorded: in_pass,
            parked: Vec::new(),
        }
    }

    /// Of the newly probed and the parked, those whose dependencies are all recorded, in an
    /// order where a dependency comes before its dependents; they count as recorded from now.
    fn ready(&mut self, app: &App, probed: Vec<CheckResult>) -> Vec<CheckResult> {
        let mut waiting: Vec<CheckResult> = std::mem::take(&mut self.parked);
        waiting.extend(probed);
        let mut ready = Vec::new();
        loop {
            let before = ready.len();
            let mut still = Vec::new();
            for r in waiting {
                let blocked = app.plan.checks[r.index]
                    .depends_on
                    .iter()
                    .filter_map(|d| app.index_of(d))
                    .any(|d| d != r.index && self.unrecorded.contains(&d));
                if blocked {
                    still.push(r);
                } else {
                    self.unrecorded.remove(&r.index);
                    ready.push(r);
                }
            }
            waiting = still;
            if ready.len() == before {
                break;
            }
        }
        self.parked = waiting;
        ready
    }

    fn release_all(&mut self) -> Vec<CheckResult> {
        std::mem::take(&mut self.parked)
    }
}

/// Runs batchable checks of one source in one statement (its slot is already held); if the
/// statement fails, each check on its own, so the verdicts and reasons are the unbatched ones.
async fn probe_batch(app: &App, indices: &[usize]) -> Vec<CheckResult> {
    if indices.len() > 1 {
        let checks: Vec<&Check> = indices.iter().map(|i| &app.plan.checks[*i]).collect();
        let started_at = app.clock.now();
        let clock = Instant::now();
        let at = app.clock.judge_at(started_at);
        if let Some(outcomes) = app.probes.run_batch(&checks, at).await {
            let duration = clock.elapsed();
            return indices
                .iter()
                .zip(outcomes)
                .map(|(index, outcome)| {
                    log_outcome(&app.plan.checks[*index], &outcome, duration);
                    CheckResult {
                        index: *index,
                        started_at,
                        duration,
                        outcome,
                        state: None,
                        decision: None,
                    }
                })
                .collect();
        }
    }
    let mut out = Vec::with_capacity(indices.len());
    for index in indices {
        out.push(probe_one(app, *index).await);
    }
    out
}

/// Runs one check's probe (its slot is already held).
async fn probe_one(app: &App, index: usize) -> CheckResult {
    let check: &Check = &app.plan.checks[index];
    let started_at = app.clock.now();
    let clock = Instant::now();
    let outcome = app.probes.run(check, app.clock.judge_at(started_at)).await;
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
                    warn_fails: check.warn_fails(),
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
    match crate::respond::record_batch(&app.store, &items).await {
        Ok(recorded) => {
            drop(items);
            for (r, rec) in probed.iter_mut().zip(recorded) {
                if let Some(said) = rec.decision.as_ref().and_then(crate::respond::summary) {
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

/// Re-checks due by `now` (a restart's `settle` has passed), as (plan index, when it came due);
/// checks no longer in the plan are left out.
pub async fn due_rechecks(
    app: &App,
    now: DateTime<Utc>,
) -> Result<Vec<(usize, DateTime<Utc>)>, StoreError> {
    Ok(app
        .store
        .due_rechecks(now)
        .await?
        .into_iter()
        .filter_map(|(name, at)| Some((app.index_of(&name)?, at)))
        .collect())
}
