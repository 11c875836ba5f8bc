//! Decodes `syncwatch.yaml`: sources, the state store, defaults for every check file.

use super::node::{MapNode, Node};
use crate::probe::source::{Engine, SourceSpec};
use chrono_tz::Tz;
use secrecy::SecretString;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub checks_dir: PathBuf,
    pub store: StoreSpec,
    pub sources: BTreeMap<String, SourceSpec>,
    /// Where `syncwatch serve` listens for /metrics, /healthz, /readyz and /api.
    pub listen: std::net::SocketAddr,
    /// HTTP checks run at once (SQL checks are capped per source by `max_connections`).
    pub http_concurrency: usize,
    pub defaults: Defaults,
    pub notifiers: BTreeMap<String, crate::notify::notifier::Notifier>,
    /// Route name → notifier names (each notifier is also a route to itself).
    pub routes: BTreeMap<String, Vec<String>>,
    pub silences: Vec<crate::silence::Silence>,
    /// Recurring maintenance windows (`silences:` with `schedule` + `duration`).
    pub maintenance: Vec<crate::silence::MaintenanceWindow>,
    pub kubernetes: Option<crate::restart::action::KubeSpec>,
    /// Linked from pages.
    pub dashboard_url: Option<String>,
    /// How long `run` spends delivering the outbox after its pass.
    pub drain_timeout: Duration,
    /// How long a dispatcher owns a message it is delivering; a crashed dispatcher's
    /// messages are taken over after this.
    pub outbox_lease: Duration,
    /// The on-call rotation (the Prog Lead and the secondary on-call), if configured.
    pub oncall: Option<crate::oncall::Rotation>,
    /// How long a replica owns a scheduled run; a replica that dies mid-run has its run taken
    /// over by another after this. Longer than any check can take.
    pub run_lease: Duration,
    pub incidents: crate::incidents::rules::IncidentRules,
    pub api: crate::web::access::ApiAccess,
    pub inbound: crate::inbound::InboundRules,
    /// Partners by key (a check's `partner` label).
    pub partners: BTreeMap<String, crate::partners::Partner>,
    /// Business calendars by name (`expect.skip`).
    pub calendars: BTreeMap<String, std::sync::Arc<crate::calendar::Calendar>>,
}

impl Settings {
    /// The on-call rotation's time zone (UTC without a rotation): retros' business days,
    /// nights and weekends, and the day reminders and overdue counts go by.
    pub fn oncall_zone(&self) -> Tz {
        self.oncall.as_ref().map_or(Tz::UTC, |r| r.timezone)
    }
}

#[derive(Debug, Clone)]
pub struct StoreSpec {
    pub url: SecretString,
    pub display: String,
    /// How long to keep trying to reach a PostgreSQL store.
    pub connect_timeout: Duration,
}

/// Defaults applied to checks that do not set their own (settings, then file, then check).
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    pub source: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<Tz>,
    pub labels: BTreeMap<String, String>,
    /// Up to this much random-looking (deterministic) delay after each fire time.
    pub jitter: Option<Duration>,
    pub on_failure: super::respond::Partial,
    pub area: Option<String>,
    pub owners: Option<Vec<String>>,
    pub slo: Option<crate::slo::Slo>,
}

pub const DEFAULT_SCHEDULE: &str = "*/15 * * * *";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9187";
pub const DEFAULT_STORE: &str = "sqlite:.syncwatch/state.db";

