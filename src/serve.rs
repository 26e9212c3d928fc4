//! Serves the published site over HTTP/1.1 from an in-memory cache of pre-rendered, pre-gzipped
//! bytes, with filtered feed views rendered on request, and limits that keep slow or hostile
//! clients from hurting others.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::publish::{Document, FeedSource};
use crate::render::{Filter, MAX_QUERY_LEN};

/// One document ready to send: rendered once per change, not per request.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    pub gzip: Bytes,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: &'static str,
    /// For a feed, its inputs, from which filtered views are rendered; `None` for pages.
    pub feed: Option<Arc<FeedSource>>,
    /// Response headers, built once here rather than on every request.
    headers: HeaderMap,
    /// The subset a 304 carries (RFC 9110 §15.4.5): ETag, Cache-Control and Vary.
    headers_304: HeaderMap,
}

fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn gzip(body: &[u8], level: flate2::Compression) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    enc.write_all(body).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail").into()
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

impl Rendered {
    /// Compresses `body` at `level` and builds the headers every answer for it carries.
    fn new(
        body: String,
        content_type: &'static str,
        last_modified: DateTime<Utc>,
        feed: Option<Arc<FeedSource>>,
        self_url: Option<String>,
        level: flate2::Compression,
    ) -> Rendered {
        let etag = etag_of(body.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&http_date(last_modified)) {
            headers.insert(header::LAST_MODIFIED, v);
        }
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        let headers_304 = headers
            .iter()
            // Last-Modified only guides caches when there is no ETag (RFC 9110 §15.4.5).
            .filter(|(k, _)| *k != header::CONTENT_TYPE && *k != header::LAST_MODIFIED)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        // WebSub discovery (W3C WebSub §4): the hub and the topic URL as Link headers too, for
        // subscribers that look there before parsing the document.
        if let (Some(hub), Some(me)) = (feed.as_ref().and_then(|f| f.hub.as_ref()), self_url)
            && let Ok(v) =
                HeaderValue::from_str(&format!("<{hub}>; rel=\"hub\", <{me}>; rel=\"self\""))
        {
            headers.insert(header::LINK, v);
        }
        Rendered {
            gzip: gzip(body.as_bytes(), level),
            body: body.into(),
            etag,
            last_modified,
            content_type,
            feed,
            headers,
            headers_304,
        }
    }

    fn size(&self) -> usize {
        self.body.len() + self.gzip.len()
    }
}

/// One consistent site: every document of one rebuild.
#[derive(Debug, Default)]
struct Site {
    docs: HashMap<String, Arc<Rendered>>,
    /// Counts rebuilds that changed something; filtered views of older sites are stale.
    generation: u64,
}

/// How many filtered views are kept, and how many bytes they may take together.
const VIEW_CAPACITY: usize = 256;
const VIEW_BUDGET: usize = 32 << 20;

/// Filtered views, least recently used first out. Bounded both in count and in bytes so that
/// readers inventing new queries cannot grow the server's memory.
#[derive(Debug, Default)]
struct Views {
    /// (path, canonical query) → (view, last use).
    map: HashMap<(String, String), (Arc<Rendered>, u64)>,
    tick: u64,
    bytes: usize,
    generation: u64,
}

impl Views {
    fn sync(&mut self, generation: u64) {
        if self.generation != generation {
            self.map.clear();
            self.bytes = 0;
            self.generation = generation;
        }
    }

    fn get(&mut self, generation: u64, key: &(String, String)) -> Option<Arc<Rendered>> {
        self.sync(generation);
        self.tick += 1;
        let tick = self.tick;
        self.map.get_mut(key).map(|(r, used)| {
            *used = tick;
            r.clone()
        })
    }

