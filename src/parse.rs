//! Turns a fetched feed body (raw bytes) into a `ParsedFeed`: charset decoding, sniffing, repair of
//! common XML breakage, feed-rs, and lenient (English and Swedish) date parsing.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use encoding_rs::{Encoding, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use feed_rs::model::{Feed, FeedType, Link};
use url::Url;

use crate::model::{ParsedFeed, ParsedItem};

/// Why a body could not be read as a feed. Every message is one line naming what arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: empty body")]
    Empty,
    #[error("not a feed: got an HTML page (<{root}>)")]
    Html { root: String },
    #[error("not a feed: got an XML document with root element <{root}>")]
    OtherXml { root: String },
    #[error("not a feed: JSON that is not JSON Feed")]
    JsonNotFeed,
    #[error("not a feed: unsupported JSON Feed version {0}")]
    JsonVersion(String),
    #[error("not a feed: neither XML nor JSON (starts with {start:?})")]
    Unrecognized { start: String },
    /// `offset` counts bytes of the body as received.
    #[error("malformed XML at byte {offset}: {reason}")]
    MalformedXml { offset: u64, reason: String },
    #[error("malformed JSON at line {line} column {column}: {reason}")]
    MalformedJson {
        line: usize,
        column: usize,
        reason: String,
    },
    /// Well-formed, recognisably a feed format, but not usable (e.g. `<rss>` without `<channel>`).
    #[error("invalid feed: {0}")]
    Invalid(String),
}

/// Parses a feed body. `content_type` is the HTTP `Content-Type` (its `charset=` is used when the
/// document does not declare an encoding); `base` resolves relative links (normally the feed URL).
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let decoded = decode(body, content_type);
    let trimmed = decoded.text.trim_start();
    let lead = decoded.text.len() - trimmed.len();
    match trimmed.chars().next() {
        Some('<') => parse_xml(trimmed, base, |pos| decoded.original_offset(lead + pos)),
        Some('{') | Some('[') => parse_json(trimmed, base),
        Some(_) => Err(ParseError::Unrecognized {
            start: trimmed.chars().take(24).collect(),
        }),
        None => Err(ParseError::Empty),
    }
}

fn feed_rs_parser(base: &Url) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // feed-rs invents an id (a hash of link+title, or a random UUID) for entries without one;
        // returning "" keeps such entries id-less so normalize can pick link or content hash.
        .id_generator(|_links, _title, _base| String::new())
        .timestamp_parser(parse_timestamp)
        .build()
}

fn parse_xml(
    text: &str,
    base: &Url,
    original_offset: impl Fn(usize) -> u64,
) -> Result<ParsedFeed, ParseError> {
    let repaired = repair_xml(text);
    let Some(root) = repaired.root.clone() else {
        return Err(ParseError::Invalid(
            "XML without a root element".to_string(),
        ));
    };
    let local = root.rsplit(':').next().unwrap_or(&root).to_string();
    match local.to_ascii_lowercase().as_str() {
        "html" | "head" | "body" => {
            return Err(ParseError::Html {
                root: local.to_ascii_lowercase(),
            });
        }
        _ if matches!(local.as_str(), "rss" | "feed" | "entry" | "RDF") => {}
        _ => return Err(ParseError::OtherXml { root }),
    }
    match feed_rs_parser(base).parse(repaired.text.as_bytes()) {
        Ok(feed) => Ok(convert(feed)),
        Err(feed_rs::parser::ParseFeedError::XmlReader(e)) => {
            let (pos, reason) = locate_xml_error(&repaired.text)
                .unwrap_or_else(|| (repaired.text.len(), e.to_string()));
            Err(ParseError::MalformedXml {
                offset: original_offset(repaired.source_offset(pos)),
                reason,
            })
        }
        Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        )) => Err(ParseError::Invalid(match local.as_str() {
            "rss" => "<rss> without <channel>".to_string(),
            _ => format!("<{root}> is not a feed root"),
        })),
        Err(e) => Err(ParseError::Invalid(e.to_string())),
    }
}

