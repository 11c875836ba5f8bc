//! Silences and maintenance windows: matching checks still run and update metrics, but
//! nothing is restarted or sent.

/// A silence or maintenance window: matching checks still run, but nothing is restarted or sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Silence {
    /// Set for silences made with `syncwatch silence` (kept in the store).
    pub id: Option<i64>,
    /// A check name, or a pattern with `*` wildcards.
    pub pattern: String,
    pub from: chrono::DateTime<chrono::Utc>,
    pub until: chrono::DateTime<chrono::Utc>,
    pub reason: String,
}

impl Silence {
    pub fn covers(&self, check: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.from <= now && now < self.until && glob(&self.pattern, check)
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first)
        || !text[first.len()..].ends_with(last)
        || text.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod glob_tests {
    #[test]
    fn globs() {
        for (p, t, want) in [
            ("van_*", "van_contacts", true),
            ("van_*", "ngp", false),
            ("*_sync", "van_sync", true),
            ("*", "x", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("exact", "exact", true),
            ("ab*ba", "aba", false),
        ] {
            assert_eq!(super::glob(p, t), want, "{p} {t}");
        }
    }
}
