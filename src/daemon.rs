//! `syncwatch serve`: the scheduler around the same one-check pass as `run`, an HTTP server,
//! reloads (SIGHUP or a changed file) that keep the last good configuration, and a shutdown
//! that stops scheduling and drains the runs in flight.

use crate::app::App;
use crate::clock::Clock;
use crate::config::{self, Plan};
use crate::metrics::Metrics;
use crate::pass::{self, CheckResult, Selection};
use crate::scheduler::{Runner, Scheduler, Timing};
use crate::store::{Claim, Finish};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Everything the daemon shares between its scheduler, its HTTP handlers and reloads.
pub struct Daemon {
    pub config_path: PathBuf,
    app: RwLock<Arc<App>>,
    pub metrics: Metrics,
    /// The latest result of each check, by name, for `/api/checks`.
    latest: Mutex<HashMap<String, Arc<CheckResult>>>,
    pub clock: Clock,
    /// Each run holds a read guard; shutdown takes the write guard to wait for them.
    in_flight: tokio::sync::RwLock<()>,
    /// Wakes the dispatcher when a run wrote to the outbox.
    outbox_written: tokio::sync::Notify,
    /// Wakes the sweeper when a run decided a restart (its re-check is then pending).
    rechecks: tokio::sync::Notify,
    /// This replica's name in run claims.
    owner: String,
    /// Checks running here now: a claimed tick of a check still running is skipped.
    running: Mutex<std::collections::HashSet<String>>,
    /// When the last reload failed and its first problem; cleared by a good one.
    reload_failure: Mutex<Option<(DateTime<Utc>, String)>>,
    /// Runs the store could not record (an outage), oldest first, written when it returns.
    unrecorded: Mutex<std::collections::VecDeque<Unrecorded>>,
    /// One writer of the held runs at a time.
    recording_held: tokio::sync::Mutex<()>,
}

/// A run made while the store could not record it.
#[derive(Debug, Clone)]
struct Unrecorded {
    check: String,
    started_at: DateTime<Utc>,
    duration: Duration,
    outcome: crate::verdict::Outcome,
}

/// Runs held in memory while the store is away; past this, the oldest are dropped (counted).
const MAX_UNRECORDED: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Options {
    /// How often to look for changed configuration files (zero: only on SIGHUP).
    pub watch_interval: Duration,
    /// How long shutdown waits for runs in flight.
    pub grace: Duration,
    /// The HTTP side (`web::router`), handed in so the daemon does not depend on it.
    pub router: fn(Arc<Daemon>) -> axum::Router,
}

impl Daemon {
    /// Asks the dispatcher to deliver now (something was written to the outbox).
    pub fn wake_dispatcher(&self) {
        self.outbox_written.notify_one();
    }

    pub fn current(&self) -> Arc<App> {
        Arc::clone(&self.app.read().expect("app lock"))
    }

    /// Keeps a run the store did not record, to write it when the store is back.
    fn hold(&self, check: &crate::check::Check, r: &CheckResult) {
        let mut q = self.unrecorded.lock().expect("unrecorded lock");
        if q.len() >= MAX_UNRECORDED {
            q.pop_front();
            self.metrics.unrecorded_dropped();
        }
        q.push_back(Unrecorded {
            check: check.name.clone(),
            started_at: r.started_at,
            duration: r.duration,
            outcome: r.outcome.clone(),
        });
        self.metrics.unrecorded(q.len());
    }