fn parse_json(text: &str, base: &Url) -> Result<ParsedFeed, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        ParseError::MalformedJson {
            line: e.line(),
            column: e.column(),
            reason: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
        }
    })?;
    let version = value.get("version").and_then(serde_json::Value::as_str);
    match version {
        Some(v) if v.starts_with("https://jsonfeed.org/version/1") => {}
        Some(v) if v.starts_with("https://jsonfeed.org/version/") => {
            return Err(ParseError::JsonVersion(v.to_string()));
        }
        _ => return Err(ParseError::JsonNotFeed),
    }
    feed_rs_parser(base)
        .parse(text.as_bytes())
        .map(convert)
        .map_err(|e| ParseError::Invalid(format!("JSON Feed: {e}")))
}

/// Finds the first well-formedness error with quick-xml (feed-rs drops positions):
/// (byte offset in `text`, reason).
fn locate_xml_error(text: &str) -> Option<(usize, String)> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<String> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                open.push(e.name().0.to_string());
            }
            Ok(quick_xml::events::Event::End(_)) => {
                open.pop();
            }
            Ok(quick_xml::events::Event::Eof) => {
                return open
                    .last()
                    .map(|name| (text.len(), format!("document ends inside <{name}>")));
            }
            Ok(_) => {}
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(text.len());
                return Some((pos.min(text.len()), e.to_string()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// feed-rs model -> ParsedFeed

fn convert(feed: Feed) -> ParsedFeed {
    let family = match feed.feed_type {
        FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2 => Family::Rss,
        FeedType::Atom | FeedType::JSON => Family::Typed,
    };
    let items = feed
        .entries
        .into_iter()
        .map(|e| {
            let guid = non_empty(e.id);
            let mut link = pick_link(&e.links);
            // RSS 2.0: a guid is a permalink unless isPermaLink="false" (which feed-rs drops), so
            // an http(s) guid is the best link an item without <link> has.
            if link.is_none() && family == Family::Rss {
                link = guid.clone().filter(|g| {
                    Url::parse(g).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
                });
            }
            ParsedItem {
                guid,
                link,
                title: e
                    .title
                    .and_then(|t| text_as_html(t.content, t.content_type.as_str(), family)),
                summary: e
                    .summary
                    .and_then(|t| text_as_html(t.content, t.content_type.as_str(), family)),
                content: e.content.and_then(|c| {
                    let mime = c.content_type.to_string();
                    c.body.and_then(|body| text_as_html(body, &mime, family))
                }),
                published: e.published,
                updated: e.updated,
                categories: e
                    .categories
                    .into_iter()
                    .map(|c| c.label.filter(|l| !l.trim().is_empty()).unwrap_or(c.term))
                    .collect(),
                author: e.authors.into_iter().find_map(|p| {
                    non_empty(p.name.unwrap_or_default()).or_else(|| p.email.and_then(non_empty))
                }),
            }
        })
        .collect();
    ParsedFeed {
        title: feed.title.and_then(|t| non_empty(t.content)),
        link: pick_link(&feed.links),
        id: non_empty(feed.id),
        updated: feed.updated.or(feed.published),
        ttl_minutes: feed.ttl,
        items,
    }
}

/// RSS text elements are HTML by convention whatever they say; Atom and JSON Feed mark plain text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Rss,
    Typed,
}

/// Item texts are HTML downstream, so plain text (Atom `type="text"`, JSON `content_text`) is
/// escaped here to mean the same thing as HTML; non-text payloads (base64 media) are dropped.
fn text_as_html(body: String, mime: &str, family: Family) -> Option<String> {
    let body = non_empty(body)?;
    let mime = mime.to_ascii_lowercase();
    if family == Family::Rss || mime.contains("html") || mime.ends_with("xml") {
        Some(body)
    } else if mime.starts_with("text/") {
        Some(escape_html(&body))
    } else {
        None
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// The page link: the first link that is neither a comments link nor a non-alternate Atom rel.
fn pick_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.target.is_none() && l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| non_empty(l.href.clone()))
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Character encodings

/// The body decoded to UTF-8, with enough to map positions back to the received bytes.
struct Decoded {
    text: String,
    encoding: &'static Encoding,
    bom_len: usize,
}

impl Decoded {
    /// Byte offset in the received body of byte `pos` of `text`.
    fn original_offset(&self, pos: usize) -> u64 {
        let mut pos = pos.min(self.text.len());
        while !self.text.is_char_boundary(pos) {
            pos -= 1;
        }
        let prefix = &self.text[..pos];
        let len = if self.encoding == UTF_16LE || self.encoding == UTF_16BE {
            prefix.encode_utf16().count() * 2
        } else if self.encoding == UTF_8 {
            prefix.len()
        } else {
            self.encoding.encode(prefix).0.len()
        };
        (self.bom_len + len) as u64
    }
}

/// Decodes the body. Order: BOM; the XML declaration; the HTTP charset; then detection (valid
/// UTF-8, else windows-1252). A declared legacy charset on bytes that are valid UTF-8 with
/// non-ASCII text is taken as a mislabelled UTF-8 feed (latin-1 text is virtually never valid
/// UTF-8). Decoding never fails: invalid sequences become U+FFFD.
fn decode(body: &[u8], content_type: Option<&str>) -> Decoded {
    if let Some((encoding, bom_len)) = Encoding::for_bom(body) {
        let text = encoding
            .decode_without_bom_handling(&body[bom_len..])
            .0
            .into_owned();
        return Decoded {
            text,
            encoding,
            bom_len,
        };
    }
    let usable = |e: &'static Encoding| e != REPLACEMENT && e != UTF_16LE && e != UTF_16BE;
    let declared = xml_declared_encoding(body).filter(|e| usable(e));
    let http = content_type.and_then(http_charset).filter(|e| usable(e));
    let valid_utf8 = std::str::from_utf8(body).is_ok();
    let encoding = match declared.or(http) {
        Some(e) if e == UTF_8 && !valid_utf8 => fallback_for_invalid_utf8(body, http),
        Some(e) if e != UTF_8 && valid_utf8 && !body.is_ascii() => UTF_8,
        Some(e) => e,
        None if valid_utf8 => UTF_8,
        None => fallback_for_invalid_utf8(body, http),
    };
    let text = encoding.decode_without_bom_handling(body).0.into_owned();
    Decoded {
        text,
        encoding,
        bom_len: 0,
    }
}

/// Bytes claimed (or assumed) to be UTF-8 that are not: a non-UTF-8 HTTP charset wins; otherwise
/// mostly-UTF-8 text with a few bad bytes stays UTF-8, and anything else is read as windows-1252.
fn fallback_for_invalid_utf8(body: &[u8], http: Option<&'static Encoding>) -> &'static Encoding {
    if let Some(e) = http.filter(|e| *e != UTF_8) {
        return e;
    }
    let (mut good, mut bad) = (0usize, 0usize);
    let mut rest = body;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                good += s.bytes().filter(|b| *b >= 0xC0).count();
                break;
            }
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                good += ok.iter().filter(|b| **b >= 0xC0).count();
                let skip = e.error_len().unwrap_or(tail.len()).max(1);
                bad += 1;
                rest = &tail[skip.min(tail.len())..];
            }
        }
    }
    if good > bad { UTF_8 } else { WINDOWS_1252 }
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of the body.
fn xml_declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &body[start..body.len().min(start + 1024)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = &head[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b"=")?;
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let len = value.iter().position(|b| *b == quote)?;
    Encoding::for_label(&value[..len])
}

