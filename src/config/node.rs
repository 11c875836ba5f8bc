//! Walks a parsed YAML value with its path, collecting every problem instead of stopping at the first.
//! Unknown keys are found by what was asked for: whatever a decoder never asked about is unknown.

use super::diag::{did_you_mean, Diagnostic};
use super::interp;
use super::locate::{join, Positions};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use yaml_serde::Value;

/// Looks up environment variables; passed in so tests need no process globals.
pub type Env<'e> = &'e (dyn Fn(&str) -> Option<String> + Sync);

/// Shared state while decoding one file.
pub struct Ctx<'a> {
    pub file: String,
    pub pos: Positions,
    pub diags: &'a RefCell<Vec<Diagnostic>>,
    pub env: Env<'a>,
    /// Cron expressions parsed so far (shared by all files of one load).
    pub crons: &'a RefCell<crate::schedule::CronCache>,
}

/// A value with its location; `field` is the path shown to users (relative to the check).
#[derive(Clone)]
pub struct Node<'a> {
    pub ctx: &'a Ctx<'a>,
    pub value: &'a Value,
    pub path: String,
    pub field: String,
    pub check: Option<Rc<str>>,
}

impl<'a> Node<'a> {
    pub fn root(ctx: &'a Ctx<'a>, value: &'a Value) -> Node<'a> {
        Node {
            ctx,
            value,
            path: String::new(),
            field: String::new(),
            check: None,
        }
    }

    /// The same node, now reported as part of check `name` with fields relative to it.
    pub fn in_check(mut self, name: &str) -> Node<'a> {
        self.check = Some(name.into());
        self.field = String::new();
        self
    }

    fn push(&self, at: super::locate::Pos, message: String, hint: Option<String>) {
        self.ctx.diags.borrow_mut().push(Diagnostic {
            file: self.ctx.file.clone(),
            line: at.line,
            col: at.col,
            check: self.check.as_deref().map(str::to_string),
            field: Some(self.field.clone()),
            message,
            hint,
        });
    }

    /// Where this value is in its file.
    pub fn value_pos(&self) -> super::locate::Pos {
        self.ctx.pos.value(&self.path)
    }

    /// Problems reported so far in this node's file.
    pub fn problems_in_file(&self) -> usize {
        let file = &self.ctx.file;
        self.ctx
            .diags
            .borrow()
            .iter()
            .filter(|d| d.file == *file)
            .count()
    }

    /// Reports a problem with this value.
    pub fn error(&self, message: impl Into<String>, hint: Option<String>) {
        self.push(self.ctx.pos.value(&self.path), message.into(), hint);
    }

    /// Reports a problem with this entry's key (e.g. an unknown field).
    pub fn key_error(&self, message: impl Into<String>, hint: Option<String>) {
        self.push(self.ctx.pos.key(&self.path), message.into(), hint);
    }

    pub fn location(&self) -> String {
        let p = self.value_pos();
        format!("{}:{}:{}", self.ctx.file, p.line, p.col)
    }

    fn child(&self, key: &str, value: &'a Value) -> Node<'a> {
        Node {
            ctx: self.ctx,
            value,
            path: join(&self.path, key),
            field: join(&self.field, key),
            check: self.check.clone(),
        }
    }

    pub fn map(&self) -> Option<MapNode<'a>> {
        match self.value {
            Value::Mapping(_) | Value::Null => Some(MapNode {
                node: self.clone(),
                asked: RefCell::new(Vec::new()),
            }),
            other => {
                self.error(format!("expected a mapping, found {}", kind(other)), None);
                None
            }
        }
    }

