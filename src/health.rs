//! What `/healthz` and the watchdog judge the daemon by: the scheduler's heartbeat and whether
//! the database takes writes. Shared by the scheduler (which beats) and the server (which asks).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;

/// The scheduler beats at least this often, whether or not a poll is due.
pub const BEAT: Duration = Duration::from_secs(5);
/// A scheduler that has not beaten for this long is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Health {
    /// Unix milliseconds of the scheduler's last beat; 0 before the first.
    last_beat_ms: AtomicI64,
    db_writable: AtomicBool,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            last_beat_ms: AtomicI64::new(0),
            db_writable: AtomicBool::new(true),
        }
    }
}

impl Health {
    pub fn beat(&self) {
        self.last_beat_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    pub fn set_db_writable(&self, ok: bool) {
        self.db_writable.store(ok, Ordering::Relaxed);
    }

    pub fn db_writable(&self) -> bool {
        self.db_writable.load(Ordering::Relaxed)
    }

    /// `Ok` when healthy, else the reason in one line.
    pub fn check(&self) -> Result<(), String> {
        let last = self.last_beat_ms.load(Ordering::Relaxed);
        let since = Utc::now().timestamp_millis().saturating_sub(last);
        if last == 0 || since > STUCK_AFTER.as_millis() as i64 {
            return Err(format!(
                "scheduler stuck: no heartbeat for {} s",
                since / 1000
            ));
        }
        if !self.db_writable() {
            return Err("database not writable".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuck_scheduler_and_unwritable_database_fail_the_check() {
        let h = Health::default();
        assert!(
            h.check().unwrap_err().contains("scheduler stuck"),
            "no beat yet"
        );
        h.beat();
        assert_eq!(h.check(), Ok(()));
        let long_ago = Utc::now().timestamp_millis() - STUCK_AFTER.as_millis() as i64 - 1000;
        h.last_beat_ms.store(long_ago, Ordering::Relaxed);
        assert!(
            h.check()
                .unwrap_err()
                .starts_with("scheduler stuck: no heartbeat for 6")
        );
        h.beat();
        h.set_db_writable(false);
        assert_eq!(h.check(), Err("database not writable".into()));
        h.set_db_writable(true);
        assert_eq!(h.check(), Ok(()));
    }
}
