//! Counters the daemon keeps about itself, rendered in the Prometheus text format at `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::pipeline::{PollOutcome, PollReport};

/// Upper bounds (seconds) of the fetch-duration histogram's buckets.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0];

#[derive(Debug, Default, Clone, Copy)]
struct SourceCounters {
    polls: u64,
    errors: u64,
    not_modified: u64,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket (not cumulative; made cumulative when rendered).
    counts: [u64; BUCKETS.len()],
    over: u64,
    sum: f64,
}

/// Everything `/metrics` reports. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    sources: Mutex<BTreeMap<String, SourceCounters>>,
    fetch: Mutex<Histogram>,
    requests: Mutex<BTreeMap<u16, u64>>,
    bytes_served: AtomicU64,
    items: Mutex<(u64, HashMap<String, u64>)>,
    /// Reports that joined a story, by rule (see [`crate::dedup::Rule::index`]).
    story_joins: Mutex<[u64; crate::dedup::Rule::ALL.len()]>,
}

/// Escapes a label value (backslash, quote, newline), as the text format asks.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn record_poll(&self, r: &PollReport) {
        if matches!(r.outcome, PollOutcome::Skipped) {
            return;
        }
        if let PollOutcome::Stored { stats, .. } = &r.outcome {
            let mut joins = self.story_joins.lock().unwrap_or_else(|p| p.into_inner());
            for (total, n) in joins.iter_mut().zip(stats.joined_by_rule) {
                *total += n as u64;
            }
        }
        {
            let mut s = self.sources.lock().unwrap_or_else(|p| p.into_inner());
            let c = s.entry(r.source_id.clone()).or_default();
            c.polls += 1;
            match r.outcome {
                PollOutcome::Failed { .. } => c.errors += 1,
                PollOutcome::NotModified => c.not_modified += 1,
                _ => {}
            }
        }
        let secs = r.duration.as_secs_f64();
        let mut h = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
        match BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => h.counts[i] += 1,
            None => h.over += 1,
        }
        h.sum += secs;
    }

    /// One answered HTTP request of `bytes` body bytes.
    pub fn record_request(&self, status: u16, bytes: u64) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_default() += 1;
        self.bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The stored item counts, refreshed whenever the site is rebuilt.
    pub fn set_items(&self, total: u64, per_region: HashMap<String, u64>) {
        *self.items.lock().unwrap_or_else(|p| p.into_inner()) = (total, per_region);
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, db_bytes: u64) -> String {
        let mut out = String::new();
        let w = &mut out;
        let sources = self
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        type Pick = fn(&SourceCounters) -> u64;
        let families: [(&str, &str, Pick); 3] = [
            ("regionfeed_polls_total", "Polls per source.", |c| c.polls),
            (
                "regionfeed_poll_errors_total",
                "Failed polls per source.",
                |c| c.errors,
            ),
            (
                "regionfeed_polls_not_modified_total",
                "Polls answered 304 per source.",
                |c| c.not_modified,
            ),
        ];
        for (name, help, pick) in families {
            let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} counter");
            for (id, c) in &sources {
                let _ = writeln!(w, "{name}{{source=\"{}\"}} {}", label(id), pick(c));
            }
        }
        {
            let h = self.fetch.lock().unwrap_or_else(|p| p.into_inner());
            let name = "regionfeed_fetch_duration_seconds";
            let _ = writeln!(
                w,
                "# HELP {name} Time to fetch, parse, tag and store one source.\n# TYPE {name} histogram"
            );
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.counts[i];
                let _ = writeln!(w, "{name}_bucket{{le=\"{b}\"}} {cum}");
            }
            let total = cum + h.over;
            let _ = writeln!(
                w,
                "{name}_bucket{{le=\"+Inf\"}} {total}\n{name}_sum {}\n{name}_count {total}",
                h.sum
            );
        }
        {
            let (total, per_region) = self.items.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let _ = writeln!(
                w,
                "# HELP regionfeed_items Items stored.\n# TYPE regionfeed_items gauge\nregionfeed_items {total}"
            );
            let _ = writeln!(
                w,
                "# HELP regionfeed_region_items Items tagged with a region (SCB code).\n# TYPE regionfeed_region_items gauge"
            );
            let sorted: BTreeMap<_, _> = per_region.into_iter().collect();
            for (code, n) in sorted {
                let _ = writeln!(
                    w,
                    "regionfeed_region_items{{region=\"{}\"}} {n}",
                    label(&code)
                );
            }
        }
        {
            let requests = self
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let _ = writeln!(
                w,
                "# HELP regionfeed_http_requests_total HTTP requests answered, by status.\n# TYPE regionfeed_http_requests_total counter"
            );
            for (status, n) in requests {
                let _ = writeln!(
                    w,
                    "regionfeed_http_requests_total{{status=\"{status}\"}} {n}"
                );
            }
        }
        {
            let joins = *self.story_joins.lock().unwrap_or_else(|p| p.into_inner());
            let name = "regionfeed_story_joins_total";
            let _ = writeln!(
                w,
                "# HELP {name} New reports that joined another item's story, by the rule that matched.\n# TYPE {name} counter"
            );
            for rule in crate::dedup::Rule::ALL {
                let _ = writeln!(
                    w,
                    "{name}{{rule=\"{}\"}} {}",
                    rule.name(),
                    joins[rule.index()]
                );
            }
        }
        let _ = writeln!(
            w,
            "# HELP regionfeed_http_response_bytes_total Body bytes sent.\n# TYPE regionfeed_http_response_bytes_total counter\nregionfeed_http_response_bytes_total {}",
            self.bytes_served.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            w,
            "# HELP regionfeed_database_bytes Size of the SQLite database and its WAL.\n# TYPE regionfeed_database_bytes gauge\nregionfeed_database_bytes {db_bytes}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Rule;
    use crate::store::{IngestStats, NextPoll};

    fn stored(joined: &[(Rule, usize)]) -> PollReport {
        let mut stats = IngestStats::default();
        for &(rule, n) in joined {
            stats.joined_story += n;
            stats.joined_by_rule[rule.index()] += n;
        }
        PollReport {
            source_id: "a".into(),
            outcome: PollOutcome::Stored { items: 3, stats },
            duration: std::time::Duration::from_millis(20),
            next: NextPoll {
                at: None,
                reason: crate::timing::NextReason::Interval,
            },
            errors_before: 0,
        }
    }

    #[test]
    fn story_joins_are_counted_by_rule() {
        let m = Metrics::default();
        m.record_poll(&stored(&[(Rule::CopiedText, 2), (Rule::OwnAccount, 1)]));
        m.record_poll(&stored(&[(Rule::CopiedText, 1)]));
        let text = m.render(0);
        assert!(text.contains("# TYPE regionfeed_story_joins_total counter"));
        assert!(text.contains("regionfeed_story_joins_total{rule=\"copied-text\"} 3\n"));
        assert!(text.contains("regionfeed_story_joins_total{rule=\"own-account\"} 1\n"));
        assert!(text.contains("regionfeed_story_joins_total{rule=\"event-stamp\"} 0\n"));
        assert_eq!(
            text.matches("regionfeed_story_joins_total{").count(),
            Rule::ALL.len()
        );
    }
}
