//! Tells a WebSub hub which feeds changed (the PubSubHubbub 0.4 / WebSub "publish" ping: a
//! form-encoded POST of `hub.mode=publish` and `hub.url=<feed>`), so subscribers hear of new
//! items without polling.

use std::time::Duration;

use url::Url;

use crate::render::{FeedFormat, abs_url};

/// How many pings may be in flight at once.
const PARALLEL: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum WebSubError {
    #[error("cannot build http client: {0}")]
    Client(reqwest::Error),
    #[error("hub {hub}: {source}")]
    Request { hub: String, source: reqwest::Error },
    #[error("hub {hub} answered {status} to the ping for {topic}")]
    Status {
        hub: String,
        status: u16,
        topic: String,
    },
}

/// Pings one hub.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: reqwest::Client,
    hub: Url,
}

/// The form body of one publish ping.
pub fn ping_body(topic: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "publish")
        .append_pair("hub.url", topic)
        .finish()
}

/// The absolute URLs of the feeds among `changed` site paths (every format; pages and the OPML
/// list are not WebSub topics).
pub fn topics(base_url: &Url, changed: &[String]) -> Vec<String> {
    changed
        .iter()
        .filter(|p| FeedFormat::of_path(p).is_some())
        .map(|p| abs_url(base_url, p))
        .collect()
}

impl Publisher {
    pub fn new(hub: Url, user_agent: &str, timeout: Duration) -> Result<Publisher, WebSubError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .timeout(timeout)
            .build()
            .map_err(WebSubError::Client)?;
        Ok(Publisher { client, hub })
    }

    pub fn hub(&self) -> &Url {
        &self.hub
    }

    /// Announces that `topic` (a feed URL) changed. Any 2xx is success (hubs answer 202 or 204).
    pub async fn ping(&self, topic: &str) -> Result<(), WebSubError> {
        let resp = self
            .client
            .post(self.hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(ping_body(topic))
            .send()
            .await
            .map_err(|source| WebSubError::Request {
                hub: self.hub.to_string(),
                source,
            })?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(WebSubError::Status {
                hub: self.hub.to_string(),
                status: resp.status().as_u16(),
                topic: topic.to_string(),
            })
        }
    }

    /// Pings every topic, a few at a time; failures are logged, not returned (a hub being down
    /// must not stop the feeds), and counted.
    pub async fn ping_all(&self, topics: &[String]) -> usize {
        let mut failures = Vec::new();
        for chunk in topics.chunks(PARALLEL) {
            let pings: Vec<_> = chunk.iter().map(|t| self.ping(t)).collect();
            let results = futures_util::future::join_all(pings).await;
            failures.extend(results.into_iter().filter_map(Result::err));
        }
        for e in &failures {
            tracing::warn!("websub: {e}");
        }
        if failures.len() < topics.len() {
            tracing::info!(
                hub = %self.hub,
                topics = topics.len() - failures.len(),
                "websub: hub notified"
            );
        }
        failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_body_is_form_encoded() {
        assert_eq!(
            ping_body("http://h/feeds/orebro-lan.atom?type=R%C3%A5n&limit=5"),
            "hub.mode=publish&hub.url=http%3A%2F%2Fh%2Ffeeds%2Forebro-lan.atom%3Ftype%3DR%25C3%25A5n%26limit%3D5"
        );
    }

    #[test]
    fn only_feeds_are_topics() {
        let base = Url::parse("http://h/app/").unwrap();
        let changed = [
            "/feeds.opml",
            "/feeds/orebro-lan.atom",
            "/feeds/orebro-lan.json",
            "/feeds/orebro-lan.rss",
            "/index.html",
            "/orebro-lan/index.html",
        ]
        .map(String::from);
        assert_eq!(
            topics(&base, &changed),
            [
                "http://h/app/feeds/orebro-lan.atom",
                "http://h/app/feeds/orebro-lan.json",
                "http://h/app/feeds/orebro-lan.rss"
            ]
        );
    }
}
