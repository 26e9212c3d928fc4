//! Polls one source end to end: fetch → parse → normalize → tag → store, and records the outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::{Config, SourceConfig};
use crate::dedup::StoryIndex;
use crate::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use crate::model::{Evidence, Item, Tags};
use crate::regions::Regions;
use crate::store::{FetchRecord, Incoming, IngestStats, NextPoll, Store, StoreError};
use crate::tag::Tagger;
use crate::timing::{NextReason, Observed, next_poll};
use url::Url;

/// Everything a poll needs, shared by all sources.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub store: Arc<Store>,
    pub fetcher: Fetcher,
    pub tagger: Arc<Tagger>,
    /// Recent items' near-duplicate signatures, shared by every poll (and kept across reloads).
    pub stories: Arc<std::sync::Mutex<StoryIndex>>,
}

/// How one poll of one source went.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    NotModified,
    Stored {
        items: usize,
        stats: IngestStats,
    },
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// Not polled: the source answered 410 Gone earlier.
    Skipped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PollReport {
    pub source_id: String,
    pub outcome: PollOutcome,
    pub duration: Duration,
    /// When and why the source should be polled next, before any host limit moves it.
    pub next: NextPoll,
    /// The error streak before this poll, so callers can log when a streak starts and ends.
    pub errors_before: u32,
}

impl PollReport {
    /// Whether stored feeds may have changed.
    pub fn changed(&self) -> bool {
        matches!(&self.outcome, PollOutcome::Stored { stats, .. } if stats.changed())
    }
}

/// A random number in [0, 1) for backoff jitter, without a random-number dependency: std's
/// hasher keys are random per process, and the source id and time vary the rest.
fn jitter(source_id: &str, now: DateTime<Utc>) -> f64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    source_id.hash(&mut h);
    now.timestamp_nanos_opt().unwrap_or_default().hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Cuts a text to at most `max` bytes on a character boundary. The cut HTML is sanitized later,
