//! Per-host politeness: the minimum gap, the concurrency cap and the hourly request budget of
//! each origin, and the request slots reserved against them. Pure: times are passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::FetchConfig;

/// Polisen's open-data rules: at least 10 s between calls, at most 60 calls an hour.
pub const POLISEN_GAP: Duration = Duration::from_secs(10);
pub const POLISEN_PER_HOUR: u32 = 60;

/// The limits one host is polled under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostRules {
    /// Minimum time between the starts of two requests.
    pub gap: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests started in any sliding hour.
    pub per_hour: Option<u32>,
}

fn is_polisen(host: &str) -> bool {
    host == "polisen.se" || host.ends_with(".polisen.se")
}

/// The rules for `host`: an operator's `[hosts]` entry over the `[fetch]` defaults, and for
/// polisen.se never looser than Polisen's published rules, whatever the config says.
pub fn rules_for(host: &str, fetch: &FetchConfig) -> HostRules {
    let host = host.to_ascii_lowercase();
    let own = fetch.hosts.get(&host).cloned().unwrap_or_default();
    let mut rules = HostRules {
        gap: own.gap.unwrap_or(fetch.host_gap),
        concurrency: own.concurrency.unwrap_or(fetch.host_concurrency),
        per_hour: own.per_hour,
    };
    if is_polisen(&host) {
        rules.gap = rules.gap.max(POLISEN_GAP);
        rules.concurrency = 1;
        rules.per_hour = Some(
            rules
                .per_hour
                .map_or(POLISEN_PER_HOUR, |p| p.min(POLISEN_PER_HOUR)),
        );
    }
    rules
}

const HOUR: chrono::Duration = chrono::Duration::hours(1);

/// Request start times of one host, past and reserved, kept sorted.
#[derive(Debug, Clone)]
pub struct HostSlots {
    pub rules: HostRules,
    starts: Vec<DateTime<Utc>>,
}

impl HostSlots {
    pub fn new(rules: HostRules) -> HostSlots {
        HostSlots {
            rules,
            starts: Vec::new(),
        }
    }

    /// Records a request that already happened (e.g. a source's last fetch before a restart),
    /// so the budget counts it.
    pub fn record(&mut self, at: DateTime<Utc>) {
        let i = self.starts.partition_point(|s| *s <= at);
        self.starts.insert(i, at);
    }

    /// Forgets starts too old to matter to the gap or the hourly budget.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let gap = chrono::Duration::from_std(self.rules.gap).unwrap_or(HOUR);
        let horizon = now - HOUR.max(gap);
        self.starts.retain(|s| *s > horizon);
    }

    /// Takes back a reservation that will not be used (its source was removed or polled early).
    pub fn release(&mut self, at: DateTime<Utc>) {
        if let Some(i) = self.starts.iter().position(|s| *s == at) {
            self.starts.remove(i);
        }
    }

    /// Reserves the earliest start at or after `want` that keeps the gap to every other start
    /// and the hourly budget, and returns it.
    pub fn reserve(&mut self, want: DateTime<Utc>) -> DateTime<Utc> {
        let gap = chrono::Duration::from_std(self.rules.gap).unwrap_or(HOUR);
        let mut t = want;
        // Each pass moves `t` later past one conflict; the starts are finite, so this ends.
        loop {
            let mut moved = false;
            if let Some(s) = self.starts.iter().find(|s| (**s - t).abs() < gap) {
                t = *s + gap;
                moved = true;
            }
            if let Some(limit) = self.rules.per_hour {
                let limit = limit.max(1) as usize;
                let in_hour_from = |x: DateTime<Utc>| {
                    self.starts
                        .iter()
                        .filter(|s| **s >= x && **s < x + HOUR)
                        .count()
                };
                // Every sliding hour that would contain `t` starts at an existing start in
                // (t - 1h, t] or at `t` itself; each must keep room for one more request.
                let earlier = self
                    .starts
                    .iter()
                    .copied()
                    .find(|s| *s > t - HOUR && *s <= t && in_hour_from(*s) + 1 > limit);
                if let Some(x) = earlier {
                    t = x + HOUR;
                    moved = true;
                } else if in_hour_from(t) + 1 > limit {
                    // Full hour ahead: step past its first start and look again.
                    let first = self.starts.iter().copied().find(|s| *s >= t).unwrap_or(t);
                    t = first + gap.max(chrono::Duration::seconds(1));
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        self.record(t);
        t
    }

    /// Every start in [from, to), for plans and tests.
    pub fn starts_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        self.starts
            .iter()
            .copied()
            .filter(|s| *s >= from && *s < to)
            .collect()
    }
}

/// Checks a list of request starts against `rules`: the smallest gap seen and the largest number
/// of starts in any sliding hour.
pub fn audit(starts: &[DateTime<Utc>]) -> (Option<Duration>, usize) {
    let mut sorted = starts.to_vec();
    sorted.sort();
    let min_gap = sorted
        .windows(2)
        .filter_map(|w| (w[1] - w[0]).to_std().ok())
        .min();
    let mut max_in_hour = 0;
    let mut lo = 0;
    for hi in 0..sorted.len() {
        while sorted[hi] - sorted[lo] >= HOUR {
            lo += 1;
        }
        max_in_hour = max_in_hour.max(hi - lo + 1);
    }
    (min_gap, max_in_hour)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn reservations_keep_the_gap() {
        let mut h = HostSlots::new(HostRules {
            gap: Duration::from_secs(10),
            concurrency: 1,
            per_hour: None,
        });
        assert_eq!(h.reserve(t(0)), t(0));
        assert_eq!(h.reserve(t(0)), t(10));
        assert_eq!(h.reserve(t(5)), t(20));
        assert_eq!(h.reserve(t(100)), t(100));
        assert_eq!(
            h.reserve(t(95)),
            t(110),
            "a slot between two would break the gap"
        );
        h.release(t(100));
        assert_eq!(h.reserve(t(95)), t(95));
    }

    #[test]
    fn reservations_keep_the_hourly_budget() {
        let mut h = HostSlots::new(HostRules {
            gap: Duration::from_secs(1),
            concurrency: 1,
            per_hour: Some(3),
        });
        let got: Vec<_> = (0..7).map(|_| h.reserve(t(0))).collect();
        let (gap, per_hour) = audit(&got);
        assert!(gap.unwrap() >= Duration::from_secs(1));
        assert_eq!(per_hour, 3, "{got:?}");
        assert_eq!(
            got[3],
            t(3600),
            "the fourth waits until the first leaves the hour"
        );
    }
}
