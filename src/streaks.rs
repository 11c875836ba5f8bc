//! A check's streaks: how many runs in a row were passing, failing, or could not be evaluated.
//! They are counted in one place, the store's UPSERT of `check_state` as each run is recorded
//! (`store/record.rs`), so concurrent writers never lose a count; the response rules read them
//! (`after`, `error_after`, `resolve_after`) and never count for themselves.

/// The streaks after a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streaks {
    /// Failing runs in a row, for `after`: a `fail` (or a `warn` when `on_warn: page`) counts,
    /// an `error` neither counts nor breaks the run, anything else ends it.
    pub fails: u32,
    /// `error` runs in a row, for `error_after`: any other verdict ends the run.
    pub errors: u32,
    /// `pass` runs in a row, for `resolve_after`.
    pub passes: u32,
}
