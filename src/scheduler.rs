//! Runs each check on its own cron schedule, in its own time zone: one timer task per check,
//! no overlap with itself, optional jitter, lateness measured, one prompt catch-up run after
//! a restart. What a run does is the caller's (`daemon`); this module owns only *when*.

use crate::clock::Clock;
use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// What decides a check's timing; a reload that keeps it keeps the check's timer.
#[derive(Debug, Clone)]
pub struct Timing {
    pub schedule: Schedule,
    pub jitter: Duration,
}

impl Timing {
    fn same_as(&self, other: &Timing) -> bool {
        self.schedule.expr() == other.schedule.expr()
            && self.schedule.timezone() == other.schedule.timezone()
            && self.jitter == other.jitter
    }
}

/// A deterministic delay in `[0, jitter)` for one fire time of one check: spreads checks that
/// share a schedule, and is the same on every replica.
pub fn jitter_offset(check: &str, fire: DateTime<Utc>, jitter: Duration) -> Duration {
    let ms = jitter.as_millis() as u64;
    if ms == 0 {
        return Duration::ZERO;
    }
    let mut h = DefaultHasher::new();
    check.hash(&mut h);
    fire.timestamp().hash(&mut h);
    Duration::from_millis(h.finish() % ms)
}

/// How the scheduler reports: a tick to run, a tick skipped, the lateness of a start.
pub trait Runner: Send + Sync + 'static {
    /// Runs the check for fire time `due`; the returned future is spawned, and the scheduler
    /// waits for none of it.
    fn run(&self, check: &str, due: DateTime<Utc>) -> impl Future<Output = ()> + Send + 'static;
    fn skipped(&self, check: &str);
    /// True when the runner keeps a check from overlapping itself (replicas do it after
    /// winning the run's claim, so that a replica merely trying to claim never skips a tick
    /// that another replica needed). Otherwise the scheduler skips a tick whose previous run
    /// is still going.
    fn guards_overlap(&self) -> bool {
        false
    }
    fn late(&self, check: &str, by: Duration);
}

struct Entry {
    timing: Timing,
    task: JoinHandle<()>,
    running: Arc<AtomicBool>,
}

pub struct Scheduler<R: Runner> {
    runner: Arc<R>,
    clock: Clock,
    entries: HashMap<String, Entry>,
}

impl<R: Runner> Scheduler<R> {
    pub fn new(runner: Arc<R>, clock: Clock) -> Scheduler<R> {
        Scheduler {
            runner,
            clock,
            entries: HashMap::new(),
        }
    }

    /// Makes the running timers match `wanted`: removed checks stop, new or retimed ones start,
    /// unchanged ones keep their timers. `last_runs` decides the catch-up run of new timers.
    pub fn sync(
        &mut self,
        wanted: Vec<(String, Timing)>,
        last_runs: &HashMap<String, DateTime<Utc>>,
    ) {
        let names: std::collections::HashSet<&str> =
            wanted.iter().map(|(n, _)| n.as_str()).collect();
        self.entries.retain(|name, e| {
            let keep = names.contains(name.as_str());
            if !keep {
                e.task.abort();
            }
            keep
        });
        for (name, timing) in wanted {
            if let Some(e) = self.entries.get(&name) {
                if e.timing.same_as(&timing) {
                    continue;
                }
                e.task.abort();
            }
            // An in-flight run of the old timer still guards against overlap.
            let running = self
                .entries
                .get(&name)
                .map(|e| Arc::clone(&e.running))
                .unwrap_or_default();
            let catch_up = match last_runs.get(&name) {
                None => true,
                Some(last) => timing
                    .schedule
                    .next_after(*last)
                    .is_some_and(|t| t <= self.clock.now()),
            };
            let task = tokio::spawn(timer(
                Arc::clone(&self.runner),
                self.clock,
                name.clone(),
                timing.clone(),
                Arc::clone(&running),
                catch_up,
            ));
            self.entries.insert(
                name,
                Entry {
                    timing,
                    task,
                    running,
                },
            );
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Stops every timer; runs already started go on.
    pub fn stop(&mut self) {
        for (_, e) in self.entries.drain() {
            e.task.abort();
        }
    }
}

impl<R: Runner> Drop for Scheduler<R> {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn timer<R: Runner>(
    runner: Arc<R>,
    clock: Clock,
    name: String,
    t: Timing,
    running: Arc<AtomicBool>,
    catch_up: bool,
) {
    if catch_up {
        // The run owed is the last fire time: the same on every replica that starts now.
        let due = t
            .schedule
            .last_at_or_before(clock.now())
            .unwrap_or_else(|| clock.now());
        start(&runner, &name, &running, due);
    }
    let mut after = clock.now();
    loop {
        let Some(fire) = t.schedule.next_after(after) else {
            return;
        };
        let due = fire + jitter_offset(&name, fire, t.jitter);
        clock.sleep_until(due).await;
        let now = clock.now();
        runner.late(&name, (now - due).to_std().unwrap_or(Duration::ZERO));
        start(&runner, &name, &running, fire);
        // Never replay ticks missed while asleep (a suspended host): continue from now.
        after = fire.max(now);
    }
}

fn start<R: Runner>(runner: &Arc<R>, name: &str, running: &Arc<AtomicBool>, due: DateTime<Utc>) {
    if runner.guards_overlap() {
        tokio::spawn(runner.run(name, due));
        return;
    }
    if running.swap(true, Ordering::SeqCst) {
        tracing::warn!(
            check = name,
            "previous run still going: this tick is skipped"
        );
        runner.skipped(name);
        return;
    }
    let fut = runner.run(name, due);
    let reset = Reset(Arc::clone(running));
    tokio::spawn(async move {
        let _reset = reset;
        fut.await;
    });
}

/// Clears the running flag however the run ends, a panic included.
struct Reset(Arc<AtomicBool>);

impl Drop for Reset {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
