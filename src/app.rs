//! The operator commands (run, poll, render, sources, tag), wiring the stages together.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};

use crate::config::{Config, SourceConfig};
use crate::dedup::StoryIndex;
use crate::fetch::{FetchError, FetchLimits, Fetcher};
use crate::health::Health;
use crate::pipeline::{Context, PollReport};
use crate::publish::{self, Document};
use crate::serve::SiteCache;
use crate::store::{SourceRow, Store, StoreError};
use crate::tag::{TagError, Tagger};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{}: {source}", path.display())]
    Store { path: PathBuf, source: StoreError },
    #[error("cannot build http client: {0}")]
    Client(#[from] FetchError),
    #[error("cannot build tagger: {0}")]
    Tagger(#[from] TagError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("cannot read input: {0}")]
    Input(std::io::Error),
}

/// Opens the database named by the config and registers the configured sources.
pub fn open_store(config: &Config) -> Result<Arc<Store>, AppError> {
    let wrap = |source| AppError::Store {
        path: config.storage.path.clone(),
        source,
    };
    let store = Store::open(&config.storage.path).map_err(wrap)?;
    store
        .sync_sources(
            config
                .sources
                .iter()
                .map(|s| (s.id.as_str(), s.url.as_str())),
        )
        .map_err(wrap)?;
    Ok(Arc::new(store))
}

fn context(config: Config) -> Result<Arc<Context>, AppError> {
    let store = open_store(&config)?;
    let stories = load_stories(&config, &store)?;
    context_with(config, store, stories)
}

/// Fills the near-duplicate index with the recent items that may still gain reports.
fn load_stories(
    config: &Config,
    store: &Store,
) -> Result<Arc<std::sync::Mutex<StoryIndex>>, AppError> {
    let window = crate::dedup::DEFAULT_WINDOW;
    let mut index = StoryIndex::new(window);
    let since = Utc::now() - window - chrono::Duration::days(1);
    for c in store.story_candidates(since).map_err(store_err(config))? {
        index.insert(c.id, c.signature, c.published, c.regions, Some(&c.source));
    }
    Ok(Arc::new(std::sync::Mutex::new(index)))
}

/// A context over an already open database and story index (a reload keeps both).
fn context_with(
    config: Config,
    store: Arc<Store>,
    stories: Arc<std::sync::Mutex<StoryIndex>>,
) -> Result<Arc<Context>, AppError> {
    let fetcher = Fetcher::new(FetchLimits {
        user_agent: config.fetch.user_agent.clone(),
        timeout: config.fetch.timeout,
        connect_timeout: config.fetch.connect_timeout,
        max_body: config.fetch.max_body,
        max_redirects: 5,
    })?;
    let tagger = Arc::new(Tagger::new(&config.places)?);
    Ok(Arc::new(Context {
        config,
        store,
        fetcher,
        tagger,
        stories,
    }))
}

fn store_err(config: &Config) -> impl Fn(StoreError) -> AppError + '_ {
    move |source| AppError::Store {
        path: config.storage.path.clone(),
        source,
    }
}

/// `regionfeed poll --once`: polls every source once. Failed sources are in the reports (and
/// in `sources`), not errors.
pub async fn poll_once(config: Config) -> Result<Vec<PollReport>, AppError> {
    let ctx = context(config)?;
    crate::scheduler::poll_once(ctx.clone())
        .await
        .map_err(store_err(&ctx.config))
}

/// Builds every document of the site from the database.
pub fn build_site(config: &Config, store: &Store) -> Result<Vec<Document>, AppError> {
    build_site_counted(config, store, None)
}

/// `build_site`, also handing the stored item counts to `metrics`.
fn build_site_counted(
    config: &Config,
    store: &Store,
    metrics: Option<&crate::metrics::Metrics>,
) -> Result<Vec<Document>, AppError> {
    let snapshot = store
        .snapshot(config.feeds.entries)
        .map_err(store_err(config))?;
    if let Some(m) = metrics {
        m.set_items(snapshot.total, snapshot.counts.clone());
    }
    Ok(publish::build(
        &snapshot,
        &config.server.base_url,
        config.websub.hub.as_ref(),
    ))
}

/// Writes `body` to `path` atomically: a reader sees the old file or the new one, never half.
fn write_atomic(path: &Path, body: &[u8]) -> Result<(), AppError> {
    let wrap = |source| AppError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(wrap)?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(wrap)
}

/// `regionfeed render --out DIR`: writes the site as static files; returns how many.
pub fn render_to(config: &Config, out: &Path) -> Result<usize, AppError> {
    let store = open_store(config)?;
    let docs = build_site(config, &store)?;
    for doc in &docs {
        let rel = doc.path.trim_start_matches('/');
        write_atomic(&out.join(rel), doc.body.as_bytes())?;
    }
    Ok(docs.len())
}

