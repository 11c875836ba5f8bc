//! Runs each check on its own cron schedule, in its own time zone: one timer for all checks (a
//! heap of next fire times), checks falling due at the same instant handed over together (so
//! the run can batch them), no overlap of a check with itself, optional jitter, lateness
//! measured, one prompt catch-up run after a restart. What a run does is the caller's
//! (`daemon`); this module owns only *when*.

use crate::clock::Clock;
use crate::schedule::Schedule;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// How the scheduler reports: checks to run, a tick skipped, the lateness of a start.
pub trait Runner: Send + Sync + 'static {
    /// Runs `checks`, all due at fire time `due` and woken at the same instant (one group, in
    /// name order); the returned future is spawned, and the scheduler waits for none of it.
    fn run(
        &self,
        checks: Vec<Arc<str>>,
        due: DateTime<Utc>,
    ) -> impl Future<Output = ()> + Send + 'static;
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

/// One check's timer: its timing, which generation of it is current (a retimed check leaves
/// stale heap items behind, dropped when they come up), and whether it is running.
struct Entry {
    name: Arc<str>,
    timing: Timing,
    generation: u64,
    running: Arc<AtomicBool>,
}

/// A fire time waiting in the heap. Ordered by wake instant first.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    wake: DateTime<Utc>,
    fire: DateTime<Utc>,
    generation: u64,
    /// The catch-up run after a start: no lateness, no next fire time scheduled from it.
    catch_up: bool,
    name: Arc<str>,
}

#[derive(Default)]
struct Timers {
    entries: HashMap<Arc<str>, Entry>,
    heap: BinaryHeap<Reverse<Due>>,
    next_generation: u64,
}

pub struct Scheduler<R: Runner> {
    clock: Clock,
    timers: Arc<Mutex<Timers>>,
    /// Wakes the timer task when the heap changed.
    changed: Arc<tokio::sync::Notify>,
    task: Option<JoinHandle<()>>,
    _runner: std::marker::PhantomData<R>,
}

impl<R: Runner> Scheduler<R> {
    pub fn new(runner: Arc<R>, clock: Clock) -> Scheduler<R> {
        let timers = Arc::new(Mutex::new(Timers::default()));
        let changed = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(timer_loop(
            runner,
            clock,
            Arc::clone(&timers),
            Arc::clone(&changed),
        ));
        Scheduler {
            clock,
            timers,
            changed,
            task: Some(task),
            _runner: std::marker::PhantomData,
        }
    }

    /// Makes the timers match `wanted`: removed checks stop, new or retimed ones start,
    /// unchanged ones keep their timers. `last_runs` decides the catch-up run of new timers.
    pub fn sync(
        &mut self,
        wanted: Vec<(String, Timing)>,
        last_runs: &HashMap<String, DateTime<Utc>>,
    ) {
        let now = self.clock.now();
        let mut t = self.timers.lock().expect("timers lock");
        let names: std::collections::HashSet<&str> =
            wanted.iter().map(|(n, _)| n.as_str()).collect();
        t.entries.retain(|name, _| names.contains(&**name));
        for (name, timing) in wanted {
            if t.entries
                .get(name.as_str())
                .is_some_and(|e| e.timing.same_as(&timing))
            {
                continue;
            }
            // An in-flight run of the old timer still guards against overlap.
            let running = t
                .entries
                .get(name.as_str())
                .map(|e| Arc::clone(&e.running))
                .unwrap_or_default();
            let catch_up = match last_runs.get(&name) {
                None => true,
                Some(last) => timing
                    .schedule
                    .next_after(*last)
                    .is_some_and(|at| at <= now),
            };
            t.next_generation += 1;
            let generation = t.next_generation;
            let name: Arc<str> = Arc::from(name);
            if catch_up {
                // The run owed is the last fire time: the same on every replica that starts now.
                let fire = timing.schedule.last_at_or_before(now).unwrap_or(now);
                t.heap.push(Reverse(Due {
                    wake: now,
                    fire,
                    generation,
                    catch_up: true,
                    name: Arc::clone(&name),
                }));
            }
            if let Some(due) = next_due(&name, &timing, now, generation) {
                t.heap.push(Reverse(due));
            }
            t.entries.insert(
                Arc::clone(&name),
                Entry {
                    name,
                    timing,
                    generation,
                    running,
                },
            );
        }
        // Stale items of removed or retimed checks go when they come up; a heap far larger
        // than the checks (many reloads) is rebuilt now.
        if t.heap.len() > 4 * t.entries.len() + 64 {
            let Timers { entries, heap, .. } = &mut *t;
            heap.retain(|Reverse(d)| {
                entries
                    .get(&d.name)
                    .is_some_and(|e| e.generation == d.generation)
            });
        }
        drop(t);
        self.changed.notify_one();
    }

