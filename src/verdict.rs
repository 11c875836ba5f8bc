//! What a check concluded: the verdict, what was observed, and why.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Ordered by severity: `pass < warn < fail < error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    /// The check could not be evaluated (unreachable, timeout, bad SQL): not the same as stale.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::Error];

    /// Low-cardinality label, spelled once.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.label() == s)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The value a probe measured, if it got that far.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Observed {
    Nothing,
    /// Newest data timestamp and its age against the source's clock.
    Age {
        age_seconds: f64,
        newest: Option<chrono::DateTime<chrono::Utc>>,
    },
    Number {
        value: f64,
    },
    Status {
        code: u16,
    },
}

/// A probe's conclusion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    pub observed: Observed,
    /// Why it is not a pass (or what was seen); a tired engineer reads this.
    pub reason: Option<String>,
}

impl Outcome {
    pub fn error(reason: impl Into<String>) -> Outcome {
        Outcome {
            verdict: Verdict::Error,
            observed: Observed::Nothing,
            reason: Some(reason.into()),
        }
    }
}
