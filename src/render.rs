//! Turns stored entries and the region table into published bytes: feeds (Atom, RSS 2.0, JSON
//! Feed 1.1), OPML and HTML pages.
//!
//! Rendering does no I/O and is deterministic (same input, same bytes), because the server
//! hashes the output for ETags: nothing here may read the clock, iterate a hash map or
//! otherwise depend on state that is not in the arguments.

mod atom;
mod filter;
mod html;
mod jsonfeed;
mod opml;
mod rss2;

use std::borrow::Cow;

use crate::model::FeedEntry;
use crate::regions::{Region, RegionKind, Regions};

pub use atom::{EMPTY_FEED_UPDATED, FeedMeta, atom};
pub use filter::{Filter, FilterError, MAX_QUERY_LEN};
pub use html::{RegionSummary, index_html, region_html};
pub use jsonfeed::json_feed;
pub use opml::opml;
pub use rss2::rss;

/// The three syndication formats every feed is published in, at the same path stem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// Atom 1.0 (RFC 4287), `.atom`: the primary format, listed in OPML.
    Atom,
    /// RSS 2.0, `.rss`.
    Rss,
    /// JSON Feed 1.1, `.json`.
    Json,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 3] = [FeedFormat::Atom, FeedFormat::Rss, FeedFormat::Json];

    /// The file extension, without the dot.
    pub fn ext(self) -> &'static str {
        match self {
            FeedFormat::Atom => "atom",
            FeedFormat::Rss => "rss",
            FeedFormat::Json => "json",
        }
    }

    /// The media type without parameters, as feeds and pages advertise it in links.
    pub fn mime(self) -> &'static str {
        match self {
            FeedFormat::Atom => "application/atom+xml",
            FeedFormat::Rss => "application/rss+xml",
            FeedFormat::Json => "application/feed+json",
        }
    }

    /// The `Content-Type` the server sends.
    pub fn content_type(self) -> &'static str {
        match self {
            FeedFormat::Atom => "application/atom+xml; charset=utf-8",
            FeedFormat::Rss => "application/rss+xml; charset=utf-8",
            FeedFormat::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// A short label for links on pages.
    pub fn label(self) -> &'static str {
        match self {
            FeedFormat::Atom => "Atom",
            FeedFormat::Rss => "RSS",
            FeedFormat::Json => "JSON Feed",
        }
    }

    /// The format a feed path is in, by its extension.
    pub fn of_path(path: &str) -> Option<FeedFormat> {
        let ext = path.rsplit_once('.')?.1;
        FeedFormat::ALL.into_iter().find(|f| f.ext() == ext)
    }
}

/// Renders one feed in `format`; entries newest first and already limited.
pub fn feed(meta: &FeedMeta, format: FeedFormat, entries: &[FeedEntry]) -> String {
    match format {
        FeedFormat::Atom => atom(meta, entries),
        FeedFormat::Rss => rss(meta, entries),
        FeedFormat::Json => json_feed(meta, entries),
    }
}

/// Where the server publishes the OPML list of every feed (the index page links to it).
pub const OPML_PATH: &str = "/feeds.opml";

/// Path of the national feed, which carries every tagged item.
pub const NATIONAL_FEED_PATH: &str = "/feeds/sverige.atom";

/// The year in every `tag:` URI this service mints; fixed forever so ids never change.
const TAG_YEAR: &str = "2026";

/// The feed path of a region, or of the national feed for `None`.
pub fn feed_path(region: Option<&Region>) -> String {
    match region {
        Some(r) => r.path.clone(),
        None => NATIONAL_FEED_PATH.to_string(),
    }
}

/// The path of a region's HTML page: `/` for Sverige, `/orebro-lan/`, `/orebro-lan/kumla/`.
pub fn html_path(region: Option<&Region>) -> String {
    match region {
        // The feed stem is `/feeds/{lan}` or `/feeds/{lan}/{kommun}`; pages mirror it without `/feeds`.
        Some(r) => {
            let stem = r.feed_stem();
            format!("{}/", stem.strip_prefix("/feeds").unwrap_or(stem))
        }
        None => "/".to_string(),
    }
}