    fn insert(&mut self, generation: u64, key: (String, String), view: Arc<Rendered>) {
        self.sync(generation);
        if view.size() > VIEW_BUDGET {
            return;
        }
        if let Some((old, _)) = self.map.remove(&key) {
            self.bytes -= old.size();
        }
        while self.map.len() >= VIEW_CAPACITY || self.bytes + view.size() > VIEW_BUDGET {
            // A linear scan over at most VIEW_CAPACITY entries: cheaper than keeping an order.
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((old, _)) = self.map.remove(&oldest) {
                self.bytes -= old.size();
            }
        }
        self.tick += 1;
        self.bytes += view.size();
        self.map.insert(key, (view, self.tick));
    }
}

/// The current site, swapped whole when new items land so readers never see half an update,
/// and the filtered views rendered from it.
#[derive(Debug, Default)]
pub struct SiteCache {
    current: RwLock<Arc<Site>>,
    views: Mutex<Views>,
}

impl SiteCache {
    pub fn new() -> SiteCache {
        SiteCache::default()
    }

    /// Installs a new set of documents and returns the paths whose bytes changed (new ones
    /// included, removed ones not), sorted. A document whose bytes did not change keeps its
    /// `Last-Modified` and is not compressed again.
    pub fn replace(&self, docs: Vec<Document>, now: DateTime<Utc>) -> Vec<String> {
        let old = self.site();
        let mut next = HashMap::with_capacity(docs.len());
        let mut changed = Vec::new();
        for doc in docs {
            let etag = etag_of(doc.body.as_bytes());
            let rendered = match old.docs.get(&doc.path) {
                Some(prev) if prev.etag == etag => {
                    // Same bytes; keep the new inputs so filtered views see the same entries
                    // the next rebuild will.
                    match doc.feed {
                        Some(feed) => Arc::new(Rendered {
                            body: prev.body.clone(),
                            gzip: prev.gzip.clone(),
                            etag,
                            last_modified: prev.last_modified,
                            content_type: prev.content_type,
                            feed: Some(feed),
                            headers: prev.headers.clone(),
                            headers_304: prev.headers_304.clone(),
                        }),
                        None => prev.clone(),
                    }
                }
                _ => {
                    changed.push(doc.path.clone());
                    let self_url = doc.feed.as_ref().map(|f| f.url(None));
                    Arc::new(Rendered::new(
                        doc.body,
                        doc.content_type,
                        now,
                        doc.feed,
                        self_url,
                        flate2::Compression::best(),
                    ))
                }
            };
            next.insert(doc.path, rendered);
        }
        let generation = old.generation + u64::from(!changed.is_empty());
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Site {
            docs: next,
            generation,
        });
        changed.sort();
        changed
    }

    fn site(&self) -> Arc<Site> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The document served at a URL path (`/` and `/x/` map to their `index.html`).
    pub fn get(&self, path: &str) -> Option<Arc<Rendered>> {
        // Looked up under the read lock rather than through a clone of the site: one shared
        // counter fewer to touch on every request.
        lookup(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
            path,
        )
    }

    /// The view of the feed at `path` that `filter` selects, from the small view cache or
    /// rendered now. `None` when `path` is not a feed.
    pub fn view(&self, path: &str, filter: &Filter) -> Option<Arc<Rendered>> {
        let site = self.site();
        let doc = lookup(&site, path)?;
        let feed = doc.feed.clone()?;
        let key = (path.to_string(), filter.query());
        if let Some(hit) = self
            .views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(site.generation, &key)
        {
            return Some(hit);
        }
        // Rendered outside the lock: a few hundred microseconds that other requests need not wait
        // for. Two requests racing for the same view both render it; the bytes are equal.
        let view = Arc::new(Rendered::new(
            feed.render(Some(filter)),
            doc.content_type,
            doc.last_modified,
            Some(feed.clone()),
            Some(feed.url(Some(filter))),
            flate2::Compression::fast(),
        ));
        self.views.lock().unwrap_or_else(|p| p.into_inner()).insert(
            site.generation,
            key,
            view.clone(),
        );
        Some(view)
    }
}

