//! Reads a dbt project's sources as they are and turns each source table with a freshness
//! into a freshness check, resolving freshness as dbt-core 1.11 does: the project's
//! `sources:` configs (`+freshness`, `+enabled`, `+meta`, nested by
//! package, source and table), then the source and the table, legacy top-level keys and the
//! `config:` block merged in dbt's order, `freshness: null` to disable, `filter`,
//! `loaded_at_query` with `{{ this }}`, `database`/`schema`/`identifier` and quoting. Jinja:
//! `env_var('X')`, `env_var('X', 'default')` and `var('x')`; anything else is a located error.

use super::diag::Diagnostic;
use super::node::{Env, MapNode, Node};
use super::settings::Defaults;
use super::SourceFile;
use crate::check::{
    AgeThresholds, Check, CheckKind, Freshness, NumberFormat, OnEmpty, TimestampSource,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use yaml_serde::Value;

/// One `dbt:` entry of the settings.
#[derive(Debug, Clone)]
pub struct DbtSpec {
    pub project: PathBuf,
    /// The syncwatch source the tables are read from.
    pub source: String,
    /// Source names or globs (`*`); empty: every source.
    pub select: Vec<String>,
    pub defaults: Defaults,
}

/// dbt's `warn_after` / `error_after`: a count and a period, either may be unset.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Time {
    count: Option<u64>,
    period: Option<u64>, // seconds per period
}

fn period_name(secs: u64) -> &'static str {
    match secs {
        60 => "minute",
        3600 => "hour",
        _ => "day",
    }
}

impl Time {
    fn set(&self) -> bool {
        self.count.is_some() && self.period.is_some()
    }
    fn seconds(&self) -> Option<u64> {
        Some(self.count?.saturating_mul(self.period?))
    }
}

/// dbt's FreshnessThreshold: `None` fields are unset (`merged` keeps the base's).
#[derive(Debug, Clone, PartialEq)]
struct Threshold {
    warn: Option<Time>,
    error: Option<Time>,
    filter: Option<String>,
}

impl Threshold {
    /// dbt: truthy when warn_after or error_after has both count and period.
    fn truthy(&self) -> bool {
        self.warn.is_some_and(|t| t.set()) || self.error.is_some_and(|t| t.set())
    }
}

/// dbt's `merge_freshness_time_thresholds`.
fn merge_time(base: Option<Time>, update: Option<Time>) -> Option<Time> {
    match (base, update) {
        (Some(b), Some(u)) if b.set() && u.set() => Some(Time {
            count: u.count.or(b.count),
            period: u.period.or(b.period),
        }),
        (_, None) => None,
        (b, Some(u)) => {
            if u.set() {
                Some(u)
            } else {
                b
            }
        }
    }
}

/// dbt's `merge_source_freshness`, pairwise over the levels in order.
fn merge_levels(levels: &[Option<Threshold>]) -> Option<Threshold> {
    let mut current = levels.first().cloned().flatten();
    for update in &levels[1..] {
        current = match (current, update) {
            (Some(base), Some(u)) => Some(Threshold {
                warn: merge_time(base.warn, u.warn),
                error: merge_time(base.error, u.error),
                filter: u.filter.clone().or(base.filter),
            }),
            (None, Some(u)) if u.truthy() => Some(u.clone()),
            _ => None,
        };
    }
    current
}

/// Where a dbt value was found, for located errors.
struct Files<'a> {
    diags: &'a RefCell<Vec<Diagnostic>>,
    env: Env<'a>,
    crons: &'a RefCell<crate::schedule::CronCache>,
}

