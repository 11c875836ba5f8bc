//! Where each key and value sits in a YAML file, by path (`checks[3].freshness.warn_after`).
//! yaml_serde gives values without positions; this index gives every diagnostic its line and column.

use saphyr_parser::{Event, Parser, Span};
use std::collections::HashMap;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: Option<Pos>,
    value: Pos,
}

/// Positions of every node of the first document, by path.
#[derive(Debug, Default)]
pub struct Positions(HashMap<String, Entry>);

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Positions {
    /// Indexes `text`; on a syntax error, keeps what it saw before it (yaml_serde reports the error).
    pub fn index(text: &str) -> Positions {
        let mut out = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut key_pos: Option<Pos> = None;
        out.0.insert(String::new(), Entry::default());
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            match event {
                Event::DocumentEnd => break,
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some(value.into_owned());
                        key_pos = Some(pos(&span));
                        continue;
                    }
                    out.place(&mut stack, key_pos.take(), &span);
                }
                Event::Alias(_) => {
                    out.place(&mut stack, key_pos.take(), &span);
                }
                Event::MappingStart(..) => {
                    let path = out
                        .place(&mut stack, key_pos.take(), &span)
                        .unwrap_or_default();
                    stack.push(Frame::Map { path, key: None });
                }
                Event::SequenceStart(..) => {
                    let path = out
                        .place(&mut stack, key_pos.take(), &span)
                        .unwrap_or_default();
                    stack.push(Frame::Seq { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        out
    }

    /// Records a value node under its parent and returns its path.
    fn place(&mut self, stack: &mut [Frame], key: Option<Pos>, span: &Span) -> Option<String> {
        let path = match stack.last_mut() {
            None => String::new(),
            Some(Frame::Map { path, key: k }) => join(path, &k.take()?),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                format!("{path}[{}]", *next - 1)
            }
        };
        self.0.insert(
            path.clone(),
            Entry {
                key,
                value: pos(span),
            },
        );
        Some(path)
    }

    /// Position of the value at `path`, or of its nearest located ancestor.
    pub fn value(&self, path: &str) -> Pos {
        self.lookup(path, |e| Some(e.value))
    }

    /// Position of the key at `path` (falls back to the value, then to ancestors).
    pub fn key(&self, path: &str) -> Pos {
        self.lookup(path, |e| Some(e.key.unwrap_or(e.value)))
    }

    fn lookup(&self, path: &str, pick: impl Fn(&Entry) -> Option<Pos>) -> Pos {
        let mut p = path;
        loop {
            if let Some(found) = self.0.get(p).and_then(&pick).filter(|p| p.line > 0) {
                return found;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None if !p.is_empty() => p = "",
                None => return Pos { line: 1, col: 1 },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_values_in_block_and_flow_style() {
        let text = "defaults: { source: pad, schedule: \"*/5 * * * *\" }\nchecks:\n  - name: a\n    freshness:\n      table: t\n      warn_after: 2hr\n";
        let p = Positions::index(text);
        assert_eq!(p.value("defaults.schedule"), Pos { line: 1, col: 36 });
        assert_eq!(p.key("defaults.source"), Pos { line: 1, col: 13 });
        assert_eq!(p.value("checks[0].name"), Pos { line: 3, col: 11 });
        assert_eq!(
            p.value("checks[0].freshness.warn_after"),
            Pos { line: 6, col: 19 }
        );
        assert_eq!(
            p.key("checks[0].freshness.warn_after"),
            Pos { line: 6, col: 7 }
        );
        // Missing paths fall back to the closest ancestor.
        assert_eq!(
            p.value("checks[0].freshness.column"),
            Pos { line: 5, col: 7 }
        );
    }
}
