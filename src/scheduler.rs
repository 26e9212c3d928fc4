//! Decides when each source is polled: each host's request slots (gap and hourly budget), the
//! per-host and global concurrency caps, and each source's own next-poll time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::{Config, SourceConfig};
use crate::health::Health;
use crate::hosts::{HostRules, HostSlots, rules_for};
use crate::metrics::Metrics;
use crate::pipeline::{Context, PollOutcome, PollReport, poll_source};
use crate::store::{NextPoll, StoreError};
use crate::timing::NextReason;

/// How long in-flight polls may run on after shutdown is asked for before they are abandoned.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The sources of one host and the rules they are polled under.
#[derive(Debug, Clone)]
pub struct HostPlan {
    pub host: String,
    pub rules: HostRules,
    pub sources: Vec<SourceConfig>,
}

fn host_of(source: &SourceConfig) -> String {
    source
        .url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Groups the configured sources by host, in config order within each host.
pub fn plan(config: &Config) -> Vec<HostPlan> {
    let mut by_host: BTreeMap<String, Vec<SourceConfig>> = BTreeMap::new();
    for s in &config.sources {
        by_host.entry(host_of(s)).or_default().push(s.clone());
    }
    by_host
        .into_iter()
        .map(|(host, sources)| HostPlan {
            rules: rules_for(&host, &config.fetch),
            host,
            sources,
        })
        .collect()
}

/// Plays `hours` of polling with every poll succeeding at once and returns the request starts
/// per host: what the scheduler would send, worked out without any network.
pub fn simulate(
    config: &Config,
    start: DateTime<Utc>,
    hours: i64,
) -> BTreeMap<String, Vec<DateTime<Utc>>> {
    let end = start + chrono::Duration::hours(hours);
    let mut out = BTreeMap::new();
    for host in plan(config) {
        let mut slots = HostSlots::new(host.rules);
        let mut queue = BinaryHeap::new();
        for i in 0..host.sources.len() {
            queue.push(Reverse((slots.reserve(start), i)));
        }
        let mut starts = Vec::new();
        while let Some(Reverse((at, i))) = queue.pop() {
            if at >= end {
                break;
            }
            starts.push(at);
            slots.prune(at);
            let interval = chrono::Duration::from_std(host.sources[i].interval)
                .unwrap_or(chrono::Duration::hours(1));
            queue.push(Reverse((slots.reserve(at + interval), i)));
        }
        out.insert(host.host, starts);
    }
    out
}

fn log_report(r: &PollReport) {
    let ms = r.duration.as_millis();
    match &r.outcome {
        PollOutcome::NotModified => {
            tracing::info!(source = %r.source_id, status = 304, ms, "not modified");
        }
        PollOutcome::Stored { items, stats } => tracing::info!(
            source = %r.source_id,
            status = 200,
            items,
            new = stats.new,
            updated = stats.updated,
            merged = stats.merged,
            joined_story = stats.joined_story,
            ms,
            "polled"
        ),
        PollOutcome::Failed { status, error } => {
            // Log a streak when it starts, not on every poll; `sources` shows the rest.
            if r.errors_before == 0 || r.next.reason == NextReason::Gone {
                tracing::warn!(source = %r.source_id, status = ?status, "source failing: {error}");
            } else {
                tracing::debug!(source = %r.source_id, status = ?status, streak = r.errors_before + 1, "still failing: {error}");
            }
        }
        PollOutcome::Skipped => {
            tracing::debug!(source = %r.source_id, "gone (410); not polled");
        }
    }
    if r.errors_before > 0
        && matches!(
            r.outcome,
            PollOutcome::Stored { .. } | PollOutcome::NotModified
        )
    {
        tracing::info!(source = %r.source_id, after = r.errors_before, "source recovered");
    }
}

/// One host's live limits: its slots, its concurrency cap, and the start of its last request.
struct Host {
    slots: HostSlots,
    permits: Arc<Semaphore>,
    last_start: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl Host {
    fn new(rules: HostRules) -> Host {
        Host {
            permits: Arc::new(Semaphore::new(rules.concurrency.max(1))),
            slots: HostSlots::new(rules),
            last_start: Arc::new(Mutex::new(None)),
        }
    }
}

/// Polls one source under the global cap, the host's cap and the host's gap. The gap is kept
/// here too, from real start times, because a slot can be delayed by the caps.
async fn guarded_poll(
    ctx: Arc<Context>,
    source: SourceConfig,
    global: Arc<Semaphore>,
    host_permits: Arc<Semaphore>,
    last_start: Arc<Mutex<Option<tokio::time::Instant>>>,
    gap: Duration,
) -> Result<PollReport, StoreError> {
    let _global = global
        .acquire_owned()
        .await
        .expect("semaphore is never closed");
    let _host = host_permits
        .acquire_owned()
        .await
        .expect("semaphore is never closed");
    {
        let mut last = last_start.lock().await;
        if let Some(t) = *last {
            tokio::time::sleep_until(t + gap).await;
        }
        *last = Some(tokio::time::Instant::now());
    }
    poll_source(&ctx, &source).await
}

/// Resolves once `shutdown` turns true (or its sender is gone). The guard `wait_for` returns
/// is dropped here: held across an await it would make the scheduler's future not `Send`.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Time until `at`, zero when it has passed.
fn until(at: DateTime<Utc>) -> Duration {
    (at - Utc::now()).to_std().unwrap_or_default()
}

/// Polls every source once, each host's sources spaced by its gap and budget, hosts in
/// parallel up to the caps. Sources gone for good (410) are skipped.
pub async fn poll_once(ctx: Arc<Context>) -> Result<Vec<PollReport>, StoreError> {
    let global = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
    let mut tasks = JoinSet::new();
    let now = Utc::now();
    for plan in plan(&ctx.config) {
        let mut host = Host::new(plan.rules);
        seed_host(&ctx, &plan.sources, &mut host.slots).await?;
        for source in plan.sources {
            let slot = host.slots.reserve(now);
            let (ctx, global) = (ctx.clone(), global.clone());
            let (permits, last) = (host.permits.clone(), host.last_start.clone());
            let gap = plan.rules.gap;
            tasks.spawn(async move {
                tokio::time::sleep(until(slot)).await;
                guarded_poll(ctx, source, global, permits, last, gap).await
            });
        }
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let report = joined.expect("poll task does not panic")?;
        log_report(&report);
        all.push(report);
    }
    all.sort_by(|a, b| a.source_id.cmp(&b.source_id));
    Ok(all)
}

/// Counts each source's last fetch against its host's budget, so a restart does not reset it.
async fn seed_host(
    ctx: &Context,
    sources: &[SourceConfig],
    slots: &mut HostSlots,
) -> Result<(), StoreError> {
    for s in sources {
        let store = ctx.store.clone();
        let id = s.id.clone();
        let state = tokio::task::spawn_blocking(move || store.source_state(&id))
            .await
            .expect("source_state does not panic")?;
        if let Some(t) = state.last_fetch_at {
            slots.record(t);
        }
    }
    Ok(())
}

/// Reserves the host slot for a source's next poll; when the host pushes it later, records why.
async fn schedule(
    ctx: &Context,
    host: &mut Host,
    source_id: &str,
    next: NextPoll,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let Some(want) = next.at else {
        return Ok(None);
    };
    let now = Utc::now();
    host.slots.prune(now);
    let slot = host.slots.reserve(want.max(now));
    if slot > want.max(now) + chrono::Duration::seconds(1) {
        let store = ctx.store.clone();
        let id = source_id.to_string();
        let moved = NextPoll {
            at: Some(slot),
            reason: NextReason::HostBudget,
        };
        tokio::task::spawn_blocking(move || store.set_next_poll(&id, moved))
            .await
            .expect("set_next_poll does not panic")?;
    }
    Ok(Some(slot))
}

/// The scheduler's state between events: the sources it knows, each host's limits, and the
/// queue of (slot, source id), earliest first.
struct Runner {
    ctx: Arc<Context>,
    global: Arc<Semaphore>,
    hosts: HashMap<String, Host>,
    sources: HashMap<String, SourceConfig>,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, String)>>,
    /// Whether each source's last poll worked, for the status line.
    ok: HashMap<String, bool>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// Consecutive database failures; while above 0 the database is not taking writes.
    db_failures: u32,
}

/// Longest wait before retrying a source whose results the database would not take.
const DB_RETRY_CAP: Duration = Duration::from_secs(300);

impl Runner {
    /// Takes up a (new) config: new sources and sources whose URL changed are polled at once,
    /// removed ones leave the queue, the rest keep their place. Host budgets carry over.
    async fn load(&mut self, ctx: Arc<Context>) -> Result<(), StoreError> {
        let old = std::mem::take(&mut self.sources);
        let now = Utc::now();
        let mut keep: HashMap<String, DateTime<Utc>> = HashMap::new();
        for Reverse((at, id)) in std::mem::take(&mut self.queue) {
            keep.insert(id, at);
        }
        if ctx.config.fetch.concurrency != self.ctx.config.fetch.concurrency {
            self.global = Arc::new(Semaphore::new(ctx.config.fetch.concurrency));
        }
        self.ctx = ctx.clone();
        for plan in plan(&ctx.config) {
            let fresh = !self.hosts.contains_key(&plan.host);
            let host = self
                .hosts
                .entry(plan.host.clone())
                .or_insert_with(|| Host::new(plan.rules));
            if host.slots.rules != plan.rules {
                host.slots.rules = plan.rules;
                host.permits = Arc::new(Semaphore::new(plan.rules.concurrency.max(1)));
            }
            if fresh {
                seed_host(&ctx, &plan.sources, &mut host.slots).await?;
            }
            for s in &plan.sources {
                self.sources.insert(s.id.clone(), s.clone());
                let unchanged = old.get(&s.id).filter(|o| o.url == s.url);
                if let Some(o) = unchanged {
                    let Some(at) = keep.remove(&s.id) else {
                        // Not queued: in flight; it is rescheduled when it finishes.
                        continue;
                    };
                    let shorter = s.interval < o.interval;
                    let sooner = if shorter {
                        // A shorter interval applies now, not after the wait the old one set.
                        let store = ctx.store.clone();
                        let id = s.id.clone();
                        let state = tokio::task::spawn_blocking(move || store.source_state(&id))
                            .await
                            .expect("source_state does not panic")?;
                        let due = state.last_fetch_at.unwrap_or(now)
                            + chrono::Duration::from_std(s.interval).unwrap_or_default();
                        Some(due.max(now)).filter(|d| *d < at)
                    } else {
                        None
                    };
                    match sooner {
                        Some(want) => {
                            host.slots.release(at);
                            let next = NextPoll {
                                at: Some(want),
                                reason: NextReason::Interval,
                            };
                            if let Some(slot) = schedule(&ctx, host, &s.id, next).await? {
                                self.queue.push(Reverse((slot, s.id.clone())));
                                if slot > want + chrono::Duration::seconds(1) {
                                    continue; // `schedule` recorded the host's delay
                                }
                                let store = ctx.store.clone();
                                let id = s.id.clone();
                                let next = NextPoll {
                                    at: Some(slot),
                                    reason: NextReason::Interval,
                                };
                                tokio::task::spawn_blocking(move || store.set_next_poll(&id, next))
                                    .await
                                    .expect("set_next_poll does not panic")?;
                            }
                        }
                        None => self.queue.push(Reverse((at, s.id.clone()))),
                    }
                    continue;
                }
                let store = ctx.store.clone();
                let id = s.id.clone();
                let state = tokio::task::spawn_blocking(move || store.source_state(&id))
                    .await
                    .expect("source_state does not panic")?;
                if state.gone {
                    tracing::warn!(source = %s.id, "source is gone (410); not polled until its url changes");
                    continue;
                }
                // A new or moved source is polled at once; a known one when it is due.
                let want = if old.is_empty() {
                    state.next_poll_at.unwrap_or(now).max(now)
                } else {
                    now
                };
                let next = NextPoll {
                    at: Some(want),
                    reason: NextReason::Interval,
                };
                if let Some(slot) = schedule(&ctx, host, &s.id, next).await? {
                    self.queue.push(Reverse((slot, s.id.clone())));
                }
            }
        }
        for (id, at) in keep {
            // Removed from the config: its reserved slot goes back to its host.
            if let Some(h) = old.get(&id).and_then(|s| self.hosts.get_mut(&host_of(s))) {
                h.slots.release(at);
            }
        }
        self.ok.retain(|id, _| self.sources.contains_key(id));
        Ok(())
    }

    /// Starts the poll at the head of the queue.
    fn start_next(&mut self, inflight: &mut JoinSet<(String, Result<PollReport, StoreError>)>) {
        let Some(Reverse((_, id))) = self.queue.pop() else {
            return;
        };
        let Some(source) = self.sources.get(&id).cloned() else {
            return;
        };
        let host = &self.hosts[&host_of(&source)];
        let fut = guarded_poll(
            self.ctx.clone(),
            source,
            self.global.clone(),
            host.permits.clone(),
            host.last_start.clone(),
            host.slots.rules.gap,
        );
        inflight.spawn(async move { (id, fut.await) });
    }

    /// Handles a finished poll: log, notify, schedule the next one. A database failure is
    /// logged once, retried with backoff, and reported by `/healthz` until writes work again.
    async fn finished(
        &mut self,
        id: String,
        result: Result<PollReport, StoreError>,
        changed: &Notify,
    ) {
        let Some(source) = self.sources.get(&id).cloned() else {
            return; // removed by a reload while in flight
        };
        let next = match result {
            Ok(report) => {
                if self.db_failures > 0 {
                    tracing::info!(after = self.db_failures, "database takes writes again");
                    self.db_failures = 0;
                    self.health.set_db_writable(true);
                }
                log_report(&report);
                self.metrics.record_poll(&report);
                if report.changed() {
                    changed.notify_one();
                }
                self.ok.insert(
                    id.clone(),
                    !matches!(report.outcome, PollOutcome::Failed { .. }),
                );
                report.next
            }
            Err(e) => {
                if self.db_failures == 0 {
                    tracing::error!(
                        "database write failed, serving the last feeds and retrying: {e}"
                    );
                }
                self.db_failures += 1;
                self.health.set_db_writable(false);
                let delay = Duration::from_secs(1)
                    .saturating_mul(1 << self.db_failures.min(10))
                    .min(DB_RETRY_CAP);
                NextPoll {
                    at: Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()),
                    reason: NextReason::Backoff,
                }
            }
        };
        let host = self
            .hosts
            .get_mut(&host_of(&source))
            .expect("every source has a host");
        match schedule(&self.ctx, host, &id, next).await {
            Ok(Some(slot)) => self.queue.push(Reverse((slot, id))),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(source = %id, "cannot record next poll: {e}");
                if let Some(at) = next.at {
                    self.queue.push(Reverse((at, id)));
                }
            }
        }
        self.status().await;
    }

    /// Sends systemd a one-line summary.
    async fn status(&self) {
        let ok = self.ok.values().filter(|v| **v).count();
        let failing = self.ok.len() - ok;
        let store = self.ctx.store.clone();
        let items = tokio::task::spawn_blocking(move || store.item_count())
            .await
            .ok()
            .and_then(Result::ok);
        let items = items.map_or("?".into(), |n| n.to_string());
        crate::notify::status(&format!(
            "{} sources: {ok} ok, {failing} failing; {items} items stored",
            self.sources.len()
        ));
    }
}

