//! Writes a feed as RSS 2.0 with the `rss` crate: the same items and ids as its Atom feed, for
//! readers that prefer RSS.

use chrono::{DateTime, SubsecRound as _, Utc};
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item, Source};

use super::atom::{EntryText, entry_text};
use super::{
    EMPTY_FEED_UPDATED, FeedFormat, FeedMeta, category_scheme, entry_author, entry_id, xml_safe,
};
use crate::model::FeedEntry;
use crate::regions::Regions;

/// RFC 822 dates with four-digit years, as RSS 2.0 readers expect.
fn date(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(0).to_rfc2822()
}

fn atom_link(href: String, rel: &str, mime: Option<&str>) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        ..Link::default()
    }
}

/// Renders the RSS 2.0 document for `entries` (newest first, already limited).
pub fn rss(meta: &FeedMeta, entries: &[FeedEntry]) -> String {
    let mut links = vec![atom_link(
        meta.url(FeedFormat::Rss),
        "self",
        Some(FeedFormat::Rss.mime()),
    )];
    if let Some(hub) = meta.hub {
        links.push(atom_link(hub.to_string(), "hub", None));
    }
    let updated = meta.updated.map_or_else(
        || {
            DateTime::parse_from_rfc3339(EMPTY_FEED_UPDATED)
                .map(|d| d.to_rfc2822())
                .unwrap_or_default()
        },
        date,
    );
    let channel = Channel {
        title: xml_safe(&meta.title()).into_owned(),
        link: meta.page_url(),
        description: meta.subtitle(),
        language: Some("sv".to_string()),
        last_build_date: Some(updated),
        generator: Some(format!("regionfeed {}", env!("CARGO_PKG_VERSION"))),
        docs: Some("https://www.rssboard.org/rss-specification".to_string()),
        atom_ext: Some(AtomExtension { links }),
        items: entries.iter().map(|e| item(meta, e)).collect(),
        ..Channel::default()
    };
    // Writing into a Vec has no I/O to fail.
    let bytes = channel
        .pretty_write_to(Vec::new(), b' ', 2)
        .expect("writing an rss feed into memory cannot fail");
    let mut out = String::from_utf8_lossy(&bytes).into_owned();
    out.push('\n');
    out
}

fn item(meta: &FeedMeta, e: &FeedEntry) -> Item {
    let base = meta.base_url;
    let EntryText {
        link,
        summary,
        content,
    } = entry_text(e);
    let regions = Regions::get_builtin();
    let mut categories: Vec<Category> = Vec::new();
    for r in e.regions.iter().filter_map(|c| regions.get(c)) {
        if !categories.iter().any(|c| c.name == r.code) {
            categories.push(Category {
                name: r.code.clone(),
                domain: Some(category_scheme(base, r.kind)),
            });
        }
    }
    for c in &e.categories {
        let name = xml_safe(c.trim()).into_owned();
        if !name.is_empty() && !categories.iter().any(|x| x.name == name) {
            categories.push(Category { name, domain: None });
        }
    }
    let source_url = e.source.feed_url.trim();
    // `description` is the short text, `content:encoded` the full one when there are two.
    let (description, full) = match (summary, content) {
        (Some(s), Some(c)) => (Some(s.into_owned()), Some(c.into_owned())),
        (one, None) | (None, one) => (one.map(|t| t.into_owned()), None),
    };
    Item {
        title: Some(xml_safe(&e.title).into_owned()),
        link,
        description,
        content: full,
        guid: Some(Guid {
            value: entry_id(base, &e.uid),
            permalink: false,
        }),
        pub_date: Some(date(e.published)),
        categories,
        source: (source_url.starts_with("http://") || source_url.starts_with("https://")).then(
            || Source {
                url: xml_safe(source_url).into_owned(),
                title: Some(xml_safe(e.source.title.trim()).into_owned()).filter(|t| !t.is_empty()),
            },
        ),
        // RSS's own <author> must be an e-mail address; dc:creator takes a name.
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![entry_author(e)],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}
