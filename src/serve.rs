//! Serves the published site over HTTP from an in-memory cache of pre-rendered, pre-gzipped bytes.

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::publish::Document;

/// One document ready to send: rendered once per change, not per request.
#[derive(Debug)]
pub struct Rendered {
    pub body: bytes::Bytes,
    pub gzip: bytes::Bytes,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: &'static str,
}

/// The current site, swapped whole when new items land so readers never see half an update.
#[derive(Debug, Default)]
pub struct SiteCache {
    current: RwLock<Arc<HashMap<String, Arc<Rendered>>>>,
}

fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

fn gzip(body: &[u8]) -> bytes::Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail").into()
}

impl SiteCache {
    pub fn new() -> SiteCache {
        SiteCache::default()
    }

    /// Installs a new set of documents. A document whose bytes did not change keeps its
    /// `Last-Modified` and is not compressed again.
    pub fn replace(&self, docs: Vec<Document>, now: DateTime<Utc>) {
        let old = self.snapshot();
        let mut next = HashMap::with_capacity(docs.len());
        for doc in docs {
            let etag = etag_of(doc.body.as_bytes());
            let rendered = match old.get(&doc.path) {
                Some(prev) if prev.etag == etag => prev.clone(),
                _ => Arc::new(Rendered {
                    gzip: gzip(doc.body.as_bytes()),
                    body: doc.body.into(),
                    etag,
                    last_modified: now,
                    content_type: doc.content_type,
                }),
            };
            next.insert(doc.path, rendered);
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
    }

    fn snapshot(&self) -> Arc<HashMap<String, Arc<Rendered>>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The document served at a URL path (`/` and `/x/` map to their `index.html`).
    pub fn get(&self, path: &str) -> Option<Arc<Rendered>> {
        let key = if path.ends_with('/') {
            format!("{path}index.html")
        } else {
            path.to_string()
        };
        self.snapshot().get(&key).cloned()
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
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
            t == "*" || t.trim_start_matches("W/") == doc.etag
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| doc.last_modified.timestamp() <= since.timestamp())
}

async fn document(
    axum::extract::State(cache): axum::extract::State<Arc<SiteCache>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "method not allowed\n",
        )
            .into_response();
    }
    let Some(doc) = cache.get(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let mut resp = if not_modified(&headers, &doc) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(&headers) {
        let mut r = Response::new(Body::from(doc.gzip.clone()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Body::from(doc.body.clone()))
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(doc.last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// The HTTP routes over a site cache.
pub fn router(cache: Arc<SiteCache>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(document)
        .with_state(cache)
}

/// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    cache: Arc<SiteCache>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(cache))
        .with_graceful_shutdown(shutdown)
        .await
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
}
