//! Plain data types that flow between the pipeline stages; no behaviour beyond small helpers.

use chrono::{DateTime, Utc};

/// One entry as a feed parser saw it, before normalization. Text fields are raw (may hold HTML).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedItem {
    pub guid: Option<String>,
    /// The entry's alternate link, possibly relative.
    pub link: Option<String>,
    pub title: Option<String>,
    /// Short description (RSS `description`, Atom `summary`), raw HTML or text.
    pub summary: Option<String>,
    /// Full content (`content:encoded`, Atom `content`), raw HTML or text.
    pub content: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub categories: Vec<String>,
    pub author: Option<String>,
}

/// A whole parsed feed document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The site link (`channel/link`, Atom alternate link).
    pub link: Option<String>,
    pub id: Option<String>,
    pub updated: Option<DateTime<Utc>>,
    /// RSS `<ttl>`: minutes the publisher says the feed may be cached.
    pub ttl_minutes: Option<u32>,
    pub items: Vec<ParsedItem>,
}

/// What a Polisen event title says: `27 november 18:57, Trafikolycka, personskada, Kumla`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoliceTitle {
    /// The event type, which may itself contain commas: "Trafikolycka, personskada".
    pub event_type: String,
    /// The last comma field: a kommun or a län name as Polisen writes it.
    pub place: String,
    /// The `Uppdaterad …` stamp when the event was edited.
    pub updated_stamp: Option<String>,
    /// The time field as written: "27 november 18:57", "22 augusti 17.59", "2017-04-07 17:04".
    pub time_head: String,
}

/// An item after normalization: absolute links, UTC times, sanitized HTML, a stable identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Identity inside its source, stable across polls and title edits:
    /// `guid:<guid>`, else `link:<canonical link>`, else `hash:<content hash>`.
    pub key: String,
    pub guid: Option<String>,
    /// Absolute link to the original article.
    pub link: Option<String>,
    /// The link with tracking parameters, fragment, default port etc. removed; used across sources.
    pub canonical_link: Option<String>,
    /// Display title, without Polisen's `Uppdaterad …` prefix.
    pub title: String,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    /// Plain text of summary or content (tags stripped, entities decoded), for tagging.
    pub text: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub categories: Vec<String>,
    pub author: Option<String>,
    pub police: Option<PoliceTitle>,
    /// Hash of title + content; a change means the source edited the item.
    pub content_hash: String,
}

/// Why a tag was given: the text that matched and the rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// The SCB code the evidence supports.
    pub code: String,
    /// The text as it appeared in the item.
    pub matched: String,
    /// A short rule name such as `police-title`, `kommun-name`, `locality`, `fallback`.
    pub rule: String,
}

/// The regions an item is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tags {
    /// Kommun codes, sorted, unique.
    pub kommuner: Vec<String>,
    /// Län codes, sorted, unique; includes the län of every kommun.
    pub lan: Vec<String>,
    pub evidence: Vec<Evidence>,
}

impl Tags {
    pub fn is_empty(&self) -> bool {
        self.kommuner.is_empty() && self.lan.is_empty()
    }
}

/// A stored source as feeds cite it (`atom:source`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRef {
    /// The config id, e.g. `polisen-orebro-handelser`.
    pub id: String,
    /// The feed's own title, or the id when the feed had none.
    pub title: String,
    /// The feed URL that was polled.
    pub feed_url: String,
    /// The site link the feed names, if any.
    pub site_link: Option<String>,
    /// When the source last delivered new or changed content.
    pub updated: Option<DateTime<Utc>>,
}

/// One entry as the renderer gets it from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Stable opaque id (hex), never changes across polls, edits or restarts.
    pub uid: String,
    pub title: String,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Police event type or the source's own categories.
    pub categories: Vec<String>,
    pub author: Option<String>,
    /// Region codes the item is tagged with (kommuner and län).
    pub regions: Vec<String>,
    /// The first source that carried the item.
    pub source: SourceRef,
    /// Ids of every source that carried it or another report of its story (including `source`).
    pub carried_by: Vec<String>,
    /// The story's other reports (near-duplicates from other sources), earliest first.
    pub related: Vec<Related>,
}

/// Another report of the same story: `link rel="related"` in Atom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub title: String,
    pub link: String,
}
