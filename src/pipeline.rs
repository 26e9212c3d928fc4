//! Polls one source end to end: fetch → parse → normalize → tag → store, and records the outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::{Config, SourceConfig};
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::model::{Evidence, Item, Tags};
use crate::regions::Regions;
use crate::store::{FetchRecord, IngestStats, Store, StoreError};
use crate::tag::Tagger;

/// Everything a poll needs, shared by all sources.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub store: Arc<Store>,
    pub fetcher: Fetcher,
    pub tagger: Arc<Tagger>,
}

/// How one poll of one source went.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    NotModified,
    Stored { items: usize, stats: IngestStats },
    Failed { status: Option<u16>, error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PollReport {
    pub source_id: String,
    pub outcome: PollOutcome,
    pub duration: Duration,
    pub next_poll: DateTime<Utc>,
    /// The error streak before this poll, so callers can log when a streak starts and ends.
    pub errors_before: u32,
}

impl PollReport {
    /// Whether stored feeds may have changed.
    pub fn changed(&self) -> bool {
        matches!(&self.outcome, PollOutcome::Stored { stats, .. } if stats.changed())
    }
}

/// Longest wait after repeated errors: a broken source is retried at least this often, forever.
pub const BACKOFF_CAP: Duration = Duration::from_secs(6 * 3600);

/// When to poll again after `errors` consecutive failures (0 = success).
pub fn next_delay(interval: Duration, errors: u32) -> Duration {
    if errors == 0 {
        return interval;
    }
    let factor = 1u32 << errors.saturating_sub(1).min(16);
    interval
        .saturating_mul(factor)
        .min(BACKOFF_CAP.max(interval))
}

/// Why a body could not be turned into items; one line for `sources`.
#[derive(Debug, thiserror::Error)]
enum IngestError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] crate::parse::ParseError),
}

/// Tags an item, falling back to the source's region when the item names no place.
pub fn tag_item(tagger: &Tagger, source: &SourceConfig, item: &Item) -> Tags {
    let mut tags = tagger.tag(&item.title, &item.text, source.region.as_deref());
    if tags.is_empty() && source.fallback {
        if let Some(code) = &source.region {
            let regions = Regions::get_builtin();
            if let Some(r) = regions.get(code) {
                let evidence = |code: &str| Evidence {
                    code: code.to_string(),
                    matched: source.id.clone(),
                    rule: "source-fallback".into(),
                };
                match &r.lan {
                    Some(lan) => {
                        tags.kommuner.push(r.code.clone());
                        tags.lan.push(lan.clone());
                        tags.evidence.push(evidence(&r.code));
                        tags.evidence.push(evidence(lan));
                    }
                    None => {
                        tags.lan.push(r.code.clone());
                        tags.evidence.push(evidence(&r.code));
                    }
                }
            }
        }
    }
    tags
}

/// Polls `source` once and records the result. Only a database failure is an error: a broken
/// source is data for `sources`, never fatal.
pub async fn poll_source(ctx: &Context, source: &SourceConfig) -> Result<PollReport, StoreError> {
    let started = Instant::now();
    let store = ctx.store.clone();
    let id = source.id.clone();
    let state = tokio::task::spawn_blocking(move || store.source_state(&id))
        .await
        .expect("source_state does not panic")?;
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };

    let fetched = ctx.fetcher.fetch(&source.url, &validators).await;
    let now = Utc::now();
    let result: Result<Option<(FetchRecord, Vec<(Item, Tags)>)>, IngestError> = match fetched {
        Ok(FetchOutcome::NotModified) => Ok(None),
        Ok(FetchOutcome::Body(body)) => {
            let tagger = ctx.tagger.clone();
            let source = source.clone();
            // Parsing, normalizing and tagging are CPU work: keep them off the async workers.
            tokio::task::spawn_blocking(move || {
                let feed = crate::parse::parse(
                    &body.bytes,
                    body.content_type.as_deref(),
                    &body.final_url,
                )?;
                let items: Vec<(Item, Tags)> = feed
                    .items
                    .iter()
                    .filter_map(|p| crate::normalize::normalize(p, &body.final_url, now))
                    .map(|item| {
                        let tags = tag_item(&tagger, &source, &item);
                        (item, tags)
                    })
                    .collect();
                let record = FetchRecord {
                    status: body.status,
                    etag: body.validators.etag,
                    last_modified: body.validators.last_modified,
                    bytes: body.bytes.len() as u64,
                    feed_title: source.name.clone().or(feed.title),
                    site_link: feed.link,
                };
                Ok(Some((record, items)))
            })
            .await
            .expect("parse and tag do not panic")
        }
        Err(e) => Err(e.into()),
    };

    let store = ctx.store.clone();
    let id = source.id.clone();
    let interval = source.interval;
    let errors_before = state.consecutive_errors;
    let (outcome, next_poll) = tokio::task::spawn_blocking(move || {
        let ok_next = now + next_delay(interval, 0);
        match result {
            Ok(None) => {
                store.record_not_modified(&id, now, ok_next)?;
                Ok::<_, StoreError>((PollOutcome::NotModified, ok_next))
            }
            Ok(Some((record, items))) => {
                let stats = store.record_success(&id, &record, &items, now, ok_next)?;
                Ok((
                    PollOutcome::Stored {
                        items: items.len(),
                        stats,
                    },
                    ok_next,
                ))
            }
            Err(e) => {
                let status = match &e {
                    IngestError::Fetch(f) => f.status(),
                    IngestError::Parse(_) => None,
                };
                // One line: `sources` shows it in a table cell and logs stay greppable.
                let error = e.to_string().replace(['\n', '\r'], " ");
                let next = now + next_delay(interval, errors_before + 1);
                store.record_failure(&id, status, &error, now, next)?;
                Ok((PollOutcome::Failed { status, error }, next))
            }
        }
    })
    .await
    .expect("store calls do not panic")?;

    Ok(PollReport {
        source_id: source.id.clone(),
        outcome,
        duration: started.elapsed(),
        next_poll,
        errors_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let i = Duration::from_secs(300);
        assert_eq!(next_delay(i, 0), i);
        assert_eq!(next_delay(i, 1), i);
        assert_eq!(next_delay(i, 2), i * 2);
        assert_eq!(next_delay(i, 3), i * 4);
        assert_eq!(next_delay(i, 40), BACKOFF_CAP);
    }
}
