//! Turns stored entries and the region table into published bytes: Atom feeds, OPML and HTML pages.
//!
//! Rendering does no I/O and is deterministic (same input, same bytes), because the server
//! hashes the output for ETags: nothing here may read the clock, iterate a hash map or
//! otherwise depend on state that is not in the arguments.

mod atom;
mod html;
mod opml;

use std::borrow::Cow;

use crate::regions::{Region, RegionKind, Regions};

pub use atom::{EMPTY_FEED_UPDATED, FeedMeta, atom};
pub use html::{RegionSummary, index_html, region_html};
pub use opml::opml;

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
/// HTML output uses it too, where these characters are parse errors.
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    fn forbidden(c: char) -> bool {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
    }
    if s.chars().any(forbidden) {
        Cow::Owned(s.chars().filter(|&c| !forbidden(c)).collect())
    } else {
        Cow::Borrowed(s)
    }
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

/// The stable identity of a feed: `tag:{host},2026:feed:/feeds/orebro-lan`.
pub fn feed_id(base: &url::Url, region: Option<&Region>) -> String {
    let path = feed_path(region);
    tag_uri(base, "feed", path.strip_suffix(".atom").unwrap_or(&path))
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
            xml_safe("a\u{1}b\tc\n\rd\u{FFFE}\u{FFFF}\u{B}é"),
            "ab\tc\n\rdé"
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
    fn html_paths_mirror_feed_paths() {
        let r = Regions::get_builtin();
        assert_eq!(html_path(None), "/");
        assert_eq!(html_path(r.get("18")), "/orebro-lan/");
        assert_eq!(html_path(r.get("1881")), "/orebro-lan/kumla/");
        assert_eq!(display_name(r.get("1881")), "Kumla (Örebro län)");
    }
}
