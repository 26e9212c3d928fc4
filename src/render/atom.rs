//! Writes one region's (or the national) Atom 1.0 feed (RFC 4287) with `atom_syndication`.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text, TextType,
    WriteConfig,
};
use std::borrow::Cow;

use chrono::{DateTime, SubsecRound as _, TimeZone, Utc};

use super::{
    FeedFormat, Filter, abs_url, category_scheme, display_name, entry_author, entry_id, feed_url,
    filtered_feed_id, html_path, looks_like_html, resolve_relative, safe_link, source_id, xml_safe,
};
use crate::model::FeedEntry;
use crate::regions::{Region, Regions};

/// What a feed is about. The same meta renders the feed in each format.
#[derive(Clone, Copy)]
pub struct FeedMeta<'a> {
    /// The public base URL from config, e.g. `http://127.0.0.1:8080` (may carry a path prefix).
    pub base_url: &'a url::Url,
    /// `None` is the national feed `/feeds/sverige.atom`.
    pub region: Option<&'a Region>,
    /// The newest entry's `updated`; `None` for an empty feed.
    pub updated: Option<DateTime<Utc>>,
    /// The WebSub hub the feed advertises (`rel="hub"`), from `[websub] hub`.
    pub hub: Option<&'a url::Url>,
    /// A reader's filter: the feed is then a filtered view with its own id, title and self link.
    pub filter: Option<&'a Filter>,
}

impl FeedMeta<'_> {
    /// The feed's title: "Örebro län — regionfeed", with the filter after it for a view.
    pub(crate) fn title(&self) -> String {
        let name = display_name(self.region);
        match self.filter {
            Some(f) => format!("{name} — regionfeed ({})", f.describe()),
            None => format!("{name} — regionfeed"),
        }
    }

    /// The feed's description.
    pub(crate) fn subtitle(&self) -> String {
        match self.region {
            None => "Polisens händelser och lokala nyheter från hela Sverige".to_string(),
            Some(_) => format!(
                "Polisens händelser och lokala nyheter om {}",
                display_name(self.region)
            ),
        }
    }

    /// Where this feed is served in `format` (with the filter's query).
    pub(crate) fn url(&self, format: FeedFormat) -> String {
        feed_url(self.base_url, self.region, format, self.filter)
    }

    /// The region's HTML page.
    pub(crate) fn page_url(&self) -> String {
        abs_url(self.base_url, &html_path(self.region))
    }

    /// The feed id shared by all formats.
    pub(crate) fn id(&self) -> String {
        filtered_feed_id(self.base_url, self.region, self.filter)
    }
}

/// `atom:updated` of a feed with no entries.
///
/// An empty feed must still be byte-stable so its ETag never changes while it stays empty;
/// "now" would change on every request and the Unix epoch reads as a bug. This instant
/// predates every entry the service can have stored (it was written in 2026).
pub const EMPTY_FEED_UPDATED: &str = "2026-01-01T00:00:00Z";

const AUTHOR: &str = "regionfeed";

fn empty_feed_updated() -> DateTime<Utc> {
    // A compile-time constant, checked by a unit test; the fallback only keeps this panic-free.
    DateTime::parse_from_rfc3339(EMPTY_FEED_UPDATED)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc.timestamp_opt(0, 0).single().unwrap_or_default())
}

/// Whole seconds: sub-second digits carry no news and only make the documents noisier.
fn fixed(t: DateTime<Utc>) -> FixedDateTime {
    t.trunc_subsecs(0).fixed_offset()
}

fn text(value: &str, kind: TextType) -> Text {
    Text {
        value: xml_safe(value).into_owned(),
        r#type: kind,
        ..Text::default()
    }
}

/// A plain-text title: `type="text"`, unless it would look like markup, then escaped HTML
/// (see `looks_like_html`), which every reader shows as the same characters.
fn plain(value: &str) -> Text {
    if looks_like_html(value) {
        text(&super::escape(value), TextType::Html)
    } else {
        text(value, TextType::Text)
    }
}

fn link(href: String, rel: &str, mime: Option<&str>) -> Link {
    Link {
        href,
        rel: rel.to_string(),
        mime_type: mime.map(str::to_string),
        ..Link::default()
    }
}

fn person(name: &str) -> Person {
    Person {
        name: name.to_string(),
        ..Person::default()
    }
}