/// `regionfeed sources`: the configured sources with their stored state, in config order.
pub fn sources(config: &Config) -> Result<Vec<SourceRow>, AppError> {
    let store = open_store(config)?;
    let rows = store.source_rows().map_err(store_err(config))?;
    Ok(config
        .sources
        .iter()
        .filter_map(|s: &SourceConfig| rows.iter().find(|r| r.id == s.id).cloned())
        .collect())
}

/// `regionfeed stories`: the reports that most recently joined a story, and by which rule.
pub fn stories(config: &Config, limit: usize) -> Result<Vec<crate::store::StoryJoin>, AppError> {
    let store = open_store(config)?;
    store.story_joins(limit).map_err(store_err(config))
}

/// `regionfeed backup --out FILE`: a consistent copy of the database, safe while `run` writes.
pub fn backup(config: &Config, out: &Path) -> Result<(), AppError> {
    // Opened without registering sources: a backup must not write to what it copies.
    let store = Store::open(&config.storage.path).map_err(store_err(config))?;
    store.backup_to(out).map_err(store_err(config))
}

/// `regionfeed forget ID`: removes an item (or a whole story, given its leader) for good.
/// Returns how many items went; 0 when no item has that id.
pub fn forget(config: &Config, id: &str) -> Result<usize, AppError> {
    let store = Store::open(&config.storage.path).map_err(store_err(config))?;
    let ids = store.forget(id, Utc::now()).map_err(store_err(config))?;
    Ok(ids.len())
}

/// Items pruned per transaction: small enough that a poll never waits long for the lock.
const PRUNE_BATCH: usize = 500;
/// How often retention runs in `run`.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes items older than `[storage] keep_days` in bounded batches, yielding between them.
pub async fn prune(ctx: &Context) -> Result<usize, StoreError> {
    let before = Utc::now() - chrono::Duration::days(i64::from(ctx.config.storage.keep_days));
    let mut total = 0;
    loop {
        let store = ctx.store.clone();
        let ids = tokio::task::spawn_blocking(move || store.prune(before, PRUNE_BATCH))
            .await
            .expect("prune does not panic")?;
        {
            let mut stories = ctx.stories.lock().unwrap_or_else(|p| p.into_inner());
            for id in &ids {
                stories.remove(*id);
            }
        }
        total += ids.len();
        if ids.len() < PRUNE_BATCH {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Runs retention at start and every `PRUNE_EVERY`, and drops old signatures from the index.
async fn retention(
    mut contexts: watch::Receiver<Arc<Context>>,
    changed: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = crate::scheduler::stopped(&mut shutdown) => return,
        }
        let ctx = contexts.borrow_and_update().clone();
        match prune(&ctx).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(
                    items = n,
                    keep_days = ctx.config.storage.keep_days,
                    "pruned old items"
                );
                changed.notify_one();
            }
            Err(e) => tracing::warn!("retention failed, will retry: {e}"),
        }
        ctx.stories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .prune(Utc::now());
    }
}

/// One line of `tag --jsonl` input.
#[derive(serde::Deserialize)]
struct TagInput {
    id: serde_json::Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    region: Option<String>,
}

/// `regionfeed tag --jsonl`: tags JSON lines from `input`; returns how many lines failed.
pub fn tag_jsonl(
    tagger: &Tagger,
    input: impl BufRead,
    output: impl Write,
    explain: bool,
) -> Result<usize, AppError> {
    map_jsonl(input, output, |line| {
        let inp = serde_json::from_str::<TagInput>(line).map_err(|e| e.to_string())?;
        let tags = tagger.tag(&inp.title, &inp.text, inp.region.as_deref());
        let mut v = serde_json::json!({
            "id": inp.id,
            "kommuner": tags.kommuner,
            "lan": tags.lan,
        });
        if explain {
            v["evidence"] = serde_json::to_value(&tags.evidence).unwrap_or(serde_json::Value::Null);
        }
        Ok(v)
    })
}

/// The loop of the `--jsonl` commands: one answer line per non-empty input line, in order, or
/// `{"line", "error"}` for a line `answer` refuses; returns how many lines were refused.
fn map_jsonl(
    input: impl BufRead,
    mut output: impl Write,
    mut answer: impl FnMut(&str) -> Result<serde_json::Value, String>,
) -> Result<usize, AppError> {
    let mut failed = 0;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(AppError::Input)?;
        if line.trim().is_empty() {
            continue;
        }
        let out = answer(&line).unwrap_or_else(|e| {
            failed += 1;
            serde_json::json!({ "line": i + 1, "error": e })
        });
        writeln!(output, "{out}").map_err(AppError::Input)?;
    }
    output.flush().map_err(AppError::Input)?;
    Ok(failed)
}

