//! Renders pass results and plans for people (aligned tables) and scripts (JSON).

use crate::check::fmt_num;
use crate::check::{Check, CheckKind};
use crate::duration::human;
use crate::pass::PassReport;
use crate::verdict::{Observed, Verdict};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Left-aligned columns separated by two spaces; the last column is never padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub fn observed(o: &Observed, kind: &CheckKind) -> String {
    match (o, kind) {
        (Observed::Nothing, _) => "-".into(),
        (Observed::Age { age_seconds, .. }, _) => format!("age {}", human(*age_seconds)),
        (Observed::Number { value }, CheckKind::RowCount(_)) => format!("{} rows", fmt_num(*value)),
        (Observed::Number { value }, _) => format!("value {}", fmt_num(*value)),
        (Observed::Status { code }, _) => format!("HTTP {code}"),
    }
}

fn paint(v: Verdict, color: bool) -> String {
    if !color {
        return v.label().to_uppercase();
    }
    let code = match v {
        Verdict::Pass => "32",
        Verdict::Warn => "33",
        Verdict::Fail => "31",
        Verdict::Error => "35",
    };
    format!("\x1b[{code}m{}\x1b[0m", v.label().to_uppercase())
}

/// The run table and a summary line.
pub fn pass_table(report: &PassReport, checks: &[Check], color: bool) -> String {
    // The RESPONSE column appears when any check has `on_failure`.
    let responding = report.results.iter().any(|r| r.decision.is_some());
    let mut header = vec![
        "CHECK",
        "KIND",
        "SOURCE",
        "VERDICT",
        "OBSERVED",
        "THRESHOLDS",
        "TOOK",
    ];
    if responding {
        header.push("RESPONSE");
    }
    header.push("REASON");
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            let c = &checks[r.index];
            let mut row = vec![
                c.name.clone(),
                c.kind.label().into(),
                c.source.clone().unwrap_or_else(|| "-".into()),
                r.outcome.verdict.label().to_uppercase(),
                observed(&r.outcome.observed, &c.kind),
                c.kind.thresholds(),
                format!("{}ms", r.duration.as_millis()),
            ];
            if responding {
                row.push(response(r));
            }
            row.push(r.outcome.reason.clone().unwrap_or_default());
            row
        })
        .collect();
    if rows.is_empty() {
        return summary(report);
    }
    let mut out = table(&header, &rows);
    if color {
        // Colour after alignment so escape codes do not skew the widths.
        for v in Verdict::ALL {
            let plain = format!("  {}  ", v.label().to_uppercase());
            out = out.replace(&plain, &format!("  {}  ", paint(v, true)));
        }
    }
    out.push('\n');
    out.push_str(&summary(report));
    out
}

/// What the response policy did for a result: `restart`, `page`, `silenced: …`, or `-`.
pub fn response(r: &crate::pass::CheckResult) -> String {
    r.decision
        .as_ref()
        .and_then(crate::respond::summary)
        .unwrap_or_else(|| "-".into())
}

pub fn summary(report: &PassReport) -> String {
    let mut s = format!(
        "{} check{} ran in {:.2}s: {} pass, {} warn, {} fail, {} error",
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" },
        report.duration.as_secs_f64(),
        report.count(Verdict::Pass),
        report.count(Verdict::Warn),
        report.count(Verdict::Fail),
        report.count(Verdict::Error),
    );
    if report.not_due > 0 {
        s.push_str(&format!(
            "; {} not due (run with --all to include them)",
            report.not_due
        ));
    }
    s.push('\n');
    for e in &report.store_errors {
        s.push_str(&format!("not recorded: {e}\n"));
    }
    s
}

/// The JSON document of a pass (`run --format json`), serialized as it is written: no tree of
/// values is built (at 10,000 checks that tree was ~60 MB of maps, most of the pass's peak
/// memory). Keys in alphabetical order, as before.
#[derive(serde::Serialize)]
pub struct PassJson<'a> {
    pub checks: CheckRows<'a>,
    pub duration_seconds: f64,
    /// What the tick's delivery did (`syncwatch run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<Value>,
    pub started_at: DateTime<Utc>,
    pub store_errors: &'a [String],
    pub summary: PassSummary,
}

#[derive(serde::Serialize)]
pub struct PassSummary {
    pub error: usize,
    pub fail: usize,
    pub not_due: usize,
    pub pass: usize,
    pub ran: usize,
    pub warn: usize,
}

/// Each check's result, serialized one by one.
pub struct CheckRows<'a> {
    report: &'a PassReport,
    checks: &'a [Check],
}