/// The path of a region's (or the national) feed in `format`: `/feeds/orebro-lan.json`.
pub fn feed_path_as(region: Option<&Region>, format: FeedFormat) -> String {
    let atom = feed_path(region);
    let stem = atom.strip_suffix(".atom").unwrap_or(&atom);
    format!("{stem}.{}", format.ext())
}

/// The absolute URL a feed is served at, including a filter's canonical query: the value of
/// its `rel="self"` link (Atom, RSS) or `feed_url` (JSON Feed).
pub fn feed_url(
    base: &url::Url,
    region: Option<&Region>,
    format: FeedFormat,
    filter: Option<&Filter>,
) -> String {
    let mut url = abs_url(base, &feed_path_as(region, format));
    if let Some(f) = filter {
        url.push('?');
        url.push_str(&f.query());
    }
    url
}

/// The human name of a feed: "Sverige", "Örebro län", "Kumla (Örebro län)".
pub fn display_name(region: Option<&Region>) -> String {
    let Some(r) = region else {
        return "Sverige".to_string();
    };
    match (r.kind, r.lan.as_deref()) {
        (RegionKind::Kommun, Some(lan_code)) => match Regions::get_builtin().get(lan_code) {
            Some(lan) => format!("{} ({})", r.name, lan.name),
            None => r.name.clone(),
        },
        _ => r.name.clone(),
    }
}

/// An absolute URL for a service path (`/feeds/x.atom`), keeping any path prefix of `base`.
///
/// `Url::join` would replace the prefix (`http://h/app` + `/feeds` = `http://h/feeds`),
/// which breaks deployments behind a reverse proxy under a sub-path.
pub fn abs_url(base: &url::Url, path: &str) -> String {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let prefix = base.path().trim_end_matches('/');
    let path = if path.starts_with('/') {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("/{path}"))
    };
    url.set_path(&format!("{prefix}{path}"));
    url.to_string()
}

