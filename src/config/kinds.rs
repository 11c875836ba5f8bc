//! Decodes the body of the SQL check kinds: freshness, row_count, sql (http is in `http.rs`).

use super::node::{MapNode, Node};
use crate::check::*;
use std::time::Duration;

pub fn freshness(
    node: &Node<'_>,
    calendars: &super::expect::Calendars,
    tz: Option<chrono_tz::Tz>,
) -> Option<Freshness> {
    let m = node.map()?;
    let table = m.get("table").and_then(|n| table_ref(&n));
    let column = m.get("column").and_then(|n| identifier(&n));
    let filter = m.str("filter");
    let query = m.get("query").and_then(|n| query(&n));
    let from = match (m.has("table") || m.has("column"), m.has("query")) {
        (true, true) => {
            m.node.error(
                "has both table/column and query",
                Some("use one: `table` + `column`, or `query`".into()),
            );
            None
        }
        (false, false) => {
            m.missing(
                "table",
                Some("set `table` + `column`, or a `query` returning one timestamp".into()),
            );
            None
        }
        (false, true) => match m.get("filter") {
            Some(n) => {
                n.error(
                    "`filter` goes with `table`; put the WHERE in the query",
                    None,
                );
                None
            }
            None => query.map(TimestampSource::Query),
        },
        (true, false) => {
            if !m.has("table") {
                m.missing("table", None);
            }
            if !m.has("column") {
                m.missing(
                    "column",
                    Some("the timestamp column, e.g. `updated_at`".into()),
                );
            }
            table
                .zip(column)
                .map(|(table, column)| TimestampSource::Column {
                    table,
                    column,
                    filter,
                })
        }
    };
    let expect = super::expect::decode(&m, calendars, tz);
    let thresholds = age_thresholds(&m, expect.is_none());
    let on_empty = on_empty(&m);
    let format = match m.get("format") {
        None => Some(NumberFormat::NotATime),
        Some(n) => match n.string().as_deref() {
            Some("epoch_seconds") => Some(NumberFormat::EpochSeconds),
            Some("epoch_millis") => Some(NumberFormat::EpochMillis),
            Some(other) => {
                n.error(
                    format!("unknown format \"{other}\""),
                    Some(
                        "format is epoch_seconds or epoch_millis (for a column of numbers)".into(),
                    ),
                );
                None
            }
            None => None,
        },
    };
    m.finish();
    Some(Freshness {
        from: from?,
        thresholds: thresholds?,
        on_empty: on_empty?,
        format: format?,
        expect: match expect {
            None => None,
            Some(e) => Some(Box::new(e?)),
        },
        dbt: None,
    })
}

/// `warn_after` / `error_after`: at least one, and warn strictly below error.
/// With `expect`, neither is needed.
pub(super) fn age_thresholds(m: &MapNode<'_>, required: bool) -> Option<AgeThresholds> {
    let warn = m.get("warn_after").map(|n| n.duration());
    let error = m.get("error_after").map(|n| n.duration());
    if warn.is_none() && error.is_none() && required {
        m.missing(
            "error_after",
            Some(
                "set `warn_after`, `error_after` or both, e.g. warn_after: 2h, error_after: 6h (or `expect:` load times)"
                    .into(),
            ),
        );
        return None;
    }
    let (warn, error) = (
        warn.unwrap_or(Some(Duration::ZERO))?,
        error.unwrap_or(Some(Duration::ZERO))?,
    );
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    if let (Some(w), Some(e)) = (nonzero(warn), nonzero(error)) {
        if w >= e {
            m.get("warn_after")?.error(
                format!(
                    "warn_after ({}) must be less than error_after ({})",
                    crate::duration::canonical(w),
                    crate::duration::canonical(e)
                ),
                Some("a check warns first, then fails".into()),
            );
            return None;
        }
    }
    let future_tolerance = match m.get("future_tolerance") {
        Some(n) => n.duration()?,
        None => crate::check::FUTURE_TOLERANCE,
    };
    Some(AgeThresholds {
        warn_after: nonzero(warn),
        error_after: nonzero(error),
        future_tolerance,
    })
}

pub(super) fn on_empty(m: &MapNode<'_>) -> Option<OnEmpty> {
    let Some(n) = m.get("on_empty") else {
        return Some(OnEmpty::Fail);
    };
    let s = n.string()?;
    let v = match s.as_str() {
        "pass" => OnEmpty::Pass,
        "warn" => OnEmpty::Warn,
        "fail" => OnEmpty::Fail,
        "error" => OnEmpty::Error,
        _ => {
            n.error(
                format!("\"{s}\" is not a verdict"),
                Some("use pass, warn, fail or error".into()),
            );
            return None;
        }
    };
    Some(v)
}

