//! A check's `on_failure` rules, as `policy::decide` reads them.

use crate::restart::action::Restart;
use std::time::Duration;

/// What to do when a check keeps failing (`on_failure` in check files).
#[derive(Debug, Clone)]
pub struct OnFailure {
    /// Consecutive failing runs before acting (flap guard).
    pub after: u32,
    /// Consecutive passes before an open incident resolves.
    pub resolve_after: u32,
    /// Consecutive `error` runs (check cannot be evaluated) before paging that the check is broken.
    pub error_after: u32,
    pub on_warn: WarnAction,
    pub restart: Option<Restart>,
    /// Route paged when restarting did not help (or there is nothing to restart).
    pub page: Option<String>,
    /// Route for notices that never page (warn, auto-remediated); defaults to `page`.
    pub notify: Option<String>,
    pub remind_every: Option<Duration>,
}

impl Default for OnFailure {
    fn default() -> Self {
        OnFailure {
            after: 1,
            resolve_after: 1,
            error_after: 3,
            on_warn: WarnAction::Notify,
            restart: None,
            page: None,
            notify: None,
            remind_every: None,
        }
    }
}

/// What a `warn` verdict does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarnAction {
    /// A notice on the notify route, once per episode; never a page.
    Notify,
    /// Treated like `fail`.
    Page,
    Ignore,
}
