//! Wall-clock time for the scheduler, real or virtual. The virtual clock follows tokio's
//! (pausable) time, so schedule tests run days of fire times in milliseconds.

use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// `origin` at tokio instant `start`, advancing with tokio time.
    Virtual {
        origin: DateTime<Utc>,
        start: tokio::time::Instant,
    },
}

impl Clock {
    pub fn virtual_at(origin: DateTime<Utc>) -> Clock {
        Clock::Virtual {
            origin,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Virtual { origin, start } => {
                *origin
                    + chrono::Duration::from_std(start.elapsed()).unwrap_or(chrono::Duration::MAX)
            }
        }
    }

    /// The instant checks are judged at when it is not the database's own clock: `at` under
    /// a virtual clock (tests that judge at chosen times), `None` under the system clock.
    pub fn judge_at(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        matches!(self, Clock::Virtual { .. }).then_some(at)
    }

    /// Sleeps until the clock reads `at`. Re-checks after waking, so a wall clock that was
    /// stepped back never makes a check fire early.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        loop {
            let left = at - self.now();
            if left <= chrono::Duration::zero() {
                return;
            }
            tokio::time::sleep(left.to_std().unwrap_or(Duration::from_secs(1))).await;
        }
    }
}
