//! HTTP fetching of one feed URL: conditional GET, timeouts, and a body cap after decompression.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

/// Validators from the previous successful response, sent back for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response worth looking at.
#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the stored copy is current; nothing to parse.
    NotModified,
    /// 2xx with a body.
    Body(Body),
}

#[derive(Debug)]
pub struct Body {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub validators: Validators,
    /// The URL after redirects; relative links in the feed resolve against it.
    pub final_url: Url,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("http status {status}")]
    Status { status: u16 },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body larger than {limit} bytes (after decompression)")]
    TooLarge { limit: u64 },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

impl FetchError {
    /// The HTTP status, when the origin answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } => Some(*status),
            _ => None,
        }
    }
}

/// A configured HTTP client, shared by every source.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: u64,
}

/// The innermost cause of an error, which is where reqwest keeps the useful words.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl Fetcher {
    pub fn new(user_agent: &str, timeout: Duration, max_body: u64) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(root_cause(&e)))?;
        Ok(Fetcher {
            client,
            timeout,
            max_body,
        })
    }

    /// GETs `url`, conditionally when validators are known.
    pub async fn fetch(&self, url: &Url, v: &Validators) -> Result<FetchOutcome, FetchError> {
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
        let mut resp = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        if resp.content_length().is_some_and(|n| n > self.max_body) {
            // Only a hint: with compression the length is the compressed size; the loop below
            // is what enforces the cap.
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let header_str = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let final_url = resp.url().clone();
        let mut bytes = Vec::new();
        // Chunks arrive decompressed, so the cap counts what we would have to hold and parse.
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e))? {
            if bytes.len() as u64 + chunk.len() as u64 > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Body(Body {
            status: status.as_u16(),
            bytes,
            content_type,
            validators,
            final_url,
        }))
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(root_cause(&e))
        } else if e.is_redirect() {
            FetchError::Other(format!("redirect error: {}", root_cause(&e)))
        } else {
            FetchError::Other(root_cause(&e))
        }
    }
}