/// The `charset` parameter of a Content-Type header value.
fn http_charset(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        Encoding::for_label(
            value
                .trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .as_bytes(),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// XML repair

/// The decoded document, repaired, with its root element name and a position map.
struct Repaired {
    text: String,
    root: Option<String>,
    /// (position in `text`, position in the source) at the end of each edit, ascending.
    anchors: Vec<(usize, usize)>,
}

impl Repaired {
    /// Position in the (decoded) source of position `pos` of the repaired text.
    fn source_offset(&self, pos: usize) -> usize {
        let i = self.anchors.partition_point(|(out, _)| *out <= pos);
        match i.checked_sub(1).map(|i| self.anchors[i]) {
            Some((out, src)) => src + (pos - out),
            None => pos,
        }
    }
}

/// Copies a source to an output with edits, remembering where edits happened.
struct Writer<'a> {
    src: &'a str,
    out: String,
    copied: usize,
    anchors: Vec<(usize, usize)>,
}

impl Writer<'_> {
    fn edit(&mut self, at: usize, len: usize, replacement: &str) {
        self.out.push_str(&self.src[self.copied..at]);
        self.out.push_str(replacement);
        self.copied = at + len;
        self.anchors.push((self.out.len(), self.copied));
    }
}

/// XML's five predefined entities; every other named reference is unknown to an XML parser.
const XML_ENTITIES: [&str; 5] = ["amp", "lt", "gt", "quot", "apos"];

