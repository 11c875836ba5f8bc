//! `${VAR}` and `${VAR:-default}` in settings, filled from the environment. Pure: the lookup is passed in.

/// What is wrong with one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `${NAME}` with NAME unset (or empty) and no default.
    Unset(String),
    /// `${` with no `}` after it.
    Unclosed,
    /// `${}` or `${:-x}`.
    Empty,
    /// `${...}` whose name is not an environment variable's (letters, digits, `_`).
    BadName(String),
}

/// Expands every reference; on failure returns every problem, in order.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<Problem>> {
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            problems.push(Problem::Unclosed);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() {
            problems.push(Problem::Empty);
        } else if !valid || name.starts_with(|c: char| c.is_ascii_digit()) {
            problems.push(Problem::BadName(name.to_string()));
        } else {
            match env(name)
                .filter(|v| !v.is_empty())
                .or(default.map(str::to_string))
            {
                Some(v) => out.push_str(&v),
                None => problems.push(Problem::Unset(name.to_string())),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "PG_URL").then(|| "postgres://u:p@db/x".to_string())
    }

    #[test]
    fn expands_defaults_and_reports_all_missing() {
        assert_eq!(expand("${PG_URL}", &env).unwrap(), "postgres://u:p@db/x");
        assert_eq!(expand("a-${NOPE:-b}-c", &env).unwrap(), "a-b-c");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
        assert_eq!(
            expand("${A}/${B}", &env).unwrap_err(),
            vec![Problem::Unset("A".into()), Problem::Unset("B".into())]
        );
        assert_eq!(
            expand("x${PG_URL", &env).unwrap_err(),
            vec![Problem::Unclosed]
        );
        assert_eq!(expand("${}", &env).unwrap_err(), vec![Problem::Empty]);
        assert_eq!(
            expand("${PG URL}", &env).unwrap_err(),
            vec![Problem::BadName("PG URL".into())]
        );
    }
}