/// Renders a complete Atom document (UTF-8, with XML declaration) for `entries`, which the
/// caller passes newest first and already limited.
pub fn atom(meta: &FeedMeta, entries: &[FeedEntry]) -> String {
    let base = meta.base_url;
    // The HTML page comes last among the alternates: some readers (newsboat) take the last
    // alternate link as the feed's web site.
    let mut links = vec![
        link(
            meta.url(FeedFormat::Atom),
            "self",
            Some(FeedFormat::Atom.mime()),
        ),
        link(
            meta.url(FeedFormat::Rss),
            "alternate",
            Some(FeedFormat::Rss.mime()),
        ),
        link(
            meta.url(FeedFormat::Json),
            "alternate",
            Some(FeedFormat::Json.mime()),
        ),
        link(meta.page_url(), "alternate", Some("text/html")),
    ];
    if let Some(hub) = meta.hub {
        links.push(link(hub.to_string(), "hub", None));
    }
    let feed = Feed {
        title: plain(&meta.title()),
        id: meta.id(),
        updated: fixed(meta.updated.unwrap_or_else(empty_feed_updated)),
        authors: vec![person(AUTHOR)],
        generator: Some(Generator {
            value: "regionfeed".to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        links,
        subtitle: Some(plain(&meta.subtitle())),
        entries: entries.iter().map(|e| entry(base, e)).collect(),
        lang: Some("sv".to_string()),
        ..Feed::default()
    };
    let config = WriteConfig {
        // Written by hand below so that it names the encoding.
        write_document_declaration: false,
        indent_size: Some(2),
    };
    // Writing into a Vec has no I/O to fail and quick-xml escapes any text it is given.
    let bytes = feed
        .write_with_config(Vec::new(), config)
        .expect("writing an atom feed into memory cannot fail");
    let body = String::from_utf8_lossy(&bytes);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}\n",
        declare_text_types(&body)
    )
}

/// Adds `type="text"` to plain-text titles and subtitles, which `atom_syndication` leaves
/// implicit because text is the RFC 4287 default; declaring it keeps lax readers from guessing
/// HTML. A plain string replace is exact here: quick-xml escapes `<` in every text and
/// attribute value, so `<title>` can only be one of the start tags written for a `Text` of type
/// text with no `xml:lang`/`xml:base`.
fn declare_text_types(xml: &str) -> String {
    xml.replace("<title>", "<title type=\"text\">")
        .replace("<subtitle>", "<subtitle type=\"text\">")
}

/// An entry's summary and content after the RFC 4287 rules; shared with the other formats so
/// that all three carry the same text.
pub(crate) struct EntryText<'a> {
    pub link: Option<String>,
    pub summary: Option<Cow<'a, str>>,
    pub content: Option<Cow<'a, str>>,
}

pub(crate) fn entry_text<'a>(e: &'a FeedEntry) -> EntryText<'a> {
    let link = safe_link(e.link.as_deref());
    // Relative references resolve against the entry's page, else its source's site.
    let base = link
        .as_deref()
        .or(e.source.site_link.as_deref())
        .and_then(|l| url::Url::parse(l).ok());
    let html = |s: Option<&'a str>| -> Option<Cow<'a, str>> {
        s.filter(|s| !s.trim().is_empty())
            .map(|s| match resolve_relative(s, base.as_ref()) {
                Cow::Borrowed(b) => xml_safe(b),
                Cow::Owned(o) => Cow::Owned(xml_safe(&o).into_owned()),
            })
    };
    EntryText {
        summary: html(e.summary.as_deref()),
        content: html(e.content.as_deref()),
        link,
    }
}