fn lookup(site: &Site, path: &str) -> Option<Arc<Rendered>> {
    if path.ends_with('/') {
        site.docs.get(&format!("{path}index.html")).cloned()
    } else {
        site.docs.get(path).cloned()
    }
}

/// Whether the client accepts gzip (and did not refuse it with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn not_modified(headers: &HeaderMap, doc: &Rendered) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2); weak tags compare equal.
        return inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == doc.etag
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| doc.last_modified.timestamp() <= since.timestamp())
}

type Answer = Response<Full<Bytes>>;

fn plain(status: StatusCode, text: &'static str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn bad_request(message: String) -> Answer {
    let mut r = plain(StatusCode::BAD_REQUEST, "");
    *r.body_mut() = Full::new(Bytes::from(format!("bad request: {message}\n")));
    r
}

/// What the operator endpoints answer from: `/healthz` from the scheduler's health, `/metrics`
/// from the daemon's counters and the database's size on disk.
#[derive(Debug)]
pub struct Ops {
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
    /// The SQLite file; its size and its WAL's are reported.
    pub db_path: std::path::PathBuf,
}

impl Ops {
    fn db_bytes(&self) -> u64 {
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.db_path.clone().into_os_string();
        wal.push("-wal");
        size(&self.db_path) + size(std::path::Path::new(&wal))
    }
}