/// Repairs what commonly breaks real feeds, outside CDATA sections, comments, processing
/// instructions and the DOCTYPE (whose entity declarations are never expanded):
/// - the XML declaration is rewritten to say UTF-8 (the text is already decoded);
/// - HTML named entities (`&nbsp;`, `&ouml;`) become numeric references;
/// - unknown entity references and bare `&` become `&amp;` (so DTD-declared entities stay inert);
/// - invalid numeric references are dropped, C1 ones (`&#150;`) read as windows-1252;
/// - a `<` that cannot start markup becomes `&lt;`;
/// - `<rss>` without a version known to feed-rs is read as RSS 2.0.
fn repair_xml(src: &str) -> Repaired {
    let b = src.as_bytes();
    let n = b.len();
    let mut w = Writer {
        src,
        out: String::with_capacity(n + 64),
        copied: 0,
        anchors: Vec::new(),
    };
    let mut root: Option<String> = None;
    let mut i = 0;
    let has_declaration = src.starts_with("<?xml")
        && b.get(5)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b'?');
    if let Some(end) = src.find("?>").filter(|_| has_declaration) {
        w.edit(0, end + 2, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        i = end + 2;
    }
    let mut in_tag = false;
    let mut quote: Option<u8> = None;
    while i < n {
        let c = b[i];
        if c == b'&' {
            i = repair_reference(&mut w, i);
            continue;
        }
        if in_tag {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if c == b'>' => in_tag = false,
                None => {}
            }
            i += 1;
            continue;
        }
        if c != b'<' {
            i += 1;
            continue;
        }
        let rest = &src[i..];
        let skip_to = |close: &str, from: usize| {
            rest[from..]
                .find(close)
                .map_or(n, |p| i + from + p + close.len())
        };
        if rest.starts_with("<!--") {
            i = skip_to("-->", 4);
        } else if rest.starts_with("<![CDATA[") {
            i = skip_to("]]>", 9);
        } else if rest.starts_with("<?") {
            i = skip_to("?>", 2);
        } else if rest.starts_with("<!") {
            i = declaration_end(b, i);
        } else if b.get(i + 1).is_some_and(|&c| c == b'/' || is_name_start(c)) {
            if root.is_none() && b[i + 1] != b'/' {
                let name_len = b[i + 1..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || matches!(c, b'/' | b'>'))
                    .unwrap_or(n - i - 1);
                let name = &src[i + 1..i + 1 + name_len];
                root = Some(name.to_string());
                if name == "rss" {
                    let end = tag_end(b, i);
                    if let Some(fixed) = fix_rss_version(&src[i..end]) {
                        w.edit(i, end - i, &fixed);
                        i = end;
                        continue;
                    }
                }
            }
            in_tag = true;
            i += 1;
        } else {
            w.edit(i, 1, "&lt;");
            i += 1;
        }
    }
    w.out.push_str(&src[w.copied..]);
    Repaired {
        text: w.out,
        root,
        anchors: w.anchors,
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

/// End (exclusive) of a `<!…>` declaration starting at `start`, skipping quoted strings and a
/// bracketed internal subset.
fn declaration_end(b: &[u8], start: usize) -> usize {
    let (mut depth, mut quote) = (0u32, None::<u8>);
    for (i, &c) in b.iter().enumerate().skip(start + 2) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return i + 1,
            _ => {}
        }
    }
    b.len()
}

/// End (exclusive) of a start tag beginning at `start`, quote-aware.
fn tag_end(b: &[u8], start: usize) -> usize {
    let mut quote = None::<u8>;
    for (i, &c) in b.iter().enumerate().skip(start + 1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return i + 1,
            _ => {}
        }
    }
    b.len()
}