    pub fn seq(&self) -> Option<Vec<Node<'a>>> {
        match self.value {
            Value::Sequence(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Node {
                        ctx: self.ctx,
                        value: v,
                        path: format!("{}[{i}]", self.path),
                        field: format!("{}[{i}]", self.field),
                        check: self.check.clone(),
                    })
                    .collect(),
            ),
            Value::Null => Some(Vec::new()),
            other => {
                self.error(format!("expected a list, found {}", kind(other)), None);
                None
            }
        }
    }

    /// A string; numbers and booleans are accepted as their text (YAML `on_empty: no` etc. are not).
    pub fn string(&self) -> Option<String> {
        match self.value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.error(format!("expected a string, found {}", kind(other)), None);
                None
            }
        }
    }

    /// A string with `${VAR}` and `${VAR:-default}` replaced from the environment.
    pub fn interpolated(&self) -> Option<String> {
        let raw = self.string()?;
        match interp::expand(&raw, self.ctx.env) {
            Ok(s) => Some(s),
            Err(problems) => {
                for p in problems {
                    let (message, hint) = match p {
                        interp::Problem::Unset(var) => (
                            format!("environment variable ${{{var}}} is not set"),
                            format!("export {var}=… or write ${{{var}:-default}}"),
                        ),
                        interp::Problem::Unclosed => (
                            "\"${\" is not closed".to_string(),
                            "close it: ${NAME}".to_string(),
                        ),
                        interp::Problem::Empty => (
                            "\"${}\" names no environment variable".to_string(),
                            "write ${NAME}, e.g. ${WAREHOUSE_URL}".to_string(),
                        ),
                        interp::Problem::BadName(name) => (
                            format!("\"${{{name}}}\" is not an environment variable name"),
                            "names are letters, digits and _, not starting with a digit"
                                .to_string(),
                        ),
                    };
                    self.error(message, Some(hint));
                }
                None
            }
        }
    }

    pub fn number(&self) -> Option<f64> {
        match self.value {
            Value::Number(n) => match n.as_f64() {
                Some(v) if v.is_finite() => Some(v),
                _ => {
                    self.error(
                        format!("{n} is not a finite number"),
                        Some("write a number such as 5, 0.5 or 1e6".into()),
                    );
                    None
                }
            },
            // YAML reads a float too large for a double (`1e400`) as text: name the real problem.
            Value::String(s) if s.trim().parse::<f64>().is_ok_and(|v| !v.is_finite()) => {
                self.error(
                    format!("{s} is beyond the range of numbers (about ±1.8e308)"),
                    None,
                );
                None
            }
            Value::String(s) if s.trim().parse::<f64>().is_ok() => {
                self.error(
                    format!("expected a number, found the text \"{s}\""),
                    Some("write the number without quotes".into()),
                );
                None
            }
            other => {
                self.error(format!("expected a number, found {}", kind(other)), None);
                None
            }
        }
    }

    pub fn positive_int(&self) -> Option<u32> {
        match self.value {
            Value::Number(n) if n.as_u64().is_some_and(|v| v >= 1 && v <= u32::MAX as u64) => {
                n.as_u64().map(|v| v as u32)
            }
            Value::Number(n) if n.as_u64().is_some_and(|v| v > u32::MAX as u64) => {
                self.error(format!("{n} is too large: at most {}", u32::MAX), None);
                None
            }
            other => {
                self.error(
                    format!("expected a whole number ≥ 1, found {}", shown(other)),
                    None,
                );
                None
            }
        }
    }

    pub fn duration(&self) -> Option<Duration> {
        let text = match self.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.error(
                    format!("expected a duration such as \"30m\", found {}", kind(other)),
                    None,
                );
                return None;
            }
        };
        match crate::duration::parse(&text) {
            Ok(d) if d.is_zero() => {
                self.error(
                    format!("\"{text}\" is zero"),
                    Some("use a positive duration".into()),
                );
                None
            }
            Ok(d) => {
                let key = self.path.rsplit('.').next().unwrap_or("");
                let (max, why) = crate::duration::limit(key);
                if d > max {
                    self.error(
                        format!(
                            "\"{text}\" is longer than {key} allows ({})",
                            crate::duration::canonical(max)
                        ),
                        Some(why.into()),
                    );
                    return None;
                }
                Some(d)
            }
            Err(e) => {
                self.error(format!("\"{text}\" {}", e.message), e.hint);
                None
            }
        }
    }
}