/// Removes characters that XML 1.0 forbids (C0 controls other than tab, LF and CR, and
/// U+FFFE/U+FFFF); a single one would make the whole document unparseable.
///
/// It also removes what XML 1.0 (§2.2) discourages and the W3C feed validator warns about: C1
/// controls (U+0080–U+009F, the trace of text decoded with the wrong charset), the
/// noncharacters U+FDD0–U+FDEF and U+FFFD, which only says a character was lost upstream.
/// HTML output uses it too, where these characters are parse errors.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    fn forbidden(c: char) -> bool {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}'
            | '\u{80}'..='\u{9F}' | '\u{FDD0}'..='\u{FDEF}' | '\u{FFFD}'..='\u{FFFF}')
    }
    if s.chars().any(forbidden) {
        Cow::Owned(s.chars().filter(|&c| !forbidden(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Whether plain text would look like HTML to a reader or validator: an end tag (`</b>`) or
/// a character reference (`&amp;`, `&#39;`). Such text is published as `type="html"`, escaped,
/// so that it is shown exactly as written and not guessed to be markup (the W3C feed validator
/// warns about undeclared HTML in a text construct).
pub(crate) fn looks_like_html(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        b'<' => b.get(i + 1) == Some(&b'/') && b.get(i + 2).is_some_and(u8::is_ascii_alphabetic),
        b'&' => {
            let rest = &b[i + 1..];
            let word = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'#')
                .count();
            word > 0
                && (rest[0] == b'#'
                    || rest.get(word) == Some(&b';')
                    || rest[..word].iter().any(u8::is_ascii_digit)
                    || matches!(
                        &rest[..word],
                        b"amp" | b"lt" | b"gt" | b"quot" | b"apos" | b"nbsp"
                    ))
        }
        _ => false,
    })
}

/// Whether a URI reference has a scheme (`https:`, `mailto:`), i.e. is not relative.
fn has_scheme(v: &str) -> bool {
    let Some((scheme, _)) = v.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Resolves relative `href` and `src` references in stored (sanitized) HTML against `base`, the
/// entry's own link: a feed reader has no page to resolve them against, and the W3C validator
/// warns about them. Without a base the reference is dropped, since it cannot work anywhere.
///
/// `normalize` already resolves links of everything it stores; this is the renderer's guarantee
/// for whatever else reaches it. Sanitized HTML writes attributes as `name="value"` with `&`
/// escaped, which is all this has to read.
pub(crate) fn resolve_relative<'a>(html: &'a str, base: Option<&url::Url>) -> Cow<'a, str> {
    fn next_ref(html: &str, from: usize) -> Option<(usize, usize, usize)> {
        // (start of the attribute incl. its leading space, start of the value, end of the value)
        let rest = &html[from..];
        let (at, len) = [" href=\"", " src=\""]
            .into_iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min()?;
        let value = from + at + len;
        let end = value + html[value..].find('"')?;
        Some((from + at, value, end))
    }
    let mut pos = 0;
    let mut out: Option<String> = None;
    while let Some((attr, value, end)) = next_ref(html, pos) {
        let raw = &html[value..end];
        if !has_scheme(raw.trim()) {
            let out = out.get_or_insert_with(|| String::with_capacity(html.len() + 64));
            out.push_str(&html[pos..attr]);
            let target = raw.trim().replace("&amp;", "&");
            if let Some(abs) = base.and_then(|b| b.join(&target).ok()) {
                out.push_str(&html[attr..value]);
                out.push_str(&escape(abs.as_str()));
                out.push('"');
            }
            pos = end + 1;
        } else if let Some(out) = out.as_mut() {
            out.push_str(&html[pos..=end]);
            pos = end + 1;
        } else {
            pos = end + 1;
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&html[pos..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(html),
    }
}

/// The author shown for an entry: its own, else its source's title, else the source id.
pub(crate) fn entry_author(e: &FeedEntry) -> String {
    [
        e.author.as_deref(),
        Some(e.source.title.as_str()),
        Some(e.source.id.as_str()),
    ]
    .into_iter()
    .flatten()
    .map(|a| xml_safe(a.trim()).into_owned())
    .find(|a| !a.is_empty())
    .unwrap_or_else(|| "regionfeed".to_string())
}

/// Escapes text for XML or HTML content and double-quoted attribute values, after stripping
/// forbidden characters.
pub(crate) fn escape(s: &str) -> String {
    let s = xml_safe(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The link if it is an absolute http(s) URL; anything else (`javascript:`, relative junk)
/// is dropped so that neither pages nor feeds carry links a reader could be harmed by.
pub(crate) fn safe_link(link: Option<&str>) -> Option<String> {
    let link = link?.trim();
    let url = url::Url::parse(link).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| xml_safe(url.as_str()).into_owned())
}

/// Percent-encodes everything outside `keep` and the URI unreserved set, so that minted
/// `tag:` URIs are valid whatever a host name or config id contains.
fn pct_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `tag:` URI (RFC 4151) for something this service names: `tag:{host},2026:{kind}:{name}`.
///
/// Only the host of `base` goes in, not its port or path prefix, so moving the service behind
/// a proxy or to another port does not make every reader see every entry again.
pub fn tag_uri(base: &url::Url, kind: &str, name: &str) -> String {
    let host = base.host_str().unwrap_or("localhost");
    format!(
        "tag:{},{TAG_YEAR}:{kind}:{}",
        pct_encode(host, b""),
        pct_encode(name, b"/:@")
    )
}

/// The stable identity of a feed: `tag:{host},2026:feed:/feeds/orebro-lan`. All three formats
/// share it: they are the same feed.
pub fn feed_id(base: &url::Url, region: Option<&Region>) -> String {
    let path = feed_path(region);
    tag_uri(base, "feed", path.strip_suffix(".atom").unwrap_or(&path))
}

/// The identity of a filtered view of a feed: the feed's id with the canonical filter query,
/// `tag:{host},2026:feed:/feeds/orebro-lan?type=Trafikolycka`, so a reader subscribed to both
/// the whole feed and a filtered view does not mistake one for the other.
pub fn filtered_feed_id(
    base: &url::Url,
    region: Option<&Region>,
    filter: Option<&Filter>,
) -> String {
    match filter {
        // The canonical query is already percent-encoded with only URI characters left.
        Some(f) => format!("{}?{}", feed_id(base, region), f.query()),
        None => feed_id(base, region),
    }
}

/// The stable identity of an entry: `tag:{host},2026:item:{uid}`.
pub fn entry_id(base: &url::Url, uid: &str) -> String {
    tag_uri(base, "item", uid)
}

/// The stable identity of a source: `tag:{host},2026:source:{source id}`.
pub fn source_id(base: &url::Url, id: &str) -> String {
    tag_uri(base, "source", id)
}

/// The category scheme of SCB codes of one kind: `{base}/schema/lan` or `{base}/schema/kommun`.
pub fn category_scheme(base: &url::Url, kind: RegionKind) -> String {
    match kind {
        RegionKind::Lan => abs_url(base, "/schema/lan"),
        RegionKind::Kommun => abs_url(base, "/schema/kommun"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn abs_url_keeps_the_base_prefix() {
        for (b, p, want) in [
            (
                "http://127.0.0.1:8080",
                "/feeds/sverige.atom",
                "http://127.0.0.1:8080/feeds/sverige.atom",
            ),
            ("http://h/app", "/feeds/x.atom", "http://h/app/feeds/x.atom"),
            (
                "http://h/app/",
                "/feeds/x.atom",
                "http://h/app/feeds/x.atom",
            ),
            ("http://h/app/?q=1#f", "/", "http://h/app/"),
            ("http://h", "/", "http://h/"),
        ] {
            assert_eq!(abs_url(&base(b), p), want, "{b} + {p}");
        }
    }

    #[test]
    fn tag_uris_are_valid_for_odd_hosts_and_ids() {
        assert_eq!(
            tag_uri(&base("http://[::1]:8080/"), "source", "a b/ö"),
            "tag:%5B%3A%3A1%5D,2026:source:a%20b/%C3%B6"
        );
        assert_eq!(
            feed_id(&base("http://Example.org:81/x/"), None),
            "tag:example.org,2026:feed:/feeds/sverige"
        );
    }

    #[test]
    fn xml_safe_strips_only_forbidden_characters() {
        assert_eq!(
            xml_safe("a\u{1}b\tc\n\rd\u{FFFE}\u{FFFF}\u{B}é\u{85}\u{9F}\u{FFFD}\u{FDD0}ö\u{A0}"),
            "ab\tc\n\rdéö\u{A0}"
        );
        assert!(matches!(xml_safe("ren text"), Cow::Borrowed(_)));
    }

    #[test]
    fn safe_link_accepts_only_http() {
        assert_eq!(
            safe_link(Some(" https://x.se/a ")).as_deref(),
            Some("https://x.se/a")
        );
        assert_eq!(safe_link(Some("javascript:alert(1)")), None);
        assert_eq!(safe_link(Some("/relative")), None);
        assert_eq!(safe_link(None), None);
    }

    #[test]
    fn relative_references_are_resolved_or_dropped() {
        let b = base("https://lokal.example/nyheter/a-1");
        for (html, want) in [
            (
                r#"<a href="/b?x=1&amp;y=2">b</a> <img src="c.jpg"> <a href="https://x.se/">x</a>"#,
                r#"<a href="https://lokal.example/b?x=1&amp;y=2">b</a> <img src="https://lokal.example/nyheter/c.jpg"> <a href="https://x.se/">x</a>"#,
            ),
            (
                r##"<a href="#n">n</a>"##,
                r##"<a href="https://lokal.example/nyheter/a-1#n">n</a>"##,
            ),
            ("<p>inga länkar</p>", "<p>inga länkar</p>"),
        ] {
            assert_eq!(resolve_relative(html, Some(&b)), want);
        }
        assert_eq!(
            resolve_relative(r#"<a href="/x" rel="noopener">x</a>"#, None),
            r#"<a rel="noopener">x</a>"#
        );
        assert!(matches!(
            resolve_relative(r#"<a href="mailto:a@b.se">a</a>"#, Some(&b)),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn html_lookalikes() {
        for (s, want) in [
            ("Polisen: <b>& cyklarna</b>", true),
            ("R&amp;D", true),
            ("Tom &#39;s", true),
            ("1&2", true),
            ("AT&T och Q&A", false),
            ("a < b > c", false),
            ("Fish & chips", false),
        ] {
            assert_eq!(looks_like_html(s), want, "{s}");
        }
    }

    #[test]
    fn html_paths_mirror_feed_paths() {
        let r = Regions::get_builtin();
        assert_eq!(html_path(None), "/");
        assert_eq!(html_path(r.get("18")), "/orebro-lan/");
        assert_eq!(html_path(r.get("1881")), "/orebro-lan/kumla/");
        assert_eq!(display_name(r.get("1881")), "Kumla (Örebro län)");
    }
}
