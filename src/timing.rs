//! When one source should next be polled: its interval, raised by the origin's hints, backed off
//! after errors. Pure: the scheduler supplies the clock.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::fetch::Hints;

/// Why a source's next poll is when it is; shown by `regionfeed sources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextReason {
    Interval,
    CacheControl,
    Expires,
    Ttl,
    RetryAfter,
    Backoff,
    /// Nothing new for a long time: polled less often (never more often than its interval).
    Quiet,
    /// The host's gap or hourly budget pushed it later.
    HostBudget,
    /// 410 Gone: not polled until the operator changes the source's URL.
    Gone,
}

impl NextReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NextReason::Interval => "interval",
            NextReason::CacheControl => "cache-control",
            NextReason::Expires => "expires",
            NextReason::Ttl => "ttl",
            NextReason::RetryAfter => "retry-after",
            NextReason::Backoff => "backoff",
            NextReason::Quiet => "quiet",
            NextReason::HostBudget => "host budget",
            NextReason::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Option<NextReason> {
        [
            NextReason::Interval,
            NextReason::CacheControl,
            NextReason::Expires,
            NextReason::Ttl,
            NextReason::RetryAfter,
            NextReason::Backoff,
            NextReason::Quiet,
            NextReason::HostBudget,
            NextReason::Gone,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for NextReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Retry-After is honoured up to a day: longer is more likely a mistake than a wish.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 3600);
/// Quiet sources: after a day without news poll at half the rate, after a week at a quarter.
const QUIET_DAY: Duration = Duration::from_secs(24 * 3600);
const QUIET_WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// What one poll told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub hints: Hints,
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
    /// The error streak including this poll (0 after a success).
    pub errors: u32,
    /// How long the source has gone without new or changed items.
    pub quiet_for: Option<Duration>,
    /// The origin answered 410.
    pub gone: bool,
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

/// The next poll, or `None` when the source must not be polled again (410 Gone).
/// `jitter` in [0, 1) spreads the retries of sources that failed together.
pub fn next_poll(
    now: DateTime<Utc>,
    interval: Duration,
    cap: Duration,
    obs: &Observed,
    jitter: f64,
) -> (Option<DateTime<Utc>>, NextReason) {
    if obs.gone {
        return (None, NextReason::Gone);
    }
    // A cap below the interval would poll more often than configured: never.
    let cap = cap.max(interval);
    if obs.errors > 0 {
        let factor = 1u32 << (obs.errors - 1).min(20);
        let base = interval.saturating_mul(factor).min(cap);
        let delay = base.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0)).min(cap);
        let backoff = after(now, delay);
        let retry = obs
            .hints
            .retry_after
            .map(|t| t.min(after(now, RETRY_AFTER_CAP)));
        return match retry {
            Some(r) if r > backoff => (Some(r), NextReason::RetryAfter),
            _ => (Some(backoff), NextReason::Backoff),
        };
    }
    let mut best = (interval, NextReason::Interval);
    let mut consider = |d: Option<Duration>, why: NextReason| {
        if let Some(d) = d {
            let d = d.min(cap);
            if d > best.0 {
                best = (d, why);
            }
        }
    };
    consider(obs.hints.max_age, NextReason::CacheControl);
    consider(
        obs.hints.expires.and_then(|e| (e - now).to_std().ok()),
        NextReason::Expires,
    );
    consider(obs.ttl, NextReason::Ttl);
    let quiet = match obs.quiet_for {
        Some(q) if q >= QUIET_WEEK => Some(interval.saturating_mul(4)),
        Some(q) if q >= QUIET_DAY => Some(interval.saturating_mul(2)),
        _ => None,
    };
    consider(quiet, NextReason::Quiet);
    (Some(after(now, best.0)), best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// (observation, expected delay from now in seconds, expected reason); interval 300 s, cap 6 h.
    fn check(obs: Observed, want_secs: Option<i64>, want: NextReason) {
        let (at, why) = next_poll(
            t0(),
            Duration::from_secs(300),
            Duration::from_secs(6 * 3600),
            &obs,
            0.0,
        );
        assert_eq!(at.map(|a| (a - t0()).num_seconds()), want_secs, "{obs:?}");
        assert_eq!(why, want, "{obs:?}");
    }

    #[test]
    fn timing_rules() {
        let h = |max_age: Option<u64>, expires: Option<i64>, retry: Option<i64>| Hints {
            max_age: max_age.map(Duration::from_secs),
            expires: expires.map(|s| t0() + chrono::Duration::seconds(s)),
            retry_after: retry.map(|s| t0() + chrono::Duration::seconds(s)),
        };
        check(Observed::default(), Some(300), NextReason::Interval);
        // Hints raise the interval, never lower it.
        check(
            Observed {
                hints: h(Some(60), None, None),
                ..Default::default()
            },
            Some(300),
            NextReason::Interval,
        );
        check(
            Observed {
                hints: h(Some(900), None, None),
                ..Default::default()
            },
            Some(900),
            NextReason::CacheControl,
        );
        check(
            Observed {
                hints: h(None, Some(1200), None),
                ..Default::default()
            },
            Some(1200),
            NextReason::Expires,
        );
        check(
            Observed {
                ttl: Some(Duration::from_secs(3600)),
                ..Default::default()
            },
            Some(3600),
            NextReason::Ttl,
        );
        // ... but only up to the cap.
        check(
            Observed {
                hints: h(Some(365 * 86400), None, None),
                ..Default::default()
            },
            Some(6 * 3600),
            NextReason::CacheControl,
        );
        // Errors back off exponentially up to the cap, and never give up.
        check(
            Observed {
                errors: 1,
                ..Default::default()
            },
            Some(300),
            NextReason::Backoff,
        );
        check(
            Observed {
                errors: 3,
                ..Default::default()
            },
            Some(1200),
            NextReason::Backoff,
        );
        check(
            Observed {
                errors: 500,
                ..Default::default()
            },
            Some(6 * 3600),
            NextReason::Backoff,
        );
        // Retry-After wins when it is later than the backoff.
        check(
            Observed {
                errors: 1,
                hints: h(None, None, Some(3600)),
                ..Default::default()
            },
            Some(3600),
            NextReason::RetryAfter,
        );
        check(
            Observed {
                errors: 4,
                hints: h(None, None, Some(60)),
                ..Default::default()
            },
            Some(2400),
            NextReason::Backoff,
        );
        // Quiet sources are polled less often.
        check(
            Observed {
                quiet_for: Some(Duration::from_secs(2 * 86400)),
                ..Default::default()
            },
            Some(600),
            NextReason::Quiet,
        );
        check(
            Observed {
                quiet_for: Some(Duration::from_secs(30 * 86400)),
                ..Default::default()
            },
            Some(1200),
            NextReason::Quiet,
        );
        check(
            Observed {
                gone: true,
                ..Default::default()
            },
            None,
            NextReason::Gone,
        );
    }

    #[test]
    fn jitter_stays_within_a_quarter_and_the_cap() {
        let obs = Observed {
            errors: 3,
            ..Default::default()
        };
        let i = Duration::from_secs(300);
        let cap = Duration::from_secs(6 * 3600);
        let lo = next_poll(t0(), i, cap, &obs, 0.0).0.unwrap();
        let hi = next_poll(t0(), i, cap, &obs, 0.999).0.unwrap();
        assert!(hi > lo && (hi - lo).num_seconds() <= 300);
        let capped = Observed {
            errors: 99,
            ..Default::default()
        };
        assert_eq!(
            next_poll(t0(), i, cap, &capped, 0.999).0.unwrap(),
            t0() + chrono::Duration::hours(6)
        );
    }
}