/// feed-rs only recognises `<rss>` with version 2.0, 0.91, 0.92 or "": anything else (missing,
/// 0.94, 2.01…) is read as 2.0. Returns the rewritten start tag when a change is needed.
fn fix_rss_version(tag: &str) -> Option<String> {
    let b = tag.as_bytes();
    let mut i = 4; // after "<rss"
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || matches!(b[i], b'>' | b'/') {
            break;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = &tag[name_start..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let (value_start, value_end) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let len = b[i + 1..]
                    .iter()
                    .position(|c| *c == q)
                    .unwrap_or(b.len() - i - 1);
                (i + 1, i + 1 + len)
            }
            _ => {
                let len = b[i..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || matches!(c, b'>' | b'/'))
                    .unwrap_or(b.len() - i);
                (i, i + len)
            }
        };
        i = value_end + 1;
        if name == "version" {
            return match &tag[value_start..value_end] {
                "2.0" | "0.91" | "0.92" | "" => None,
                _ => Some(format!("{}2.0{}", &tag[..value_start], &tag[value_end..])),
            };
        }
    }
    Some(format!("<rss version=\"2.0\"{}", &tag[4..]))
}

/// Repairs the reference starting with `&` at `at`; returns where scanning continues.
fn repair_reference(w: &mut Writer<'_>, at: usize) -> usize {
    let b = w.src.as_bytes();
    let rest = &b[at + 1..];
    if let Some(after_hash) = rest.strip_prefix(b"#") {
        let (hex, digits) = match after_hash.first() {
            Some(b'x' | b'X') => (true, &after_hash[1..]),
            _ => (false, after_hash),
        };
        let len = digits
            .iter()
            .take(9)
            .position(|c| {
                !(if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                })
            })
            .unwrap_or(digits.len().min(9));
        if len > 0 && digits.get(len) == Some(&b';') {
            let prefix = if hex { 3 } else { 2 };
            let total = prefix + len + 1;
            let text = std::str::from_utf8(&digits[..len]).unwrap_or("");
            let code = u32::from_str_radix(text, if hex { 16 } else { 10 }).unwrap_or(u32::MAX);
            match char_for_reference(code) {
                Some(c) if c as u32 == code => {}
                Some(c) => w.edit(at, total, &format!("&#{};", c as u32)),
                None => w.edit(at, total, ""),
            }
            return at + total;
        }
        w.edit(at, 1, "&amp;");
        return at + 1;
    }
    let len = rest
        .iter()
        .take(40)
        .position(|c| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len().min(40));
    if len > 0 && rest.get(len) == Some(&b';') {
        let name = &w.src[at + 1..at + 1 + len];
        if XML_ENTITIES.contains(&name) {
            return at + len + 2;
        }
        if let Some(&(c1, c2)) = markup5ever::data::NAMED_ENTITIES.get(&w.src[at + 1..at + 2 + len])
        {
            let mut refs = format!("&#{c1};");
            if c2 != 0 {
                refs.push_str(&format!("&#{c2};"));
            }
            w.edit(at, len + 2, &refs);
            return at + len + 2;
        }
    }
    w.edit(at, 1, "&amp;");
    at + 1
}

/// The character a numeric reference stands for, as a browser reads it: C1 codes are
/// windows-1252; characters XML forbids give `None`.
fn char_for_reference(code: u32) -> Option<char> {
    let c = if (0x80..=0x9F).contains(&code) {
        let byte = [code as u8];
        let (text, _) = WINDOWS_1252.decode_without_bom_handling(&byte);
        text.chars().next()?
    } else {
        char::from_u32(code)?
    };
    let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    ok.then_some(c)
}

// ---------------------------------------------------------------------------------------------
// Dates

const EN_MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Swedish month names, as Polisen writes them in titles too.
const SV_MONTHS: [&str; 12] = crate::police::MONTHS;
const WEEKDAYS: [&str; 14] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "måndag",
    "tisdag",
    "onsdag",
    "torsdag",
    "fredag",
    "lördag",
    "söndag",
];

