//! Whether the state store takes writes. A full disk leaves SQLite readable but not writable,
//! so answering `SELECT 1` says nothing: every write's outcome is noted here, for `/readyz`
//! (503 while writes fail) and the metrics (`syncwatch_store_write_errors_total`,
//! `syncwatch_store_writes_failing`). One store per process, so the record is process-wide.

use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static ERRORS: AtomicU64 = AtomicU64::new(0);
static FAILING: Mutex<Option<(DateTime<Utc>, String)>> = Mutex::new(None);

/// Notes a write's outcome: a failure starts (or continues) a failing spell, a success ends it.
pub fn note<T, E: std::fmt::Display>(result: &Result<T, E>) {
    match result {
        Ok(_) => {
            if let Ok(mut f) = FAILING.lock() {
                *f = None;
            }
        }
        Err(e) => {
            ERRORS.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut f) = FAILING.lock() {
                let since = f.as_ref().map_or_else(Utc::now, |(t, _)| *t);
                *f = Some((since, e.to_string()));
            }
        }
    }
}

/// Since when writes fail, and the latest error; none while they succeed.
pub fn failing() -> Option<(DateTime<Utc>, String)> {
    FAILING.lock().ok().and_then(|f| f.clone())
}

/// Writes that failed since the process started.
pub fn errors() -> u64 {
    ERRORS.load(Ordering::Relaxed)
}
