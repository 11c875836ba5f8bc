//! Per-check metric families, kept as plain per-check values and written straight to the text
//! format. At 10,000 checks these are ~160,000 series: a registry child per series cost
//! hundreds of MB and half a second per scrape (see README, Performance).

use crate::check::{Check, CheckKind};
use crate::verdict::{Observed, Verdict};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Arc;

/// What the families say about one check.
#[derive(Debug, Clone, Default)]
pub struct Series {
    source: Arc<str>,
    kind: &'static str,
    schedule: Arc<str>,
    timezone: &'static str,
    labels: BTreeMap<String, String>,
    warn_after: Num,
    error_after: Num,
    bounds: [Num; 4],
    verdict: Option<Verdict>,
    age: Num,
    newest: Num,
    value: Num,
    last_run: Num,
    last_success: Num,
    last_duration: Num,
    failures: Num,
    silenced: Num,
    blocked: Num,
    next_deadline: Num,
    lateness: Num,
    slo_objective: Num,
    slo_good: Num,
    slo_achieved: Num,
    slo_budget: Num,
    slo_unknown: Num,
    runs: [u64; 4],
    skipped: u64,
}

/// An optional number in 8 bytes where `Option<f64>` takes 16 (10,000 checks hold 22 each):
/// "none" is one NaN bit pattern that arithmetic never makes (a measured NaN is kept as such).
#[derive(Clone, Copy, PartialEq)]
pub struct Num(u64);

impl Num {
    pub const NONE: Num = Num(0x7ff4_0000_dead_beef);

    pub fn of(v: f64) -> Num {
        if v.is_nan() {
            Num(f64::NAN.to_bits())
        } else {
            Num(v.to_bits())
        }
    }

    pub fn get(self) -> Option<f64> {
        (self != Num::NONE).then(|| f64::from_bits(self.0))
    }
}

impl Default for Num {
    fn default() -> Num {
        Num::NONE
    }
}

impl From<Option<f64>> for Num {
    fn from(v: Option<f64>) -> Num {
        v.map_or(Num::NONE, Num::of)
    }
}

impl std::fmt::Debug for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// Text shared between the series (a source's name, a schedule), one copy each.
#[derive(Default)]
pub struct Shared(std::collections::HashSet<Arc<str>>);

impl Shared {
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(hit) = self.0.get(text) {
            return Arc::clone(hit);
        }
        let new: Arc<str> = Arc::from(text);
        self.0.insert(Arc::clone(&new));
        new
    }
}

const BOUNDS: [&str; 4] = ["warn_below", "error_below", "warn_above", "error_above"];

impl Series {
    /// A check's configuration, keeping what earlier runs measured when the source and kind
    /// are unchanged (a reload keeps a check's history).
    pub fn configure(c: &Check, previous: Option<Series>, shared: &mut Shared) -> Series {
        let source = shared.get(c.source.as_deref().unwrap_or_default());
        let mut s = previous
            .filter(|p| p.source == source && p.kind == c.kind.label())
            .unwrap_or_default();
        s.source = source;
        s.kind = c.kind.label();
        s.schedule = shared.get(c.schedule.expr());
        s.timezone = c.schedule.timezone().name();
        s.labels = c.labels.clone();
        let ages = match &c.kind {
            CheckKind::Freshness(f) => Some(f.thresholds),
            CheckKind::Http(h) if h.timestamp_pointer.is_some() => Some(h.thresholds),
            _ => None,
        };
        s.slo_objective = c.slo.map(|o| o.objective).into();
        if c.slo.is_none() {
            (s.slo_good, s.slo_achieved, s.slo_budget, s.slo_unknown) =
                (Num::NONE, Num::NONE, Num::NONE, Num::NONE);
        }
        s.warn_after = ages
            .and_then(|t| t.warn_after)
            .map(|d| d.as_secs_f64())
            .into();
        s.error_after = ages
            .and_then(|t| t.error_after)
            .map(|d| d.as_secs_f64())
            .into();
        s.bounds = match &c.kind {
            CheckKind::RowCount(r) => [
                r.bounds.warn_below.into(),
                r.bounds.error_below.into(),
                r.bounds.warn_above.into(),
                r.bounds.error_above.into(),
            ],
            _ => [Num::NONE; 4],
        };
        s
    }