/// Renders the Jinja dbt allows here: `{{ env_var('X') }}`, `{{ env_var('X', 'd') }}`,
/// `{{ var('x') }}` and, in `loaded_at_query`, `{{ this }}`. Anything else is an error at `n`.
fn render(
    n: &Node<'_>,
    text: &str,
    vars: &BTreeMap<String, String>,
    this: Option<&str>,
) -> Option<String> {
    if text.contains("{%") || text.contains("{#") {
        n.error(
            "Jinja statements and comments are not read by syncwatch",
            Some("only {{ env_var('X') }}, {{ env_var('X', 'default') }}, {{ var('x') }} and {{ this }} are".into()),
        );
        return None;
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            n.error("`{{` is never closed", None);
            return None;
        };
        let expr = rest[start + 2..start + end].trim();
        out.push_str(&render_expr(n, expr, vars, this)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn render_expr(
    n: &Node<'_>,
    expr: &str,
    vars: &BTreeMap<String, String>,
    this: Option<&str>,
) -> Option<String> {
    let unsupported = || {
        n.error(
            format!("unsupported Jinja `{{{{ {expr} }}}}`"),
            Some("syncwatch reads {{ env_var('X') }}, {{ env_var('X', 'default') }}, {{ var('x') }} and {{ this }} (in loaded_at_query); write the value itself".into()),
        );
        None
    };
    if expr == "this" {
        return match this {
            Some(t) => Some(t.to_string()),
            None => unsupported(),
        };
    }
    let call = |name: &str| -> Option<Vec<String>> {
        let inner = expr
            .strip_prefix(name)?
            .trim_start()
            .strip_prefix('(')?
            .strip_suffix(')')?;
        let mut args = Vec::new();
        for a in inner.split(',') {
            let a = a.trim();
            let unq = a
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|x| x.strip_suffix('"')))?;
            args.push(unq.to_string());
        }
        Some(args)
    };
    if let Some(args) = call("env_var") {
        let (name, default) = match args.as_slice() {
            [name] => (name, None),
            [name, d] => (name, Some(d.clone())),
            _ => return unsupported(),
        };
        return match ((n.ctx.env)(name), default) {
            (Some(v), _) => Some(v),
            (None, Some(d)) => Some(d),
            (None, None) => {
                n.error(
                    format!("env_var('{name}'): the environment variable is not set"),
                    Some(format!(
                        "export {name}=… or give a default: env_var('{name}', '…')"
                    )),
                );
                None
            }
        };
    }
    if let Some(args) = call("var") {
        let [name] = args.as_slice() else {
            return unsupported();
        };
        return match vars.get(name) {
            Some(v) => Some(v.clone()),
            None => {
                n.error(
                    format!("var('{name}') is not in the project's `vars:`"),
                    Some("add it under vars: in dbt_project.yml".into()),
                );
                None
            }
        };
    }
    unsupported()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A freshness value: absent → `Some(empty)` (dbt's default), `null` → `None`.
fn threshold(n: Option<Node<'_>>, vars: &BTreeMap<String, String>) -> Option<Option<Threshold>> {
    // dbt's default: a threshold whose warn_after and error_after are set but empty.
    let empty = Threshold {
        warn: Some(Time::default()),
        error: Some(Time::default()),
        filter: None,
    };
    let Some(n) = n else {
        return Some(Some(empty));
    };
    if matches!(n.value, Value::Null) {
        return Some(None);
    }
    let m = n.map()?;
    let time = |k: &str| -> Option<Option<Time>> {
        let Some(t) = m.get_any(k) else {
            return Some(Some(Time::default()));
        };
        if matches!(t.value, Value::Null) {
            return Some(None);
        }
        let tm = t.map()?;
        let count = tm.get_any("count").and_then(|c| {
            let v = c.number().filter(|v| *v >= 0.0 && v.fract() == 0.0);
            if v.is_none() {
                c.error("count is a whole number", Some("e.g. count: 12".into()));
            }
            v.map(|v| v as u64)
        });
        let period = tm.get_any("period").and_then(|p| {
            let s = p.string()?;
            match s.as_str() {
                "minute" => Some(60),
                "hour" => Some(3600),
                "day" => Some(86_400),
                _ => {
                    p.error(
                        format!("\"{s}\" is not a dbt period"),
                        Some("minute, hour or day".into()),
                    );
                    None
                }
            }
        });
        Some(Some(Time { count, period }))
    };
    let warn = time("warn_after")?;
    let error = time("error_after")?;
    let filter = match m.get_any("filter") {
        Some(f) if !matches!(f.value, Value::Null) => Some(render(&f, &f.string()?, vars, None)?),
        _ => None,
    };
    Some(Some(Threshold {
        warn,
        error,
        filter,
    }))
}

/// The project-level config that applies to `[project, source, table]`: each level's `+key`
/// (or a known config key) over the levels above it. (`+loaded_at_field` is read by dbt but
/// never applies to a source table: the schema file's value, None included, is set over it.)
#[derive(Default, Clone)]
struct ProjectConfig {
    freshness: Option<Option<Threshold>>,
    enabled: Option<bool>,
    meta: BTreeMap<String, String>,
}

const CONFIG_KEYS: [&str; 7] = [
    "freshness",
    "loaded_at_field",
    "loaded_at_query",
    "enabled",
    "meta",
    "tags",
    "event_time",
];

fn project_config(
    root: Option<&Node<'_>>,
    path: &[&str],
    vars: &BTreeMap<String, String>,
) -> ProjectConfig {
    let mut out = ProjectConfig::default();
    let mut level = root.cloned();
    let mut depth = 0;
    while let Some(n) = level {
        let Value::Mapping(map) = n.value else { break };
        for (k, v) in map {
            let Some(key) = k.as_str() else { continue };
            let bare = key.strip_prefix('+').unwrap_or(key);
            if !(key.starts_with('+') || CONFIG_KEYS.contains(&key)) {
                continue;
            }
            let child = n.map().and_then(|m| m.get_any(key));
            match bare {
                "freshness" => out.freshness = Some(threshold(child, vars).flatten()),
                "enabled" => out.enabled = v.as_bool(),
                "meta" => {
                    if let Value::Mapping(mm) = v {
                        for (mk, mv) in mm {
                            if let (Some(mk), Some(mv)) = (mk.as_str(), scalar_text(mv)) {
                                out.meta.insert(mk.to_string(), mv);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let Some(seg) = path.get(depth) else { break };
        level = n.map().and_then(|m| m.get_any(seg));
        depth += 1;
    }
    out
}

/// The checks of one `dbt:` entry.
pub fn checks(
    spec: &DbtSpec,
    diags: &RefCell<Vec<Diagnostic>>,
    env: Env<'_>,
    crons: &RefCell<crate::schedule::CronCache>,
) -> Vec<Check> {
    let files = Files { diags, env, crons };
    let project_file = spec.project.join("dbt_project.yml");
    let Some(project) = read(&files, &project_file) else {
        return Vec::new();
    };
    let Some((ctx, value)) = super::parse(&project, files.diags, files.env, files.crons) else {
        return Vec::new();
    };
    let root = Node::root(&ctx, &value);
    let Some(pm) = root.map() else {
        return Vec::new();
    };
    let name = pm
        .get_any("name")
        .and_then(|n| n.string())
        .unwrap_or_default();
    let model_paths: Vec<String> = pm
        .get_any("model-paths")
        .and_then(|n| n.seq())
        .map(|items| items.iter().filter_map(|i| i.string()).collect())
        .unwrap_or_else(|| vec!["models".into()]);
    let vars: BTreeMap<String, String> = match pm.get_any("vars").map(|n| n.value.clone()) {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar_text(v)?)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let sources_cfg = pm.get_any("sources");
    let mut out = Vec::new();
    for dir in model_paths {
        let mut ymls = Vec::new();
        walk(&spec.project.join(&dir), 0, &mut ymls);
        ymls.sort();
        for path in ymls {
            let Some(file) = read(&files, &path) else {
                continue;
            };
            if !file.text.contains("sources") {
                continue;
            }
            let Some((ctx, value)) = super::parse(&file, files.diags, files.env, files.crons)
            else {
                continue;
            };
            let root = Node::root(&ctx, &value);
            let Some(sources) = root
                .map()
                .and_then(|m| m.get_any("sources"))
                .and_then(|n| n.seq())
            else {
                continue;
            };
            for s in sources {
                out.extend(source_checks(spec, &name, &s, &vars, sources_cfg.as_ref()));
            }
        }
    }
    out
}

fn read(files: &Files<'_>, path: &Path) -> Option<SourceFile> {
    match super::read_file(path) {
        Ok(text) => Some(SourceFile {
            name: path.display().to_string(),
            text,
        }),
        Err(d) => {
            files.diags.borrow_mut().push(*d);
            None
        }
    }
}

/// `*.yml` and `*.yaml` under `dir` (regular files, at most 16 levels deep).
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&p, depth + 1, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

fn quote(part: &str, quoted: bool) -> String {
    if quoted {
        format!("\"{}\"", part.replace('"', "\"\""))
    } else {
        part.to_string()
    }
}

fn source_checks(
    spec: &DbtSpec,
    project: &str,
    s: &Node<'_>,
    vars: &BTreeMap<String, String>,
    sources_cfg: Option<&Node<'_>>,
) -> Vec<Check> {
    let Some(sm) = s.map() else { return Vec::new() };
    let Some(source_name) = sm.get_any("name").and_then(|n| n.string()) else {
        return Vec::new();
    };
    if !spec.select.is_empty()
        && !spec
            .select
            .iter()
            .any(|g| crate::silence::glob(g, &source_name))
    {
        return Vec::new();
    }
    let text = |n: Option<Node<'_>>| -> Option<Option<String>> {
        match n {
            None => Some(None),
            Some(n) if matches!(n.value, Value::Null) => Some(None),
            Some(n) => Some(Some(render(&n, &n.string()?, vars, None)?)),
        }
    };
    fn cfg<'a>(m: &MapNode<'a>, k: &str) -> Option<Node<'a>> {
        m.get_any("config")
            .and_then(|c| c.map())
            .and_then(|c| c.get_any(k))
    }
    // A value that cannot be rendered (reported) leaves the source (or table) out, so that
    // nothing is reported twice.
    let (schema, database) = (text(sm.get_any("schema")), text(sm.get_any("database")));
    let mut broken = schema.is_none() || database.is_none();
    let schema = schema.flatten().unwrap_or_else(|| source_name.clone());
    let database = database.flatten();
    let quoting = |m: &MapNode<'_>| -> (Option<bool>, Option<bool>) {
        let q = m.get_any("quoting").and_then(|q| q.map());
        let get = |k: &str| {
            q.as_ref()
                .and_then(|q| q.get_any(k))
                .and_then(|v| v.value.as_bool())
        };
        (get("schema"), get("identifier"))
    };
    let (src_q_schema, src_q_ident) = quoting(&sm);
    let src_legacy = threshold(sm.get_any("freshness"), vars);
    let src_config = threshold(cfg(&sm, "freshness"), vars);
    let (a, b) = (
        text(sm.get_any("loaded_at_field")),
        text(cfg(&sm, "loaded_at_field")),
    );
    broken |= a.is_none() || b.is_none();
    let src_field = a.flatten().or(b.flatten());
    // Rendered later, with `{{ this }}`.
    let raw = |n: Option<Node<'_>>| n.and_then(|n| n.value.as_str().map(str::to_string));
    let src_query = raw(sm.get_any("loaded_at_query")).or(raw(cfg(&sm, "loaded_at_query")));
    let src_meta = |m: &MapNode<'_>| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for n in [m.get_any("meta"), cfg(m, "meta")].into_iter().flatten() {
            if let Value::Mapping(mm) = n.value {
                for (k, v) in mm {
                    if let (Some(k), Some(v)) = (k.as_str(), scalar_text(v)) {
                        out.insert(k.to_string(), v);
                    }
                }
            }
        }
        out
    };
    let tags = |m: &MapNode<'_>| -> Vec<String> {
        let mut out = Vec::new();
        for n in [m.get_any("tags"), cfg(m, "tags")].into_iter().flatten() {
            match n.value {
                Value::String(s) => out.push(s.clone()),
                Value::Sequence(items) => out.extend(items.iter().filter_map(scalar_text)),
                _ => {}
            }
        }
        out
    };
    let mut out = Vec::new();
    let Some(tables) = sm.get_any("tables").and_then(|n| n.seq()) else {
        return out;
    };
    for t in tables {
        let Some(tm) = t.map() else { continue };
        let Some(table_name) = tm.get_any("name").and_then(|n| n.string()) else {
            continue;
        };
        let pc = project_config(sources_cfg, &[project, &source_name, &table_name], vars);
        let enabled = cfg(&tm, "enabled")
            .and_then(|n| n.value.as_bool())
            .or(cfg(&sm, "enabled").and_then(|n| n.value.as_bool()))
            .or(pc.enabled)
            .unwrap_or(true);
        if !enabled {
            continue;
        }
        let (Some(src_legacy), Some(src_config)) = (src_legacy.clone(), src_config.clone()) else {
            continue;
        };
        let (Some(t_legacy), Some(t_config)) = (
            threshold(tm.get_any("freshness"), vars),
            threshold(cfg(&tm, "freshness"), vars),
        ) else {
            continue;
        };
        let merged = merge_levels(&[src_legacy, src_config, t_legacy, t_config]);
        let freshness = match merged {
            Some(m) if m.truthy() => Some(m),
            None => None,
            Some(_) => pc.freshness.clone().flatten(),
        };
        let Some(freshness) = freshness.filter(Threshold::truthy) else {
            continue;
        };
        // loaded_at_field / loaded_at_query, as dbt resolves them (a table's explicit
        // `loaded_at_field`, even null, wins over the source's).
        let t_field_present =
            tm.get_any("loaded_at_field").is_some() || cfg(&tm, "loaded_at_field").is_some();
        let (Some(a), Some(b)) = (
            text(tm.get_any("loaded_at_field")),
            text(cfg(&tm, "loaded_at_field")),
        ) else {
            continue;
        };
        let t_field = a.or(b);
        let t_query = raw(tm.get_any("loaded_at_query")).or(raw(cfg(&tm, "loaded_at_query")));
        if t_field.is_some() && t_query.is_some() {
            t.error(
                "has both loaded_at_field and loaded_at_query",
                Some("dbt refuses this too: keep one".into()),
            );
            continue;
        }
        if src_field.is_some() && src_query.is_some() {
            s.error(
                "has both loaded_at_field and loaded_at_query",
                Some("dbt refuses this too: keep one".into()),
            );
            continue;
        }
        let field = if t_field_present {
            t_field
        } else {
            src_field.clone()
        };
        let query = match t_query {
            Some(q) => Some(q),
            None if t_field_present => None,
            None => src_query.clone(),
        };
        // dbt 1.11 sets the schema file's loaded_at_field (None included) over the project's
        // `+loaded_at_field`, so the project-level one never applies (checked against dbt).
        let Some(identifier) = text(tm.get_any("identifier")) else {
            continue;
        };
        let identifier = identifier.unwrap_or_else(|| table_name.clone());
        let (t_q_schema, t_q_ident) = quoting(&tm);
        // PostgreSQL's default quoting: every part quoted.
        let relation = format!(
            "{}.{}",
            quote(&schema, t_q_schema.or(src_q_schema).unwrap_or(true)),
            quote(&identifier, t_q_ident.or(src_q_ident).unwrap_or(true))
        );
        if broken {
            continue;
        }
        let sql = match (&field, &query) {
            (_, Some(q)) => match render(&t, q, vars, Some(&relation)) {
                Some(q) => q,
                None => continue,
            },
            (Some(f), None) => {
                let mut sql = format!("select max({f}) from {relation}");
                if let Some(filter) = &freshness.filter {
                    sql.push_str(&format!(" where {filter}"));
                }
                sql
            }
            (None, None) => {
                // dbt skips it too (PostgreSQL has no metadata-based freshness), with a warning.
                tracing::warn!(
                    at = %t.location(),
                    "dbt source table {source_name}.{table_name} has a freshness but no loaded_at_field or loaded_at_query: not checked (as dbt does on PostgreSQL)"
                );
                continue;
            }
        };
        let secs = |t: Option<Time>| {
            t.and_then(|t| t.seconds())
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
        };
        let (warn_after, error_after) = (secs(freshness.warn), secs(freshness.error));
        let mut labels = spec.defaults.labels.clone();
        let mut meta = pc.meta.clone();
        meta.extend(src_meta(&sm));
        meta.extend(src_meta(&tm));
        for (k, v) in meta {
            let valid = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !["check", "source", "kind", "verdict", "job", "instance"].contains(&k.as_str());
            if valid {
                labels.insert(k, v);
            }
        }
        // dbt: the source's and the table's tags, sorted and once each, set over the
        // project's `+tags` (a clobbering config for sources); `meta` is merged over the project's.
        let mut all_tags = tags(&sm);
        all_tags.extend(tags(&tm));
        all_tags.sort();
        all_tags.dedup();
        if !all_tags.is_empty() {
            labels.insert("dbt_tags".into(), all_tags.join(","));
        }
        labels.insert("dbt_source".into(), source_name.clone());
        labels.insert("dbt_table".into(), table_name.clone());
        if let Some(db) = &database {
            labels.insert("dbt_database".into(), db.clone());
        }
        let tz = spec.defaults.timezone.unwrap_or(chrono_tz::UTC);
        let expr = spec
            .defaults
            .schedule
            .clone()
            .unwrap_or_else(|| super::settings::DEFAULT_SCHEDULE.into());
        let Ok(cron) = t.ctx.crons.borrow_mut().get(&expr) else {
            continue;
        };
        out.push(Check {
            name: format!("{source_name}.{table_name}"),
            description: None,
            source: Some(spec.source.clone()),
            schedule: crate::schedule::Schedule::from_parts(&expr, cron, tz),
            jitter: spec.defaults.jitter.unwrap_or_default(),
            labels,
            kind: CheckKind::Freshness(Freshness {
                from: TimestampSource::Query(sql),
                thresholds: AgeThresholds {
                    warn_after,
                    error_after,
                    future_tolerance: crate::check::FUTURE_TOLERANCE,
                },
                // dbt reads an empty table as infinitely old.
                on_empty: if error_after.is_some() {
                    OnEmpty::Fail
                } else {
                    OnEmpty::Warn
                },
                format: NumberFormat::NotATime,
                expect: None,
                dbt: Some(Box::new(crate::check::DbtSource {
                    unique_id: format!("source.{project}.{source_name}.{table_name}"),
                    warn_after: freshness.warn.filter(Time::set).map(|t| {
                        (
                            t.count.unwrap_or(0),
                            period_name(t.period.unwrap_or(0)).to_string(),
                        )
                    }),
                    error_after: freshness.error.filter(Time::set).map(|t| {
                        (
                            t.count.unwrap_or(0),
                            period_name(t.period.unwrap_or(0)).to_string(),
                        )
                    }),
                    filter: freshness.filter.clone(),
                })),
            }),
            on_failure: spec.defaults.on_failure.clone().finish().map(Box::new),
            depends_on: Vec::new(),
            runbook: None,
            area: spec.defaults.area.clone(),
            owners: spec.defaults.owners.clone().unwrap_or_default(),
            slo: spec.defaults.slo,
            defined_at: t.location(),
        });
    }
    out
}

/// `dbt: [{ project: PATH, source: NAME, select: [glob, …], defaults: {…} }]` in the settings.
pub fn specs(
    m: &MapNode<'_>,
    base_dir: &Path,
    routes: &std::collections::BTreeSet<String>,
    declared: &std::collections::BTreeSet<String>,
    outer: &Defaults,
) -> Vec<DbtSpec> {
    let Some(items) = m.get("dbt").and_then(|n| n.seq()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(dm) = item.map() else { continue };
        let project = dm
            .req("project")
            .and_then(|n| n.string())
            .map(|p| base_dir.join(p));
        let source = dm.req("source").and_then(|n| {
            let s = n.string()?;
            if declared.contains(&s) {
                Some(s)
            } else {
                let hint = super::diag::did_you_mean(&s, declared.iter().map(String::as_str))
                    .map(|x| format!("did you mean \"{x}\"?"))
                    .unwrap_or_else(|| {
                        "the syncwatch source the dbt sources live in; dbt's profile is not read"
                            .into()
                    });
                n.error(format!("unknown source \"{s}\""), Some(hint));
                None
            }
        });
        let select: Vec<String> = dm
            .get("select")
            .and_then(|n| n.seq())
            .map(|items| items.iter().filter_map(|i| i.string()).collect())
            .unwrap_or_default();
        let own = dm
            .get("defaults")
            .map(|n| super::settings::decode_defaults(&n, routes, None))
            .unwrap_or_default();
        dm.finish();
        let (Some(project), Some(source)) = (project, source) else {
            continue;
        };
        if !project.join("dbt_project.yml").is_file() {
            item.error(
                format!("no dbt_project.yml in {}", project.display()),
                Some("`project` is the folder of a dbt project, relative to this file".into()),
            );
            continue;
        }
        out.push(DbtSpec {
            project,
            source,
            select,
            defaults: super::checks::merge(outer, &own),
        });
    }
    out
}
