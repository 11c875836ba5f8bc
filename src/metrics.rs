//! Prometheus metrics: every family, its labels and HELP text, spelled once here.
//! Per-check series carry `check`, `source`, `kind`; a check's own labels go on
//! `syncwatch_check_info` (one label set for every family keeps them joinable and bounded).

use crate::config::Plan;
use crate::model::{Check, CheckKind};
use crate::pass::{CheckResult, PassReport};
use crate::verdict::{Observed, Verdict};
use chrono::{DateTime, Utc};
use prometheus::{
    CounterVec, Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec,
    Opts, Registry, TextEncoder,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

const CHECK: &[&str] = &["check", "source", "kind"];

pub struct Metrics {
    registry: Registry,
    status: GaugeVec,
    age: GaugeVec,
    newest: GaugeVec,
    value: GaugeVec,
    warn_after: GaugeVec,
    error_after: GaugeVec,
    bound: GaugeVec,
    last_run: GaugeVec,
    last_success: GaugeVec,
    last_duration: GaugeVec,
    failures: GaugeVec,
    silenced: GaugeVec,
    blocked: GaugeVec,
    runs: CounterVec,
    run_duration: HistogramVec,
    pub lateness: Histogram,
    skipped: IntCounterVec,
    checks: Gauge,
    reloads: IntCounterVec,
    reload_ok: Gauge,
    reload_at: Gauge,
    pass_success: Gauge,
    pass_duration: Gauge,
    restarts: IntCounterVec,
    notifications: IntCounterVec,
    outbox_pending: Gauge,
    outbox_oldest: Gauge,
    info: Mutex<Option<GaugeVec>>,
    /// The (source, kind) of each check in the current plan, to drop series of removed checks.
    known: Mutex<HashMap<String, (String, String)>>,
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn gauge(r: &Registry, name: &str, help: &str) -> Gauge {
    let g = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

fn with(labels: &[&str], extra: &str) -> Vec<String> {
    labels
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::once(extra.to_string()))
        .collect()
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let verdict_labels = with(CHECK, "verdict");
        let verdict_labels: Vec<&str> = verdict_labels.iter().map(String::as_str).collect();
        let bound_labels = with(CHECK, "bound");
        let bound_labels: Vec<&str> = bound_labels.iter().map(String::as_str).collect();
        let runs = CounterVec::new(
            Opts::new("syncwatch_check_runs_total", "Check runs by verdict."),
            &verdict_labels,
        )
        .expect("valid metric");
        r.register(Box::new(runs.clone())).expect("registered once");
        let run_duration = HistogramVec::new(
            HistogramOpts::new(
                "syncwatch_check_run_duration_seconds",
                "Time to run one check (probe and judge).",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["source", "kind"],
        )
        .expect("valid metric");
        r.register(Box::new(run_duration.clone()))
            .expect("registered once");
        let lateness = Histogram::with_opts(
            HistogramOpts::new(
                "syncwatch_scheduler_lateness_seconds",
                "Delay between a check's scheduled start (fire time plus jitter) and its actual start.",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0]),
        )
        .expect("valid metric");
        r.register(Box::new(lateness.clone()))
            .expect("registered once");
        let skipped = IntCounterVec::new(
            Opts::new(
                "syncwatch_scheduler_skipped_runs_total",
                "Scheduled runs skipped because the previous run of the same check was still going.",
            ),
            &["check"],
        )
        .expect("valid metric");
        r.register(Box::new(skipped.clone()))
            .expect("registered once");
        let reloads = IntCounterVec::new(
            Opts::new(
                "syncwatch_config_reloads_total",
                "Configuration reloads by result (success, failure).",
            ),
            &["result"],
        )
        .expect("valid metric");
        r.register(Box::new(reloads.clone()))
            .expect("registered once");
        let restarts = IntCounterVec::new(
            Opts::new("syncwatch_restarts_total", "Restart actions carried out, by check, action and result (delivered, retried, failed)."),
            &["check", "action", "result"],
        )
        .expect("valid metric");
        r.register(Box::new(restarts.clone()))
            .expect("registered once");
        let notifications = IntCounterVec::new(
            Opts::new(
                "syncwatch_notifications_total",
                "Outbound messages by notifier, event (page, reminder, resolve, notify, change) and outcome (delivered, retried, failed).",
            ),
            &["notifier", "event", "outcome"],
        )
        .expect("valid metric");
        r.register(Box::new(notifications.clone()))
            .expect("registered once");
        let build = gauge_vec(
            &r,
            "syncwatch_build_info",
            "Build information; always 1.",
            &["version"],
        );
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        Metrics {
            status: gauge_vec(
                &r,
                "syncwatch_check_status",
                "1 for the check's current verdict (pass, warn, fail, error), 0 for the others.",
                &verdict_labels,
            ),
            age: gauge_vec(
                &r,
                "syncwatch_check_data_age_seconds",
                "Age of the newest data at the last run, by the source's clock.",
                CHECK,
            ),
            newest: gauge_vec(
                &r,
                "syncwatch_check_data_timestamp_seconds",
                "Timestamp of the newest data at the last run.",
                CHECK,
            ),
            value: gauge_vec(
                &r,
                "syncwatch_check_value",
                "Number measured at the last run (row count, query result, HTTP status).",
                CHECK,
            ),
            warn_after: gauge_vec(
                &r,
                "syncwatch_check_warn_after_seconds",
                "Configured warn_after of a freshness check.",
                CHECK,
            ),
            error_after: gauge_vec(
                &r,
                "syncwatch_check_error_after_seconds",
                "Configured error_after of a freshness check.",
                CHECK,
            ),
            bound: gauge_vec(
                &r,
                "syncwatch_check_bound",
                "Configured row-count bounds (warn_below, error_below, warn_above, error_above).",
                &bound_labels,
            ),
            last_run: gauge_vec(
                &r,
                "syncwatch_check_last_run_timestamp_seconds",
                "When the check last ran.",
                CHECK,
            ),
            last_success: gauge_vec(
                &r,
                "syncwatch_check_last_success_timestamp_seconds",
                "When the check last passed.",
                CHECK,
            ),
            last_duration: gauge_vec(
                &r,
                "syncwatch_check_last_run_duration_seconds",
                "How long the last run of the check took.",
                CHECK,
            ),
            failures: gauge_vec(
                &r,
                "syncwatch_check_consecutive_failures",
                "Runs in a row that were fail or error.",
                CHECK,
            ),
            silenced: gauge_vec(
                &r,
                "syncwatch_check_silenced",
                "1 if a silence or maintenance window covered the check at its last run.",
                CHECK,
            ),
            blocked: gauge_vec(
                &r,
                "syncwatch_check_blocked",
                "1 if a check it depends on was failing at its last run (so it paged nothing).",
                CHECK,
            ),
            runs,
            run_duration,
            lateness,
            skipped,
            checks: gauge(
                &r,
                "syncwatch_checks",
                "Checks in the loaded configuration.",
            ),
            reloads,
            reload_ok: gauge(
                &r,
                "syncwatch_config_last_reload_successful",
                "1 if the last configuration load succeeded, else 0.",
            ),
            reload_at: gauge(
                &r,
                "syncwatch_config_last_reload_success_timestamp_seconds",
                "When a configuration was last loaded successfully.",
            ),
            pass_success: gauge(
                &r,
                "syncwatch_pass_last_success_timestamp_seconds",
                "When a pass last completed with every run recorded.",
            ),
            pass_duration: gauge(
                &r,
                "syncwatch_pass_duration_seconds",
                "Duration of the last pass.",
            ),
            restarts,
            notifications,
            outbox_pending: gauge(
                &r,
                "syncwatch_outbox_pending",
                "Messages in the outbox not yet delivered nor given up.",
            ),
            outbox_oldest: gauge(
                &r,
                "syncwatch_outbox_oldest_pending_age_seconds",
                "Age of the oldest message waiting in the outbox (0 when empty).",
            ),
            info: Mutex::new(None),
            known: Mutex::new(HashMap::new()),
            registry: r,
        }
    }

    /// Publishes a newly loaded plan: thresholds, check info, and no series for removed checks.
    pub fn set_plan(&self, plan: &Plan, loaded_at: DateTime<Utc>) {
        let mut known = self.known.lock().expect("metrics lock");
        let now: HashMap<String, (String, String)> = plan
            .checks
            .iter()
            .map(|c| (c.name.clone(), key(c)))
            .collect();
        for (name, (source, kind)) in known.iter() {
            if now.get(name) != Some(&(source.clone(), kind.clone())) {
                self.forget(name, source, kind);
            }
        }
        *known = now;
        for c in &plan.checks {
            self.set_thresholds(c);
        }
        self.set_info(plan);
        self.checks.set(plan.checks.len() as f64);
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

    fn set_thresholds(&self, c: &Check) {
        let (source, kind) = key(c);
        let l = [c.name.as_str(), &source, &kind];
        let ages = match &c.kind {
            CheckKind::Freshness(f) => Some(f.thresholds),
            CheckKind::Http(h) if h.timestamp_pointer.is_some() => Some(h.thresholds),
            _ => None,
        };
        if let Some(t) = ages {
            if let Some(w) = t.warn_after {
                self.warn_after.with_label_values(&l).set(w.as_secs_f64());
            }
            if let Some(e) = t.error_after {
                self.error_after.with_label_values(&l).set(e.as_secs_f64());
            }
        }
        if let CheckKind::RowCount(r) = &c.kind {
            let b = &r.bounds;
            for (name, v) in [
                ("warn_below", b.warn_below),
                ("error_below", b.error_below),
                ("warn_above", b.warn_above),
                ("error_above", b.error_above),
            ] {
                if let Some(v) = v {
                    self.bound
                        .with_label_values(&[l[0], l[1], l[2], name])
                        .set(v);
                }
            }
        }
    }

    /// `syncwatch_check_info`: its label set is the union of every check's own label names.
    fn set_info(&self, plan: &Plan) {
        let keys: BTreeSet<&str> = plan
            .checks
            .iter()
            .flat_map(|c| c.labels.keys().map(String::as_str))
            .collect();
        let mut names: Vec<&str> = vec!["check", "source", "kind", "schedule", "timezone"];
        names.extend(keys.iter().copied());
        let info = GaugeVec::new(
            Opts::new(
                "syncwatch_check_info",
                "Each configured check with its schedule and own labels; always 1.",
            ),
            &names,
        )
        .expect("label names were validated");
        for c in &plan.checks {
            let (source, kind) = key(c);
            let tz = c.schedule.timezone().to_string();
            let mut values: Vec<&str> = vec![&c.name, &source, &kind, c.schedule.expr(), &tz];
            values.extend(
                keys.iter()
                    .map(|k| c.labels.get(*k).map(String::as_str).unwrap_or("")),
            );
            info.with_label_values(&values).set(1.0);
        }
        let mut slot = self.info.lock().expect("metrics lock");
        if let Some(old) = slot.take() {
            let _ = self.registry.unregister(Box::new(old));
        }
        self.registry
            .register(Box::new(info.clone()))
            .expect("previous info unregistered");
        *slot = Some(info);
    }

    fn forget(&self, name: &str, source: &str, kind: &str) {
        let l = [name, source, kind];
        for g in [
            &self.age,
            &self.newest,
            &self.value,
            &self.warn_after,
            &self.error_after,
            &self.last_run,
            &self.last_success,
            &self.last_duration,
            &self.failures,
        ] {
            let _ = g.remove_label_values(&l);
        }
        for v in Verdict::ALL {
            let _ = self
                .status
                .remove_label_values(&[name, source, kind, v.label()]);
            let _ = self
                .runs
                .remove_label_values(&[name, source, kind, v.label()]);
        }
        for b in ["warn_below", "error_below", "warn_above", "error_above"] {
            let _ = self.bound.remove_label_values(&[name, source, kind, b]);
        }
        let _ = self.skipped.remove_label_values(&[name]);
    }

    /// Records one run of a check.
    pub fn observe(&self, c: &Check, r: &CheckResult) {
        let (source, kind) = key(c);
        self.runs
            .with_label_values(&[c.name.as_str(), &source, &kind, r.outcome.verdict.label()])
            .inc();
        self.run_duration
            .with_label_values(&[source.as_str(), &kind])
            .observe(r.duration.as_secs_f64());
        self.show(c, r);
    }

    /// Shows a check's last known run (e.g. from the store after a restart) without counting it.
    pub fn show(&self, c: &Check, r: &CheckResult) {
        let (source, kind) = key(c);
        let l = [c.name.as_str(), &source, &kind];
        let verdict = r.outcome.verdict;
        for v in Verdict::ALL {
            self.status
                .with_label_values(&[l[0], l[1], l[2], v.label()])
                .set(if v == verdict { 1.0 } else { 0.0 });
        }
        self.last_run.with_label_values(&l).set(ts(r.started_at));
        self.last_duration
            .with_label_values(&l)
            .set(r.duration.as_secs_f64());
        match &r.outcome.observed {
            Observed::Age {
                age_seconds,
                newest,
            } => {
                self.age.with_label_values(&l).set(*age_seconds);
                if let Some(t) = newest {
                    self.newest.with_label_values(&l).set(ts(*t));
                }
            }
            Observed::Number { value } => self.value.with_label_values(&l).set(*value),
            Observed::Status { code } => self.value.with_label_values(&l).set(f64::from(*code)),
            Observed::Nothing => {}
        }
        if let Some(d) = &r.decision {
            let held = d.held.as_deref().unwrap_or("");
            self.silenced
                .with_label_values(&l)
                .set(if held.starts_with("silenced") {
                    1.0
                } else {
                    0.0
                });
            self.blocked
                .with_label_values(&l)
                .set(if held.starts_with("blocked") {
                    1.0
                } else {
                    0.0
                });
        }
        if let Some(state) = &r.state {
            self.failures
                .with_label_values(&l)
                .set(state.consecutive_failures as f64);
            if let Some(t) = state.last_success_at {
                self.last_success.with_label_values(&l).set(ts(t));
            }
        } else if verdict == Verdict::Pass {
            self.last_success
                .with_label_values(&l)
                .set(ts(r.started_at));
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

    /// Counts one delivery attempt's outcome (`delivered`, `retried`, `failed`).
    pub fn delivery(&self, item: &crate::store::OutboxItem, outcome: &str) {
        if item.notifier == crate::notify::message::RESTART {
            let action = item.payload["target"]
                .as_str()
                .and_then(|t| t.split(':').next())
                .unwrap_or("unknown");
            self.restarts
                .with_label_values(&[item.check.as_str(), action, outcome])
                .inc();
        } else {
            self.notifications
                .with_label_values(&[item.notifier.as_str(), &item.event, outcome])
                .inc();
        }
    }

    pub fn outbox(&self, pending: i64, oldest_age_seconds: Option<f64>) {
        self.outbox_pending.set(pending as f64);
        self.outbox_oldest.set(oldest_age_seconds.unwrap_or(0.0));
    }

    pub fn skipped(&self, check: &str) {
        self.skipped.with_label_values(&[check]).inc();
    }

    /// Text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("text format is UTF-8")
    }
}

/// Replaces the Pushgateway group `job` with `body` (PUT, so metrics of removed checks vanish).
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

fn key(c: &Check) -> (String, String) {
    (
        c.source.clone().unwrap_or_default(),
        c.kind.label().to_string(),
    )
}

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}
