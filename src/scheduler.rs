//! Decides when each source is polled: per-host gaps, a global concurrency cap, intervals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, watch};

use crate::config::{Config, SourceConfig};
use crate::pipeline::{Context, PollOutcome, PollReport, poll_source};
use crate::store::StoreError;

/// Polisen's open-data rules: at least 10 s between calls (and at most 60 an hour, which the
/// shipped intervals respect: see config/regionfeed.toml).
pub const POLISEN_GAP: Duration = Duration::from_secs(10);

/// The sources of one host, polled one at a time with a gap between requests.
#[derive(Debug, Clone)]
pub struct HostPlan {
    pub host: String,
    pub gap: Duration,
    pub sources: Vec<SourceConfig>,
}

/// The minimum gap between two requests to `host`.
pub fn host_gap(host: &str, default: Duration) -> Duration {
    if host == "polisen.se" || host.ends_with(".polisen.se") {
        default.max(POLISEN_GAP)
    } else {
        default
    }
}

/// Groups the configured sources by host, in config order within each host.
pub fn plan(config: &Config) -> Vec<HostPlan> {
    let mut by_host: BTreeMap<String, Vec<SourceConfig>> = BTreeMap::new();
    for s in &config.sources {
        let host = s.url.host_str().unwrap_or_default().to_ascii_lowercase();
        by_host.entry(host).or_default().push(s.clone());
    }
    by_host
        .into_iter()
        .map(|(host, sources)| HostPlan {
            gap: host_gap(&host, config.fetch.host_gap),
            host,
            sources,
        })
        .collect()
}

/// Most requests an hour that `plan` can send to its host: bounded by both intervals and the gap.
pub fn max_requests_per_hour(plan: &HostPlan) -> f64 {
    let by_interval: f64 = plan
        .sources
        .iter()
        .map(|s| 3600.0 / s.interval.as_secs_f64())
        .sum();
    let by_gap = 3600.0 / plan.gap.as_secs_f64().max(f64::MIN_POSITIVE);
    by_interval.min(by_gap)
}

fn log_report(r: &PollReport) {
    let ms = r.duration.as_millis();
    match &r.outcome {
        PollOutcome::NotModified => {
            tracing::info!(source = %r.source_id, status = 304, ms, "not modified");
        }
        PollOutcome::Stored { items, stats } => tracing::info!(
            source = %r.source_id,
            items,
            new = stats.new,
            updated = stats.updated,
            merged = stats.merged,
            ms,
            "polled"
        ),
        PollOutcome::Failed { status, error } => {
            // Log a streak when it starts, not on every poll; `sources` shows the rest.
            if r.errors_before == 0 {
                tracing::warn!(source = %r.source_id, status = ?status, next_poll = %r.next_poll, "source failing: {error}");
            } else {
                tracing::debug!(source = %r.source_id, status = ?status, streak = r.errors_before + 1, "still failing: {error}");
            }
        }
    }
    if r.errors_before > 0 && !matches!(r.outcome, PollOutcome::Failed { .. }) {
        tracing::info!(source = %r.source_id, after = r.errors_before, "source recovered");
    }
}

/// Polls every source once: hosts in parallel (up to the concurrency cap), each host's sources
/// one after another with its gap.
pub async fn poll_once(ctx: Arc<Context>) -> Result<Vec<PollReport>, StoreError> {
    let permits = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for host in plan(&ctx.config) {
        let ctx = ctx.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let mut reports = Vec::new();
            for (i, source) in host.sources.iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(host.gap).await;
                }
                let _permit = permits.acquire().await.expect("semaphore is never closed");
                let report = poll_source(&ctx, source).await?;
                log_report(&report);
                reports.push(report);
            }
            Ok::<_, StoreError>(reports)
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.expect("poll task does not panic")?);
    }
    all.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    Ok(all)
}

/// Polls forever until `shutdown` turns true; `changed` is notified after every poll that
/// stored something new. Returns once every host task has stopped.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: watch::Receiver<bool>,
    changed: Arc<Notify>,
) -> Result<(), StoreError> {
    let permits = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for host in plan(&ctx.config) {
        tasks.spawn(host_loop(
            ctx.clone(),
            host,
            permits.clone(),
            shutdown.clone(),
            changed.clone(),
        ));
    }
    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined.expect("host task does not panic") {
            result = Err(e);
        }
    }
    result
}

async fn host_loop(
    ctx: Arc<Context>,
    host: HostPlan,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
    changed: Arc<Notify>,
) -> Result<(), StoreError> {
    let mut due: HashMap<String, chrono::DateTime<Utc>> = HashMap::new();
    for s in &host.sources {
        let store = ctx.store.clone();
        let id = s.id.clone();
        let state = tokio::task::spawn_blocking(move || store.source_state(&id))
            .await
            .expect("source_state does not panic")?;
        due.insert(s.id.clone(), state.next_poll_at.unwrap_or_else(Utc::now));
    }
    let mut last_request: Option<tokio::time::Instant> = None;
    loop {
        let Some(source) = host
            .sources
            .iter()
            .min_by_key(|s| (due[&s.id], s.id.clone()))
        else {
            return Ok(());
        };
        let wait_due = (due[&source.id] - Utc::now()).to_std().unwrap_or_default();
        let wait_gap = last_request
            .map(|t| (t + host.gap).saturating_duration_since(tokio::time::Instant::now()))
            .unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait_due.max(wait_gap)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        }
        let _permit = tokio::select! {
            p = permits.acquire() => p.expect("semaphore is never closed"),
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        last_request = Some(tokio::time::Instant::now());
        let report = tokio::select! {
            r = poll_source(&ctx, source) => r?,
            // An in-flight fetch is abandoned: nothing was written for it yet.
            _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
        };
        log_report(&report);
        due.insert(source.id.clone(), report.next_poll);
        if report.changed() {
            changed.notify_one();
        }
    }
}