/// A mapping being decoded: remembers every key asked for, to report the rest as unknown.
pub struct MapNode<'a> {
    pub node: Node<'a>,
    asked: RefCell<Vec<&'static str>>,
}

impl<'a> MapNode<'a> {
    /// The value at `key`, if present and not null.
    pub fn get(&self, key: &'static str) -> Option<Node<'a>> {
        self.asked.borrow_mut().push(key);
        let Value::Mapping(m) = self.node.value else {
            return None;
        };
        m.get(key)
            .filter(|v| !v.is_null())
            .map(|v| self.node.child(key, v))
    }

    pub fn has(&self, key: &'static str) -> bool {
        self.get(key).is_some()
    }

    /// The value at `key`, null included, for maps of other tools' files (dbt) whose unknown
    /// keys are not ours to report: nothing is recorded as asked.
    pub fn get_any(&self, key: &str) -> Option<Node<'a>> {
        let Value::Mapping(m) = self.node.value else {
            return None;
        };
        m.get(key).map(|v| self.node.child(key, v))
    }

    /// Like `get`, but a missing value is reported.
    pub fn req(&self, key: &'static str) -> Option<Node<'a>> {
        let found = self.get(key);
        if found.is_none() {
            self.missing(key, None);
        }
        found
    }

    pub fn missing(&self, key: &str, hint: Option<String>) {
        let at = self.node.ctx.pos.key(&self.node.path);
        self.node
            .push(at, format!("missing required field \"{key}\""), hint);
    }

    pub fn str(&self, key: &'static str) -> Option<String> {
        self.get(key)?.string()
    }

    pub fn duration(&self, key: &'static str) -> Option<Duration> {
        self.get(key)?.duration()
    }

    /// Every entry with a string key, in file order (for maps keyed by user names).
    pub fn entries(&self) -> Vec<(String, Node<'a>)> {
        let Value::Mapping(m) = self.node.value else {
            return Vec::new();
        };
        m.iter()
            .filter_map(|(k, v)| {
                let name = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((name.clone(), self.node.child(&name, v)))
            })
            .collect()
    }

    /// Reports every key that no decoder asked for, with a did-you-mean.
    pub fn finish(self) {
        let Value::Mapping(m) = self.node.value else {
            return;
        };
        let asked = self.asked.into_inner();
        for key in m.keys() {
            if let Value::String(s) = key {
                if asked.contains(&s.as_str()) {
                    continue;
                }
            }
            let name = match key {
                Value::String(s) => s.clone(),
                other => shown(other),
            };
            if asked.iter().any(|a| *a == name) {
                continue;
            }
            let mut known: Vec<&str> = asked.clone();
            known.sort_unstable();
            known.dedup();
            let hint = match did_you_mean(&name, known.iter().copied()) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("expected one of: {}", known.join(", ")),
            };
            let at = self.node.ctx.pos.key(&join(&self.node.path, &name));
            self.node
                .push(at, format!("unknown field \"{name}\""), Some(hint));
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => kind(other).to_string(),
    }
}

pub fn timezone(node: &Node<'_>) -> Option<chrono_tz::Tz> {
    let name = node.string()?;
    match name.parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            let hint = super::diag::did_you_mean(&name, names)
                .map(|s| format!("did you mean \"{s}\"?"))
                .unwrap_or_else(|| {
                    "use an IANA name such as \"America/New_York\" or \"UTC\"".into()
                });
            node.error(format!("unknown time zone \"{name}\""), Some(hint));
            None
        }
    }
}

/// A cron expression that parses (and fires); a problem at the node if not.
pub fn check_cron(node: &Node<'_>, expr: &str) -> bool {
    let parsed = node.ctx.crons.borrow_mut().get(expr);
    match parsed {
        Ok(_) => true,
        Err(e) => {
            node.error(
                format!("invalid cron expression \"{expr}\": {e}"),
                Some("e.g. \"*/15 * * * *\" (minute hour day-of-month month day-of-week) or \"@hourly\"".into()),
            );
            false
        }
    }
}