#[derive(serde::Serialize)]
struct CheckRow<'a> {
    consecutive_failures: Option<i64>,
    differs_from_dbt: Option<&'a str>,
    duration_seconds: f64,
    kind: &'static str,
    labels: &'a std::collections::BTreeMap<String, String>,
    last_success_at: Option<DateTime<Utc>>,
    limits: Value,
    name: &'a str,
    observed: &'a Observed,
    reason: Option<&'a str>,
    response: Option<String>,
    source: Option<&'a str>,
    started_at: DateTime<Utc>,
    thresholds: String,
    verdict: Verdict,
}

impl serde::Serialize for CheckRows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.report.results.iter().map(|r| {
            let c = &self.checks[r.index];
            let reason = r.outcome.reason.as_deref();
            CheckRow {
                consecutive_failures: r.state.as_ref().map(|s| s.consecutive_failures),
                differs_from_dbt: reason
                    .and_then(|x| x.split_once(crate::check::DIFFERS_FROM_DBT))
                    .map(|(_, d)| d),
                duration_seconds: r.duration.as_secs_f64(),
                kind: c.kind.label(),
                labels: &c.labels,
                last_success_at: r.state.as_ref().and_then(|s| s.last_success_at),
                limits: limits(&c.kind),
                name: &c.name,
                observed: &r.outcome.observed,
                reason,
                response: r.decision.as_ref().and_then(crate::respond::summary),
                source: c.source.as_deref(),
                started_at: r.started_at,
                thresholds: c.kind.thresholds(),
                verdict: r.outcome.verdict,
            }
        }))
    }
}

pub fn pass_json<'a>(report: &'a PassReport, checks: &'a [Check]) -> PassJson<'a> {
    PassJson {
        checks: CheckRows { report, checks },
        duration_seconds: report.duration.as_secs_f64(),
        outbox: None,
        started_at: report.started_at,
        store_errors: &report.store_errors,
        summary: PassSummary {
            error: report.count(Verdict::Error),
            fail: report.count(Verdict::Fail),
            not_due: report.not_due,
            pass: report.count(Verdict::Pass),
            ran: report.results.len(),
            warn: report.count(Verdict::Warn),
        },
    }
}

/// Every check with its schedule and next run times, shown in the check's own time zone.
pub fn plan_table(checks: &[Check], now: DateTime<Utc>, next: usize) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            let tz = c.schedule.timezone();
            let times: Vec<String> = c
                .schedule
                .upcoming(now, next)
                .iter()
                .map(|t| {
                    t.with_timezone(&tz)
                        .format("%a %Y-%m-%d %H:%M %Z")
                        .to_string()
                })
                .collect();
            vec![
                c.name.clone(),
                c.kind.label().into(),
                c.source.clone().unwrap_or_else(|| "-".into()),
                c.schedule.expr().into(),
                tz.to_string(),
                times.join(", "),
                next_load(c, now).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "CHECK",
            "KIND",
            "SOURCE",
            "SCHEDULE",
            "TIMEZONE",
            "NEXT RUNS",
            "NEXT EXPECTED LOAD",
        ],
        &rows,
    )
}

/// The next expected load and its deadline, in the `expect` block's zone: `Mon 06:00 EST
/// (missed at 08:00)`.
fn next_load(c: &Check, now: DateTime<Utc>) -> Option<String> {
    let e = c.kind.expect()?;
    let tz = e.schedule.timezone();
    let Some(l) = e.next(now) else {
        return Some("none expected".into());
    };
    Some(format!(
        "{} (missed at {})",
        l.at.with_timezone(&tz).format("%a %Y-%m-%d %H:%M %Z"),
        l.due.with_timezone(&tz).format("%a %H:%M")
    ))
}

/// The next expected load as JSON: `at` and `deadline` in the block's zone.
pub fn expect_json(c: &Check, now: DateTime<Utc>) -> Value {
    let Some(e) = c.kind.expect() else {
        return Value::Null;
    };
    let tz = e.schedule.timezone();
    let next = e.next(now);
    json!({
        "describe": e.describe(),
        "timezone": tz.to_string(),
        "next_load": next.map(|l| l.at.with_timezone(&tz).to_rfc3339()),
        "next_deadline": next.map(|l| l.due.with_timezone(&tz).to_rfc3339()),
        "skip": e.skip.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
    })
}