/// Parses a feed timestamp: RFC 3339 / ISO 8601 (`2024-05-15T08:00:00+02:00`, `…Z`,
/// `2024-05-15 08:00`, `2024-05-15`) and RFC 822-like dates in English or Swedish, full or
/// abbreviated, any case (`tis, 15 maj 2024 08:00:00 +0200`, `Wed, 09 Feb 2022 23:58:26 GMT`,
/// `15 May 2024 08.00 CEST`, `May 15, 2024 08:00`). Zones: numeric, Z, UT/UTC/GMT, CET/CEST and
/// other common abbreviations. A time without a zone is Swedish local time (Europe/Stockholm).
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    parse_iso(s).or_else(|| parse_rfc822ish(s))
}

/// A naive Swedish wall-clock time as UTC (CET/CEST under the EU rule: summer time from the last
/// Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC). A repeated hour (autumn)
/// reads as summer time; a skipped hour (spring) as winter time.
pub fn stockholm_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let summer = (local - TimeDelta::hours(2)).and_utc();
    if is_swedish_summer_time(summer) {
        return summer;
    }
    (local - TimeDelta::hours(1)).and_utc()
}

/// Whether Sweden is on summer time (CEST, UTC+2) at this instant.
pub fn is_swedish_summer_time(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let start = last_sunday(year, 3)
        .and_hms_opt(1, 0, 0)
        .map(|t| t.and_utc());
    let end = last_sunday(year, 10)
        .and_hms_opt(1, 0, 0)
        .map(|t| t.and_utc());
    match (start, end) {
        (Some(start), Some(end)) => at >= start && at < end,
        _ => false,
    }
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_next = NaiveDate::from_ymd_opt(year, month + 1, 1).unwrap_or(NaiveDate::MIN);
    let last = first_next.pred_opt().unwrap_or(first_next);
    last - TimeDelta::days(i64::from(last.weekday().num_days_from_sunday()))
}

/// A small byte cursor for hand-written date grammars.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let len = self.b[self.i..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        if len < min {
            return None;
        }
        let v = self.b[self.i..self.i + len]
            .iter()
            .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
        self.i += len;
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn rest(&self) -> &str {
        std::str::from_utf8(&self.b[self.i..]).unwrap_or("")
    }
}

fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4, 4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.digits(1, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.digits(1, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if c.peek().is_none() {
        return Some(stockholm_to_utc(date.and_time(NaiveTime::MIN)));
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    c.skip_ws();
    let hour = c.digits(1, 2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.digits(2, 2)?;
    let second = if c.eat(b':') { c.digits(2, 2)? } else { 0 };
    if c.eat(b'.') || c.eat(b',') {
        c.digits(1, 12)?; // fractions of a second do not matter for feeds
    }
    let local = local_datetime(date, hour, minute, second)?;
    c.skip_ws();
    match c.rest() {
        "" => Some(stockholm_to_utc(local)),
        zone => Some((local - TimeDelta::seconds(i64::from(zone_offset(zone)?))).and_utc()),
    }
}

/// Date and clock time; 24:00 is the next midnight and a leap second the last normal one.
fn local_datetime(date: NaiveDate, hour: u32, minute: u32, second: u32) -> Option<NaiveDateTime> {
    if hour == 24 && minute == 0 && second == 0 {
        return date
            .checked_add_days(Days::new(1))
            .map(|d| d.and_time(NaiveTime::MIN));
    }
    date.and_hms_opt(hour, minute, second.min(59))
}

/// Seconds east of UTC for a zone written after a time: `Z`, `+0200`, `+02:00`, `+02`, `GMT`,
/// `CEST`, `UTC+2`…
fn zone_offset(zone: &str) -> Option<i32> {
    let z = zone.to_ascii_lowercase();
    let named = match z.as_str() {
        "z" | "ut" | "utc" | "gmt" | "wet" | "-0000" => Some(0),
        "cet" | "met" | "mez" | "bst" | "west" => Some(1),
        "cest" | "mest" | "mesz" | "eet" => Some(2),
        "eest" => Some(3),
        "est" => Some(-5),
        "edt" => Some(-4),
        "cst" => Some(-6),
        "cdt" => Some(-5),
        "mst" => Some(-7),
        "mdt" => Some(-6),
        "pst" => Some(-8),
        "pdt" => Some(-7),
        _ => None,
    };
    if let Some(hours) = named {
        return Some(hours * 3600);
    }
    let numeric = z
        .strip_prefix("utc")
        .or_else(|| z.strip_prefix("gmt"))
        .unwrap_or(&z);
    let sign = match numeric.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut c = Cursor {
        b: numeric.as_bytes(),
        i: 1,
    };
    let hours = c.digits(1, 2)?;
    let minutes = if c.eat(b':') || c.peek().is_some() {
        c.digits(2, 2)?
    } else {
        0
    };
    if c.peek().is_some() || hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
}

/// Month number of an English or Swedish month name or an abbreviation of at least 3 letters
/// ("maj", "okt", "Sept", "mars").
fn month_from_name(word: &str) -> Option<u32> {
    if word.chars().count() < 3 {
        return None;
    }
    (0..12)
        .find(|&i| EN_MONTHS[i].starts_with(word) || SV_MONTHS[i].starts_with(word))
        .map(|i| i as u32 + 1)
}

fn is_weekday(word: &str) -> bool {
    word.chars().count() >= 2 && WEEKDAYS.iter().any(|d| d.starts_with(word))
}

/// A clock time `08:00`, `8:00:15`, `08.00` (Swedish style).
fn parse_clock(token: &str) -> Option<(u32, u32, u32)> {
    let sep = if token.contains(':') { b':' } else { b'.' };
    let mut c = Cursor {
        b: token.as_bytes(),
        i: 0,
    };
    let hour = c.digits(1, 2)?;
    if !c.eat(sep) {
        return None;
    }
    let minute = c.digits(2, 2)?;
    let second = if c.eat(sep) { c.digits(2, 2)? } else { 0 };
    if c.eat(b'.') || c.eat(b',') {
        c.digits(1, 12)?;
    }
    (c.peek().is_none() && minute < 60).then_some((hour, minute, second))
}

/// RFC 822 and the many things feeds write instead: tokens in any reasonable order.
fn parse_rfc822ish(s: &str) -> Option<DateTime<Utc>> {
    let lower = s.to_lowercase();
    // A parenthesised comment ("+0200 (CEST)") says nothing the numeric zone does not.
    let lower = lower.split('(').next().unwrap_or("");
    let (mut day, mut month, mut year, mut clock, mut zone) = (None, None, None, None, None);
    for raw in lower.split(|c: char| c.is_whitespace() || c == ',') {
        let token = raw.trim_end_matches('.');
        if token.is_empty() || token == "kl" || token == "at" {
            continue;
        }
        if token.bytes().all(|c| c.is_ascii_digit()) {
            let v: u32 = token.parse().ok()?;
            match token.len() {
                4 if year.is_none() => year = Some(i32::try_from(v).ok()?),
                1 | 2 if day.is_none() => day = Some(v),
                2 if year.is_none() => {
                    year = Some(if v < 50 {
                        2000 + v as i32
                    } else {
                        1900 + v as i32
                    })
                }
                _ => return None,
            }
        } else if clock.is_none() && token.starts_with(|c: char| c.is_ascii_digit()) {
            clock = Some(parse_clock(token)?);
        } else if let Some(m) = month_from_name(token).filter(|_| month.is_none()) {
            month = Some(m);
        } else if is_weekday(token) {
            continue;
        } else if zone.is_none() {
            zone = Some(zone_offset(token)?);
        } else {
            return None;
        }
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    let (hour, minute, second) = clock.unwrap_or((0, 0, 0));
    let local = local_datetime(date, hour, minute, second)?;
    Some(match zone {
        Some(offset) => (local - TimeDelta::seconds(i64::from(offset))).and_utc(),
        None => stockholm_to_utc(local),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn timestamps() {
        let cases = [
            ("tis, 15 maj 2024 08:00:00 +0200", "2024-05-15T06:00:00Z"),
            ("mån, 14 okt 2024 08:00:00 +0200", "2024-10-14T06:00:00Z"),
            ("Wed, 09 Feb 2022 23:58:26 +0100", "2022-02-09T22:58:26Z"),
            ("TISDAG 15 MAJ 2024 08:00", "2024-05-15T06:00:00Z"),
            ("15 januari 2024 08.00", "2024-01-15T07:00:00Z"),
            ("Thurs, 13 Jul 2011 07:38:00 GMT", "2011-07-13T07:38:00Z"),
            ("Sun, 1 Mar 2026 12:00:00 CET", "2026-03-01T11:00:00Z"),
            ("Sun, 1 Jun 2026 12:00:00 CEST", "2026-06-01T10:00:00Z"),
            ("May 15, 2024 08:00:00 +0000 (UTC)", "2024-05-15T08:00:00Z"),
            ("2024-05-15T08:00:00+02:00", "2024-05-15T06:00:00Z"),
            ("2024-05-15T08:00:00.123Z", "2024-05-15T08:00:00Z"),
            ("2024-05-15T08:00:00+0200", "2024-05-15T06:00:00Z"),
            ("2024-05-15 08:00:00", "2024-05-15T06:00:00Z"),
            ("2024-12-15 08:00", "2024-12-15T07:00:00Z"),
            ("2024-05-15", "2024-05-14T22:00:00Z"),
            // DST edges: 2024 summer time 31 March 01:00 UTC to 27 October 01:00 UTC.
            ("2024-03-31 01:59:59", "2024-03-31T00:59:59Z"),
            ("2024-03-31 03:00:00", "2024-03-31T01:00:00Z"),
            ("2024-10-27 02:30:00", "2024-10-27T00:30:00Z"),
            ("2024-10-27 03:00:00", "2024-10-27T02:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_timestamp(input), utc(want), "{input}");
        }
        for bad in [
            "",
            "igår",
            "15 maj",
            "2024-13-01",
            "Wed, 32 Feb 2022 10:00:00 GMT",
            "12:00 XYZ 1 May 2024",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn repairs_entities_and_versions() {
        let r = repair_xml(
            "<rss><channel><title>Sm&ouml;r &amp; AT&T &nbsp;&lol; &#0;&#150;</title></channel></rss>",
        );
        assert_eq!(
            r.text,
            "<rss version=\"2.0\"><channel><title>Sm&#246;r &amp; AT&amp;T &#160;&amp;lol; &#8211;</title></channel></rss>"
        );
        assert_eq!(r.root.as_deref(), Some("rss"));
        assert_eq!(
            fix_rss_version("<rss version='0.94' xmlns:a=\"x\">").as_deref(),
            Some("<rss version='2.0' xmlns:a=\"x\">")
        );
        assert_eq!(fix_rss_version("<rss version=\"2.0\">"), None);
        let r = repair_xml("<a><![CDATA[a & b < c]]><!-- & --> 1 < 2</a>");
        assert_eq!(r.text, "<a><![CDATA[a & b < c]]><!-- & --> 1 &lt; 2</a>");
    }

    #[test]
    fn maps_offsets_back() {
        let r = repair_xml("<a>&nbsp;&nbsp;<b</a>");
        let pos = r.text.find("<b").unwrap_or(0);
        assert_eq!(r.source_offset(pos), "<a>&nbsp;&nbsp;".len());
    }

    #[test]
    fn decodes() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe5\xe4\xf6</a>";
        assert!(decode(latin1, None).text.ends_with("<a>åäö</a>"));
        let utf8_mislabelled =
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>åäö</a>".as_bytes();
        assert!(decode(utf8_mislabelled, None).text.ends_with("<a>åäö</a>"));
        let undeclared_latin1 = b"<a>\xe5\xe4\xf6</a>";
        assert_eq!(decode(undeclared_latin1, None).text, "<a>åäö</a>");
        let http_latin2 = b"<a>\xb1</a>";
        assert_eq!(
            decode(http_latin2, Some("text/xml; charset=\"ISO-8859-2\"")).text,
            "<a>ą</a>"
        );
        let d = decode(b"\xef\xbb\xbf<a/>", None);
        assert_eq!((d.text.as_str(), d.original_offset(1)), ("<a/>", 4));
    }
}