    /// Writes the runs held during a store outage (history and streaks only: the response to
    /// a check is decided by its next live run, with current data).
    async fn record_held(&self, app: &App) {
        let Ok(_writer) = self.recording_held.try_lock() else {
            return;
        };
        let held: Vec<Unrecorded> = {
            let q = self.unrecorded.lock().expect("unrecorded lock");
            if q.is_empty() {
                return;
            }
            q.iter().take(500).cloned().collect()
        };
        // Checks removed by a reload meanwhile are dropped with the rest of the batch.
        let items: Vec<crate::respond::Recording<'_>> = held
            .iter()
            .filter_map(|u| {
                let check = &app.plan.checks[app.index_of(&u.check)?];
                Some(crate::respond::Recording {
                    run: crate::store::RunRecord {
                        warn_fails: check.warn_fails(),
                        check: &u.check,
                        started_at: u.started_at,
                        duration: u.duration,
                        outcome: &u.outcome,
                    },
                    respond: None,
                })
            })
            .collect();
        match crate::respond::record_batch(&app.store, &items).await {
            Ok(_) => {
                let mut q = self.unrecorded.lock().expect("unrecorded lock");
                let n = held.len().min(q.len());
                q.drain(..n);
                self.metrics.unrecorded(q.len());
                tracing::info!(runs = n, "recorded runs held while the store was away");
            }
            Err(e) => tracing::debug!(error = %e, "the store still cannot record the held runs"),
        }
    }

    /// The last reload's failure, if the last reload failed (the status page's banner).
    pub fn reload_failure(&self) -> Option<(DateTime<Utc>, String)> {
        self.reload_failure.lock().expect("reload lock").clone()
    }

    fn reload_failed(&self, now: DateTime<Utc>, problem: String) {
        self.metrics.reload(false, now);
        *self.reload_failure.lock().expect("reload lock") = Some((now, problem));
    }

    /// Reads the latest results in place (no copy of all of them); `f` must be quick, runs
    /// wait for it.
    pub fn with_latest<T>(&self, f: impl FnOnce(&HashMap<String, Arc<CheckResult>>) -> T) -> T {
        f(&self.latest.lock().expect("latest lock"))
    }

    /// The runs themselves: the same pass `syncwatch run` makes, over these checks (sources
    /// batch what they can); callers hold an in-flight guard (shutdown waits for them).
    /// Returns whether a run decided a restart (its re-check is then pending).
    async fn run_checks_unguarded(&self, names: &[&str]) -> bool {
        let app = self.current();
        let indices: Vec<usize> = names.iter().filter_map(|n| app.index_of(n)).collect();
        if indices.is_empty() {
            return false;
        }
        self.record_held(&app).await;
        let report = match pass::run(
            Arc::clone(&app),
            &Selection::Indices(indices),
            self.clock.now(),
        )
        .await
        {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(checks = names.len(), error = %e, "run failed");
                return false;
            }
        };
        let decided = |what: &dyn Fn(&crate::policy::Decision) -> bool| {
            report
                .results
                .iter()
                .any(|r| r.decision.as_ref().is_some_and(what))
        };
        if decided(&|d| !d.actions.is_empty()) {
            self.outbox_written.notify_one();
        }
        let restarted = decided(&|d| d.actions.contains(&crate::policy::Action::Restart));
        let mut latest = Vec::with_capacity(report.results.len());
        for r in report.results {
            let check = &app.plan.checks[r.index];
            if r.state.is_none() {
                self.hold(check, &r);
            }
            self.metrics.observe(check, &r);
            latest.push((check.name.clone(), Arc::new(r)));
        }
        self.latest.lock().expect("latest lock").extend(latest);
        restarted
    }

    /// Loads the configuration again; on any problem, logs it and keeps the running one.
    /// Returns whether the new configuration is now in use.
    async fn reload(&self, why: &str) -> Option<Arc<App>> {
        let now = self.clock.now();
        // Parsed off the async threads: a huge or hostile file never stalls runs, the HTTP
        // side or a SIGTERM (the caller stops waiting for it on shutdown).
        let path = self.config_path.clone();
        let loaded =
            tokio::task::spawn_blocking(move || config::load(&path, &config::process_env)).await;
        let Ok(loaded) = loaded else {
            tracing::error!("reload refused: the configuration loader stopped; keeping the last good configuration");
            self.reload_failed(now, "the configuration loader stopped".into());
            return None;
        };
        let plan = match loaded {
            Ok(plan) => plan,
            Err(errors) => {
                for d in &errors.0 {
                    tracing::error!(problem = %d, "reload refused; keeping the last good configuration");
                }
                let first = errors
                    .0
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let more = errors.0.len().saturating_sub(1);
                let said = match more {
                    0 => first,
                    n => format!("{first} (and {n} more; `syncwatch validate` lists them)"),
                };
                self.reload_failed(now, said);
                return None;
            }
        };
        let app = match App::build_with_clock(plan, self.clock).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "reload refused; keeping the last good configuration");
                self.reload_failed(now, e.to_string());
                return None;
            }
        };
        *self.reload_failure.lock().expect("reload lock") = None;
        let old = std::mem::replace(&mut *self.app.write().expect("app lock"), Arc::clone(&app));
        self.metrics.set_plan(&app.plan, now);
        tracing::info!(
            reason = why,
            checks = app.plan.checks.len(),
            "configuration reloaded"
        );
        // Runs still using the old app finish with it; its pools close when the last one ends.
        drop(old);
        Some(app)
    }
}

