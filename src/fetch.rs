//! HTTP fetching of one feed URL: conditional GET, redirects, timeouts, a body cap after
//! decompression, and the caching hints the origin sends.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

/// Validators from the previous successful response, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the origin said about when to come back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `Cache-Control: max-age` (or `s-maxage`).
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
    /// `Retry-After` on 429 and 503, as an absolute time.
    pub retry_after: Option<DateTime<Utc>>,
}

/// A response worth looking at.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the stored copy is current; nothing to parse.
    NotModified(Response),
    /// 2xx with a body.
    Body(Response),
}

/// A successful response (2xx or 304).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// The URL after redirects; relative links in the feed resolve against it.
    pub final_url: Url,
    /// Where a chain of permanent redirects (301/308) led, if the first hop was one.
    pub permanent_redirect: Option<Url>,
    pub hints: Hints,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("http status {status}")]
    Status { status: u16, hints: Hints },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body larger than {limit} bytes (after decompression)")]
    TooLarge { limit: u64 },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("redirect loop at {0}")]
    RedirectLoop(Url),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// The HTTP status, when the origin answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// When the origin asked us to come back (`Retry-After` on 429 and 503).
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { hints, .. } => hints.retry_after,
            _ => None,
        }
    }
}

/// Limits for one client.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    pub user_agent: String,
    /// Limit for one whole request, body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Body cap in bytes, counted after decompression.
    pub max_body: u64,
    pub max_redirects: usize,
}

/// A configured HTTP client, shared by every source.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
}

/// The innermost cause of an error, which is where reqwest keeps the useful words.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Parses an HTTP date (RFC 9110 IMF-fixdate; RFC 850 and asctime are obsolete and rare).
pub fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Reads `Cache-Control`, `Expires` and `Retry-After` from a response's headers.
pub fn hints(headers: &HeaderMap, status: u16, now: DateTime<Utc>) -> Hints {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let mut max_age = None;
    if let Some(cc) = get(header::CACHE_CONTROL) {
        for directive in cc.split(',') {
            let d = directive.trim().to_ascii_lowercase();
            let secs = d
                .strip_prefix("s-maxage=")
                .or_else(|| d.strip_prefix("max-age="))
                .and_then(|v| v.trim_matches('"').parse::<u64>().ok());
            if let Some(secs) = secs {
                max_age = Some(max_age.map_or(secs, |m: u64| m.max(secs)));
            }
        }
    }
    let retry_after = if status == 429 || status == 503 {
        get(header::RETRY_AFTER).and_then(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .map(|s| now + chrono::Duration::seconds(s.min(i64::MAX as u64 / 2) as i64))
                .or_else(|| parse_http_date(v))
        })
    } else {
        None
    };
    Hints {
        max_age: max_age.map(Duration::from_secs),
        expires: get(header::EXPIRES).and_then(parse_http_date),
        retry_after,
    }
}

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(limits.user_agent.clone())
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout.min(limits.timeout))
            // Redirects are followed by hand: 301/308 must be remembered, loops named.
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(root_cause(&e)))?;
        Ok(Fetcher { client, limits })
    }

    /// GETs `url`, conditionally when validators are known, following up to `max_redirects`.
    pub async fn fetch(&self, url: &Url, v: &Validators) -> Result<FetchOutcome, FetchError> {
        // The whole exchange, redirects and body included, fits in one timeout.
        match tokio::time::timeout(self.limits.timeout, self.fetch_inner(url, v)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(self.limits.timeout)),
        }
    }

    async fn fetch_inner(&self, url: &Url, v: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut current = url.clone();
        let mut seen = HashSet::from([url.clone()]);
        // Some(..) while every hop so far was permanent.
        let mut permanent: Option<Url> = None;
        let mut all_permanent = true;
        let mut hops = 0;
        let mut resp = loop {
            let resp = self
                .client
                .get(current.clone())
                .headers(request_headers(v))
                .send()
                .await
                .map_err(|e| self.classify(e))?;
            let status = resp.status();
            if !status.is_redirection() || status == reqwest::StatusCode::NOT_MODIFIED {
                break resp;
            }
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| {
                    FetchError::BadRedirect(format!("{} without Location", status.as_u16()))
                })?;
            let next = current
                .join(location)
                .map_err(|e| FetchError::BadRedirect(format!("{location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::BadRedirect(format!("to {next}")));
            }
            hops += 1;
            if hops > self.limits.max_redirects {
                return Err(FetchError::TooManyRedirects(self.limits.max_redirects));
            }
            if !seen.insert(next.clone()) {
                return Err(FetchError::RedirectLoop(next));
            }
            let is_permanent = matches!(status.as_u16(), 301 | 308);
            all_permanent &= is_permanent;
            if all_permanent {
                permanent = Some(next.clone());
            }
            current = next;
        };
        let status = resp.status();
        let now = Utc::now();
        let hints = hints(resp.headers(), status.as_u16(), now);
        if !status.is_success() && status != reqwest::StatusCode::NOT_MODIFIED {
            return Err(FetchError::Status {
                status: status.as_u16(),
                hints,
            });
        }
        let header_str = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut response = Response {
            status: status.as_u16(),
            bytes: Vec::new(),
            content_type: header_str(header::CONTENT_TYPE),
            validators: Validators {
                etag: header_str(header::ETAG),
                last_modified: header_str(header::LAST_MODIFIED),
            },
            final_url: resp.url().clone(),
            permanent_redirect: permanent,
            hints,
        };
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified(response));
        }
        let max = self.limits.max_body;
        if resp.content_length().is_some_and(|n| n > max) {
            // Only a hint: with compression it is the compressed size. The loop below is what
            // enforces the cap.
            return Err(FetchError::TooLarge { limit: max });
        }
        // Chunks arrive decompressed, so the cap counts what we would have to hold and parse:
        // a gzip bomb stops here at the cap, not in memory.
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if response.bytes.len() as u64 + chunk.len() as u64 > max {
                return Err(FetchError::TooLarge { limit: max });
            }
            response.bytes.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Body(response))
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.limits.timeout)
        } else if e.is_connect() {
            FetchError::Connect(root_cause(&e))
        } else {
            FetchError::Other(root_cause(&e))
        }
    }
}

fn request_headers(v: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        ),
    );
    if let Some(etag) = v
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = v
        .last_modified
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::IF_MODIFIED_SINCE, lm);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn reads_hints() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let x = hints(&h(&[("cache-control", "public, max-age=600")]), 200, now);
        assert_eq!(x.max_age, Some(Duration::from_secs(600)));
        let x = hints(&h(&[("retry-after", "120")]), 429, now);
        assert_eq!(x.retry_after, Some(now + chrono::Duration::seconds(120)));
        let x = hints(
            &h(&[("retry-after", "Sun, 29 Nov 2026 12:00:00 GMT")]),
            503,
            now,
        );
        assert_eq!(x.retry_after, Some(now + chrono::Duration::hours(2)));
        let x = hints(&h(&[("retry-after", "120")]), 200, now);
        assert_eq!(
            x.retry_after, None,
            "Retry-After counts on 429 and 503 only"
        );
        let x = hints(
            &h(&[("expires", "Sun, 29 Nov 2026 11:00:00 GMT")]),
            200,
            now,
        );
        assert_eq!(x.expires, Some(now + chrono::Duration::hours(1)));
        assert_eq!(hints(&h(&[("expires", "0")]), 200, now).expires, None);
    }
}