/// which closes whatever the cut left open.
fn cap_text(text: &mut Option<String>, max: usize) {
    if let Some(t) = text.as_mut().filter(|t| t.len() > max) {
        let mut end = max;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t.truncate(end);
    }
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
    if !tags.is_empty() || !source.fallback {
        return tags;
    }
    let Some(r) = source
        .region
        .as_deref()
        .and_then(|c| Regions::get_builtin().get(c))
    else {
        return tags;
    };
    let evidence = |code: &str| Evidence {
        code: code.to_string(),
        matched: source.id.clone(),
        rule: "source-fallback".into(),
    };
    // A kommun prior gives the kommun and its län; a län prior the län only.
    if let Some(lan) = &r.lan {
        tags.kommuner.push(r.code.clone());
        tags.evidence.push(evidence(&r.code));
        tags.lan.push(lan.clone());
        tags.evidence.push(evidence(lan));
    } else {
        tags.lan.push(r.code.clone());
        tags.evidence.push(evidence(&r.code));
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
    if state.gone {
        return Ok(PollReport {
            source_id: source.id.clone(),
            outcome: PollOutcome::Skipped,
            duration: started.elapsed(),
            next: NextPoll {
                at: None,
                reason: NextReason::Gone,
            },
            errors_before: state.consecutive_errors,
        });
    }
    let validators = Validators {
        etag: state.etag.clone(),
        last_modified: state.last_modified.clone(),
    };
    // A permanent redirect seen earlier is followed directly.
    let url = state
        .redirect_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| source.url.clone());

    let fetched = ctx.fetcher.fetch(&url, &validators).await;
    let now = Utc::now();
    let fetch_cfg = &ctx.config.fetch;
    let mut observed = Observed {
        quiet_for: state
            .content_updated_at
            .and_then(|t| (now - t).to_std().ok()),
        ..Observed::default()
    };
    let result: Result<Fetched, IngestError> = match fetched {
        Ok(FetchOutcome::NotModified(resp)) => {
            observed.hints = resp.hints;
            Ok(Fetched::NotModified {
                redirect_url: resp.permanent_redirect.map(String::from),
            })
        }
        Ok(FetchOutcome::Body(resp)) => {
            observed.hints = resp.hints.clone();
            let tagger = ctx.tagger.clone();
            let source = source.clone();
            let (max_items, max_item_size) = (fetch_cfg.max_items, fetch_cfg.max_item_size);
            // Parsing, normalizing and tagging are CPU work: keep them off the async workers.
            tokio::task::spawn_blocking(move || {
                let mut feed = crate::parse::parse(
                    &resp.bytes,
                    resp.content_type.as_deref(),
                    &resp.final_url,
                )?;
                if feed.items.len() > max_items {
                    tracing::warn!(
                        source = %source.id,
                        items = feed.items.len(),
                        "feed has more than {max_items} items; reading the first {max_items}"
                    );
                    feed.items.truncate(max_items);
                }
                let mut items: Vec<Item> = feed
                    .items
                    .iter_mut()
                    .filter_map(|p| {
                        cap_text(&mut p.summary, max_item_size);
                        cap_text(&mut p.content, max_item_size);
                        crate::normalize::normalize(p, &resp.final_url, now)
                    })
                    .collect();
                let rekeyed = crate::normalize::distrust_repeated_guids(&mut items);
                if rekeyed > 0 {
                    tracing::debug!(source = %source.id, rekeyed, "feed repeats guids; keyed by link");
                }
                let items: Vec<Incoming> = items
                    .into_iter()
                    .map(|item| {
                        let tags = tag_item(&tagger, &source, &item);
                        let signature = crate::dedup::signature(&item.title, &item.text);
                        Incoming {
                            item,
                            tags,
                            signature,
                        }
                    })
                    .collect();
                let record = FetchRecord {
                    status: resp.status,
                    redirect_url: resp.permanent_redirect.map(String::from),
                    etag: resp.validators.etag,
                    last_modified: resp.validators.last_modified,
                    bytes: resp.bytes.len() as u64,
                    feed_title: source.name.clone().or(feed.title),
                    site_link: feed.link,
                };
                let ttl = feed
                    .ttl_minutes
                    .map(|m| Duration::from_secs(u64::from(m) * 60));
                Ok(Fetched::Items { record, items, ttl })
            })
            .await
            .expect("parse and tag do not panic")
        }
        Err(e) => Err(e.into()),
    };

    let store = ctx.store.clone();
    let stories = ctx.stories.clone();
    let id = source.id.clone();
    let (interval, cap) = (source.interval, fetch_cfg.backoff_cap);
    let errors_before = state.consecutive_errors;
    let jitter = jitter(&source.id, now);
    let plan = move |obs: &Observed| {
        let (at, reason) = next_poll(now, interval, cap, obs, jitter);
        NextPoll { at, reason }
    };
    let (outcome, next) = tokio::task::spawn_blocking(move || match result {
        Ok(Fetched::NotModified { redirect_url }) => {
            let next = plan(&observed);
            store.record_not_modified(&id, redirect_url.as_deref(), now, next)?;
            Ok::<_, StoreError>((PollOutcome::NotModified, next))
        }
        Ok(Fetched::Items { record, items, ttl }) => {
            observed.ttl = ttl;
            let next_for = |stats: &IngestStats| {
                let mut obs = observed.clone();
                // New items: the source is not quiet, whatever it was before.
                if stats.changed() {
                    obs.quiet_for = None;
                }
                plan(&obs)
            };
            let mut stories = stories.lock().unwrap_or_else(|p| p.into_inner());
            let stats = store.record_success(&id, &record, &items, now, &mut stories, &next_for)?;
            Ok((
                PollOutcome::Stored {
                    items: items.len(),
                    stats,
                },
                next_for(&stats),
            ))
        }
        Err(e) => {
            let status = match &e {
                IngestError::Fetch(f) => f.status(),
                IngestError::Parse(_) => None,
            };
            if let IngestError::Fetch(f) = &e {
                observed.hints.retry_after = f.retry_after();
            }
            observed.errors = errors_before.saturating_add(1);
            observed.gone = status == Some(410);
            // One line: `sources` shows it in a table cell and logs stay greppable.
            let mut error = e.to_string().replace(['\n', '\r'], " ");
            if observed.gone {
                error.push_str(": gone for good, not polled again until its url changes");
            }
            let next = plan(&observed);
            store.record_failure(&id, status, &error, now, next)?;
            Ok((PollOutcome::Failed { status, error }, next))
        }
    })
    .await
    .expect("store calls do not panic")?;

    Ok(PollReport {
        source_id: source.id.clone(),
        outcome,
        duration: started.elapsed(),
        next,
        errors_before,
    })
}

/// A fetch that worked, before it is stored.
enum Fetched {
    NotModified {
        redirect_url: Option<String>,
    },
    Items {
        record: FetchRecord,
        items: Vec<Incoming>,
        ttl: Option<Duration>,
    },
}
