//! Filters a reader can put on any feed (`?type=Trafikolycka&q=brand&limit=10`): parsing, the one
//! canonical query string of each filter, and which entries it keeps.

use super::pct_encode;
use crate::model::FeedEntry;

/// Longest query string considered; longer ones are refused rather than parsed.
pub const MAX_QUERY_LEN: usize = 512;

/// Largest `limit`; feeds hold fewer entries than this anyway.
const MAX_LIMIT: usize = 1000;

/// At most this many `type` values, so a request cannot make matching arbitrarily slow.
const MAX_TYPES: usize = 8;

/// A reader's filter on a feed. Empty parts mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Event types (`type=`, repeatable, any of them): as written, deduplicated case-insensitively.
    types: Vec<String>,
    /// Free-text search (`q=`): every whitespace-separated word must occur.
    q: Option<String>,
    /// At most this many entries (`limit=`), newest first.
    limit: Option<usize>,
}

/// Why a filter query was refused (the server answers 400 with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("query too long: at most {MAX_QUERY_LEN} bytes")]
    TooLong,
    #[error("limit must be a whole number from 1 to {MAX_LIMIT}, not {0:?}")]
    BadLimit(String),
    #[error("{0} may be given only once")]
    Repeated(&'static str),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("at most {MAX_TYPES} type values")]
    TooManyTypes,
}

impl Filter {
    /// Reads a raw query string (without `?`). `Ok(None)` when it names no filter parameter
    /// at all (a cache-buster such as `?_=123`), meaning the plain feed; unknown parameters
    /// next to known ones are ignored.
    pub fn from_query(raw: &str) -> Result<Option<Filter>, FilterError> {
        if raw.len() > MAX_QUERY_LEN {
            return Err(FilterError::TooLong);
        }
        let mut f = Filter::default();
        let mut seen = false;
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                "type" => {
                    seen = true;
                    if value.is_empty() {
                        return Err(FilterError::Empty("type"));
                    }
                    if !f
                        .types
                        .iter()
                        .any(|t| t.to_lowercase() == value.to_lowercase())
                    {
                        if f.types.len() == MAX_TYPES {
                            return Err(FilterError::TooManyTypes);
                        }
                        f.types.push(value.to_string());
                    }
                }
                "q" => {
                    seen = true;
                    if f.q.is_some() {
                        return Err(FilterError::Repeated("q"));
                    }
                    // Runs of whitespace collapse so that `a  b` and `a b` are one filter.
                    let words: Vec<&str> = value.split_whitespace().collect();
                    if words.is_empty() {
                        return Err(FilterError::Empty("q"));
                    }
                    f.q = Some(words.join(" "));
                }
                "limit" => {
                    seen = true;
                    if f.limit.is_some() {
                        return Err(FilterError::Repeated("limit"));
                    }
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n) && !value.starts_with('+'))
                        .ok_or_else(|| FilterError::BadLimit(value.to_string()))?;
                    f.limit = Some(n);
                }
                _ => {}
            }
        }
        Ok(seen.then_some(f))
    }

    /// The canonical query string: `type=…` (in the order given), then `q=…`, then `limit=N`,
    /// values percent-encoded (unreserved characters only, upper-case hex). The server
    /// redirects any other spelling here, so every filtered view has one URL, and that URL is
    /// the view's `rel="self"` link.
    pub fn query(&self) -> String {
        let mut parts: Vec<String> = self
            .types
            .iter()
            .map(|t| format!("type={}", pct_encode(t, b"")))
            .collect();
        if let Some(q) = &self.q {
            parts.push(format!("q={}", pct_encode(q, b"")));
        }
        if let Some(n) = self.limit {
            parts.push(format!("limit={n}"));
        }
        parts.join("&")
    }

    /// A short Swedish description for feed titles: "Trafikolycka · ”brand” · högst 10".
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.types.is_empty() {
            parts.push(self.types.join(" eller "));
        }
        if let Some(q) = &self.q {
            parts.push(format!("”{q}”"));
        }
        if let Some(n) = self.limit {
            parts.push(format!("högst {n}"));
        }
        parts.join(" · ")
    }

    /// Whether `e` passes the type and search parts (the limit applies to a list, see `apply`).
    ///
    /// A type matches a category equal to it or starting with it and a comma, ignoring case, so
    /// `Trafikolycka` keeps Polisen's "Trafikolycka, personskada" too.
    pub fn matches(&self, e: &FeedEntry) -> bool {
        let type_ok = self.types.is_empty()
            || self.types.iter().any(|t| {
                let t = t.to_lowercase();
                e.categories.iter().any(|c| {
                    let c = c.trim().to_lowercase();
                    c == t
                        || c.strip_prefix(t.as_str())
                            .is_some_and(|rest| rest.starts_with(','))
                })
            });
        if !type_ok {
            return false;
        }
        let Some(q) = &self.q else { return true };
        let mut hay = e.title.to_lowercase();
        for html in [e.summary.as_deref(), e.content.as_deref()]
            .into_iter()
            .flatten()
        {
            hay.push('\n');
            hay.push_str(&strip_tags(html).to_lowercase());
        }
        q.to_lowercase().split_whitespace().all(|w| hay.contains(w))
    }

    /// The entries (newest first) that pass, at most `limit` of them.
    pub fn apply(&self, entries: &[FeedEntry]) -> Vec<FeedEntry> {
        entries
            .iter()
            .filter(|e| self.matches(e))
            .take(self.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

/// The text of stored (already sanitized) HTML, tags dropped, so that a search for `href` or
/// `strong` does not match markup. Entities stay as written: the sanitizer only leaves `&amp;`,
/// `&lt;`, `&gt;`, `&quot;` and `&nbsp;`, which nobody searches for.
pub(crate) fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => in_tag = true,
            (true, '>') => {
                in_tag = false;
                out.push(' ');
            }
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_queries() {
        for (raw, want) in [
            (
                "limit=5&type=Trafikolycka",
                Some("type=Trafikolycka&limit=5"),
            ),
            ("q=%C3%B6rebro++brand&x=1", Some("q=%C3%B6rebro%20brand")),
            (
                "type=R%C3%A5n&type=r%C3%A5n&type=Brand",
                Some("type=R%C3%A5n&type=Brand"),
            ),
            ("_=123", None),
            ("", None),
        ] {
            let got = Filter::from_query(raw).unwrap().map(|f| f.query());
            assert_eq!(got.as_deref(), want, "{raw}");
        }
    }

    #[test]
    fn bad_queries() {
        for (raw, want) in [
            ("limit=0", FilterError::BadLimit("0".into())),
            ("limit=1001", FilterError::BadLimit("1001".into())),
            ("limit=-1", FilterError::BadLimit("-1".into())),
            ("limit=%2B5", FilterError::BadLimit("+5".into())),
            ("limit=5&limit=6", FilterError::Repeated("limit")),
            ("q=a&q=b", FilterError::Repeated("q")),
            ("q=%20", FilterError::Empty("q")),
            ("type=", FilterError::Empty("type")),
        ] {
            assert_eq!(Filter::from_query(raw), Err(want), "{raw}");
        }
        assert_eq!(
            Filter::from_query(&"q=a".repeat(200)),
            Err(FilterError::TooLong)
        );
    }

    #[test]
    fn strip_tags_keeps_text() {
        assert_eq!(
            strip_tags("<p>Brand i <b>Kumla</b></p>"),
            " Brand i  Kumla  "
        );
    }
}
