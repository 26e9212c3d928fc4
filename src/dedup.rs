//! Near-duplicate story detection: decides whether two items tell the same story (a press
//! release and a local rewrite of it, county and national copies, edited versions), and keeps an
//! index of recent items so a new item finds its story quickly. Pure: no I/O, no SQL.
//!
//! The decision, in order (all must pass):
//! 1. both texts are long enough to judge ([`signature`] is `Some`): Polisen's one-line
//!    summaries repeat word for word for unrelated events, so short texts never merge;
//! 2. the items are at most the window apart (3 days by default);
//! 3. the places agree: when both carry kommun codes they share one, and likewise for län;
//! 4. two Polisen event titles name the same time stamp and place;
//! 5. the numbers agree: when both texts hold at least two distinct numbers, at least half of
//!    the smaller set is in the other (weekly "results of traffic controls" share their template
//!    and differ in every figure, while a rewrite keeps the release's figures);
//! 6. enough of the shorter text is contained in the longer one, estimated from word 5-gram
//!    MinHash: ≥ 0.30 when published within 12 hours, ≥ 0.70 when further apart. Copies and
//!    rewrites appear within hours; what recurs a day or more later with a shared template
//!    (the same notice for another event, a follow-up quoting the background) must share
//!    nearly all of its text to count as the same story.
//!
//! A follow-up a day later with mostly new text is a different story. The thresholds were set on
//! the even-numbered pairs of `eval/dedup-pairs.jsonl`; see `eval/DEDUP.md`.

mod index;
mod signature;

use chrono::{DateTime, Duration, Utc};

pub use index::StoryIndex;
pub use signature::{MIN_HASHES, MIN_SHINGLES, MIN_WORDS, SHINGLE_WORDS, Signature, signature};

/// How far apart two items may be published and still be one story, unless the index is
/// built with another window.
pub const DEFAULT_WINDOW: Duration = Duration::days(3);
/// Items published at most this far apart use the lenient containment threshold.
const CLOSE_IN_TIME: Duration = Duration::hours(12);
/// Containment needed when published close together (rewrites keep ≥ 0.38 on the tune split,
/// unrelated template texts reach 0.22).
const CLOSE_CONTAINMENT: f64 = 0.30;
/// Containment needed when published further apart than [`CLOSE_IN_TIME`].
const FAR_CONTAINMENT: f64 = 0.70;
/// Equal MinHash values needed before any estimate is trusted: one or two of 128 can come from
/// a single shared stock phrase.
pub(crate) const MIN_MATCHES: usize = 3;
/// Share of the smaller set of numbers that must occur in the other text.
const NUMBER_OVERLAP: f64 = 0.5;

/// What the matcher knows about one item.
#[derive(Debug, Clone, Copy)]
pub struct StoryItem<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub published: DateTime<Utc>,
    /// Kommun (4-digit) and län (2-digit) codes the item is tagged with.
    pub regions: &'a [String],
}

/// The pairwise decision the index applies: whether `a` and `b` tell the same story.
pub fn same_story(a: &StoryItem, b: &StoryItem) -> bool {
    let (Some(sa), Some(sb)) = (signature(a.title, a.text), signature(b.title, b.text)) else {
        return false;
    };
    let a = Judged {
        sig: &sa,
        published: a.published,
        regions: a.regions,
    };
    let b = Judged {
        sig: &sb,
        published: b.published,
        regions: b.regions,
    };
    story_score(&a, &b, DEFAULT_WINDOW).is_some()
}

/// One side of a decision: a signature and the facts kept beside it.
pub(crate) struct Judged<'a> {
    pub sig: &'a Signature,
    pub published: DateTime<Utc>,
    pub regions: &'a [String],
}

