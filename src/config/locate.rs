//! Where each key and value sits in a YAML file, by path (`checks[3].freshness.warn_after`).
//! yaml_serde gives values without positions; this index gives every diagnostic its line and column.
//!
//! Paths are not stored: each node is filed under a 64-bit FNV-1a hash of its path, computed as
//! the parser walks down (a child's hash continues its parent's with `.key` or `[i]`), so
//! indexing a file of 1,000 checks allocates no path strings. Two paths of one file sharing a
//! hash (odds about 1 in 10^13 for a file of 10,000 nodes) could only misplace a line number.

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

/// FNV-1a over a path's text, continued piece by piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PathHash(u64);

impl PathHash {
    const ROOT: PathHash = PathHash(0xcbf2_9ce4_8422_2325);

    fn add(self, bytes: &[u8]) -> PathHash {
        let mut h = self.0;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        PathHash(h)
    }

    fn of(path: &str) -> PathHash {
        PathHash::ROOT.add(path.as_bytes())
    }

    /// The hash of `join(parent, key)`.
    fn key(self, key: &str) -> PathHash {
        if self == PathHash::ROOT {
            self.add(key.as_bytes())
        } else {
            self.add(b".").add(key.as_bytes())
        }
    }

    /// The hash of `{parent}[{i}]`.
    fn item(self, i: usize) -> PathHash {
        let mut digits = [0u8; 20];
        let mut n = i;
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.add(b"[").add(&digits[at..]).add(b"]")
    }
}

/// The hashes are already spread: the map uses them as they are.
#[derive(Default)]
struct Unhashed(u64);

impl std::hash::Hasher for Unhashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Positions of every node of the first document, by path.
#[derive(Debug, Default)]
pub struct Positions(HashMap<PathHash, Entry, std::hash::BuildHasherDefault<Unhashed>>);

enum Frame {
    Map {
        path: PathHash,
        key: Option<PathHash>,
    },
    Seq {
        path: PathHash,
        next: usize,
    },
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        col: span.start.col() + 1,
    }
}

pub fn join(parent: &str, key: &str) -> String {
    let mut out = String::with_capacity(parent.len() + 1 + key.len());
    out.push_str(parent);
    if !parent.is_empty() {
        out.push('.');
    }
    out.push_str(key);
    out
}

impl Positions {
    /// Indexes `text`; on a syntax error, keeps what it saw before it (yaml_serde reports the error).
    pub fn index(text: &str) -> Positions {
        let mut out = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut key_pos: Option<Pos> = None;
        out.0.insert(PathHash::ROOT, Entry::default());
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            match event {
                Event::DocumentEnd => break,
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map {
                        path,
                        key: key @ None,
                    }) = stack.last_mut()
                    {
                        *key = Some(path.key(&value));
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
                        .unwrap_or(PathHash::ROOT);
                    stack.push(Frame::Map { path, key: None });
                }
                Event::SequenceStart(..) => {
                    let path = out
                        .place(&mut stack, key_pos.take(), &span)
                        .unwrap_or(PathHash::ROOT);
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

    /// Records a value node under its parent and returns its path's hash.
    fn place(&mut self, stack: &mut [Frame], key: Option<Pos>, span: &Span) -> Option<PathHash> {
        let path = match stack.last_mut() {
            None => PathHash::ROOT,
            Some(Frame::Map { key: k, .. }) => k.take()?,
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                path.item(*next - 1)
            }
        };
        self.0.insert(
            path,
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
            if let Some(found) = self
                .0
                .get(&PathHash::of(p))
                .and_then(&pick)
                .filter(|p| p.line > 0)
            {
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

    #[test]
    fn a_path_hashed_piece_by_piece_is_the_path_hashed_whole() {
        let built = PathHash::ROOT
            .key("checks")
            .item(1234)
            .key("freshness")
            .item(0)
            .key("x");
        assert_eq!(built, PathHash::of("checks[1234].freshness[0].x"));
        assert_eq!(PathHash::ROOT.item(7), PathHash::of("[7]"));
        assert_ne!(PathHash::of("checks[12]"), PathHash::of("checks[1].2"));
        // Item 12 of 13 items is found by its own path, not by item 1's.
        let text: String = (0..13).map(|i| format!("- n{i}\n")).collect();
        let p = Positions::index(&text);
        assert_eq!(p.value("[12]"), Pos { line: 13, col: 3 });
        assert_eq!(p.value("[1]"), Pos { line: 2, col: 3 });
    }
}