/// Decodes settings. Problems are reported through the node; fields in error fall back to
/// defaults so that the check files can still be validated against the sources declared.
pub fn decode(root: &Node<'_>, base_dir: &Path) -> (Settings, BTreeSet<String>) {
    let env = root.ctx.env;
    let empty = yaml_serde::Value::Null;
    let fallback = Node {
        value: &empty,
        ..root.clone()
    };
    let m = root
        .map()
        .or_else(|| fallback.map())
        .expect("null is an empty mapping");
    let checks_dir = base_dir.join(m.str("checks_dir").unwrap_or_else(|| "checks".into()));
    let store = decode_store(&m, base_dir);
    let http_concurrency = m
        .get("http_concurrency")
        .and_then(|n| n.positive_int())
        .unwrap_or(16) as usize;
    let listen = m
        .get("listen")
        .and_then(|n| {
            let text = n.string()?;
            text.parse()
                .map_err(|_| {
                    n.error(
                        format!("\"{text}\" is not an address"),
                        Some("write host:port, e.g. 0.0.0.0:9187".into()),
                    )
                })
                .ok()
        })
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let notifiers = super::notifiers::notifiers(&m);
    let declared_notifiers: BTreeSet<String> = m
        .get("notifiers")
        .and_then(|n| n.map())
        .map(|nm| nm.entries().into_iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    let routes = super::notifiers::routes(&m, &declared_notifiers);
    let route_names: BTreeSet<String> = routes.keys().cloned().collect();
    let defaults = m
        .get("defaults")
        .map(|n| decode_defaults(&n, &route_names, None))
        .unwrap_or_default();
    let mut sources = BTreeMap::new();
    let mut declared = BTreeSet::new();
    if let Some(sm) = m.get("sources").and_then(|n| n.map()) {
        for (name, n) in sm.entries() {
            declared.insert(name.clone());
            if let Some(s) = decode_source(&name, &n, base_dir) {
                sources.insert(name, s);
            }
        }
    }
    let (silences, maintenance) = super::notifiers::silences(&m);
    let kubernetes = super::notifiers::kubernetes(&m, env);
    let dashboard_url = m.str("dashboard_url");
    let oncall = super::oncall::decode(&m);
    let partners = super::oncall::partners(&m);
    let calendars = super::expect::calendars(&m, base_dir);
    // `dbt:` is read with the check files (config/dbt.rs); asked here so it is a known key.
    let _ = m.get("dbt");
    let incidents = super::incidents::decode(&m, &routes, &notifiers);
    let api = super::incidents::api(&m);
    let inbound = super::incidents::inbound(&m, &notifiers);
    let run_lease = m.duration("run_lease").unwrap_or(Duration::from_secs(120));
    let outbox_lease = m
        .duration("outbox_lease")
        .unwrap_or(Duration::from_secs(60));
    let drain_timeout = m
        .duration("drain_timeout")
        .unwrap_or(Duration::from_secs(10));
    m.finish();
    let settings = Settings {
        notifiers,
        routes,
        silences,
        maintenance,
        kubernetes,
        dashboard_url,
        drain_timeout,
        outbox_lease,
        run_lease,
        oncall,
        incidents,
        api,
        inbound,
        partners,
        calendars,
        checks_dir,
        store,
        sources,
        listen,
        http_concurrency,
        defaults,
    };
    (settings, declared)
}

fn decode_store(m: &MapNode<'_>, base_dir: &Path) -> StoreSpec {
    let sm = m.get("store").and_then(|n| n.map());
    let url = sm
        .as_ref()
        .and_then(|sm| sm.get("url"))
        .map(|n| (n.interpolated(), n));
    let connect_timeout = sm
        .as_ref()
        .and_then(|sm| sm.duration("connect_timeout"))
        .unwrap_or(Duration::from_secs(10));
    if let Some(sm) = sm {
        sm.finish();
    }
    let spec = |(url, display): (String, String)| StoreSpec {
        url: SecretString::from(url),
        display,
        connect_timeout,
    };
    let fallback = || {
        let (_, url, display) =
            normalize_url(DEFAULT_STORE, base_dir).expect("default store URL is valid");
        spec((url, display))
    };
    let Some((Some(raw), node)) = url else {
        return fallback();
    };
    match normalize_url(&raw, base_dir) {
        Ok((Engine::MySql, ..)) => {
            node.error("the state store must be SQLite or PostgreSQL", None);
            fallback()
        }
        Ok((_, url, display)) => spec((url, display)),
        Err((msg, hint)) => {
            node.error(msg, hint);
            fallback()
        }
    }
}

/// Fields in error are left unset (each problem is reported).
/// A file's defaults also take `area` and `owners`, checked against the rotation (`people`).
pub fn decode_defaults(
    node: &Node<'_>,
    routes: &BTreeSet<String>,
    people: Option<&super::oncall::People<'_>>,
) -> Defaults {
    let Some(m) = node.map() else {
        return Defaults::default();
    };
    let source = m.str("source");
    let schedule = m.get("schedule").and_then(|n| {
        let s = n.string()?;
        super::node::check_cron(&n, &s).then_some(s)
    });
    let timezone = m.get("timezone").and_then(|n| super::node::timezone(&n));
    let labels = m.get("labels").and_then(|n| labels(&n)).unwrap_or_default();
    let jitter = m.get("jitter").and_then(|n| n.duration());
    let on_failure = m
        .get("on_failure")
        .map(|n| super::respond::decode(&n, routes))
        .unwrap_or_default();
    let (mut area, mut owners) = (None, None);
    if let Some(people) = people {
        area = m.get("area").and_then(|n| {
            n.string()
                .filter(|a| super::oncall::known_area(&n, a, people))
        });
        owners = m.get("owners").and_then(|n| n.seq()).map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    i.string()
                        .filter(|o| super::oncall::known_member(i, o, people))
                })
                .collect()
        });
    }
    let slo = m.get("slo").and_then(|n| slo(&n));
    m.finish();
    Defaults {
        source,
        schedule,
        timezone,
        labels,
        jitter,
        on_failure,
        area,
        owners,
        slo,
    }
}