/// The estimated containment when `a` and `b` are the same story, else `None`.
pub(crate) fn story_score(a: &Judged, b: &Judged, window: Duration) -> Option<f64> {
    let apart = (a.published - b.published).abs();
    if apart > window || !regions_compatible(a.regions, b.regions) {
        return None;
    }
    if a.sig.event != 0 && b.sig.event != 0 && a.sig.event != b.sig.event {
        return None;
    }
    if numbers_conflict(a.sig, b.sig) {
        return None;
    }
    let matches = a
        .sig
        .mins
        .iter()
        .zip(b.sig.mins.iter())
        .filter(|(x, y)| x == y)
        .count();
    if matches < MIN_MATCHES {
        return None;
    }
    let c = containment(matches, a.sig.shingles, b.sig.shingles);
    let needed = if apart <= CLOSE_IN_TIME {
        CLOSE_CONTAINMENT
    } else {
        FAR_CONTAINMENT
    };
    (c >= needed).then_some(c)
}

/// Share of the smaller shingle set found in the larger, from the MinHash Jaccard estimate
/// `J = matches / K`: |A ∩ B| = J (|A| + |B|) / (1 + J). Containment rather than Jaccard,
/// because a rewrite that cuts half the release still consists of the release's sentences.
fn containment(matches: usize, a: u16, b: u16) -> f64 {
    let j = matches as f64 / MIN_HASHES as f64;
    let (a, b) = (f64::from(a), f64::from(b));
    let both = j / (1.0 + j) * (a + b);
    (both / a.min(b)).min(1.0)
}

/// Different places never merge: when both items carry kommun codes they must share one, and
/// when both carry län codes they must share one. An untagged (national) item agrees with all.
fn regions_compatible(a: &[String], b: &[String]) -> bool {
    let is_kommun = |r: &&String| r.len() == 4 && r.bytes().all(|c| c.is_ascii_digit());
    let is_lan = |r: &&String| r.len() == 2 && r.bytes().all(|c| c.is_ascii_digit());
    let agree = |f: &dyn Fn(&&String) -> bool| {
        let mut xs = a.iter().filter(f).peekable();
        let mut ys = b.iter().filter(f).peekable();
        if xs.peek().is_none() || ys.peek().is_none() {
            return true;
        }
        xs.any(|x| b.iter().filter(f).any(|y| y == x))
    };
    agree(&is_kommun) && agree(&is_lan)
}

/// Whether the texts' numbers say they report different facts. Uses the bottom-k samples: when
/// a sample was cut, both are compared only below the smaller cut-off, where both are complete.
fn numbers_conflict(a: &Signature, b: &Signature) -> bool {
    if a.numbers < 2 || b.numbers < 2 {
        return false;
    }
    let cut = |s: &Signature| {
        if usize::from(s.numbers) > s.number_sample.len() {
            s.number_sample.last().copied().unwrap_or(u16::MAX)
        } else {
            u16::MAX
        }
    };
    let limit = cut(a).min(cut(b));
    let xs: Vec<u16> = a.number_sample.iter().copied().filter(|&v| v <= limit).collect();
    let ys: Vec<u16> = b.number_sample.iter().copied().filter(|&v| v <= limit).collect();
    let smaller = xs.len().min(ys.len());
    if smaller < 2 {
        return false;
    }
    let shared = xs.iter().filter(|v| ys.binary_search(v).is_ok()).count();
    (shared as f64) < NUMBER_OVERLAP * smaller as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn region_rule() {
        let kumla = codes(&["18", "1881"]);
        let hallsberg = codes(&["18", "1861"]);
        let lan_only = codes(&["18"]);
        let other_lan = codes(&["17"]);
        assert!(!regions_compatible(&kumla, &hallsberg));
        assert!(regions_compatible(&kumla, &lan_only));
        assert!(regions_compatible(&kumla, &[]));
        assert!(!regions_compatible(&lan_only, &other_lan));
        assert!(regions_compatible(
            &codes(&["18", "1881", "1861"]),
            &hallsberg
        ));
    }

    #[test]
    fn containment_estimate() {
        assert!((containment(MIN_HASHES, 80, 80) - 1.0).abs() < 1e-9);
        assert_eq!(containment(0, 80, 80), 0.0);
        // Half the shingles shared between equal sets: J = 1/3.
        assert!((containment(MIN_HASHES / 3, 90, 90) - 0.5).abs() < 0.01);
    }
}