    /// Shows a run's results (`count`: also count it in runs_total).
    pub fn show(
        &mut self,
        verdict: Verdict,
        observed: &Observed,
        started: f64,
        duration: f64,
        count: bool,
    ) {
        self.verdict = Some(verdict);
        if self.slo_objective.get().is_some() {
            self.slo_good = crate::slo::good(verdict)
                .map(|g| if g { 1.0 } else { 0.0 })
                .into();
        }
        if count {
            self.runs[verdict as usize] += 1;
        }
        self.last_run = Num::of(started);
        self.last_duration = Num::of(duration);
        match observed {
            Observed::Age {
                age_seconds,
                newest,
            } => {
                self.age = Num::of(*age_seconds);
                if let Some(t) = newest {
                    self.newest = Num::of(t.timestamp_millis() as f64 / 1000.0);
                }
            }
            Observed::Number { value } => self.value = Num::of(*value),
            Observed::Status { code } => self.value = Num::of(f64::from(*code)),
            Observed::Nothing => {}
        }
    }

    pub fn state(&mut self, failures: i64, last_success: Option<f64>) {
        self.failures = Num::of(failures as f64);
        if last_success.is_some() {
            self.last_success = last_success.into();
        }
    }

    pub fn passed_at(&mut self, t: f64) {
        self.last_success = Num::of(t);
    }

    pub fn held(&mut self, held: &str) {
        self.silenced = Num::of(if held.starts_with("silenced") {
            1.0
        } else {
            0.0
        });
        self.blocked = Num::of(if held.starts_with("blocked") {
            1.0
        } else {
            0.0
        });
    }

    /// Checks with expected loads: the next load's deadline and how late the current load is,
    /// as of the run.
    pub fn expected(&mut self, deadline: Option<f64>, lateness: f64) {
        self.next_deadline = deadline.into();
        self.lateness = Num::of(lateness);
    }

    /// The SLO over its window, as of the last computation.
    pub fn slo(&mut self, a: &crate::slo::Achieved) {
        self.slo_achieved = a.achieved.into();
        self.slo_budget = a.budget_left.into();
        self.slo_unknown = Num::of(a.unknown_seconds);
    }

    pub fn skip(&mut self) {
        self.skipped += 1;
    }
}

/// Label values escaped per the text format.
pub(super) fn escape(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains(['\\', '"', '\n']) {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        v.into()
    }
}

