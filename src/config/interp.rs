//! `${VAR}` and `${VAR:-default}` in settings, filled from the environment. Pure: the lookup is passed in.

/// Expands every reference; on failure returns the names of all unset variables.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match env(name)
            .filter(|v| !v.is_empty())
            .or(default.map(str::to_string))
        {
            Some(v) => out.push_str(&v),
            None => missing.push(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
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
        assert_eq!(expand("${A}/${B}", &env).unwrap_err(), vec!["A", "B"]);
    }
}