    pub fn len(&self) -> usize {
        self.timers.lock().expect("timers lock").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every timer; runs already started go on.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let mut t = self.timers.lock().expect("timers lock");
        t.entries.clear();
        t.heap.clear();
    }
}

impl<R: Runner> Drop for Scheduler<R> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The next fire time of a check strictly after `after`, with its jitter.
fn next_due(
    name: &Arc<str>,
    timing: &Timing,
    after: DateTime<Utc>,
    generation: u64,
) -> Option<Due> {
    let fire = timing.schedule.next_after(after)?;
    Some(Due {
        wake: fire + jitter_offset(name, fire, timing.jitter),
        fire,
        generation,
        catch_up: false,
        name: Arc::clone(name),
    })
}

async fn timer_loop<R: Runner>(
    runner: Arc<R>,
    clock: Clock,
    timers: Arc<Mutex<Timers>>,
    changed: Arc<tokio::sync::Notify>,
) {
    loop {
        let next = timers
            .lock()
            .expect("timers lock")
            .heap
            .peek()
            .map(|Reverse(d)| d.wake);
        match next {
            None => changed.notified().await,
            Some(at) => {
                tokio::select! {
                    _ = clock.sleep_until(at) => {}
                    _ = changed.notified() => continue,
                }
            }
        }
        let now = clock.now();
        // Everything due by now, grouped by fire time (checks woken together at one instant).
        let mut groups: BTreeMap<DateTime<Utc>, Group> = BTreeMap::new();
        {
            let mut guard = timers.lock().expect("timers lock");
            let t = &mut *guard;
            while t.heap.peek().is_some_and(|Reverse(d)| d.wake <= now) {
                let Some(Reverse(due)) = t.heap.pop() else {
                    break;
                };
                let Some(entry) = t
                    .entries
                    .get(&due.name)
                    .filter(|e| e.generation == due.generation)
                else {
                    continue;
                };
                if !due.catch_up {
                    runner.late(
                        &entry.name,
                        (now - due.wake).to_std().unwrap_or(Duration::ZERO),
                    );
                    // Never replay ticks missed while asleep (a suspended host): continue from now.
                    if let Some(next) = next_due(
                        &entry.name,
                        &entry.timing,
                        due.fire.max(now),
                        entry.generation,
                    ) {
                        t.heap.push(Reverse(next));
                    }
                }
                groups
                    .entry(due.fire)
                    .or_default()
                    .push((Arc::clone(&entry.name), Arc::clone(&entry.running)));
            }
        }
        for (fire, mut group) in groups {
            group.sort_by(|a, b| a.0.cmp(&b.0));
            group.dedup_by(|a, b| a.0 == b.0);
            start(&runner, group, fire);
        }
    }
}

/// Checks woken together for one fire time, with their running flags.
type Group = Vec<(Arc<str>, Arc<AtomicBool>)>;

fn start<R: Runner>(runner: &Arc<R>, group: Group, due: DateTime<Utc>) {
    if runner.guards_overlap() {
        tokio::spawn(runner.run(group.into_iter().map(|(n, _)| n).collect(), due));
        return;
    }
    let mut names = Vec::with_capacity(group.len());
    let mut resets = Vec::with_capacity(group.len());
    for (name, running) in group {
        if running.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                check = &*name,
                "previous run still going: this tick is skipped"
            );
            runner.skipped(&name);
            continue;
        }
        names.push(name);
        resets.push(Reset(running));
    }
    if names.is_empty() {
        return;
    }
    let fut = runner.run(names, due);
    tokio::spawn(async move {
        let _resets = resets;
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
