//! Writes a feed as JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), item for item and id for
//! id the same as its Atom feed.

use chrono::{DateTime, SecondsFormat, SubsecRound as _, Utc};
use serde_json::{Value, json};

use super::atom::{EntryText, entry_text};
use super::{FeedFormat, FeedMeta, entry_author, entry_id, xml_safe};
use crate::model::FeedEntry;
use crate::regions::Regions;

fn date(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Renders the JSON Feed document for `entries` (newest first, already limited). Keys come out
/// sorted (serde_json's map is ordered), so the bytes are deterministic.
pub fn json_feed(meta: &FeedMeta, entries: &[FeedEntry]) -> String {
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": xml_safe(&meta.title()),
        "home_page_url": meta.page_url(),
        "feed_url": meta.url(FeedFormat::Json),
        "description": meta.subtitle(),
        "language": "sv",
        "authors": [{ "name": "regionfeed" }],
        "items": entries.iter().map(|e| item(meta, e)).collect::<Vec<_>>(),
    });
    if let Some(hub) = meta.hub {
        feed["hubs"] = json!([{ "type": "WebSub", "url": hub.as_str() }]);
    }
    let mut out = feed.to_string();
    out.push('\n');
    out
}

fn item(meta: &FeedMeta, e: &FeedEntry) -> Value {
    let EntryText {
        link,
        summary,
        content,
    } = entry_text(e);
    let regions = Regions::get_builtin();
    // Tags a person can read: region names, then the source's own categories.
    let mut tags: Vec<String> = Vec::new();
    let names = e
        .regions
        .iter()
        .filter_map(|c| regions.get(c))
        .map(|r| r.name.clone());
    let free = e.categories.iter().map(|c| xml_safe(c.trim()).into_owned());
    for t in names.chain(free) {
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    let codes: Vec<&str> = e
        .regions
        .iter()
        .filter(|c| regions.get(c).is_some())
        .map(String::as_str)
        .collect();
    let mut item = json!({
        "id": entry_id(meta.base_url, &e.uid),
        "title": xml_safe(&e.title),
        "date_published": date(e.published),
        "date_modified": date(e.updated),
        "authors": [{ "name": entry_author(e) }],
        "tags": tags,
        "_regionfeed": {
            "regions": codes,
            "source": {
                "id": e.source.id,
                "title": xml_safe(&e.source.title),
                "feed_url": e.source.feed_url,
            },
        },
    });
    if let Some(link) = link {
        item["url"] = Value::String(link);
    }
    // JSON Feed wants content_html or content_text; the fuller text wins, as in Atom.
    match content.or(summary) {
        Some(html) => item["content_html"] = Value::String(html.into_owned()),
        None => item["content_text"] = Value::String(String::new()),
    }
    item
}
