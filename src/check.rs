//! A check as a check file declares it, validated: its kind (freshness, row count, SQL
//! assertion, HTTP), thresholds and conditions, schedule and response rules. Built only by
//! `config`; `probe` measures it and `judge` turns the measurement into a verdict.

use crate::policy::rules::OnFailure;
use crate::schedule::Schedule;
use crate::secret::SecretUrl;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One validated check, with file defaults already applied.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub description: Option<String>,
    /// Source name; `None` only for HTTP checks.
    pub source: Option<String>,
    pub schedule: Schedule,
    /// Delay each start by up to this much (zero: none), to spread checks sharing a schedule.
    pub jitter: Duration,
    pub labels: BTreeMap<String, String>,
    pub kind: CheckKind,
    /// What to do when it fails; `None`: record and report only.
    pub on_failure: Option<Box<OnFailure>>,
    /// Checks this one depends on: while one of them fails, this one pages nothing.
    pub depends_on: Vec<String>,
    /// Linked from pages and notices.
    pub runbook: Option<String>,
    /// The area of expertise it belongs to: a page tags that area's experts when the Prog Lead
    /// does not cover it.
    pub area: Option<String>,
    /// Members who own it: tagged first among the area's experts.
    pub owners: Vec<String>,
    /// Its freshness objective (`slo:`), if any.
    pub slo: Option<crate::slo::Slo>,
    /// `file:line` where the check is defined, for messages.
    pub defined_at: String,
}

impl Check {
    /// Whether a `warn` counts as a failure for its `after` streak (`on_warn: page`).
    pub fn warn_fails(&self) -> bool {
        self.on_failure
            .as_ref()
            .is_some_and(|o| o.on_warn == crate::policy::rules::WarnAction::Page)
    }
}

/// The closed set of check kinds.
#[derive(Debug, Clone)]
pub enum CheckKind {
    Freshness(Freshness),
    RowCount(RowCount),
    Sql(SqlAssert),
    Http(Box<HttpCheck>),
}

impl CheckKind {
    /// Low-cardinality label for output and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            CheckKind::Freshness(_) => "freshness",
            CheckKind::RowCount(_) => "row_count",
            CheckKind::Sql(_) => "sql",
            CheckKind::Http(_) => "http",
        }
    }
}

/// Age thresholds, judged with strict `>` as dbt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeThresholds {
    pub warn_after: Option<Duration>,
    pub error_after: Option<Duration>,
    /// How far the newest data may be ahead of the database clock before it is a `warn`
    /// (a wrong source `timezone` looks like this).
    pub future_tolerance: Duration,
}

/// The default `future_tolerance`.
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(300);

/// What to conclude when the newest timestamp is NULL (empty table or no matching row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEmpty {
    Pass,
    Warn,
    Fail,
    Error,
}

/// Where a freshness timestamp comes from.
#[derive(Debug, Clone)]
pub enum TimestampSource {
    Column {
        table: TableRef,
        column: String,
        filter: Option<String>,
    },
    /// A query returning one value: the newest timestamp.
    Query(String),
}

#[derive(Debug, Clone)]
pub struct Freshness {
    pub from: TimestampSource,
    pub thresholds: AgeThresholds,
    pub on_empty: OnEmpty,
    /// How a number in the timestamp column is read (`format:`); by default a number is not a
    /// time (an id or a code read as seconds since 1970 would look like a date in 1970).
    pub format: NumberFormat,
    /// When loads are expected (`expect:`), judged with the thresholds (the worst wins).
    pub expect: Option<Box<crate::expect::Expect>>,
    /// Read from a dbt project: numbers are epoch seconds or milliseconds by their size, and
    /// where dbt would read the value differently the reason says so (`differs from dbt:`).
    pub dbt: Option<Box<DbtSource>>,
}

/// A dbt source table a check was read from, for `sources.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct DbtSource {
    /// `source.PROJECT.SOURCE.TABLE`.
    pub unique_id: String,
    /// dbt's criteria as written: (count, period) of warn_after and error_after, and filter.
    pub warn_after: Option<(u64, String)>,
    pub error_after: Option<(u64, String)>,
    pub filter: Option<String>,
}

