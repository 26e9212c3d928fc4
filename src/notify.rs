//! Tells the service manager (systemd) what the daemon is doing, over the sd_notify protocol;
//! does nothing when `NOTIFY_SOCKET` is not set.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    // A lost notification must never stop the daemon; systemd notices missing ones itself.
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("sd_notify failed: {e}");
    }
}

/// READY=1 with a status line: the database is open and the listener bound.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// RELOADING=1 (with the monotonic timestamp `Type=notify-reload` asks for).
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

/// STOPPING=1: shutdown has begun.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// STATUS=…: a one-line summary for `systemctl status`.
pub fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// WATCHDOG=1: the scheduler's loop is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to send WATCHDOG=1: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises;
/// `None` when systemd did not ask for a watchdog.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}