/// Answers one request from the cache; `/healthz` and `/metrics` from `ops` when given. Synchronous:
/// everything it needs is in memory.
pub fn respond<B: hyper::body::Body>(
    cache: &SiteCache,
    ops: Option<&Ops>,
    req: &Request<B>,
) -> Answer {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // GET and HEAD carry no body here; one that announces a body is refused before any of it
    // is read, and the connection is closed rather than drained.
    if req.body().size_hint().lower() > 0 || req.headers().contains_key(header::TRANSFER_ENCODING) {
        let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "a GET carries no body\n");
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let path = req.uri().path();
    if path == "/metrics"
        && let Some(ops) = ops
    {
        let mut r = plain(StatusCode::OK, "");
        *r.body_mut() = Full::new(Bytes::from(ops.metrics.render(ops.db_bytes())));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return r;
    }
    if path == "/healthz" {
        return match ops.map_or(Ok(()), |o| o.health.check()) {
            Ok(()) => plain(StatusCode::OK, "ok\n"),
            Err(why) => {
                let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "");
                *r.body_mut() = Full::new(Bytes::from(format!("{why}\n")));
                r
            }
        };
    }
    let query = req.uri().query().filter(|q| !q.is_empty());
    let doc = match (query, cache.get(path)) {
        (_, None) => return plain(StatusCode::NOT_FOUND, "not found\n"),
        (Some(q), Some(doc)) if doc.feed.is_some() => match Filter::from_query(q) {
            Ok(None) => doc,
            Ok(Some(filter)) => {
                let canonical = filter.query();
                if canonical != q {
                    // One URL per view, so that the view's self link is the URL it is read at
                    // and caches are not split by spelling.
                    let mut r = plain(StatusCode::MOVED_PERMANENTLY, "");
                    if let Ok(v) = HeaderValue::from_str(&format!("{path}?{canonical}")) {
                        r.headers_mut().insert(header::LOCATION, v);
                    }
                    return r;
                }
                match cache.view(path, &filter) {
                    Some(v) => v,
                    None => return plain(StatusCode::NOT_FOUND, "not found\n"),
                }
            }
            Err(e) => return bad_request(e.to_string()),
        },
        (Some(q), Some(_)) if q.len() > MAX_QUERY_LEN => {
            return bad_request("query too long".to_string());
        }
        (_, Some(doc)) => doc,
    };
    // Headers are copied whole from the ones built at render time: cheaper than inserting them
    // one by one, and the 304 path is the one polling readers hit most.
    if not_modified(req.headers(), &doc) {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        *r.headers_mut() = doc.headers_304.clone();
        return r;
    }
    let gzip = accepts_gzip(req.headers());
    let mut r = Response::new(Full::new(if gzip {
        doc.gzip.clone()
    } else {
        doc.body.clone()
    }));
    *r.headers_mut() = doc.headers.clone();
    if gzip {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// What the server allows each client.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; one more is answered 503 and closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open waiting for the next request.
    pub header_read_timeout: Duration,
    /// How long a write may stay blocked because the client does not read its answer.
    pub write_timeout: Duration,
    /// Largest request head (request line and headers); larger gets 431.
    pub max_header_bytes: usize,
    /// How long in-flight requests get to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A TCP stream whose writes fail once they have been blocked for `timeout`: a client that
/// stops reading its answer is dropped instead of holding the connection forever.
struct TimedIo {
    inner: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Marks progress for the reaper; see `Deadlines`.
    conn: Arc<ConnClock>,
    deadlines: Arc<Deadlines>,
}

/// When a connection last finished writing (or was accepted), on the reaper's coarse clock.
/// From then on the client has `header_read_timeout` to send its next request head: an idle
/// keep-alive connection and one that drips its headers are both closed when it runs out.
#[derive(Debug)]
struct ConnClock {
    since_ms: AtomicU64,
    kill: tokio::sync::Notify,
}

/// Header and idle deadlines for every connection, kept by one reaper task with one timer,
/// rather than a timer per request: arming hyper's per-request header timer cost about 4 % of
/// the throughput of 304 answers (`benches/serve.sh`).
#[derive(Debug, Default)]
struct Deadlines {
    /// Milliseconds since the server started, advanced by the reaper: the I/O path reads an
    /// atomic instead of the system clock.
    now_ms: AtomicU64,
    conns: std::sync::Mutex<HashMap<u64, Arc<ConnClock>>>,
    next_id: AtomicU64,
}

/// How often the reaper advances its clock and looks for connections past their deadline.
const REAP_EVERY: Duration = Duration::from_millis(250);

impl Deadlines {
    fn register(&self) -> (u64, Arc<ConnClock>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let c = Arc::new(ConnClock {
            since_ms: AtomicU64::new(self.now_ms.load(Ordering::Relaxed)),
            kill: tokio::sync::Notify::new(),
        });
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, c.clone());
        (id, c)
    }

    fn forget(&self, id: u64) {
        self.conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// Advances the clock and closes every connection whose client had its time.
    async fn reap(self: Arc<Self>, timeout: Duration) {
        let started = tokio::time::Instant::now();
        let limit = timeout.as_millis() as u64;
        let mut tick = tokio::time::interval(REAP_EVERY);
        loop {
            tick.tick().await;
            let now = started.elapsed().as_millis() as u64;
            self.now_ms.store(now, Ordering::Relaxed);
            let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            for c in conns.values() {
                if now.saturating_sub(c.since_ms.load(Ordering::Relaxed)) > limit {
                    c.kill.notify_one();
                }
            }
        }
    }
}

impl TimedIo {
    /// A response going out restarts the client's time for its next request head.
    fn progress<T>(&self, p: &Poll<std::io::Result<T>>) {
        if matches!(p, Poll::Ready(Ok(_))) {
            // The clock is the reaper's, so this is two atomic operations, no clock call.
            let now = self.deadlines.now_ms.load(Ordering::Relaxed);
            self.conn.since_ms.store(now, Ordering::Relaxed);
        }
    }

    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    self.stalled = None;
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "client stopped reading",
                    )))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let p = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(&p);
        this.guard(cx, p)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let p = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(&p);
        this.guard(cx, p)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let p = Pin::new(&mut this.inner).poll_flush(cx);
        this.guard(cx, p)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sent, without reading anything, to a connection over `max_connections`.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
retry-after: 1\r\ncontent-length: 5\r\nconnection: close\r\n\r\nbusy\n";

/// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
/// `/healthz` always answers 200 here; see `serve_checked`.
pub async fn serve(
    listener: TcpListener,
    cache: Arc<SiteCache>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, cache, Limits::default(), None, shutdown).await
}

/// `serve` with the operator endpoints: `/healthz` (200 `ok`, or 503 with the reason) and
/// `/metrics` (Prometheus text), and every answer counted in the metrics.
pub async fn serve_checked(
    listener: TcpListener,
    cache: Arc<SiteCache>,
    ops: Arc<Ops>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, cache, Limits::default(), Some(ops), shutdown).await
}

/// `serve` with explicit limits and optional operator endpoints.
pub async fn serve_with(
    listener: TcpListener,
    cache: Arc<SiteCache>,
    limits: Limits,
    ops: Option<Arc<Ops>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // No hyper timer: header and idle deadlines are the reaper's (see `Deadlines`).
    builder
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes)
        // The read buffer holds at most one request head (and pipelined ones behind it).
        .max_buf_size(limits.max_header_bytes.max(8192) * 2)
        // hyper's default cap of 100 headers stays: setting it, even to 100, makes hyper fill a
        // fresh index array on every request.
        .keep_alive(true);
    let deadlines = Arc::new(Deadlines::default());
    let reaper = tokio::spawn(deadlines.clone().reap(limits.header_read_timeout));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: transient.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // A fresh socket's send buffer is empty, so this never blocks; if it cannot be
            // written at once the client just sees the connection close.
            let _ = stream.try_write(BUSY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (conn_id, clock) = deadlines.register();
        let io = TokioIo::new(TimedIo {
            inner: stream,
            timeout: limits.write_timeout,
            stalled: None,
            conn: clock.clone(),
            deadlines: deadlines.clone(),
        });
        let (cache, ops) = (cache.clone(), ops.clone());
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let answer = respond(&cache, ops.as_deref(), &req);
            if let Some(ops) = &ops {
                let bytes = if req.method() == Method::HEAD {
                    0
                } else {
                    hyper::body::Body::size_hint(answer.body())
                        .exact()
                        .unwrap_or(0)
                };
                ops.metrics.record_request(answer.status().as_u16(), bytes);
            }
            async move { Ok::<_, Infallible>(answer) }
        });
        let conn = graceful.watch(builder.serve_connection(io, service));
        let deadlines = deadlines.clone();
        tokio::spawn(async move {
            tokio::select! {
                // Errors here are one client's (timeouts, resets, bad requests): not the server's.
                r = conn => if let Err(e) = r {
                    tracing::debug!("connection ended: {e}");
                },
                // Out of time for its next request head (idle, or dripping its headers).
                () = clock.kill.notified() => tracing::debug!("connection timed out"),
            }
            deadlines.forget(conn_id);
            drop(permit);
        });
    }
    drop(listener);
    reaper.abort();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("connections still open after the shutdown grace period");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    fn rendered(n: usize) -> Arc<Rendered> {
        Arc::new(Rendered::new(
            "x".repeat(n),
            "text/plain",
            Utc::now(),
            None,
            None,
            flate2::Compression::fast(),
        ))
    }

    #[test]
    fn views_are_bounded_and_least_recently_used_goes_first() {
        let mut v = Views::default();
        let key = |i: usize| (format!("/f{i}"), String::new());
        for i in 0..VIEW_CAPACITY {
            v.insert(1, key(i), rendered(10));
        }
        // Touch the first, then add one more: the second (now the oldest) goes.
        assert!(v.get(1, &key(0)).is_some());
        v.insert(1, key(VIEW_CAPACITY), rendered(10));
        assert_eq!(v.map.len(), VIEW_CAPACITY);
        assert!(v.get(1, &key(0)).is_some());
        assert!(v.get(1, &key(1)).is_none());
        // A new site generation empties the cache.
        assert!(v.get(2, &key(0)).is_none());
        assert_eq!((v.map.len(), v.bytes), (0, 0));
    }
}