/// One side of a `match --jsonl` pair, in the shape of `eval/dedup-pairs.jsonl`.
#[derive(serde::Deserialize)]
struct MatchSide {
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    /// RFC 3339.
    published: String,
    #[serde(default)]
    regions: Vec<String>,
}

/// One line of `match --jsonl` input; other fields (`kind`, `same`, …) are ignored.
#[derive(serde::Deserialize)]
struct MatchInput {
    id: serde_json::Value,
    a: MatchSide,
    b: MatchSide,
}

/// The matcher's view of one side of a `match --jsonl` pair.
fn story_item(s: &MatchSide, published: chrono::DateTime<Utc>) -> crate::dedup::StoryItem<'_> {
    crate::dedup::StoryItem {
        title: &s.title,
        text: &s.text,
        published,
        regions: &s.regions,
    }
}

/// `regionfeed match --jsonl`: decides for each JSON line holding two items whether they tell
/// one story, and says by which rule or which check; returns how many lines failed.
pub fn match_jsonl(input: impl BufRead, output: impl Write) -> Result<usize, AppError> {
    use crate::dedup::{Verdict, judge};
    map_jsonl(input, output, |line| {
        let m = serde_json::from_str::<MatchInput>(line).map_err(|e| e.to_string())?;
        let time = |s: &MatchSide| {
            chrono::DateTime::parse_from_rfc3339(&s.published)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("published {:?}: {e}", s.published))
        };
        let (ta, tb) = (time(&m.a)?, time(&m.b)?);
        Ok(match judge(&story_item(&m.a, ta), &story_item(&m.b, tb)) {
            Verdict::Same { rule, score } => serde_json::json!({
                "id": m.id,
                "same": true,
                "rule": rule.name(),
                "score": (score * 1000.0).round() / 1000.0,
            }),
            Verdict::Different(refusal) => serde_json::json!({
                "id": m.id,
                "same": false,
                "refused": refusal.name(),
            }),
        })
    })
}

/// Rebuilds the served site whenever the scheduler stores something new or the config changes.
async fn refresh_site(
    mut contexts: watch::Receiver<Arc<Context>>,
    cache: Arc<SiteCache>,
    changed: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Built on first use and again when a reload names another hub.
    let mut publisher: Option<crate::websub::Publisher> = None;
    loop {
        tokio::select! {
            _ = changed.notified() => {
                // Polls of many sources finish close together: one rebuild covers them.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok(()) = contexts.changed() => {}
            _ = crate::scheduler::stopped(&mut shutdown) => return,
        }
        let ctx = contexts.borrow_and_update().clone();
        let built = {
            let ctx = ctx.clone();
            let metrics = metrics.clone();
            tokio::task::spawn_blocking(move || {
                build_site_counted(&ctx.config, &ctx.store, Some(&metrics))
            })
            .await
        };
        let changed_paths = match built {
            Ok(Ok(docs)) => cache.replace(docs, Utc::now()),
            Ok(Err(e)) => {
                tracing::error!("cannot rebuild feeds, serving the previous ones: {e}");
                continue;
            }
            Err(e) => {
                tracing::error!("feed rebuild panicked, serving the previous ones: {e}");
                continue;
            }
        };
        // WebSub: tell the hub which feeds changed, unless shutdown comes first.
        let Some(hub) = ctx.config.websub.hub.clone() else {
            continue;
        };
        let topics = crate::websub::topics(&ctx.config.server.base_url, &changed_paths);
        if topics.is_empty() {
            continue;
        }
        if publisher.as_ref().is_none_or(|p| p.hub() != &hub) {
            publisher = crate::websub::Publisher::new(
                hub,
                &ctx.config.fetch.user_agent,
                ctx.config.fetch.timeout,
            )
            .inspect_err(|e| tracing::error!("websub: {e}"))
            .ok();
        }
        if let Some(p) = &publisher {
            tokio::select! {
                _ = p.ping_all(&topics) => {}
                _ = crate::scheduler::stopped(&mut shutdown) => return,
            }
        }
    }
}

/// The signals `run` obeys: shutdown (SIGTERM, SIGINT) and reload (SIGHUP).
pub struct Signals {
    pub shutdown: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    pub reload: tokio::sync::mpsc::Receiver<()>,
}

impl Signals {
    /// Unix signals: SIGTERM and SIGINT stop the daemon, SIGHUP reloads its config.
    /// Must be called inside the runtime.
    pub fn unix() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                if tx.send(()).await.is_err() {
                    return;
                }
            }
        });
        Ok(Signals {
            shutdown: Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }),
            reload: rx,
        })
    }
}