/// Delivers the outbox in the background: after each run that wrote to it, and every second
/// for retries that came due.
async fn dispatcher(d: Arc<Daemon>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let app = d.current();
        let deadline = app.clock.now() + chrono::Duration::seconds(5);
        crate::notify::dispatch::drain(&app, Some(&d.metrics), deadline).await;
        drop(app);
        tokio::select! {
            _ = stop.changed() => return,
            _ = d.outbox_written.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

impl Daemon {
    /// Scheduled runs of one fire time, shared with other replicas: each claimed once per fire
    /// time in the store (one statement per few hundred checks), run here only where this
    /// replica got the claim, together in one pass. Returns whether a run decided a restart.
    async fn run_claimed(self: &Arc<Self>, names: &[&str], due: DateTime<Utc>) -> bool {
        // Taken before claiming: shutdown then waits for the claims, the runs and marking them
        // done, and a replica that is stopping never claims a run it would not finish.
        let _running = self.in_flight.read().await;
        let app = self.current();
        let now = self.clock.now();
        let lease_until =
            now + chrono::Duration::from_std(app.plan.settings.run_lease).unwrap_or_default();
        let claims = match app
            .store
            .claim_runs(names, due, &self.owner, now, lease_until)
            .await
        {
            Ok(claims) => claims,
            Err(e) => {
                // Running twice beats not running: with the store down, recording fails anyway.
                tracing::warn!(checks = names.len(), error = %e, "cannot claim the runs; running them");
                vec![Claim::Won; names.len()]
            }
        };
        let mut won = Vec::with_capacity(names.len());
        let mut skipped = Vec::new();
        for (name, claim) in names.iter().copied().zip(claims) {
            match claim {
                Claim::Won => won.push(name),
                Claim::Busy => skipped.push(name),
                Claim::Lost => tracing::debug!(check = name, %due, "another replica runs this one"),
            }
        }
        wait_for_dependencies(&app, &won, due).await;
        drop(app);
        let ran: Vec<&str> = {
            let mut running = self.running.lock().expect("running lock");
            won.into_iter()
                .filter(|name| {
                    let fresh = running.insert(name.to_string());
                    if !fresh {
                        skipped.push(name);
                    }
                    fresh
                })
                .collect()
        };
        for name in &skipped {
            tracing::warn!(
                check = name,
                "previous run still going: this tick is skipped"
            );
            self.metrics.skipped(name);
        }
        let mut restarted = false;
        if !ran.is_empty() {
            let _done = NotRunning(self, &ran);
            restarted = self.run_checks_unguarded(&ran).await;
        }
        let store = &self.current().store;
        let now = self.clock.now();
        for (list, how) in [(&ran, Finish::Ran), (&skipped, Finish::Skipped)] {
            if list.is_empty() {
                continue;
            }
            if let Err(e) = store.finish_runs(list, due, now, how).await {
                tracing::warn!(checks = list.len(), error = %e, "cannot mark the runs done; another replica may repeat them");
            }
        }
        restarted
    }
}

impl Daemon {
    /// Runs a check whose replica died mid-run, unless the check has moved on: a later fire
    /// time was claimed (by any replica), or it is running here now. Running the orphan then
    /// would only look at the same data again, later, and could run the check twice at once.
    async fn take_over(&self, app: &App, name: &str, due: DateTime<Utc>) -> Finish {
        if app.store.later_claim(name, due).await.unwrap_or(false) {
            tracing::info!(check = %name, %due, "a run whose replica died was superseded by a later one");
            return Finish::Superseded;
        }
        if !self
            .running
            .lock()
            .expect("running lock")
            .insert(name.to_string())
        {
            return Finish::Superseded;
        }
        let _done = NotRunning(self, &[name]);
        tracing::warn!(check = %name, %due, "taking over a run whose replica did not finish it");
        self.run_checks_unguarded(&[name]).await;
        Finish::Ran
    }
}

/// Before checks run, their dependencies due at the same fire time finish their runs (on any
/// replica), so they judge "blocked" on their verdicts of this instant, not of the last one:
/// when a partner database goes down, the check that says so pages and its dependents do not.
/// A dependency running here in the same group is ordered by the pass itself. Bounded by half
/// the run lease (the claims must not lapse while waiting).
async fn wait_for_dependencies(app: &App, names: &[&str], due: DateTime<Utc>) {
    let here: std::collections::HashSet<&str> = names.iter().copied().collect();
    let mut elsewhere: Vec<&str> = names
        .iter()
        .filter_map(|n| app.index_of(n).map(|i| &app.plan.checks[i]))
        .flat_map(|check| check.depends_on.iter())
        .filter_map(|d| app.index_of(d).map(|i| &app.plan.checks[i]))
        .filter(|d| !here.contains(d.name.as_str()))
        .filter(|d| d.schedule.last_at_or_before(due) == Some(due))
        .map(|d| d.name.as_str())
        .collect();
    elsewhere.sort_unstable();
    elsewhere.dedup();
    if elsewhere.is_empty() {
        return;
    }
    let until = tokio::time::Instant::now() + app.plan.settings.run_lease / 2;
    for dep in elsewhere {
        loop {
            match app.store.claim_done(dep, due).await {
                Ok(Some(true)) | Err(_) => break,
                Ok(_) if tokio::time::Instant::now() >= until => {
                    tracing::warn!(
                        dependency = dep,
                        "dependency still running; judging on its last verdict"
                    );
                    return;
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

/// Takes checks off the running set however their run ends.
struct NotRunning<'a>(&'a Daemon, &'a [&'a str]);

impl Drop for NotRunning<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().expect("running lock");
        for name in self.1 {
            running.remove(*name);
        }
    }
}

/// Keeps the compressed `/metrics` body ready: after a burst of runs settles (no change for a
/// quarter second), compresses the per-check families off the async threads, so a scrape
/// between bursts only compresses the few KB that change with time.
async fn metrics_warmer(d: Arc<Daemon>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        // Not while runs are going: the rebuild holds the series' lock (~0.1 s at 10,000
        // checks), and a run finishing meanwhile would wait for it on an async thread.
        if !d.metrics.stale() || !d.running.lock().expect("running lock").is_empty() {
            continue;
        }
        let before = d.metrics.version();
        tokio::time::sleep(Duration::from_millis(250)).await;
        if d.metrics.version() != before {
            continue; // still changing: a burst is being recorded
        }
        let d2 = Arc::clone(&d);
        let _ = tokio::task::spawn_blocking(move || d2.metrics.prepare()).await;
    }
}

/// Takes over runs whose replica died before finishing them (its lease expired).
async fn sweeper(d: Arc<Daemon>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last_prune = d.clock.now();
    loop {
        let app = d.current();
        d.record_held(&app).await;
        let lease = app.plan.settings.run_lease;
        let now = d.clock.now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        // Orphans are rare (a replica died): run them here, one after another, under one
        // in-flight guard taken before taking them over, so a shutdown never strands them.
        // While shutting down (a writer holds or waits for the lock), take nothing over.
        let guard = d.in_flight.try_read();
        let taken = match &guard {
            Ok(_) => {
                // Those whose checks have moved on first, all at once: taken over one by one,
                // each would hold its check busy (and its next fire time skipped) until its turn.
                match app.store.supersede_orphans(now).await {
                    Ok(gone) if !gone.is_empty() => tracing::info!(
                        runs = gone.len(),
                        "runs whose replica died were superseded by later ones"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot supersede orphaned runs"),
                }
                app.store.take_over_runs(&d.owner, now, until, 100).await
            }
            Err(_) => Ok(Vec::new()),
        };
        match taken {
            Ok(orphans) => {
                for (name, due) in orphans {
                    let how = d.take_over(&app, &name, due).await;
                    let _ = d
                        .current()
                        .store
                        .finish_run(&name, due, d.clock.now(), how)
                        .await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for orphaned runs"),
        }
        drop(guard);
        // Re-checks whose restart has settled, claimed like scheduled runs (the fire time is
        // the re-check's instant), so one replica makes each.
        match crate::pass::due_rechecks(&app, now).await {
            Ok(due) => {
                for (index, at) in due {
                    let name = app.plan.checks[index].name.clone();
                    tracing::info!(check = %name, "re-checking after the restart settled");
                    d.run_claimed(&[&name], at).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for due re-checks"),
        }
        if crate::tick::timers(&app, now).await.wrote() {
            d.outbox_written.notify_one();
        }
        if now - last_prune > chrono::Duration::hours(1) {
            last_prune = now;
            let _ = app
                .store
                .prune_claims(now - chrono::Duration::days(1))
                .await;
        }
        // Wake for the next pending re-check, or when a run decides a restart.
        let next_recheck = app
            .store
            .pending_rechecks()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, at)| at)
            .min();
        drop(app);
        let mut pause = (lease / 4).clamp(Duration::from_millis(500), Duration::from_secs(15));
        if let Some(at) = next_recheck {
            let left = (at - d.clock.now()).to_std().unwrap_or_default();
            pause = pause.min(left.max(Duration::from_millis(50)));
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(pause) => {}
            _ = d.rechecks.notified() => {}
        }
    }
}

/// Adapts the daemon to the scheduler's `Runner`.
struct Runs(Arc<Daemon>);

impl Runner for Runs {
    fn run(
        &self,
        checks: Vec<Arc<str>>,
        due: DateTime<Utc>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let d = Arc::clone(&self.0);
        async move {
            // A large group goes in slices, claimed and run side by side: the first slice's
            // statements start after one claim statement, not after the whole group's claims
            // (the sources' connection caps still hold across slices).
            let slices = checks.chunks(crate::store::CLAIM_CHUNK).map(|slice| {
                let d = Arc::clone(&d);
                let names: Vec<Arc<str>> = slice.to_vec();
                tokio::spawn(async move {
                    let names: Vec<&str> = names.iter().map(|c| &**c).collect();
                    d.run_claimed(&names, due).await
                })
            });
            let slices: Vec<_> = slices.collect();
            let mut restarted = false;
            for slice in slices {
                restarted |= slice.await.unwrap_or(false);
            }
            // A restart was decided: the sweeper wakes for its re-check when it settles.
            if restarted {
                d.rechecks.notify_one();
            }
        }
    }
    fn skipped(&self, check: &str) {
        self.0.metrics.skipped(check);
    }
    fn guards_overlap(&self) -> bool {
        true
    }
    fn late(&self, _check: &str, by: Duration) {
        self.0.metrics.lateness.observe(by.as_secs_f64());
    }
}

fn timings(plan: &Plan) -> Vec<(String, Timing)> {
    plan.checks
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                Timing {
                    schedule: c.schedule.clone(),
                    jitter: c.jitter,
                },
            )
        })
        .collect()
}

/// Shows each check's last recorded run, so a restart does not blank the metrics.
async fn restore(d: &Daemon, app: &App) -> HashMap<String, DateTime<Utc>> {
    let (runs, states) = match (app.store.latest_runs().await, app.store.states().await) {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "could not read the last runs from the store");
            return HashMap::new();
        }
    };
    for (name, run) in runs {
        let Some(index) = app.index_of(&name) else {
            continue;
        };
        let r = CheckResult {
            index,
            started_at: run.started_at,
            duration: run.duration,
            outcome: run.outcome,
            state: states.get(&name).cloned(),
            decision: None,
        };
        d.metrics.show(&app.plan.checks[index], &r);
        d.latest
            .lock()
            .expect("latest lock")
            .insert(name, Arc::new(r));
    }
    states
        .into_iter()
        .map(|(name, s)| (name, s.last_run_at))
        .collect()
}

