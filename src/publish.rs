//! Assembles the whole published site (every feed in three formats, the OPML list, HTML pages)
//! from a snapshot.

use std::sync::Arc;

use url::Url;

use crate::model::FeedEntry;
use crate::regions::{Region, RegionKind, Regions};
use crate::render::{self, FeedFormat, FeedMeta, Filter, RegionSummary};
use crate::store::Snapshot;

/// One published document at its URL path (`/feeds/sverige.atom`, `/index.html`, …).
#[derive(Debug, Clone)]
pub struct Document {
    pub path: String,
    pub content_type: &'static str,
    pub body: String,
    /// For a feed: what it was rendered from, so the server can render filtered views of it
    /// (`?type=…&q=…&limit=N`) without going back to the database. `None` for other documents.
    pub feed: Option<Arc<FeedSource>>,
}

/// A feed's inputs: enough to render it, or any filtered view of it, again. Pure data; the
/// entries are shared by the three formats of one feed.
#[derive(Debug)]
pub struct FeedSource {
    pub base_url: Url,
    pub hub: Option<Url>,
    /// `None` for the national feed.
    pub region: Option<&'static Region>,
    pub format: FeedFormat,
    /// Newest first, at most `[feeds] entries` of them.
    pub entries: Arc<[FeedEntry]>,
}

impl FeedSource {
    /// Renders the feed, or the view of it that `filter` selects. Pure: no I/O.
    pub fn render(&self, filter: Option<&Filter>) -> String {
        let picked;
        let entries: &[FeedEntry] = match filter {
            Some(f) => {
                picked = f.apply(&self.entries);
                &picked
            }
            None => &self.entries,
        };
        let meta = FeedMeta {
            base_url: &self.base_url,
            region: self.region,
            updated: entries.iter().map(|e| e.updated).max(),
            hub: self.hub.as_ref(),
            filter,
        };
        render::feed(&meta, self.format, entries)
    }

    /// The absolute URL this feed (or a filtered view of it) is served at.
    pub fn url(&self, filter: Option<&Filter>) -> String {
        render::feed_url(&self.base_url, self.region, self.format, filter)
    }
}

pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const JSON_FEED_TYPE: &str = "application/feed+json; charset=utf-8";
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// How many headlines each region shows on the HTML index.
const LATEST_ON_INDEX: usize = 3;

fn entries_of<'a>(snapshot: &'a Snapshot, region: &Region) -> &'a [FeedEntry] {
    snapshot
        .by_region
        .get(&region.code)
        .map_or(&[], Vec::as_slice)
}

fn summary<'a>(snapshot: &Snapshot, region: &'a Region) -> RegionSummary<'a> {
    RegionSummary {
        region,
        items: snapshot.counts.get(&region.code).copied().unwrap_or(0),
        latest: entries_of(snapshot, region)
            .iter()
            .take(LATEST_ON_INDEX)
            .map(|e| (e.title.clone(), e.link.clone()))
            .collect(),
    }
}

/// The URL path of a region's HTML page: `/orebro-lan/` or `/orebro-lan/kumla/`.
pub fn page_path(regions: &Regions, region: &Region) -> String {
    match (
        &region.kind,
        region.lan.as_deref().and_then(|l| regions.get(l)),
    ) {
        (RegionKind::Kommun, Some(lan)) => format!("/{}/{}/", lan.slug, region.slug),
        _ => format!("/{}/", region.slug),
    }
}

/// Every document of the site, built from one consistent snapshot: each feed as Atom, RSS and
/// JSON Feed, advertising `hub` when WebSub is configured. Pure: no I/O.
pub fn build(snapshot: &Snapshot, base_url: &Url, hub: Option<&Url>) -> Vec<Document> {
    let regions = Regions::get_builtin();
    let mut docs = Vec::with_capacity(4 * regions.all().count() + 6);
    let mut feeds = |region: Option<&'static Region>, entries: &[FeedEntry]| {
        let entries: Arc<[FeedEntry]> = entries.into();
        for format in FeedFormat::ALL {
            let source = FeedSource {
                base_url: base_url.clone(),
                hub: hub.cloned(),
                region,
                format,
                entries: entries.clone(),
            };
            docs.push(Document {
                path: render::feed_path_as(region, format),
                content_type: format.content_type(),
                body: source.render(None),
                feed: Some(Arc::new(source)),
            });
        }
    };
    feeds(None, &snapshot.national);
    let mut summaries = Vec::new();
    for region in regions.all() {
        feeds(Some(region), entries_of(snapshot, region));
        summaries.push(summary(snapshot, region));
    }
    for region in regions.all() {
        let kommuner: Vec<RegionSummary> = match region.kind {
            RegionKind::Lan => regions
                .kommuner_in(&region.code)
                .map(|k| summary(snapshot, k))
                .collect(),
            RegionKind::Kommun => Vec::new(),
        };
        docs.push(Document {
            path: format!("{}index.html", page_path(regions, region)),
            content_type: HTML_TYPE,
            body: render::region_html(
                base_url,
                &summary(snapshot, region),
                &kommuner,
                entries_of(snapshot, region),
            ),
            feed: None,
        });
    }
    docs.push(Document {
        path: "/feeds.opml".into(),
        content_type: OPML_TYPE,
        body: render::opml(base_url, regions),
        feed: None,
    });
    docs.push(Document {
        path: "/index.html".into(),
        content_type: HTML_TYPE,
        body: render::index_html(base_url, snapshot.total, &summaries),
        feed: None,
    });
    docs
}
