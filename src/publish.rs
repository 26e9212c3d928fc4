//! Assembles the whole published site (every feed, the OPML list, HTML pages) from a snapshot.

use url::Url;

use crate::model::FeedEntry;
use crate::regions::{Region, RegionKind, Regions};
use crate::render::{self, FeedMeta, RegionSummary};
use crate::store::Snapshot;

/// One published document at its URL path (`/feeds/sverige.atom`, `/index.html`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub path: String,
    pub content_type: &'static str,
    pub body: String,
}

pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
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

/// Every document of the site, built from one consistent snapshot. Pure: no I/O.
pub fn build(snapshot: &Snapshot, base_url: &Url) -> Vec<Document> {
    let regions = Regions::get_builtin();
    let mut docs = Vec::with_capacity(2 * regions.all().count() + 3);
    let atom = |region: Option<&Region>, entries: &[FeedEntry]| {
        let meta = FeedMeta {
            base_url,
            region,
            updated: entries.iter().map(|e| e.updated).max(),
        };
        Document {
            path: render::feed_path(region),
            content_type: ATOM_TYPE,
            body: render::atom(&meta, entries),
        }
    };
    docs.push(atom(None, &snapshot.national));
    let mut summaries = Vec::new();
    for region in regions.all() {
        docs.push(atom(Some(region), entries_of(snapshot, region)));
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
        });
    }
    docs.push(Document {
        path: "/feeds.opml".into(),
        content_type: OPML_TYPE,
        body: render::opml(base_url, regions),
    });
    docs.push(Document {
        path: "/index.html".into(),
        content_type: HTML_TYPE,
        body: render::index_html(base_url, snapshot.total, &summaries),
    });
    docs
}