/// `slo: { objective: 99.5%, window: 28d }` (window defaults to 28 days).
pub fn slo(node: &Node<'_>) -> Option<crate::slo::Slo> {
    let m = node.map()?;
    let objective = m.req("objective").and_then(|n| {
        let hint = Some("a percentage below 100, e.g. objective: 99.5%".to_string());
        let percent = match &n.value {
            yaml_serde::Value::String(s) => s
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok()),
            _ => n.number().filter(|p| *p >= 1.0),
        };
        match percent {
            Some(p) if p > 0.0 && p < 100.0 => Some(p / 100.0),
            Some(p) => {
                n.error(format!("{p}% is not an objective"), hint);
                None
            }
            None => {
                n.error("is not a percentage", hint);
                None
            }
        }
    });
    let window = match m.get("window") {
        Some(n) => n.duration().filter(|w| {
            let ok = (3600..=366 * 86_400).contains(&w.as_secs());
            if !ok {
                n.error(
                    "an SLO window is between 1h and 366d",
                    Some("e.g. window: 28d".into()),
                );
            }
            ok
        }),
        None => Some(Duration::from_secs(28 * 86_400)),
    };
    m.finish();
    let window = window?;
    Some(crate::slo::Slo {
        objective: objective?,
        window,
    })
}

const RESERVED_LABELS: [&str; 6] = ["check", "source", "kind", "verdict", "job", "instance"];

pub fn labels(node: &Node<'_>) -> Option<BTreeMap<String, String>> {
    let m = node.map()?;
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (key, n) in m.entries() {
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with("__");
        if !valid {
            n.key_error(
                format!("label name \"{key}\" is not a valid Prometheus label name"),
                Some("use letters, digits and _, not starting with a digit or __".into()),
            );
            ok = false;
        } else if RESERVED_LABELS.contains(&key.as_str()) {
            n.key_error(
                format!("label name \"{key}\" is reserved"),
                Some("choose another name".into()),
            );
            ok = false;
        } else if let Some(v) = n.string() {
            out.insert(key, v);
        } else {
            ok = false;
        }
    }
    ok.then_some(out)
}

