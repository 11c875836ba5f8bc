//! Runs one check against its source and judges the result. A failed probe is data:
//! every problem becomes an `Outcome` with verdict `error` and a reason, never an `Err`.

pub mod http;
pub mod pool;
pub mod query;
pub mod value;

use crate::judge;
use crate::model::{Check, CheckKind};
use crate::verdict::Outcome;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
pub use pool::SourcePool;
use std::collections::HashMap;

/// Everything a probe may touch: the source pools and the HTTP client.
pub struct Probes {
    pub sources: HashMap<String, SourcePool>,
    pub http: reqwest::Client,
}

impl Probes {
    pub async fn run(&self, check: &Check) -> Outcome {
        match &check.kind {
            CheckKind::Http(h) => http::probe(&self.http, h, Utc::now).await,
            kind => {
                let Some(src) = check.source.as_ref().and_then(|s| self.sources.get(s)) else {
                    return Outcome::error("source is not configured");
                };
                sql_probe(src, kind).await.unwrap_or_else(Outcome::error)
            }
        }
    }
}

async fn sql_probe(src: &SourcePool, kind: &CheckKind) -> Result<Outcome, String> {
    let engine = src.spec.engine;
    match kind {
        CheckKind::Freshness(f) => {
            let row = src.first_row(&query::freshness(engine, &f.from), 2).await?;
            let newest = value::timestamp(&row[0], src.spec.timezone)
                .map_err(|e| format!("newest timestamp: {e}"))?;
            let clock: DateTime<Utc> =
                value::timestamp(&row[1], Tz::UTC)?.ok_or("the database clock was NULL")?;
            Ok(judge::age(newest, clock, &f.thresholds, f.on_empty))
        }
        CheckKind::RowCount(r) => {
            let row = src
                .first_row(&query::row_count(engine, &r.table, r.filter.as_deref()), 1)
                .await?;
            Ok(judge::bounds(value::number(&row[0])?, &r.bounds))
        }
        CheckKind::Sql(s) => {
            let row = src.first_row(&query::scalar(engine, &s.query), 1).await?;
            Ok(judge::condition(
                value::number(&row[0])?,
                s.warn_if.as_ref(),
                s.error_if.as_ref(),
            ))
        }
        CheckKind::Http(_) => unreachable!("HTTP checks do not use a source"),
    }
}
