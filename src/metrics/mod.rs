//! Prometheus metrics: every family, its labels and HELP text, spelled once here (and in
//! `checks` for the per-check families). Per-check series carry `check`, `source`, `kind`; a
//! check's own labels go on `syncwatch_check_info` (one label set per family keeps them
//! joinable and bounded). Process-wide families live in a prometheus registry.

mod checks;
mod ready;

use crate::check::Check;
use crate::config::Plan;
use crate::pass::{CheckResult, PassReport};
use crate::verdict::Verdict;
use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts,
    Registry, TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub struct Metrics {
    registry: Registry,
    run_duration: HistogramVec,
    pub lateness: Histogram,
    configured: Gauge,
    reloads: IntCounterVec,
    reload_ok: Gauge,
    reload_at: Gauge,
    pass_success: Gauge,
    pass_duration: Gauge,
    restarts: IntCounterVec,
    notifications: IntCounterVec,
    outbox_pending: Gauge,
    lost_claims: prometheus::IntCounter,
    unrecorded: Gauge,
    unrecorded_dropped: prometheus::IntCounter,
    outbox_oldest: Gauge,
    incidents_open: Gauge,
    incidents_unacked: Gauge,
    inbound: IntCounterVec,
    retros_overdue: Gauge,
    actions_open: Gauge,
    /// The incident history's families (time to ack and resolve, pages per member), rendered
    /// from the store at most once a minute.
    history: Mutex<(Option<std::time::Instant>, String)>,
    /// When the SLO figures were last computed from the store.
    slo_at: Mutex<Option<std::time::Instant>>,
    /// Per-check series by check name.
    checks: Mutex<BTreeMap<String, checks::Series>>,
    /// Bumped on every change to `checks`: the ready body is current while it matches.
    checks_version: std::sync::atomic::AtomicU64,
    /// The per-check families, compressed, for gzip scrapes (see `ready`).
    ready: Mutex<Option<std::sync::Arc<ready::Ready>>>,
    /// The on-call rotation, for `syncwatch_oncall_info` (who holds each role at scrape time).
    oncall: Mutex<Option<crate::oncall::Rotation>>,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    r.register(Box::new(c.clone()))
        .expect("each family registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> Gauge {
    register(
        r,
        Gauge::with_opts(Opts::new(name, help)).expect("valid metric"),
    )
}

fn counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
    )
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let run_duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "syncwatch_check_run_duration_seconds",
                    "Time to run one check (probe and judge).",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
                &["source", "kind"],
            )
            .expect("valid metric"),
        );
        let lateness = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "syncwatch_scheduler_lateness_seconds",
                    "Delay between a check's scheduled start (fire time plus jitter) and its actual start.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0]),
            )
            .expect("valid metric"),
        );
        let build = register(
            &r,
            GaugeVec::new(
                Opts::new("syncwatch_build_info", "Build information; always 1."),
                &["version"],
            )
            .expect("valid metric"),
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        Metrics {
            run_duration,
            lateness,
            configured: gauge(&r, "syncwatch_checks", "Checks in the loaded configuration."),
            reloads: counters(&r, "syncwatch_config_reloads_total", "Configuration loads by result (success, failure).", &["result"]),
            reload_ok: gauge(&r, "syncwatch_config_last_reload_successful", "1 if the last configuration load succeeded, else 0."),
            reload_at: gauge(&r, "syncwatch_config_last_reload_success_timestamp_seconds", "When a configuration was last loaded successfully."),
            pass_success: gauge(&r, "syncwatch_pass_last_success_timestamp_seconds", "When a pass last completed with every run recorded."),
            pass_duration: gauge(&r, "syncwatch_pass_duration_seconds", "Duration of the last pass."),
            restarts: counters(
                &r,
                "syncwatch_restarts_total",
                "Restart actions carried out, by check, action and result (delivered, retried, failed).",
                &["check", "action", "result"],
            ),
            notifications: counters(
                &r,
                "syncwatch_notifications_total",
                "Outbound messages by notifier, event (page, reminder, resolve, notify, change) and outcome (delivered, retried, failed).",
                &["notifier", "event", "outcome"],
            ),
            outbox_pending: gauge(&r, "syncwatch_outbox_pending", "Messages in the outbox not yet delivered nor given up."),
            lost_claims: register(
                &r,
                prometheus::IntCounter::new(
                    "syncwatch_outbox_lost_claims_total",
                    "Deliveries whose outbox claim another dispatcher had taken over (lease ran out) before their result could be recorded.",
                )
                .expect("valid metric"),
            ),
            unrecorded: gauge(&r, "syncwatch_runs_unrecorded", "Runs held in memory because the state store could not record them (an outage); written when it returns."),
            unrecorded_dropped: register(
                &r,
                prometheus::IntCounter::new(
                    "syncwatch_runs_unrecorded_dropped_total",
                    "Runs dropped unrecorded because the store stayed away past the in-memory bound (10,000 runs).",
                )
                .expect("valid metric"),
            ),
            outbox_oldest: gauge(&r, "syncwatch_outbox_oldest_pending_age_seconds", "Age of the oldest message waiting in the outbox (0 when empty)."),
            incidents_open: gauge(&r, "syncwatch_incidents_open", "Incidents opened by a page and not resolved yet."),
            incidents_unacked: gauge(&r, "syncwatch_incidents_unacknowledged", "Open incidents nobody has acknowledged."),
            history: Mutex::new((None, String::new())),
            slo_at: Mutex::new(None),
            retros_overdue: gauge(&r, "syncwatch_retros_overdue", "Retros past their due date and not marked done."),
            actions_open: gauge(&r, "syncwatch_action_items_open", "Retro action items not done yet."),
            inbound: counters(
                &r,
                "syncwatch_inbound_requests_total",
                "Requests on /hooks/ by vendor (pagerduty, slack) and result (accepted, refused: a missing, wrong or stale signature; failed: the store could not record it).",
                &["vendor", "result"],
            ),
            checks: Mutex::new(BTreeMap::new()),
            checks_version: std::sync::atomic::AtomicU64::new(0),
            ready: Mutex::new(None),
            oncall: Mutex::new(None),
            registry: r,
        }
    }

    /// Publishes a newly loaded plan: thresholds and check info; removed checks lose their series.
    pub fn set_plan(&self, plan: &Plan, loaded_at: DateTime<Utc>) {
        let mut map = self.checks_mut();
        let mut old = std::mem::take(&mut *map);
        let mut shared = checks::Shared::default();
        // Collected, not inserted one by one: the map is then built from sorted entries, its
        // nodes full (inserted in plan order they were half empty: 10,000 series took 7.9 MB).
        *map = plan
            .checks
            .iter()
            .map(|c| {
                let previous = old.remove(&c.name);
                let series = checks::Series::configure(c, previous, &mut shared);
                (c.name.clone(), series)
            })
            .collect();
        self.configured.set(plan.checks.len() as f64);
        drop(map);
        *self.oncall.lock().expect("metrics lock") = plan.settings.oncall.clone();
        self.reload(true, loaded_at);
    }

    pub fn reload(&self, ok: bool, at: DateTime<Utc>) {
        self.reloads
            .with_label_values(&[if ok { "success" } else { "failure" }])
            .inc();
        self.reload_ok.set(if ok { 1.0 } else { 0.0 });
        if ok {
            self.reload_at.set(ts(at));
        }
    }

    /// Retros overdue and action items open.
    pub fn followthrough(&self, overdue: i64, open: i64) {
        self.retros_overdue.set(overdue as f64);
        self.actions_open.set(open as f64);
    }

    /// Whether the incident history is due to be rendered again (once a minute).
    pub fn history_due(&self) -> bool {
        let h = self.history.lock().expect("metrics lock");
        h.0.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60))
    }

    /// Renders the families computed from every incident in the store: histograms of time to
    /// acknowledge and to resolve, and pages per Prog Lead in and out of hours. They only grow,
    /// as incidents are kept.
    pub fn incident_history(
        &self,
        incidents: &[crate::store::incidents::Incident],
        zone: chrono_tz::Tz,
    ) {
        use std::fmt::Write;
        const BUCKETS: [f64; 9] = [
            60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
        ];
        let mut out = String::new();
        let histogram = |out: &mut String, name: &str, help: &str, values: &[f64]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for b in BUCKETS {
                let n = values.iter().filter(|v| **v <= b).count();
                let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", values.len());
            let _ = writeln!(out, "{name}_sum {}", values.iter().sum::<f64>());
            let _ = writeln!(out, "{name}_count {}", values.len());
        };
        let secs = |a: DateTime<Utc>, b: Option<DateTime<Utc>>| {
            b.map(|b| (b - a).num_milliseconds().max(0) as f64 / 1000.0)
        };
        let acks: Vec<f64> = incidents
            .iter()
            .filter_map(|i| secs(i.opened_at, i.acked_at))
            .collect();
        let resolves: Vec<f64> = incidents
            .iter()
            .filter_map(|i| secs(i.opened_at, i.resolved_at))
            .collect();
        histogram(
            &mut out,
            "syncwatch_incident_time_to_ack_seconds",
            "Time from page to acknowledgement, over every acknowledged incident in the store.",
            &acks,
        );
        histogram(
            &mut out,
            "syncwatch_incident_time_to_resolve_seconds",
            "Time from page to resolve, over every resolved incident in the store.",
            &resolves,
        );
        let mut pages: BTreeMap<(String, &str), u64> = BTreeMap::new();
        for i in incidents {
            let member = i.prog_lead.clone().unwrap_or_default();
            let hours = if crate::stats::out_of_hours(i.opened_at, zone) {
                "out_of_hours"
            } else {
                "business"
            };
            *pages.entry((member, hours)).or_default() += 1;
        }
        let _ = writeln!(out, "# HELP syncwatch_incident_pages_total Incidents paged, by the Prog Lead of the time and whether out of hours (nights and weekends in the on-call zone).\n# TYPE syncwatch_incident_pages_total counter");
        for ((member, hours), n) in pages {
            let _ = writeln!(
                out,
                "syncwatch_incident_pages_total{{hours=\"{hours}\",member=\"{}\"}} {n}",
                checks::escape(&member)
            );
        }
        *self.history.lock().expect("metrics lock") = (Some(std::time::Instant::now()), out);
    }

    /// Whether the SLO figures are due to be computed again (every five minutes; the first
    /// time at once).
    pub fn slo_due(&self) -> bool {
        let mut at = self.slo_at.lock().expect("metrics lock");
        let due = at.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(300));
        if due {
            *at = Some(std::time::Instant::now());
        }
        due
    }

    /// One check's SLO over its window.
    pub fn slo(&self, check: &str, a: &crate::slo::Achieved) {
        if let Some(s) = self.checks_mut().get_mut(check) {
            s.slo(a);
        }
    }

    /// Counts one request on `/hooks/`.
    pub fn inbound(&self, vendor: &str, result: &str) {
        self.inbound.with_label_values(&[vendor, result]).inc();
    }

    /// Records one run of a check.
    pub fn observe(&self, c: &Check, r: &CheckResult) {
        self.run_duration
            .with_label_values(&[c.source.as_deref().unwrap_or(""), c.kind.label()])
            .observe(r.duration.as_secs_f64());
        self.record(c, r, true);
    }

    /// Shows a check's last known run (e.g. from the store after a restart) without counting it.
    pub fn show(&self, c: &Check, r: &CheckResult) {
        self.record(c, r, false);
    }

    fn record(&self, c: &Check, r: &CheckResult, count: bool) {
        let mut map = self.checks_mut();
        let Some(s) = map.get_mut(&c.name) else {
            return;
        };
        s.show(
            r.outcome.verdict,
            &r.outcome.observed,
            ts(r.started_at),
            r.duration.as_secs_f64(),
            count,
        );
        if let Some(d) = &r.decision {
            s.held(d.held.as_deref().unwrap_or(""));
        }
        if let Some(e) = c.kind.expect() {
            let newest = match r.outcome.observed {
                crate::verdict::Observed::Age { newest, .. } => newest,
                _ => None,
            };
            s.expected(
                e.next(r.started_at).map(|l| ts(l.due)),
                e.lateness(newest, r.started_at),
            );
        }
        match &r.state {
            Some(state) => s.state(state.consecutive_failures, state.last_success_at.map(ts)),
            None if r.outcome.verdict == Verdict::Pass => s.passed_at(ts(r.started_at)),
            None => {}
        }
    }

    /// Records a whole pass (CronJob mode).
    pub fn observe_pass(&self, checks: &[Check], report: &PassReport) {
        for r in &report.results {
            self.observe(&checks[r.index], r);
        }
        self.pass_duration.set(report.duration.as_secs_f64());
        if report.store_errors.is_empty() {
            self.pass_success
                .set(ts(report.started_at + report.duration));
        }
    }

    /// Counts one delivery attempt's outcome (`delivered`, `retried`, `failed`);
    /// `restart_action` is the restart's kind when the job was a restart.
    pub fn delivery(
        &self,
        item: &crate::store::OutboxItem,
        restart_action: Option<&str>,
        outcome: &str,
    ) {
        if let Some(action) = restart_action {
            self.restarts
                .with_label_values(&[item.check.as_str(), action, outcome])
                .inc();
        } else {
            self.notifications
                .with_label_values(&[item.notifier.as_str(), &item.event, outcome])
                .inc();
        }
    }

    pub fn lost_claim(&self) {
        self.lost_claims.inc();
    }

    pub fn unrecorded(&self, held: usize) {
        self.unrecorded.set(held as f64);
    }

    pub fn unrecorded_dropped(&self) {
        self.unrecorded_dropped.inc();
    }

    pub fn outbox(&self, pending: i64, oldest_age_seconds: Option<f64>) {
        self.outbox_pending.set(pending as f64);
        self.outbox_oldest.set(oldest_age_seconds.unwrap_or(0.0));
    }

    pub fn incidents(&self, open: i64, unacknowledged: i64) {
        self.incidents_open.set(open as f64);
        self.incidents_unacked.set(unacknowledged as f64);
    }

    pub fn skipped(&self, check: &str) {
        if let Some(s) = self.checks_mut().get_mut(check) {
            s.skip();
        }
    }

    /// The per-check series, to change them (the ready body is then out of date).
    fn checks_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, checks::Series>> {
        let map = self.checks.lock().expect("metrics lock");
        self.checks_version
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map
    }

    /// Text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let map = self.checks.lock().expect("metrics lock");
        let mut out = String::with_capacity(map.len() * 1200 + 16 * 1024);
        checks::render(&map, &mut out, &mut |_| {});
        checks::render_skipped(&map, &mut out);
        drop(map);
        self.render_rest(&mut out);
        out
    }

    /// Makes the compressed per-check families current, if they are not; returns them.
    /// Called after bursts of runs (so a scrape finds them ready) and by a gzip scrape.
    pub fn prepare(&self) -> std::sync::Arc<ready::Ready> {
        use std::sync::atomic::Ordering;
        if let Some(r) = self.ready.lock().expect("metrics lock").as_ref() {
            if r.version == self.checks_version.load(Ordering::SeqCst) {
                return std::sync::Arc::clone(r);
            }
        }
        let map = self.checks.lock().expect("metrics lock");
        // Read under the lock: no change can slip in between the version and the text.
        let version = self.checks_version.load(Ordering::SeqCst);
        let built = std::sync::Arc::new(ready::prepare(version, |drain| {
            let mut out = String::with_capacity(256 * 1024);
            checks::render(&map, &mut out, drain);
            checks::render_skipped(&map, &mut out);
            drain(&mut out);
        }));
        drop(map);
        *self.ready.lock().expect("metrics lock") = Some(std::sync::Arc::clone(&built));
        built
    }

    /// Changes to the per-check series so far.
    pub fn version(&self) -> u64 {
        self.checks_version
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the compressed per-check families are out of date.
    pub fn stale(&self) -> bool {
        let current = self
            .checks_version
            .load(std::sync::atomic::Ordering::SeqCst);
        self.ready
            .lock()
            .expect("metrics lock")
            .as_ref()
            .is_none_or(|r| r.version != current)
    }

    /// The text format, gzip-compressed, in pieces to send one after another: the per-check
    /// families from the ready body, the rest rendered now.
    pub fn render_gzip(&self) -> [bytes::Bytes; 4] {
        let (ready, rest) = self.ready_and_rest();
        ready::gzip(&ready, &rest)
    }

    /// The text format in pieces to send one after another: the per-check families inflated
    /// from the ready body as they are sent, then the rest rendered now. Holds no second copy
    /// of the text (`render` builds it whole: the push and tests use that).
    pub fn render_pieces(&self) -> impl Iterator<Item = bytes::Bytes> + Send + 'static {
        let (ready, rest) = self.ready_and_rest();
        ready
            .text()
            .chain(std::iter::once(bytes::Bytes::from(rest)))
    }

    /// What a scrape sends: the per-check families made ready, and the rest rendered now.
    fn ready_and_rest(&self) -> (std::sync::Arc<ready::Ready>, String) {
        let ready = self.prepare();
        let mut rest = String::with_capacity(16 * 1024);
        self.render_rest(&mut rest);
        (ready, rest)
    }

    /// Everything but the per-check families: the registry's, the incident history's, the
    /// store's health and the on-call roles at this instant (a few KB).
    fn render_rest(&self, out: &mut String) {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        out.push_str(&String::from_utf8_lossy(&buf));
        out.push_str(&self.history.lock().expect("metrics lock").1);
        out.push_str("# HELP syncwatch_store_write_errors_total Writes to the state store that failed (a full disk, an outage).\n");
        out.push_str("# TYPE syncwatch_store_write_errors_total counter\n");
        out.push_str(&format!(
            "syncwatch_store_write_errors_total {}\n",
            crate::store::health::errors()
        ));
        out.push_str("# HELP syncwatch_store_writes_failing 1 while writes to the state store fail (the last one failed).\n");
        out.push_str("# TYPE syncwatch_store_writes_failing gauge\n");
        out.push_str(&format!(
            "syncwatch_store_writes_failing {}\n",
            u8::from(crate::store::health::failing().is_some())
        ));
        if let Some(on) = self
            .oncall
            .lock()
            .expect("metrics lock")
            .as_ref()
            .and_then(|r| r.at(Utc::now()))
        {
            out.push_str("# HELP syncwatch_oncall_info Who is on call now: role prog_lead or secondary; always 1.\n");
            out.push_str("# TYPE syncwatch_oncall_info gauge\n");
            let roles = std::iter::once(("prog_lead", &on.prog_lead))
                .chain(on.secondary.iter().map(|m| ("secondary", m)));
            for (role, m) in roles {
                out.push_str(&format!(
                    "syncwatch_oncall_info{{member=\"{}\",role=\"{role}\"}} 1\n",
                    m.name.replace('\\', "\\\\").replace('"', "\\\"")
                ));
            }
        }
    }
}