/// Polls until `shutdown` turns true. `contexts` brings a new config on reload; `changed` is
/// notified after every poll that stored something new; `health` gets a beat at least every
/// `health::BEAT` (and systemd a WATCHDOG=1 when it asked for one). In-flight polls get
/// `SHUTDOWN_GRACE` to finish, then are abandoned (a poll writes in one transaction at its end,
/// so nothing half-written is left).
pub async fn run(
    mut contexts: watch::Receiver<Arc<Context>>,
    mut shutdown: watch::Receiver<bool>,
    changed: Arc<Notify>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> Result<(), StoreError> {
    let ctx = contexts.borrow_and_update().clone();
    let mut runner = Runner {
        global: Arc::new(Semaphore::new(ctx.config.fetch.concurrency)),
        ctx: ctx.clone(),
        hosts: HashMap::new(),
        sources: HashMap::new(),
        queue: BinaryHeap::new(),
        ok: HashMap::new(),
        health: health.clone(),
        metrics,
        db_failures: 0,
    };
    runner.load(ctx).await?;
    let beat_every = crate::notify::watchdog_interval()
        .map_or(crate::health::BEAT, |w| w.min(crate::health::BEAT));
    let mut beat = tokio::time::interval(beat_every);
    let mut inflight: JoinSet<(String, Result<PollReport, StoreError>)> = JoinSet::new();
    loop {
        let next_at = runner.queue.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            _ = beat.tick() => {
                // From the loop itself: a stuck scheduler stops beating and systemd restarts it.
                health.beat();
                crate::notify::watchdog();
            }
            _ = tokio::time::sleep(next_at.map_or(Duration::from_secs(3600), until)), if next_at.is_some() => {
                runner.start_next(&mut inflight);
            }
            Some(joined) = inflight.join_next() => {
                let (id, result) = joined.expect("poll task does not panic");
                runner.finished(id, result, &changed).await;
            }
            Ok(()) = contexts.changed() => {
                let ctx = contexts.borrow_and_update().clone();
                if let Err(e) = runner.load(ctx).await {
                    tracing::error!("cannot apply the new config to the scheduler: {e}");
                }
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        while inflight.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            abandoned = inflight.len(),
            "in-flight polls abandoned at shutdown"
        );
        inflight.abort_all();
    }
    Ok(())
}