/// Re-reads the config for a reload. A valid one becomes the new context (same database);
/// an invalid one is refused with each problem logged, and the running config stays.
fn reload(current: &Context) -> Option<Arc<Context>> {
    let new = match Config::load(&current.config.path) {
        Ok(c) => c,
        Err(e) => {
            for p in e.problems() {
                tracing::error!("reload refused, keeping the running config: {p}");
            }
            return None;
        }
    };
    if new.server.listen != current.config.server.listen {
        tracing::warn!("server.listen changed; the new address takes a restart");
    }
    if new.storage.path != current.config.storage.path {
        tracing::warn!("storage.path changed; the new database takes a restart");
    }
    let store = current.store.clone();
    let synced = store.sync_sources(new.sources.iter().map(|s| (s.id.as_str(), s.url.as_str())));
    if let Err(e) = synced {
        tracing::error!("reload refused, cannot record the new sources: {e}");
        return None;
    }
    let mut config = new;
    // What takes a restart stays as it runs, so the config and the process agree.
    config.server.listen = current.config.server.listen;
    config.storage.path = current.config.storage.path.clone();
    match context_with(config, store, current.stories.clone()) {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            tracing::error!("reload refused: {e}");
            None
        }
    }
}

/// `regionfeed run`: polls on schedule and serves HTTP until a shutdown signal; reloads the
/// config on SIGHUP. Talks to systemd when it runs under it.
pub async fn run(config: Config, mut signals: Signals) -> Result<(), AppError> {
    let ctx = context(config)?;
    let config = ctx.config.clone();
    let cache = Arc::new(SiteCache::new());
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let docs = {
        let ctx = ctx.clone();
        let metrics = metrics.clone();
        tokio::task::spawn_blocking(move || {
            build_site_counted(&ctx.config, &ctx.store, Some(&metrics))
        })
        .await
        .expect("building the site does not panic")?
    };
    cache.replace(docs, Utc::now());
    let health = Arc::new(Health::default());
    health.beat();

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| AppError::Bind {
            addr: config.server.listen,
            source,
        })?;
    tracing::info!(
        listen = %config.server.listen,
        sources = config.sources.len(),
        db = %config.storage.path.display(),
        "regionfeed running"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let (ctx_tx, ctx_rx) = watch::channel(ctx.clone());
    let changed = Arc::new(Notify::new());
    let scheduler = tokio::spawn(crate::scheduler::run(
        ctx_rx.clone(),
        stop_rx.clone(),
        changed.clone(),
        health.clone(),
        metrics.clone(),
    ));
    let pruner = tokio::spawn(retention(ctx_rx.clone(), changed.clone(), stop_rx.clone()));
    let refresher = tokio::spawn(refresh_site(
        ctx_rx.clone(),
        cache.clone(),
        changed,
        metrics.clone(),
        stop_rx.clone(),
    ));

    // The server stops accepting when told; then the background tasks are told to stop and
    // are awaited, so nothing is cut off mid-transaction.
    let mut server_stop = stop_rx.clone();
    let ops = Arc::new(crate::serve::Ops {
        health: health.clone(),
        metrics: metrics.clone(),
        db_path: config.storage.path.clone(),
    });
    let server = tokio::spawn(crate::serve::serve_checked(
        listener,
        cache,
        ops,
        async move {
            crate::scheduler::stopped(&mut server_stop).await;
        },
    ));
    crate::notify::ready(&format!("{} sources", config.sources.len()));
    loop {
        tokio::select! {
            _ = &mut signals.shutdown => break,
            Some(()) = signals.reload.recv() => {
                crate::notify::reloading();
                tracing::info!(config = %config.path.display(), "reloading");
                let current = ctx_tx.borrow().clone();
                let next = tokio::task::spawn_blocking(move || reload(&current))
                    .await
                    .expect("reload does not panic");
                if let Some(next) = next {
                    tracing::info!(sources = next.config.sources.len(), "config reloaded");
                    let _ = ctx_tx.send(next);
                }
                crate::notify::ready("reloaded");
            }
        }
    }
    tracing::info!("shutting down");
    crate::notify::stopping();
    let _ = stop_tx.send(true);
    let sched = scheduler.await.expect("scheduler task does not panic");
    refresher.await.expect("refresher task does not panic");
    pruner.await.expect("retention task does not panic");
    server
        .await
        .expect("server task does not panic")
        .map_err(AppError::Serve)?;
    sched.map_err(store_err(&config))?;
    Ok(())
}