fn decode_source(name: &str, node: &Node<'_>, base_dir: &Path) -> Option<SourceSpec> {
    let m = node.map()?;
    let url = m.req("url").and_then(|n| {
        let raw = n.interpolated()?;
        normalize_url(&raw, base_dir)
            .map_err(|(msg, hint)| n.error(msg, hint))
            .ok()
    });
    let max_connections = m.get("max_connections").map(|n| n.positive_int());
    let connect_timeout = m.get("connect_timeout").map(|n| n.duration());
    let statement_timeout = m.get("statement_timeout").map(|n| n.duration());
    let timezone = m.get("timezone").map(|n| super::node::timezone(&n));
    let batch_node = m.get("batch_size");
    let batch_size = batch_node
        .as_ref()
        .map(|n| n.positive_int().map(|v| v as usize));
    m.finish();
    // Tables locked at once across the source's connections stay bounded (see LOCKED_TABLES):
    // a batch_size that would pass the bound is refused; the default fits under it.
    let max_connections = max_connections.unwrap_or(Some(crate::probe::source::MAX_CONNECTIONS));
    let connections = max_connections.unwrap_or(crate::probe::source::MAX_CONNECTIONS) as usize;
    let locked = crate::probe::source::LOCKED_TABLES;
    let batch_size = match batch_size {
        Some(Some(b)) if b.saturating_mul(connections) > locked => {
            if let Some(n) = &batch_node {
                n.error(
                    format!(
                        "batch_size {b} × max_connections {connections} = {} tables locked at once is too many",
                        b.saturating_mul(connections)
                    ),
                    Some(format!(
                        "at most {locked} tables at once: PostgreSQL's shared lock table serves every session of the server; e.g. batch_size: {}",
                        (locked / connections).max(1)
                    )),
                );
            }
            None
        }
        None => Some(Some(
            crate::probe::source::BATCH_SIZE
                .min(locked / connections)
                .max(1),
        )),
        other => other,
    };
    let (engine, url, display) = url?;
    Some(SourceSpec {
        name: name.to_string(),
        engine,
        url: SecretString::from(url),
        display,
        max_connections: max_connections?,
        connect_timeout: connect_timeout.unwrap_or(Some(Duration::from_secs(10)))?,
        statement_timeout: statement_timeout.unwrap_or(Some(Duration::from_secs(30)))?,
        timezone: timezone.unwrap_or(Some(Tz::UTC))?,
        batch_size: batch_size??,
    })
}

type UrlProblem = (String, Option<String>);

/// Finds the engine, makes relative SQLite paths relative to the settings file, and
/// produces a display form without credentials. Errors never include the URL itself.
pub fn normalize_url(raw: &str, base_dir: &Path) -> Result<(Engine, String, String), UrlProblem> {
    let scheme = raw.split(':').next().unwrap_or("").to_ascii_lowercase();
    let hint = || Some("use postgres://…, mysql://… or sqlite:path/to/file.db".to_string());
    match scheme.as_str() {
        "sqlite" => {
            let rest = &raw["sqlite:".len()..];
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = match rest.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(("SQLite URL has no file path".into(), hint()));
            }
            let full = if path == ":memory:" || Path::new(path).is_absolute() {
                PathBuf::from(path)
            } else {
                base_dir.join(path)
            };
            let display = full.display().to_string();
            let url = match query {
                Some(q) => format!("sqlite://{display}?{q}"),
                None => format!("sqlite://{display}"),
            };
            Ok((Engine::Sqlite, url, display))
        }
        "postgres" | "postgresql" | "mysql" | "mariadb" => {
            let engine = if scheme.starts_with("postgres") {
                Engine::Postgres
            } else {
                Engine::MySql
            };
            credentials_problem(raw)?;
            let mut parsed = url::Url::parse(raw)
                .map_err(|e| (format!("not a valid {} URL: {e}", engine.label()), hint()))?;
            if scheme == "mariadb" {
                let _ = parsed.set_scheme("mysql");
            }
            let host = parsed.host_str().unwrap_or("localhost");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let display = format!("{}://{host}{port}{}", engine.label(), parsed.path());
            Ok((engine, parsed.to_string(), display))
        }
        "" => Err(("URL is empty".into(), hint())),
        other => Err((format!("unsupported database \"{other}\""), hint())),
    }
}

