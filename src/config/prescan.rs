//! A linear look at a YAML file before the YAML parser sees it: flow collections (`[…]`,
//! `{…}`) nested deeper than `MAX_DEPTH`, or never closed, are refused with their location. The
//! parser takes seconds to minutes on such input (its work grows with depth × length); this
//! takes one pass. Pure.
//!
//! It reads only what it must: quoted scalars, comments, and block scalars (`|`, `>`) are
//! skipped, and a bracket counts only where a flow collection can begin (a value's first
//! character, or inside another flow collection).

pub const MAX_DEPTH: usize = 32;

/// (line, column, message, hint) of the first problem, 1-based.
pub type Refusal = (usize, usize, String, &'static str);

pub fn check(text: &str) -> Result<(), Refusal> {
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut block_indent: Option<usize> = None;
    // A quoted scalar may go on over several lines.
    let mut quote: Option<u8> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(min) = block_indent {
            if line.trim().is_empty() || indent > min {
                continue; // inside a block scalar
            }
            block_indent = None;
        }
        let bytes = line.as_bytes();
        let mut i = match quote {
            Some(q) => match close_quote(bytes, 0, q) {
                Some(end) => {
                    quote = None;
                    end
                }
                None => continue,
            },
            None => indent,
        };
        let mut value_start = open.is_empty() && i == indent;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b' ' | b'\t' => {}
                b'#' if i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t' => break,
                b'\'' | b'"' if value_start || !open.is_empty() => {
                    match close_quote(bytes, i + 1, b) {
                        Some(end) => i = end,
                        None => {
                            quote = Some(b);
                            break;
                        }
                    }
                    value_start = false;
                    continue;
                }
                b'[' | b'{' if value_start || !open.is_empty() => {
                    open.push((n + 1, i + 1));
                    if open.len() > MAX_DEPTH {
                        return Err((
                            n + 1,
                            i + 1,
                            format!("flow collections nested more than {MAX_DEPTH} levels deep"),
                            "use block style (indented lines) for nested settings",
                        ));
                    }
                    value_start = true;
                }
                b']' | b'}' if !open.is_empty() => {
                    open.pop();
                    value_start = false;
                }
                b',' if !open.is_empty() => value_start = true,
                b':' if bytes.get(i + 1).is_none_or(|c| *c == b' ' || *c == b'\t') => {
                    value_start = true
                }
                b'-' if value_start && bytes.get(i + 1).is_none_or(|c| *c == b' ') => {}
                b'|' | b'>' if value_start && open.is_empty() => {
                    block_indent = Some(indent);
                    break;
                }
                _ => value_start = false,
            }
            i += 1;
        }
    }
    match open.first() {
        Some((line, col)) => Err((
            *line,
            *col,
            "this flow collection is never closed".into(),
            "close each [ with ] and each { with }",
        )),
        None => Ok(()),
    }
}

/// The index after the quote `q` that closes a quoted scalar, searching from `from` (a doubled
/// `'` stands for itself in single quotes; `\` escapes in double quotes); `None` if the line
/// ends first.
fn close_quote(b: &[u8], from: usize, q: u8) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        if q == b'"' && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_files_pass() {
        for ok in [
            "checks:\n  - name: a\n    row_count: { table: t, filter: \"x IN (1, [2])\", error_below: 1 }\n",
            "defaults: { labels: { partner: van } }\nchecks: []\n",
            "query: |\n  SELECT max(ts) FROM t WHERE a = '{' AND b = '['\n  -- [unbalanced {\nnext: 1\n",
            "filter: a [b] {c}\nlist: [a, 'b]', \"c}\", [d, {e: f}]]\n",
            "note: >-\n    folded [ text {\n    more\nother: x # comment [ {\n",
            "multi: [\n  a,\n  b\n]\n",
            "f: { q: \"a ' {\n # not a comment ;)\", n: 1 }\n",
            "f: { q: 'it''s [\n  still quoted', n: 1 }\n",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn deep_or_unclosed_flow_collections_are_refused() {
        let deep = format!("checks: {}", "[".repeat(40));
        let (line, col, msg, _) = check(&deep).unwrap_err();
        assert_eq!((line, col), (1, 9 + MAX_DEPTH));
        assert!(msg.contains("nested more than"), "{msg}");
        let hostile = format!("checks: [{}", "{a: 1, ".repeat(40_000));
        assert!(check(&hostile).unwrap_err().2.contains("nested"));
        let (line, col, msg, _) = check("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!((line, col), (2, 4));
        assert!(msg.contains("never closed"), "{msg}");
    }
}