/// What a check compares against, as numbers for scripts (seconds, bounds, conditions).
pub fn limits(kind: &CheckKind) -> Value {
    let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
    let cond = |c: Option<crate::check::Condition>| {
        c.map(|c| json!({ "op": c.op.symbol(), "value": c.value }))
    };
    match kind {
        CheckKind::Freshness(f) => json!({
            "warn_after_seconds": secs(f.thresholds.warn_after),
            "error_after_seconds": secs(f.thresholds.error_after),
            "future_tolerance_seconds": f.thresholds.future_tolerance.as_secs_f64(),
        }),
        CheckKind::RowCount(r) => json!({
            "warn_below": r.bounds.warn_below,
            "error_below": r.bounds.error_below,
            "warn_above": r.bounds.warn_above,
            "error_above": r.bounds.error_above,
        }),
        CheckKind::Sql(q) => json!({ "warn_if": cond(q.warn_if), "error_if": cond(q.error_if) }),
        CheckKind::Http(h) => json!({
            "expect_status": h.expect_status,
            "warn_after_seconds": secs(h.thresholds.warn_after),
            "error_after_seconds": secs(h.thresholds.error_after),
        }),
    }
}

pub fn plan_json(checks: &[Check], now: DateTime<Utc>, next: usize) -> Value {
    let checks: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "kind": c.kind.label(),
                "source": c.source,
                "labels": c.labels,
                "schedule": c.schedule.expr(),
                "timezone": c.schedule.timezone().to_string(),
                "thresholds": c.kind.thresholds(),
                "limits": limits(&c.kind),
                "defined_at": c.defined_at,
                // In the check's own zone, with its offset: the same instants, as people read them.
                "next_runs": c
                    .schedule
                    .upcoming(now, next)
                    .into_iter()
                    .map(|t| t.with_timezone(&c.schedule.timezone()).to_rfc3339())
                    .collect::<Vec<_>>(),
                "expect": expect_json(c, now),
            })
        })
        .collect();
    json!({ "checks": checks })
}

/// dbt's `sources.json` (schema https://schemas.getdbt.com/dbt/sources/v3.json) for the checks
/// read from dbt projects: status pass / warn / error (a `fail`), and a runtime error where the
/// data could not be read, as `dbt source freshness` writes it.
pub fn dbt_sources(report: &PassReport, checks: &[Check], now: DateTime<Utc>) -> Value {
    let ts = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let time = |t: &Option<(u64, String)>| match t {
        Some((count, period)) => json!({ "count": count, "period": period }),
        None => json!({ "count": null, "period": null }),
    };
    let mut results = Vec::new();
    for r in &report.results {
        let c = &checks[r.index];
        let CheckKind::Freshness(f) = &c.kind else {
            continue;
        };
        let Some(d) = &f.dbt else { continue };
        let finished = r.started_at + chrono::Duration::from_std(r.duration).unwrap_or_default();
        if r.outcome.verdict == Verdict::Error {
            results.push(json!({
                "unique_id": d.unique_id,
                "error": r.outcome.reason,
                "status": "runtime error",
            }));
            continue;
        }
        // An empty table is infinitely old to dbt: its max is the earliest time there is.
        let (newest, age) = match r.outcome.observed {
            Observed::Age {
                age_seconds,
                newest,
            } => (newest, age_seconds),
            _ => (None, f64::NAN),
        };
        let newest = newest.unwrap_or_else(|| {
            DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).expect("0001-01-01")
        });
        let snapshotted = if age.is_finite() {
            newest + chrono::Duration::milliseconds((age * 1000.0) as i64)
        } else {
            r.started_at
        };
        let age = if age.is_finite() {
            age
        } else {
            (snapshotted - newest).num_milliseconds() as f64 / 1000.0
        };
        results.push(json!({
            "unique_id": d.unique_id,
            "max_loaded_at": ts(newest),
            "snapshotted_at": ts(snapshotted),
            "max_loaded_at_time_ago_in_s": age,
            "status": match r.outcome.verdict { Verdict::Pass => "pass", Verdict::Warn => "warn", _ => "error" },
            "criteria": {
                "warn_after": time(&d.warn_after),
                "error_after": time(&d.error_after),
                "filter": d.filter,
            },
            "adapter_response": {},
            "timing": [{ "name": "execute", "started_at": ts(r.started_at), "completed_at": ts(finished) }],
            "thread_id": "syncwatch",
            "execution_time": r.duration.as_secs_f64(),
        }));
    }
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
            "dbt_version": "1.11.0",
            "generated_at": ts(now),
            "invocation_id": null,
            "invocation_started_at": ts(report.started_at),
            "env": { "generated_by": concat!("syncwatch ", env!("CARGO_PKG_VERSION")) },
        },
        "results": results,
        "elapsed_time": report.duration.as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "LONGER"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22\n");
    }
}
