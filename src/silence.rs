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

/// A recurring maintenance window from the settings (`schedule` + `duration` + `timezone`):
/// e.g. partner maintenance on Sundays 02:00–04:00 New York time.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub pattern: String,
    /// Each window's start, in its time zone.
    pub schedule: crate::schedule::Schedule,
    pub duration: std::time::Duration,
    pub reason: String,
}

impl MaintenanceWindow {
    /// The window open at `now`, as a silence from its start to its end.
    pub fn at(&self, now: chrono::DateTime<chrono::Utc>) -> Option<Silence> {
        let d = chrono::Duration::from_std(self.duration).ok()?;
        let start = self.schedule.last_at_or_before(now)?;
        let until = start.checked_add_signed(d)?;
        (now < until).then(|| Silence {
            id: None,
            pattern: self.pattern.clone(),
            from: start,
            until,
            reason: format!("maintenance: {}", self.reason),
        })
    }

    /// The next window to open after `now` (for `silence --list`).
    pub fn next(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        self.schedule.next_after(now)
    }
}

/// The settings' silences that hold at `now`: fixed ones, and the recurring windows open now.
pub fn current(
    fixed: &[Silence],
    windows: &[MaintenanceWindow],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Silence> {
    fixed
        .iter()
        .filter(|s| s.from <= now && now < s.until)
        .cloned()
        .chain(windows.iter().filter_map(|w| w.at(now)))
        .collect()
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
mod window_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_sunday_window_in_new_york_across_daylight_saving() {
        let w = MaintenanceWindow {
            pattern: "acme_*".into(),
            schedule: crate::schedule::Schedule::new("0 2 * * 0", chrono_tz::America::New_York)
                .unwrap(),
            duration: std::time::Duration::from_secs(2 * 3600),
            reason: "Acme's weekly maintenance".into(),
        };
        let ny = |m, d, h, min| {
            chrono_tz::America::New_York
                .with_ymd_and_hms(2026, m, d, h, min, 0)
                .earliest()
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        // Sunday 6 December 2026, 02:00–04:00 EST (07:00–09:00Z).
        assert!(w.at(ny(12, 6, 1, 59)).is_none());
        let s = w.at(ny(12, 6, 3, 30)).unwrap();
        assert_eq!(s.from.to_rfc3339(), "2026-12-06T07:00:00+00:00");
        assert_eq!(s.until.to_rfc3339(), "2026-12-06T09:00:00+00:00");
        assert!(s.covers("acme_orders", ny(12, 6, 3, 30)));
        assert!(!s.covers("van_orders", ny(12, 6, 3, 30)));
        assert!(w.at(ny(12, 6, 4, 0)).is_none());
        assert!(w.at(ny(12, 7, 3, 0)).is_none(), "a Monday");
        // Summer: 02:00 EDT is 06:00Z.
        assert_eq!(
            w.at(ny(7, 5, 2, 30)).unwrap().from.to_rfc3339(),
            "2026-07-05T06:00:00+00:00"
        );
        let now = current(&[], std::slice::from_ref(&w), ny(12, 6, 2, 15));
        assert_eq!(now.len(), 1);
        assert!(now[0].reason.starts_with("maintenance: "));
    }
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
