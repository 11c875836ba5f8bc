//! The validated domain: checks, their kinds and thresholds, and the sources they read.
//! Built only by `config`; everything else trusts these types.

use crate::schedule::Schedule;
use chrono_tz::Tz;
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
    pub on_failure: Option<OnFailure>,
    /// Checks this one depends on: while one of them fails, this one pages nothing.
    pub depends_on: Vec<String>,
    /// Linked from pages and notices.
    pub runbook: Option<String>,
    /// `file:line` where the check is defined, for messages.
    pub defined_at: String,
}

/// The closed set of check kinds.
#[derive(Debug, Clone)]
pub enum CheckKind {
    Freshness(Freshness),
    RowCount(RowCount),
    Sql(SqlAssert),
    Http(HttpCheck),
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
}

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
}

/// A URL that may carry credentials: shown as scheme://host/path only.
#[derive(Clone)]
pub struct SecretUrl(pub url::Url);

impl SecretUrl {
    /// The URL without user info, query or fragment, fit for logs.
    pub fn redacted(&self) -> String {
        let u = &self.0;
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            port,
            u.path()
        )
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.redacted())
    }
}

/// The database engines a source can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MySql,
    Sqlite,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// A named partner database connection.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    pub engine: Engine,
    /// Full connection URL (a secret: it may hold a password).
    pub url: SecretString,
    /// Host, port and database only: safe to print.
    pub display: String,
    pub max_connections: u32,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// Time zone of timestamps stored without one.
    pub timezone: Tz,
}

/// What to do when a check keeps failing (`on_failure` in check files).
#[derive(Debug, Clone)]
pub struct OnFailure {
    /// Consecutive failing runs before acting (flap guard).
    pub after: u32,
    /// Consecutive passes before an open incident resolves.
    pub resolve_after: u32,
    /// Consecutive `error` runs (check cannot be evaluated) before paging that the check is broken.
    pub error_after: u32,
    pub on_warn: WarnAction,
    pub restart: Option<Restart>,
    /// Route paged when restarting did not help (or there is nothing to restart).
    pub page: Option<String>,
    /// Route for notices that never page (warn, auto-remediated); defaults to `page`.
    pub notify: Option<String>,
    pub remind_every: Option<Duration>,
}

impl Default for OnFailure {
    fn default() -> Self {
        OnFailure {
            after: 1,
            resolve_after: 1,
            error_after: 3,
            on_warn: WarnAction::Notify,
            restart: None,
            page: None,
            notify: None,
            remind_every: None,
        }
    }
}

/// What a `warn` verdict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarnAction {
    /// A notice on the notify route, once per episode; never a page.
    Notify,
    /// Treated like `fail`.
    Page,
    Ignore,
}

#[derive(Debug, Clone)]
pub struct Restart {
    pub action: RestartAction,
    /// Wait this long after a restart, then re-check.
    pub settle: Duration,
    /// No second restart of the same target within this time (whichever check asks).
    pub cooldown: Duration,
    /// At most this many restarts by this check per `window`.
    pub max_restarts: u32,
    pub window: Duration,
}

/// The closed set of ways to restart a sync.
#[derive(Debug, Clone)]
pub enum RestartAction {
    /// `kubectl rollout restart deployment/<deployment> -n <namespace>`.
    Kubernetes {
        namespace: String,
        deployment: String,
    },
    /// An HTTP call, e.g. triggering a job in a workflow platform.
    Webhook {
        url: SecretUrl,
        method: reqwest::Method,
        headers: Vec<(String, SecretString)>,
        body: Option<String>,
    },
    /// A program and its arguments, run without a shell.
    Command(Vec<String>),
}

impl RestartAction {
    /// The thing restarted; cooldowns are per target.
    pub fn target(&self) -> String {
        match self {
            RestartAction::Kubernetes {
                namespace,
                deployment,
            } => format!("kubernetes:{namespace}/{deployment}"),
            RestartAction::Webhook { url, .. } => format!("webhook:{}", url.redacted()),
            RestartAction::Command(argv) => format!("command:{}", argv.join(" ")),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            RestartAction::Kubernetes { .. } => "kubernetes",
            RestartAction::Webhook { .. } => "webhook",
            RestartAction::Command(_) => "command",
        }
    }
}

/// A place to send pages and notices.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub name: String,
    pub kind: NotifierKind,
}