/// Where a reason says what dbt would have said instead.
pub const DIFFERS_FROM_DBT: &str = "; differs from dbt: ";

/// How a number is read as a time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NumberFormat {
    #[default]
    NotATime,
    EpochSeconds,
    EpochMillis,
}

/// A possibly schema-qualified table name, kept as parts so each can be quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub parts: Vec<String>,
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

/// Bounds on a number; any may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bounds {
    pub warn_below: Option<f64>,
    pub error_below: Option<f64>,
    pub warn_above: Option<f64>,
    pub error_above: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct RowCount {
    pub table: TableRef,
    pub filter: Option<String>,
    pub bounds: Bounds,
}

/// A comparison such as `> 0` or `== 0`, applied to a query's number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub op: CompareOp,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }
}

impl Condition {
    pub fn holds(&self, x: f64) -> bool {
        match self.op {
            CompareOp::Lt => x < self.value,
            CompareOp::Le => x <= self.value,
            CompareOp::Gt => x > self.value,
            CompareOp::Ge => x >= self.value,
            CompareOp::Eq => x == self.value,
            CompareOp::Ne => x != self.value,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), self.value)
    }
}

#[derive(Debug, Clone)]
pub struct SqlAssert {
    pub query: String,
    pub warn_if: Option<Condition>,
    pub error_if: Option<Condition>,
}

#[derive(Debug, Clone)]
pub struct HttpCheck {
    pub url: SecretUrl,
    pub method: reqwest::Method,
    pub headers: Vec<(String, SecretString)>,
    pub expect_status: Vec<u16>,
    pub timeout: Duration,
    /// JSON pointer to a timestamp in the body, judged with `thresholds`.
    pub timestamp_pointer: Option<String>,
    pub thresholds: AgeThresholds,
    pub on_empty: OnEmpty,
    /// When loads are expected (`expect:`, with `timestamp_pointer`).
    pub expect: Option<Box<crate::expect::Expect>>,
}

impl CheckKind {
    /// The expected loads of a freshness or http check, if it has them.
    pub fn expect(&self) -> Option<&crate::expect::Expect> {
        match self {
            CheckKind::Freshness(f) => f.expect.as_deref(),
            CheckKind::Http(h) => h.expect.as_deref(),
            _ => None,
        }
    }

    /// What a check compares against, in words: `warn >2h, fail >6h`.
    pub fn thresholds(&self) -> String {
        let parts: Vec<String> = match self {
            CheckKind::Freshness(f) => {
                let mut p = age_parts(&f.thresholds);
                p.extend(f.expect.as_ref().map(|e| e.describe()));
                p
            }
            CheckKind::RowCount(r) => {
                let b = &r.bounds;
                [
                    ("warn <", b.warn_below),
                    ("fail <", b.error_below),
                    ("warn >", b.warn_above),
                    ("fail >", b.error_above),
                ]
                .iter()
                .filter_map(|(l, v)| v.map(|v| format!("{l}{}", fmt_num(v))))
                .collect()
            }
            CheckKind::Sql(s) => [("warn if ", s.warn_if), ("fail if ", s.error_if)]
                .iter()
                .filter_map(|(l, c)| c.map(|c| format!("{l}{c}")))
                .collect(),
            CheckKind::Http(h) => {
                let codes: Vec<String> = h.expect_status.iter().map(u16::to_string).collect();
                let mut p = vec![format!("expect {}", codes.join("|"))];
                p.extend(age_parts(&h.thresholds));
                p.extend(h.expect.as_ref().map(|e| e.describe()));
                p
            }
        };
        parts.join(", ")
    }
}

fn age_parts(t: &AgeThresholds) -> Vec<String> {
    [("warn >", t.warn_after), ("fail >", t.error_after)]
        .iter()
        .filter_map(|(l, d)| d.map(|d| format!("{l}{}", crate::duration::canonical(d))))
        .collect()
}

/// Numbers without a trailing `.0` when they are whole.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