fn number(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

type Pick = fn(&Series) -> Option<f64>;

/// Writes every per-check family, checks in name order, labels in name order. `drain` is
/// called after each family, and may take what `out` holds (to compress it as it comes: the
/// whole text is ~1.4 KB a check).
pub fn render(
    checks: &BTreeMap<String, Series>,
    out: &mut String,
    drain: &mut dyn FnMut(&mut String),
) {
    let gauges: [(&str, &str, Pick); 18] = [
        (
            "syncwatch_check_data_age_seconds",
            "Age of the newest data at the last run, by the source's clock.",
            |s| s.age.get(),
        ),
        (
            "syncwatch_check_data_timestamp_seconds",
            "Timestamp of the newest data at the last run.",
            |s| s.newest.get(),
        ),
        (
            "syncwatch_check_value",
            "Number measured at the last run (row count, query result, HTTP status).",
            |s| s.value.get(),
        ),
        (
            "syncwatch_check_warn_after_seconds",
            "Configured warn_after of a freshness check.",
            |s| s.warn_after.get(),
        ),
        (
            "syncwatch_check_error_after_seconds",
            "Configured error_after of a freshness check.",
            |s| s.error_after.get(),
        ),
        (
            "syncwatch_check_last_run_timestamp_seconds",
            "When the check last ran.",
            |s| s.last_run.get(),
        ),
        (
            "syncwatch_check_last_success_timestamp_seconds",
            "When the check last passed.",
            |s| s.last_success.get(),
        ),
        (
            "syncwatch_check_last_run_duration_seconds",
            "How long the last run of the check took.",
            |s| s.last_duration.get(),
        ),
        (
            "syncwatch_check_consecutive_failures",
            "Runs in a row that were fail or error.",
            |s| s.failures.get(),
        ),
        (
            "syncwatch_check_silenced",
            "1 if a silence or maintenance window covered the check at its last run.",
            |s| s.silenced.get(),
        ),
        (
            "syncwatch_check_next_deadline_timestamp_seconds",
            "Checks with expected loads: when the next expected load is missed (its grace or window ends), as of the last run.",
            |s| s.next_deadline.get(),
        ),
        (
            "syncwatch_check_load_lateness_seconds",
            "Checks with expected loads: how late the current load was at the last run (0 when on time).",
            |s| s.lateness.get(),
        ),
        (
            "syncwatch_check_slo_objective_ratio",
            "Checks with an slo: the objective, e.g. 0.995.",
            |s| s.slo_objective.get(),
        ),
        (
            "syncwatch_check_slo_good",
            "Checks with an slo: 1 if the last run met the freshness (pass or warn), 0 if it failed; absent when it could not be read. 1 - avg_over_time of it is the bad-time ratio burn-rate alerts use.",
            |s| s.slo_good.get(),
        ),
        (
            "syncwatch_check_slo_achieved_ratio",
            "Checks with an slo: the share of known time over the SLO window that met the freshness (recomputed every few minutes).",
            |s| s.slo_achieved.get(),
        ),
        (
            "syncwatch_check_slo_error_budget_remaining_ratio",
            "Checks with an slo: the share of the error budget left over the SLO window (below 0 when spent).",
            |s| s.slo_budget.get(),
        ),
        (
            "syncwatch_check_slo_unknown_seconds",
            "Checks with an slo: time in the SLO window with no run in time or an error verdict.",
            |s| s.slo_unknown.get(),
        ),
        (
            "syncwatch_check_blocked",
            "1 if a check it depends on was failing at its last run (so it paged nothing).",
            |s| s.blocked.get(),
        ),
    ];
    for (name, help, pick) in gauges {
        family(out, name, help, "gauge", checks, |_, s, out, base| {
            if let Some(v) = pick(s) {
                let _ = write!(out, "{name}{{{base}}} ");
                number(out, v);
                out.push('\n');
            }
        });
        drain(out);
    }
    family(
        out,
        "syncwatch_check_status",
        "1 for the check's current verdict (pass, warn, fail, error), 0 for the others.",
        "gauge",
        checks,
        |_, s, out, base| {
            if let Some(current) = s.verdict {
                for v in Verdict::ALL {
                    let _ = writeln!(
                        out,
                        "syncwatch_check_status{{{base},verdict=\"{}\"}} {}",
                        v.label(),
                        u8::from(v == current)
                    );
                }
            }
        },
    );
    drain(out);
    family(
        out,
        "syncwatch_check_runs_total",
        "Check runs by verdict.",
        "counter",
        checks,
        |_, s, out, base| {
            if s.runs.iter().any(|n| *n > 0) {
                for v in Verdict::ALL {
                    let _ = writeln!(
                        out,
                        "syncwatch_check_runs_total{{{base},verdict=\"{}\"}} {}",
                        v.label(),
                        s.runs[v as usize]
                    );
                }
            }
        },
    );
    drain(out);
    family(
        out,
        "syncwatch_check_bound",
        "Configured row-count bounds (warn_below, error_below, warn_above, error_above).",
        "gauge",
        checks,
        |_, s, out, base| {
            // Label order: bound, check, kind, source.
            for (bound, v) in BOUNDS.iter().zip(s.bounds) {
                if let Some(v) = v.get() {
                    let _ = write!(out, "syncwatch_check_bound{{bound=\"{bound}\",{}}} ", &base);
                    number(out, v);
                    out.push('\n');
                }
            }
        },
    );
    drain(out);
    info(checks, out);
    drain(out);
}

/// One family: HELP, TYPE, then each check's lines (given `check="…",kind="…",source="…"`).
fn family(
    out: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    checks: &BTreeMap<String, Series>,
    mut each: impl FnMut(&str, &Series, &mut String, &str),
) {
    let start = out.len();
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    let header = out.len();
    let mut base = String::new();
    for (check, s) in checks {
        base.clear();
        let _ = write!(
            base,
            "check=\"{}\",kind=\"{}\",source=\"{}\"",
            escape(check),
            s.kind,
            escape(&s.source)
        );
        each(check, s, out, &base);
    }
    if out.len() == header {
        out.truncate(start); // no series: no family
    }
}

/// `syncwatch_check_info`: its label set is the union of every check's own label names.
fn info(checks: &BTreeMap<String, Series>, out: &mut String) {
    let keys: BTreeSet<&str> = checks
        .values()
        .flat_map(|s| s.labels.keys().map(String::as_str))
        .collect();
    family(
        out,
        "syncwatch_check_info",
        "Each configured check with its schedule and own labels; always 1.",
        "gauge",
        checks,
        |check, s, out, _| {
            let mut labels: Vec<(&str, &str)> = vec![
                ("check", check),
                ("kind", s.kind),
                ("source", &s.source),
                ("schedule", &s.schedule),
                ("timezone", s.timezone),
            ];
            labels.extend(
                keys.iter()
                    .map(|k| (*k, s.labels.get(*k).map(String::as_str).unwrap_or(""))),
            );
            labels.sort_unstable();
            let text: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = writeln!(out, "syncwatch_check_info{{{}}} 1", text.join(","));
        },
    );
}

/// `syncwatch_scheduler_skipped_runs_total{check}`.
pub fn render_skipped(checks: &BTreeMap<String, Series>, out: &mut String) {
    if checks.values().all(|s| s.skipped == 0) {
        return;
    }
    let _ = writeln!(out, "# HELP syncwatch_scheduler_skipped_runs_total Scheduled runs skipped because the previous run of the same check was still going.\n# TYPE syncwatch_scheduler_skipped_runs_total counter");
    for (check, s) in checks.iter().filter(|(_, s)| s.skipped > 0) {
        let _ = writeln!(
            out,
            "syncwatch_scheduler_skipped_runs_total{{check=\"{}\"}} {}",
            escape(check),
            s.skipped
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compact_number_keeps_every_value_and_none_apart() {
        assert_eq!(Num::from(None).get(), None);
        assert_eq!(Num::default().get(), None);
        for v in [
            0.0,
            -0.0,
            1.5,
            -7200.25,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
        ] {
            assert_eq!(Num::of(v).get().map(f64::to_bits), Some(v.to_bits()));
        }
        // A measured NaN (a float column can hold one) is a value, not "none".
        assert!(Num::of(f64::NAN).get().is_some_and(f64::is_nan));
        assert!(Num::of(-f64::NAN).get().is_some_and(f64::is_nan));
        assert!(Num::from(Some(f64::from_bits(Num::NONE.0))).get().is_some());
    }

    #[test]
    fn series_share_one_copy_of_a_source_name_and_a_schedule() {
        let mut shared = Shared::default();
        let (a, b) = (shared.get("pg"), shared.get("pg"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*shared.get("other"), "other");
    }

    #[test]
    fn label_values_are_escaped_and_empty_families_left_out() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("line\nbreak"), "line\\nbreak");
        let mut checks = BTreeMap::new();
        let mut s = Series {
            source: "pad".into(),
            kind: "freshness",
            ..Series::default()
        };
        s.show(
            Verdict::Fail,
            &Observed::Age {
                age_seconds: 7200.5,
                newest: None,
            },
            1_700_000_000.0,
            0.25,
            true,
        );
        checks.insert("we\"ird".to_string(), s);
        let mut out = String::new();
        render(&checks, &mut out, &mut |_| {});
        assert!(out.contains("syncwatch_check_data_age_seconds{check=\"we\\\"ird\",kind=\"freshness\",source=\"pad\"} 7200.5\n"), "{out}");
        assert!(out.contains("syncwatch_check_status{check=\"we\\\"ird\",kind=\"freshness\",source=\"pad\",verdict=\"fail\"} 1\n"));
        assert!(out.contains("syncwatch_check_runs_total{check=\"we\\\"ird\",kind=\"freshness\",source=\"pad\",verdict=\"fail\"} 1\n"));
        assert!(
            !out.contains("syncwatch_check_value"),
            "no series, no family: {out}"
        );
    }
}