#[derive(Debug, Clone)]
pub enum NotifierKind {
    /// PagerDuty Events API v2.
    PagerDuty {
        routing_key: SecretString,
        base_url: url::Url,
        change_events: bool,
    },
    Slack {
        target: SlackTarget,
        base_url: url::Url,
    },
    /// Any HTTP endpoint taking syncwatch's JSON.
    Webhook {
        url: SecretUrl,
        headers: Vec<(String, SecretString)>,
    },
    /// Atlassian Statuspage: component statuses and one incident per syncwatch incident.
    Statuspage(Statuspage),
}

#[derive(Debug, Clone)]
pub struct Statuspage {
    pub api_key: SecretString,
    pub page_id: String,
    pub base_url: url::Url,
    /// Check name or source name → component id.
    pub components: std::collections::BTreeMap<String, String>,
    /// The component status while a check fails: partial_outage or major_outage.
    pub fail_status: String,
}

impl Statuspage {
    /// The component a check maps to: its own, else its source's.
    pub fn component(&self, check: &Check) -> Option<&str> {
        self.components
            .get(&check.name)
            .or_else(|| check.source.as_ref().and_then(|s| self.components.get(s)))
            .map(String::as_str)
    }
}

impl NotifierKind {
    pub fn label(&self) -> &'static str {
        match self {
            NotifierKind::PagerDuty { .. } => "pagerduty",
            NotifierKind::Slack { .. } => "slack",
            NotifierKind::Webhook { .. } => "webhook",
            NotifierKind::Statuspage(_) => "statuspage",
        }
    }
}

#[derive(Debug, Clone)]
pub enum SlackTarget {
    IncomingWebhook(SecretUrl),
    /// Web API with a bot token: `chat.postMessage` to `channel`.
    Bot {
        token: SecretString,
        channel: String,
    },
}

/// A silence or maintenance window: matching checks still run, but nothing is restarted or sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Silence {
    /// Set for silences made with `syncwatch silence` (kept in the store).
    pub id: Option<i64>,
    /// A check name, or a pattern with `*` wildcards.
    pub pattern: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub until: chrono::DateTime<chrono::Utc>,
    pub reason: String,
}

impl Silence {
    pub fn covers(&self, check: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.from <= now && now < self.until && glob(&self.pattern, check)
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// How to reach the Kubernetes API for rollout restarts.
#[derive(Debug, Clone)]
pub struct KubeSpec {
    pub api_url: url::Url,
    pub token: Option<SecretString>,
    pub ca_file: Option<std::path::PathBuf>,
}

#[cfg(test)]
mod glob_tests {
    #[test]
    fn globs() {
        for (p, t, want) in [
            ("van_*", "van_contacts", true),
            ("van_*", "ngp", false),
            ("*_sync", "van_sync", true),
            ("*", "x", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("exact", "exact", true),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(super::glob(p, t), want, "{p} {t}");
        }
    }
}

/// What happens to a page after it is sent: acknowledgement, escalation, calling an incident.
#[derive(Debug, Clone)]
pub struct IncidentRules {
    /// Escalate to the secondary on-call when nobody acknowledged within this.
    pub ack_timeout: Duration,
    /// The route that reaches the secondary on-call; without it, the page route's Slack
    /// notifiers mention the team.
    pub escalate: Option<String>,
    pub call: Option<CallRules>,
    /// A route told at each Prog Lead handoff (open incidents and silences).
    pub handoff_notice: Option<String>,
}

impl Default for IncidentRules {
    fn default() -> Self {
        IncidentRules {
            ack_timeout: Duration::from_secs(15 * 60),
            escalate: None,
            call: None,
            handoff_notice: None,
        }
    }
}

/// When and where to call an incident: a dedicated Slack channel.
#[derive(Debug, Clone)]
pub struct CallRules {
    /// A Slack bot notifier (the Web API can create channels).
    pub slack: String,
    /// Call when this many checks of one source have open incidents (and for `tier: critical`).
    pub when_failing: u32,
    /// Channel names start with this.
    pub prefix: String,
}

/// Who may use the HTTP API.
#[derive(Debug, Clone, Default)]
pub struct ApiAccess {
    /// Bearer token for changes (ack, resolve); without it, changes are refused.
    pub token: Option<SecretString>,
    /// Whether reads (/api/..., the status page) need the token too.
    pub protect_reads: bool,
}