/// Runs until `shutdown` resolves, then stops scheduling, drains runs in flight (up to
/// `grace`) and returns. `listener` is already bound, so the caller can report its address.
pub async fn serve(
    config_path: PathBuf,
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    clock: Clock,
    opts: Options,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let d = Arc::new(Daemon {
        config_path,
        app: RwLock::new(Arc::clone(&app)),
        metrics: Metrics::new(),
        latest: Mutex::new(HashMap::new()),
        clock,
        in_flight: tokio::sync::RwLock::new(()),
        outbox_written: tokio::sync::Notify::new(),
        rechecks: tokio::sync::Notify::new(),
        running: Mutex::new(std::collections::HashSet::new()),
        reload_failure: Mutex::new(None),
        unrecorded: Mutex::new(std::collections::VecDeque::new()),
        recording_held: tokio::sync::Mutex::new(()),
        owner: format!(
            "{}/{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "syncwatch".into()),
            std::process::id()
        ),
    });
    d.metrics.set_plan(&app.plan, clock.now());
    let last_runs = restore(&d, &app).await;
    let mut scheduler = Scheduler::new(Arc::new(Runs(Arc::clone(&d))), clock);
    scheduler.sync(timings(&app.plan), &last_runs);
    drop(app);
    let (stop_dispatch, dispatch_stopped) = tokio::sync::watch::channel(false);
    let dispatch = tokio::spawn(dispatcher(Arc::clone(&d), dispatch_stopped.clone()));
    let warm = tokio::spawn(metrics_warmer(Arc::clone(&d), dispatch_stopped.clone()));
    let sweep = tokio::spawn(sweeper(Arc::clone(&d), dispatch_stopped));

    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        axum::serve(listener, (opts.router)(Arc::clone(&d))).with_graceful_shutdown(async move {
            let _ = http_stopped.await;
        });
    let server = tokio::spawn(async move { server.await });

    let mut hup = hangups()?;
    let mut seen = d.current().plan.stamp.clone();
    let poll = if opts.watch_interval.is_zero() {
        Duration::from_secs(3600)
    } else {
        opts.watch_interval
    };
    tokio::pin!(shutdown);
    loop {
        let why = tokio::select! {
            _ = &mut shutdown => break,
            _ = hup.recv() => "SIGHUP",
            _ = tokio::time::sleep(poll) => {
                let now = config::stamp(&d.config_path, &d.current().plan.settings.checks_dir);
                if opts.watch_interval.is_zero() || now == seen {
                    continue;
                }
                seen = now;
                "a configuration file changed"
            }
        };
        let reloaded = tokio::select! {
            r = d.reload(why) => r,
            _ = &mut shutdown => break,
        };
        if let Some(app) = reloaded {
            let last: HashMap<String, DateTime<Utc>> = match app.store.states().await {
                Ok(states) => states
                    .into_iter()
                    .map(|(n, s)| (n, s.last_run_at))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            scheduler.sync(timings(&app.plan), &last);
            seen = app.plan.stamp.clone();
        }
    }

    tracing::info!("shutting down: no new runs; waiting for runs in flight");
    scheduler.stop();
    // Held to the end: runs that were waiting to start never start (and never claim).
    let stopped = tokio::time::timeout(opts.grace, d.in_flight.write()).await;
    if stopped.is_err() {
        tracing::warn!(grace = ?opts.grace, "runs still in flight after the grace period; exiting anyway");
    }
    let _ = stop_dispatch.send(true);
    let _ = dispatch.await;
    let _ = sweep.await;
    let _ = warm.await;
    let _ = stop_http.send(());
    let _ = server.await;
    d.current().close().await;
    drop(stopped);
    Ok(())
}

#[cfg(unix)]
fn hangups() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
}
