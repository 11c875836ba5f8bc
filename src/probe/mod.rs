//! Runs one check against its source and judges the result. A failed probe is data:
//! every problem becomes an `Outcome` with verdict `error` and a reason, never an `Err`.

mod decode;
pub mod doctor;
pub mod exec;
pub mod guard;
pub mod http;
pub mod pool;
pub mod query;
pub mod source;
pub mod value;

use crate::check::{Check, CheckKind, Freshness, RowCount, SqlAssert};
use crate::judge;
use crate::verdict::Outcome;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
pub use pool::SourcePool;
use std::collections::HashMap;
use value::Raw;

/// Everything a probe may touch: the source pools and the HTTP client.
pub struct Probes {
    pub sources: HashMap<String, SourcePool>,
    pub http: reqwest::Client,
}

impl Probes {
    /// Runs one check. Ages are judged at the database's clock (HTTP: this host's), unless
    /// `at` is given: a virtual clock's instant (tests that judge at chosen times).
    pub async fn run(&self, check: &Check, at: Option<DateTime<Utc>>) -> Outcome {
        let source = check.source.as_ref().and_then(|s| self.sources.get(s));
        let result = match (&check.kind, source) {
            (CheckKind::Http(h), _) => {
                return http::probe(&self.http, h, move || at.unwrap_or_else(Utc::now)).await
            }
            (_, None) => Err("source is not configured".to_string()),
            (CheckKind::Freshness(f), Some(src)) => freshness(src, f, at).await,
            (CheckKind::RowCount(r), Some(src)) => row_count(src, r).await,
            (CheckKind::Sql(s), Some(src)) => sql_assert(src, s).await,
        };
        result.unwrap_or_else(Outcome::error)
    }
}

/// Whether a check can go in a batch: a freshness check on a `table` + `column` with no
/// `filter` (nothing of the user's in its SQL).
pub fn batchable(c: &Check) -> bool {
    c.source.is_some()
        && matches!(&c.kind, CheckKind::Freshness(f) if matches!(&f.from, crate::check::TimestampSource::Column { filter: None, .. }))
}

impl Probes {
    /// Runs batchable checks of one source in one statement (one read-only transaction, one
    /// round trip). `None` when the statement failed (a missing table, a permission error, a
    /// timeout): the caller runs them one by one, so one bad check spoils no other's verdict.
    pub async fn run_batch(
        &self,
        checks: &[&Check],
        at: Option<DateTime<Utc>>,
    ) -> Option<Vec<Outcome>> {
        let src = self.sources.get(checks.first()?.source.as_ref()?)?;
        let mut items = Vec::with_capacity(checks.len());
        let mut kinds = Vec::with_capacity(checks.len());
        for c in checks {
            let CheckKind::Freshness(f) = &c.kind else {
                return None;
            };
            let crate::check::TimestampSource::Column {
                table,
                column,
                filter: None,
            } = &f.from
            else {
                return None;
            };
            items.push((table, column.as_str()));
            kinds.push(f);
        }
        let k = items.len();
        let row = src
            .first_row(&query::freshness_batch(src.spec.engine, &items), k + 1)
            .await
            .ok()?;
        Some(
            kinds
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    judge_freshness(src, f, [&row[i], &row[k]], at).unwrap_or_else(Outcome::error)
                })
                .collect(),
        )
    }
}

async fn freshness(
    src: &SourcePool,
    f: &Freshness,
    at: Option<DateTime<Utc>>,
) -> Result<Outcome, String> {
    let row = src
        .first_row(&query::freshness(src.spec.engine, &f.from), 2)
        .await?;
    judge_freshness(src, f, [&row[0], &row[1]], at)
}

/// Judges a freshness check's newest value and the database clock (one query's or a batch's).
fn judge_freshness(
    src: &SourcePool,
    f: &Freshness,
    row: [&Raw; 2],
    at: Option<DateTime<Utc>>,
) -> Result<Outcome, String> {
    // A dbt source's numbers: epoch seconds, or milliseconds when that large.
    let format = match (&row[0], f.dbt.is_some()) {
        (Raw::Int(n), true) if (*n as f64).abs() >= 1e11 => crate::check::NumberFormat::EpochMillis,
        (Raw::Float(n), true) if n.abs() >= 1e11 => crate::check::NumberFormat::EpochMillis,
        (Raw::Int(_) | Raw::Float(_), true) => crate::check::NumberFormat::EpochSeconds,
        _ => f.format,
    };
    // dbt reads timestamps without a zone as UTC, whatever the source's `timezone`.
    let zone = if f.dbt.is_some() {
        Tz::UTC
    } else {
        src.spec.timezone
    };
    let newest =
        value::timestamp(row[0], zone, format).map_err(|e| format!("newest timestamp: {e}"))?;
    let clock: DateTime<Utc> =
        value::timestamp(row[1], Tz::UTC, crate::check::NumberFormat::NotATime)?
            .ok_or("the database clock was NULL")?;
    let clock = at.unwrap_or(clock);
    let mut outcome = judge::age(newest, clock, &f.thresholds, f.on_empty);
    if let Some(e) = &f.expect {
        outcome = judge::with_expect(outcome, newest, clock, e);
    }
    match row[0] {
        // Later than any real load: a placeholder or a bad row, never "fresh".
        Raw::Infinity(true) => {
            outcome.verdict = outcome.verdict.max(crate::verdict::Verdict::Warn);
            outcome.reason = Some(
                "the newest value is 'infinity', later than any real time (a placeholder row?)"
                    .into(),
            );
        }
        Raw::Infinity(false) => {
            let judged = outcome.reason.take().unwrap_or_default();
            outcome.reason = Some(format!("the newest value is '-infinity': {judged}"));
        }
        _ => {}
    }
    if f.dbt.is_some() {
        let dbt = match &row[0] {
            Raw::Date(_) => {
                Some("runtime error (dbt cannot read a date column's max as a timestamp)")
            }
            Raw::Int(_) | Raw::Float(_) => Some("runtime error (dbt does not read epoch numbers)"),
            Raw::Text(_) => Some("runtime error (dbt does not read timestamps stored as text)"),
            Raw::Infinity(true) => Some("pass ('infinity' reads as a time in the future)"),
            _ => None,
        };
        if let Some(dbt) = dbt {
            let ours = outcome.reason.take().unwrap_or_else(|| "fresh".into());
            outcome.reason = Some(format!(
                "{ours}{}dbt: {dbt}",
                crate::check::DIFFERS_FROM_DBT
            ));
        }
    }
    Ok(outcome)
}

async fn row_count(src: &SourcePool, r: &RowCount) -> Result<Outcome, String> {
    let sql = query::row_count(src.spec.engine, &r.table, r.filter.as_deref());
    let row = src.first_row(&sql, 1).await?;
    Ok(judge::bounds(value::number(&row[0])?, &r.bounds))
}

async fn sql_assert(src: &SourcePool, s: &SqlAssert) -> Result<Outcome, String> {
    let row = src
        .first_row(&query::scalar(src.spec.engine, &s.query), 1)
        .await?;
    Ok(judge::condition(
        value::number(&row[0])?,
        s.warn_if.as_ref(),
        s.error_if.as_ref(),
    ))
}
