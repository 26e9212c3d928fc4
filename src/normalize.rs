//! Turns a `ParsedItem` into an `Item`: absolute and canonical links, a stable key, sanitized
//! HTML, plain text for the tagger, UTC dates and a content hash.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use ammonia::UrlRelative;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Item, ParsedItem};
use crate::police;

/// Normalizes one parsed item; `base` resolves relative links (normally the feed URL) and
/// `fetched_at` stands in for missing dates. `None` when the item has neither title nor link nor
/// text.
pub fn normalize(item: &ParsedItem, base: &Url, fetched_at: DateTime<Utc>) -> Option<Item> {
    let link = item
        .link
        .as_deref()
        .and_then(|l| absolute_http_url(l, base));
    let canonical_link = link.as_deref().and_then(canonical_url);
    let guid = item
        .guid
        .as_deref()
        .map(|g| strip_invalid_xml_chars(g.trim()).into_owned())
        .filter(|g| !g.is_empty());

    let clean = |html: &Option<String>| {
        html.as_deref()
            .map(|h| sanitize_html(h, base))
            .filter(|h| !h.is_empty())
    };
    let summary = clean(&item.summary);
    let content = clean(&item.content);
    let body = content.as_deref().or(summary.as_deref()).unwrap_or("");
    let text = html_to_text(body);

    let raw_title = html_to_text(item.title.as_deref().unwrap_or(""));
    let police = police::parse_title(&raw_title);
    let mut title = police::display_title(&raw_title).to_string();
    if title.is_empty() && link.is_none() && text.is_empty() {
        return None;
    }
    if title.is_empty() {
        title = fallback_title(&text)
            .or_else(|| link.clone())
            .unwrap_or_default();
    }

    let key = identity_key(guid.as_deref(), canonical_link.as_deref(), &title, &text);
    let content_hash = sha256_hex(&[&title, "\n", body]);

    let published = item.published.or(item.updated).unwrap_or(fetched_at);
    // A Polisen event is published when it happened (the title's time), which may be before
    // midnight while the feed's pubDate is after it; a title time after the pubDate is a typo.
    let published = police
        .as_ref()
        .and_then(|p| police::event_time(p, published))
        .filter(|t| *t <= published + chrono::Duration::hours(1))
        .unwrap_or(published);
    let updated = item
        .updated
        .or(item.published)
        .unwrap_or(fetched_at)
        .max(published);

    let mut seen = HashSet::new();
    let categories = item
        .categories
        .iter()
        .map(|c| html_to_text(c))
        .filter(|c| !c.is_empty() && seen.insert(c.to_lowercase()))
        .collect();
    let author = item
        .author
        .as_deref()
        .map(html_to_text)
        .filter(|a| !a.is_empty());

    Some(Item {
        key,
        guid,
        link,
        canonical_link,
        title,
        summary,
        content,
        text,
        published,
        updated,
        categories,
        author,
        police,
        content_hash,
    })
}

/// An item's identity inside its source: its GUID, else its canonical link, else a hash of its
/// title and text. Stable across polls; a title edit keeps it when a GUID or link exists.
pub fn identity_key(
    guid: Option<&str>,
    canonical_link: Option<&str>,
    title: &str,
    text: &str,
) -> String {
    match (guid, canonical_link) {
        (Some(g), _) => format!("guid:{g}"),
        (None, Some(l)) => format!("link:{l}"),
        (None, None) => format!("hash:{}", sha256_hex(&[title, "\n", text])),
    }
}

/// Some feeds give every item the same GUID (a template bug): then GUIDs identify nothing, and
/// the items of one fetch are keyed by link (or content) instead. Returns how many were rekeyed.
pub fn distrust_repeated_guids(items: &mut [Item]) -> usize {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for g in items.iter().filter_map(|i| i.guid.as_deref()) {
        *seen.entry(g).or_default() += 1;
    }
    let repeated: HashSet<String> = seen
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(g, _)| g.to_string())
        .collect();
    let mut n = 0;
    for item in items.iter_mut() {
        if item.guid.as_ref().is_some_and(|g| repeated.contains(g)) {
            item.guid = None;
            item.key = identity_key(
                None,
                item.canonical_link.as_deref(),
                &item.title,
                &item.text,
            );
            n += 1;
        }
    }
    n
}

/// A title for an item that has none: the start of its text, cut at a word.
fn fallback_title(text: &str) -> Option<String> {
    const MAX: usize = 80;
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= MAX {
        return Some(text.to_string());
    }
    let cut: String = text.chars().take(MAX).collect();
    let at_word = cut
        .rfind(' ')
        .filter(|&p| p > MAX / 2)
        .map_or(cut.as_str(), |p| &cut[..p]);
    Some(format!("{}…", at_word.trim_end()))
}