fn entry(base: &url::Url, e: &FeedEntry) -> Entry {
    let EntryText {
        link,
        summary,
        content,
    } = entry_text(e);
    // With one text it becomes the summary. RFC 4287 §4.1.1 demands atom:content when there is
    // no alternate link, so a link-less entry carries its text (or nothing) as content instead.
    let (summary, content) = match (summary, content, link.is_some()) {
        (Some(s), Some(c), _) => (Some(s), Some(c)),
        (one, None, true) | (None, one, true) => (one, None),
        // Nothing to say but the title: repeat it rather than send an empty content, which
        // readers show as a blank entry (and the W3C validator flags).
        (one, None, false) | (None, one, false) => (
            None,
            Some(one.unwrap_or_else(|| Cow::Owned(super::escape(&e.title)))),
        ),
    };
    let author = entry_author(e);
    Entry {
        title: plain(&e.title),
        id: entry_id(base, &e.uid),
        updated: fixed(e.updated),
        authors: vec![person(&author)],
        categories: categories(base, e),
        links: link
            .map(|href| super::atom::link(href, "alternate", Some("text/html")))
            .into_iter()
            .chain(e.related.iter().filter_map(|r| {
                // The story's other reports, each with its own headline.
                let href = safe_link(Some(&r.link))?;
                Some(Link {
                    title: Some(xml_safe(&r.title).into_owned()),
                    ..super::atom::link(href, "related", Some("text/html"))
                })
            }))
            .collect(),
        published: Some(fixed(e.published)),
        source: Some(source(base, e)),
        summary: summary.map(|s| text(&s, TextType::Html)),
        content: content.map(|c| Content {
            value: Some(c.into_owned()),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// One category per known region code (SCB code as term, name as label, a scheme per kind),
/// then one per distinct non-empty source category (no scheme: they are free text).
fn categories(base: &url::Url, e: &FeedEntry) -> Vec<Category> {
    let regions = Regions::get_builtin();
    let mut out: Vec<Category> = Vec::new();
    for code in &e.regions {
        // Unknown codes cannot come from the tagger (it uses the same table); skip rather than
        // publish a term no reader can resolve.
        let Some(r) = regions.get(code) else { continue };
        if out.iter().any(|c| c.term == r.code) {
            continue;
        }
        out.push(Category {
            term: r.code.clone(),
            scheme: Some(category_scheme(base, r.kind)),
            label: Some(r.name.clone()),
        });
    }
    let mut free: Vec<String> = Vec::new();
    for c in &e.categories {
        let term = xml_safe(c.trim()).into_owned();
        if !term.is_empty() && !free.contains(&term) {
            free.push(term);
        }
    }
    out.extend(free.into_iter().map(|term| Category {
        term,
        scheme: None,
        label: None,
    }));
    out
}

fn source(base: &url::Url, e: &FeedEntry) -> Source {
    let s = &e.source;
    let mut links = Vec::new();
    // An empty href would be a reference to this very feed, which is wrong for a source.
    if !s.feed_url.trim().is_empty() {
        links.push(link(xml_safe(s.feed_url.trim()).into_owned(), "self", None));
    }
    if let Some(site) = safe_link(s.site_link.as_deref()) {
        links.push(link(site, "alternate", Some("text/html")));
    }
    Source {
        title: plain(if s.title.trim().is_empty() {
            &s.id
        } else {
            &s.title
        }),
        id: source_id(base, &s.id),
        updated: fixed(s.updated.unwrap_or(e.updated)),
        links,
        ..Source::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_feed_updated_parses() {
        assert_eq!(
            empty_feed_updated(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn degenerate_entry_is_still_valid_atom() {
        let base = url::Url::parse("http://127.0.0.1:8080").unwrap();
        let at =
            Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap() + chrono::Duration::nanoseconds(7);
        let e = FeedEntry {
            uid: "x".into(),
            title: "\u{1}".into(),
            link: None,
            summary: Some("  ".into()),
            content: None,
            published: at,
            updated: at,
            categories: vec![" ".into()],
            author: Some(" ".into()),
            regions: vec!["0000".into()],
            source: crate::model::SourceRef {
                id: "src".into(),
                title: " ".into(),
                feed_url: "".into(),
                site_link: Some("ftp://x".into()),
                updated: None,
            },
            carried_by: vec![],
            related: vec![],
        };
        let meta = FeedMeta {
            base_url: &base,
            region: None,
            updated: Some(at),
            hub: None,
            filter: None,
        };
        let xml = atom(&meta, &[e]);
        // No link, so RFC 4287 wants atom:content; the source falls back to its id everywhere.
        assert!(xml.contains("<content type=\"html\"></content>"), "{xml}");
        assert!(
            xml.contains("<name>src</name>") && xml.contains("<title type=\"text\">src</title>")
        );
        assert!(
            !xml.contains("<category") && !xml.contains("<link href=\"\"") && !xml.contains("ftp:")
        );
        assert!(xml.contains("<updated>2026-02-03T04:05:06+00:00</updated>"));
        let parsed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 1);
    }

    #[test]
    fn declared_types_do_not_touch_escaped_text() {
        let xml = "<title>a &lt;title&gt; b</title><subtitle>x</subtitle>";
        assert_eq!(
            declare_text_types(xml),
            "<title type=\"text\">a &lt;title&gt; b</title><subtitle type=\"text\">x</subtitle>"
        );
    }
}