pub fn row_count(node: &Node<'_>) -> Option<RowCount> {
    let m = node.map()?;
    let table = m.req("table").and_then(|n| table_ref(&n));
    let filter = m.str("filter");
    // A count is never negative: a negative bound never trips, so it is a mistake.
    let num = |k: &'static str| {
        m.get(k).map(|n| match n.number() {
            Some(v) if v < 0.0 => {
                n.error(
                    format!("{k} is negative ({v}); a row count never is"),
                    Some("use 0 or more".into()),
                );
                Err(())
            }
            Some(v) => Ok(v),
            None => Err(()),
        })
    };
    let (wb, eb, wa, ea) = (
        num("warn_below"),
        num("error_below"),
        num("warn_above"),
        num("error_above"),
    );
    let bounds = (|| {
        Some(Bounds {
            warn_below: wb.transpose().ok()?,
            error_below: eb.transpose().ok()?,
            warn_above: wa.transpose().ok()?,
            error_above: ea.transpose().ok()?,
        })
    })();
    let bounds = bounds.filter(|b| {
        let ok = order(
            &m,
            "warn_below",
            b.warn_below,
            "error_below",
            b.error_below,
            true,
        ) & order(
            &m,
            "warn_above",
            b.warn_above,
            "error_above",
            b.error_above,
            false,
        );
        let any = [b.warn_below, b.error_below, b.warn_above, b.error_above]
            .iter()
            .any(Option::is_some);
        if !any {
            m.missing(
                "error_below",
                Some("set at least one of warn_below, error_below, warn_above, error_above".into()),
            );
        }
        ok && any
    });
    m.finish();
    Some(RowCount {
        table: table?,
        filter,
        bounds: bounds?,
    })
}

/// A warn bound must be reached before its error bound.
fn order(
    m: &MapNode<'_>,
    wk: &'static str,
    w: Option<f64>,
    ek: &'static str,
    e: Option<f64>,
    below: bool,
) -> bool {
    let (Some(w), Some(e)) = (w, e) else {
        return true;
    };
    let fine = if below { w > e } else { w < e };
    if !fine {
        let rel = if below { "greater" } else { "less" };
        if let Some(n) = m.get(wk) {
            n.error(
                format!("{wk} ({w}) must be {rel} than {ek} ({e})"),
                Some("a check warns first, then fails".into()),
            );
        }
    }
    fine
}

pub fn sql(node: &Node<'_>) -> Option<SqlAssert> {
    let m = node.map()?;
    let q = m.req("query").and_then(|n| query(&n));
    let warn_if = m.get("warn_if").map(|n| condition(&n));
    let error_if = m.get("error_if").map(|n| condition(&n));
    if warn_if.is_none() && error_if.is_none() {
        m.missing(
            "error_if",
            Some("set warn_if, error_if or both, e.g. error_if: \"> 0\"".into()),
        );
    }
    m.finish();
    let (warn_if, error_if) = (
        warn_if.unwrap_or(Some(None))?,
        error_if.unwrap_or(Some(None))?,
    );
    (warn_if.is_some() || error_if.is_some()).then_some(())?;
    Some(SqlAssert {
        query: q?,
        warn_if,
        error_if,
    })
}

/// `"> 0"`, `"<= 100"`, `"== 0"`; `Some(None)` never returned for present input.
fn condition(n: &Node<'_>) -> Option<Option<Condition>> {
    let text = n.string()?;
    let t = text.trim();
    let ops = [
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("==", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ];
    let parsed = ops.iter().find_map(|(sym, op)| {
        let rest = t.strip_prefix(sym)?;
        rest.trim()
            .parse::<f64>()
            .ok()
            .map(|value| Condition { op: *op, value })
    });
    if parsed.is_none() {
        n.error(
            format!("\"{text}\" is not a condition"),
            Some("write an operator and a number: \"> 0\", \"<= 100\", \"== 0\"".into()),
        );
    }
    parsed.map(Some)
}

fn query(n: &Node<'_>) -> Option<String> {
    let q = n.string()?;
    let q = q.trim().trim_end_matches(';').trim().to_string();
    if q.is_empty() {
        n.error("query is empty", None);
        return None;
    }
    Some(q)
}

/// `schema.table` or `table`; each part is quoted when used, never pasted raw.
fn table_ref(n: &Node<'_>) -> Option<TableRef> {
    let s = n.string()?;
    let parts: Vec<String> = s.split('.').map(|p| p.trim().to_string()).collect();
    if parts.iter().any(String::is_empty) || parts.len() > 3 {
        n.error(
            format!("\"{s}\" is not a table name"),
            Some("write `table` or `schema.table`".into()),
        );
        return None;
    }
    Some(TableRef { parts })
}

fn identifier(n: &Node<'_>) -> Option<String> {
    let s = n.string()?;
    if s.trim().is_empty() || s.contains('.') {
        n.error(
            format!("\"{s}\" is not a column name"),
            Some("a single column, e.g. `updated_at`".into()),
        );
        return None;
    }
    Some(s.trim().to_string())
}