fn absolute_http_url(raw: &str, base: &Url) -> Option<String> {
    let url = base.join(raw.trim()).ok()?;
    let ok =
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    ok.then(|| url.to_string())
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let mut hex = String::with_capacity(64);
    for byte in hasher.finalize().iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Query parameters that only track the click, never select content.
fn is_tracking_param(name: &str) -> bool {
    const EXACT: [&str; 14] = [
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid",
        "mc_eid", "igshid", "_hsenc", "_hsmi", "mkt_tok",
    ];
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || EXACT.contains(&lower.as_str())
}

/// The form of a link used to recognise the same page across sources and polls: http(s) only,
/// scheme and host lowercase, no default port, no user info, no fragment, no tracking
/// parameters (`utm_*`, `fbclid`, …; other parameters keep their order), no trailing slash on
/// the path except the root. `None` for anything that is not an absolute http(s) URL.
pub fn canonical_url(url: &str) -> Option<String> {
    // The url crate already lowercases scheme and host, drops default ports and normalizes
    // percent-encoding and dot segments.
    let mut u = Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if let Some(query) = u.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or("");
                !pair.is_empty() && !is_tracking_param(name)
            })
            .collect();
        let kept = kept.join("&");
        u.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    let path = u.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
        u.set_path(&trimmed);
    }
    Some(u.to_string())
}

/// Sanitizes feed HTML for republishing: keeps formatting, links and images; drops script, style,
/// iframe, object, embed, forms, event handlers, `style`, and every URL scheme but http(s),
/// mailto and tel; resolves relative `href`/`src` against `base`; adds
/// `rel="noopener noreferrer"` to links; removes characters XML 1.0 forbids.
pub fn sanitize_html(html: &str, base: &Url) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .url_relative(UrlRelative::RewriteWithBase(base.clone()))
        .url_schemes(HashSet::from(["http", "https", "mailto", "tel"]))
        // Tags whose content is code or widgets, not text worth keeping.
        .add_clean_content_tags([
            "iframe", "object", "embed", "applet", "noscript", "template", "textarea", "select",
            "button", "svg", "math",
        ])
        .link_rel(Some("noopener noreferrer"));
    let cleaned = builder.clean(html).to_string();
    strip_invalid_xml_chars(cleaned.trim()).into_owned()
}

