//! One configuration problem, located and explained, and the list of all of them.

use std::fmt;

/// `file:line:col: check "name": field: what is wrong (hint)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub check: Option<String>,
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
        if let Some(check) = &self.check {
            write!(f, "check \"{check}\": ")?;
        }
        if let Some(field) = self.field.as_deref().filter(|s| !s.is_empty()) {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Every problem found while loading; never empty.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        write!(
            f,
            "{} problem{} found",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )
    }
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = match word.chars().count() {
        0..=3 => 1,
        4..=8 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let fields = ["table", "column", "filter", "warn_after", "error_after"];
        assert_eq!(did_you_mean("tabel", fields), Some("table"));
        assert_eq!(did_you_mean("warn_afer", fields), Some("warn_after"));
        assert_eq!(did_you_mean("colour", fields), None);
        assert_eq!(did_you_mean("x", fields), None);
    }

    #[test]
    fn displays_location_check_field_and_hint() {
        let d = Diagnostic {
            file: "checks/van.yaml".into(),
            line: 14,
            col: 7,
            check: Some("van_contacts_sync".into()),
            field: Some("freshness.error_after".into()),
            message: "unknown unit \"hr\"".into(),
            hint: Some("try \"6h\"".into()),
        };
        assert_eq!(
            d.to_string(),
            "checks/van.yaml:14:7: check \"van_contacts_sync\": freshness.error_after: unknown unit \"hr\" (try \"6h\")"
        );
    }
}