/// Special characters in a user name or password must be percent-encoded; unencoded, they cut
/// the URL somewhere else (a `#` starts a fragment, a `/` the path) and the connection goes to
/// the wrong host. Messages never show the password.
fn credentials_problem(raw: &str) -> Result<(), UrlProblem> {
    let encode = || {
        Some(
            "percent-encode special characters in the user name and password: # → %23, ? → %3F, / → %2F, @ → %40, % → %25"
                .to_string(),
        )
    };
    let rest = raw.split_once("://").map_or("", |(_, r)| r);
    // The user info runs to the last `@` (a host never holds one).
    let Some((userinfo, _)) = rest.rsplit_once('@') else {
        return Ok(());
    };
    if let Some(c) = userinfo
        .chars()
        .find(|c| matches!(c, '#' | '?' | '/' | '@'))
    {
        return Err((
            format!("the user name or password holds an unencoded `{c}`, which cuts the URL in the wrong place"),
            encode(),
        ));
    }
    let b = userinfo.as_bytes();
    let bad_escape = b.iter().enumerate().any(|(i, c)| {
        *c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return Err((
            "the user name or password has a `%` that does not start a %XX escape: write % as %25"
                .into(),
            encode(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_in_passwords_are_named_never_shown() {
        let base = Path::new("/etc/syncwatch");
        for (url, says) in [
            ("postgres://u:p@ss#w0rd@db:5432/x", "unencoded `@`"),
            ("postgres://u:ss#w0rd@db:5432/x", "unencoded `#`"),
            ("postgres://u:a/b@db:5432/x", "unencoded `/`"),
            ("mysql://u:p?q@db/x", "unencoded `?`"),
            ("postgres://u:100%sure@db/x", "%XX escape"),
        ] {
            let (msg, hint) = normalize_url(url, base).unwrap_err();
            assert!(msg.contains(says), "{url}: {msg}");
            for secret in ["w0rd", "ss#", "a/b", "p?q", "100%sure"] {
                assert!(!msg.contains(secret), "{url}: {msg}");
            }
            assert!(hint.unwrap().contains("%23"));
        }
        assert!(normalize_url("postgres://u:p%40ss%23@db/x?sslmode=require", base).is_ok());
    }

    #[test]
    fn urls_are_normalized_without_leaking_credentials() {
        let base = Path::new("/etc/syncwatch");
        let (e, url, shown) = normalize_url("sqlite:data/p.db", base).unwrap();
        assert_eq!(
            (e, url.as_str(), shown.as_str()),
            (
                Engine::Sqlite,
                "sqlite:///etc/syncwatch/data/p.db",
                "/etc/syncwatch/data/p.db"
            )
        );
        let (e, _, shown) =
            normalize_url("postgres://app:s3cret@db.internal:6432/pad", base).unwrap();
        assert_eq!(
            (e, shown.as_str()),
            (Engine::Postgres, "postgres://db.internal:6432/pad")
        );
        let (e, url, shown) = normalize_url("mariadb://root:pw@127.0.0.1/test", base).unwrap();
        assert_eq!(
            (e, shown.as_str()),
            (Engine::MySql, "mysql://127.0.0.1/test")
        );
        assert!(url.starts_with("mysql://"));
        let (msg, _) = normalize_url("oracle://u:s3cret@h/x", base).unwrap_err();
        assert!(!msg.contains("s3cret"));
    }
}