/// Removes characters XML 1.0 does not allow (C0 controls other than tab, newline and carriage
/// return; U+FFFE, U+FFFF); borrows when there are none.
pub fn strip_invalid_xml_chars(s: &str) -> Cow<'_, str> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}');
    if s.contains(bad) {
        Cow::Owned(s.chars().filter(|c| !bad(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// Elements that do not break a word: text on both sides runs together.
const INLINE_TAGS: [&str; 27] = [
    "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em",
    "font", "i", "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup",
    "u",
];
/// Elements whose content is not text.
const SKIPPED_TAGS: [&str; 8] = [
    "script", "style", "noscript", "template", "iframe", "object", "svg", "textarea",
];

/// Plain text of an HTML fragment: tags stripped (script/style content dropped), entities
/// decoded, whitespace collapsed to single spaces, control characters dropped. One linear pass.
pub fn html_to_text(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = Text {
        s: String::with_capacity(html.len()),
        space: false,
    };
    let mut i = 0;
    let mut run = 0; // start of the pending plain-text run
    while i < b.len() {
        match b[i] {
            b'<' => {
                let next = b.get(i + 1).copied().unwrap_or(b' ');
                if !(next.is_ascii_alphabetic() || matches!(next, b'/' | b'!' | b'?')) {
                    i += 1;
                    continue;
                }
                out.push_run(&html[run..i]);
                i = skip_markup(html, i, &mut out);
                run = i;
            }
            b'&' => {
                out.push_run(&html[run..i]);
                i = decode_reference(html, i, &mut out);
                run = i;
            }
            _ => i += 1,
        }
    }
    out.push_run(&html[run..]);
    out.s
}

/// Accumulates text with whitespace collapsed and unwanted characters dropped.
struct Text {
    s: String,
    /// Whitespace is pending: written as one space before the next visible character.
    space: bool,
}

impl Text {
    fn push_run(&mut self, run: &str) {
        for c in run.chars() {
            self.push(c);
        }
    }
    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.space = true;
        } else if !(c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' || c == '\u{FEFF}') {
            if self.space && !self.s.is_empty() {
                self.s.push(' ');
            }
            self.space = false;
            self.s.push(c);
        }
    }
    fn boundary(&mut self) {
        self.space = true;
    }
}

/// Skips the markup starting with `<` at `at`; returns the position after it.
fn skip_markup(html: &str, at: usize, out: &mut Text) -> usize {
    let rest = &html[at..];
    let after = |close: &str, from: usize| {
        rest[from..]
            .find(close)
            .map_or(html.len(), |p| at + from + p + close.len())
    };
    if rest.starts_with("<!--") {
        return after("-->", 4);
    }
    if rest.starts_with("<!") || rest.starts_with("<?") {
        return after(">", 2);
    }
    let b = html.as_bytes();
    let closing = b[at + 1] == b'/';
    let name_start = at + 1 + usize::from(closing);
    let name_len = b[name_start..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let name = &html[name_start..name_start + name_len];
    let end = html_tag_end(b, name_start + name_len);
    if !INLINE_TAGS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
        out.boundary();
    }
    if !closing && SKIPPED_TAGS.iter().any(|t| t.eq_ignore_ascii_case(name)) {
        return skip_past_close(html, end, name);
    }
    end
}

/// Position after the `>` closing a tag whose attributes start at `from`; quotes count only as
/// attribute value delimiters (after `=`), as in HTML.
fn html_tag_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'>' => return i + 1,
            b'=' => {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&q @ (b'"' | b'\'')) = b.get(i) {
                    i = b[i + 1..]
                        .iter()
                        .position(|c| *c == q)
                        .map_or(b.len(), |p| i + 1 + p + 1);
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// Position after `</name…>` (ASCII case-insensitive), or the end when it never closes.
fn skip_past_close(html: &str, from: usize, name: &str) -> usize {
    let b = html.as_bytes();
    let mut i = from;
    while let Some(p) = b[i..].iter().position(|c| *c == b'<') {
        let at = i + p;
        let candidate = &b[at + 1..];
        if candidate.first() == Some(&b'/')
            && candidate.len() > name.len()
            && candidate[1..=name.len()].eq_ignore_ascii_case(name.as_bytes())
            && !candidate
                .get(name.len() + 1)
                .is_some_and(u8::is_ascii_alphanumeric)
        {
            return html_tag_end(b, at + 2 + name.len());
        }
        i = at + 1;
    }
    b.len()
}

/// Decodes the character reference starting with `&` at `at` into `out`; a `&` that starts no
/// known reference is literal text. Returns the position after what was consumed.
fn decode_reference(html: &str, at: usize, out: &mut Text) -> usize {
    let b = html.as_bytes();
    let rest = &b[at + 1..];
    if let Some(after_hash) = rest.strip_prefix(b"#") {
        let hex = matches!(after_hash.first(), Some(b'x' | b'X'));
        let digits = if hex { &after_hash[1..] } else { after_hash };
        let len = digits
            .iter()
            .take(8)
            .take_while(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                }
            })
            .count();
        if len > 0 {
            let text = std::str::from_utf8(&digits[..len]).unwrap_or("0");
            let code = u32::from_str_radix(text, if hex { 16 } else { 10 }).unwrap_or(0);
            out.push(reference_char(code));
            let consumed = 1 + 1 + usize::from(hex) + len;
            return at + consumed + usize::from(digits.get(len) == Some(&b';'));
        }
    } else {
        let len = rest
            .iter()
            .take(32)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let entity = (len > 0 && rest.get(len) == Some(&b';'))
            .then(|| markup5ever::data::NAMED_ENTITIES.get(&html[at + 1..at + 2 + len]))
            .flatten();
        if let Some(&(c1, c2)) = entity {
            for code in [c1, c2] {
                if let Some(c) = char::from_u32(code).filter(|_| code != 0) {
                    out.push(c);
                }
            }
            return at + len + 2;
        }
    }
    out.push('&');
    at + 1
}

/// The character a numeric reference means to a browser (C1 codes as windows-1252).
fn reference_char(code: u32) -> char {
    if (0x80..=0x9F).contains(&code) {
        let byte = [code as u8];
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
        return text.chars().next().unwrap_or('\u{FFFD}');
    }
    match char::from_u32(code) {
        Some('\0') | None => '\u{FFFD}',
        Some(c) => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_html() {
        let cases = [
            (
                "<p>Hej&nbsp;<b>Kum</b>la</p><p>Örebro &amp; Karlskoga</p>",
                "Hej Kumla Örebro & Karlskoga",
            ),
            ("a<script>if (a < b) { x = '</p>'; }</script>b", "a b"),
            ("<STYLE>p{}</style >x", "x"),
            (
                "1 < 2 &amp;&amp; R&D &#246;&#xF6;&#150; &bogus;",
                "1 < 2 && R&D öö– &bogus;",
            ),
            ("<a href=\"x\" title='a > b'>länk</a>", "länk"),
            ("<!-- kommentar -->text<br/>rad", "text rad"),
            ("  \t\n ", ""),
            ("kontroll\u{1}tecken", "kontrolltecken"),
            ("<p>otäckt", "otäckt"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), want, "{html}");
        }
    }
}
