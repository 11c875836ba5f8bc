//! Refuses user SQL (`filter`, `query`) that could leave the parentheses syncwatch wraps it in,
//! before it reaches a MySQL/MariaDB server. Pure: text in, a refusal or nothing out.
//!
//! Why only MySQL: there, SQL that escapes `WHERE (…)` or `SELECT (…)` can end the statement
//! with `INTO OUTFILE`, which writes a file on the server even in a read-only transaction, and
//! the prepared-statement protocol does not stop it. PostgreSQL and SQLite refuse everything such
//! an escape could do (one statement per prepare, read-only transactions), so they need no lexer.
//!
//! The lexer follows the server's (quotes, `#` and `-- ` comments, non-nesting `/* */`) and
//! refuses what it could read differently from the server: a backslash inside a quoted token
//! (its meaning depends on `sql_mode` NO_BACKSLASH_ESCAPES / ANSI_QUOTES) and executable comments
//! (`/*! … */`, `/*M! … */`), which the server runs as code.

pub const ONE_STATEMENT: &str =
    "one statement only: remove the ';' (a check's SQL cannot chain statements)";

/// Why user SQL was refused, phrased to follow "refused: ".
pub fn mysql(sql: &str) -> Result<(), String> {
    let b = sql.as_bytes();
    let (mut depth, mut chained, mut escaped) = (0i64, false, false);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => i = quoted(b, i, q)?,
            b'#' => i = line_end(b, i),
            b'-' if b.get(i + 1) == Some(&b'-') && b.get(i + 2).is_none_or(|c| *c <= b' ') => {
                i = line_end(b, i)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if matches!(b.get(i + 2), Some(b'!'))
                    || (matches!(b.get(i + 2), Some(b'M' | b'm')) && b.get(i + 3) == Some(&b'!'))
                {
                    return Err("executable comments (/*! … */) run as code; remove them".into());
                }
                let end = sql[i + 2..]
                    .find("*/")
                    .ok_or("a /* comment is not closed")?;
                i += 2 + end + 2;
            }
            b';' => {
                chained = true;
                i += 1;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth -= 1;
                if depth < 0 {
                    escaped = true;
                    depth = 0;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if chained {
        return Err(ONE_STATEMENT.into());
    }
    if escaped {
        return Err("a ')' closes a parenthesis the SQL did not open: a filter or query must stay inside its own parentheses".into());
    }
    if depth != 0 {
        return Err(format!("{depth} '(' not closed"));
    }
    Ok(())
}

/// Skips a quoted token starting at `start`; a doubled quote stands for itself.
fn quoted(b: &[u8], start: usize, q: u8) -> Result<usize, String> {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && q != b'`' {
            return Err("a backslash inside a quoted string reads differently under sql_mode NO_BACKSLASH_ESCAPES; write the character another way (e.g. CHAR(92), or LIKE … ESCAPE '!')".into());
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
    Err(format!("a {} quote is not closed", q as char))
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |p| i + p + 1)
}

#[cfg(test)]
mod tests {
    use super::mysql;

    #[test]
    fn ordinary_filters_and_queries_pass() {
        for ok in [
            "committee_id = 42",
            "name = 'O''Brien' AND `we``ird` > 0",
            "updated_at > NOW() - INTERVAL 1 DAY -- recent only",
            "a = 1 # comment with ) and ; inside",
            "x IN (SELECT y FROM t WHERE (z = ')'))",
            "SELECT MAX(ts) FROM t /* a ; comment ) */",
            "a--1 = 2",
            "\"double ( quoted\" = b",
        ] {
            assert_eq!(mysql(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn escapes_and_chains_are_refused() {
        for (bad, why) in [
            ("1=1); DELETE FROM t; SELECT (1", "one statement"),
            (
                "1) INTO OUTFILE '/tmp/x' FROM dual WHERE (1",
                "did not open",
            ),
            ("(1", "not closed"),
            ("1 /*!50000 ) INTO OUTFILE '/tmp/x' */", "executable"),
            ("1 /*M! ) */", "executable"),
            ("'\\' ) INTO OUTFILE '/tmp/x' -- '", "backslash"),
            ("'open", "not closed"),
            ("1 /* open", "not closed"),
            ("1 --) INTO OUTFILE 'x'", "did not open"),
        ] {
            let got = mysql(bad).expect_err(bad);
            assert!(got.contains(why), "{bad}: {got}");
        }
    }
}