pub async fn push(
    client: &reqwest::Client,
    base: &url::Url,
    job: &str,
    body: String,
) -> Result<(), String> {
    let url = format!("{}/metrics/job/{job}", base.as_str().trim_end_matches('/'));
    let shown = format!(
        "{}://{}{}",
        base.scheme(),
        base.host_str().unwrap_or(""),
        base.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    let resp = client
        .put(&url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .timeout(std::time::Duration::from_secs(10))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("pushing metrics to {shown}: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(format!(
        "pushing metrics to {shown}: the Pushgateway answered {status}: {}",
        text.trim()
    ))
}

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod ready_tests {
    use super::*;

    #[test]
    fn a_plain_scrape_from_the_ready_body_is_the_rendered_text() {
        let plan = crate::demo::test_plan();
        let m = Metrics::new();
        m.set_plan(&plan, Utc::now());
        let name = plan.checks[0].name.clone();
        for change in 0..2 {
            let pieces: Vec<u8> = m.render_pieces().flat_map(|b| b.to_vec()).collect();
            let text = String::from_utf8(pieces).unwrap();
            assert_eq!(text, m.render(), "after {change} changes");
            assert!(text.contains("syncwatch_check_info{"), "{text}");
            // A change makes the ready body stale; the next scrape shows it.
            m.skipped(&name);
            assert!(m.stale());
        }
        assert!(m.render().contains(&format!(
            "syncwatch_scheduler_skipped_runs_total{{check=\"{name}\"}} 2"
        )));
    }
}
