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
//! 6. and one of two kinds of evidence:
//!    - *copied text*: enough of the shorter text's word 5-grams occur in the longer one
//!      (containment, exact for texts up to about 260 words, see [`Signature`]): ≥ 0.30 when
//!      published within 12 hours, ≥ 0.40 when further apart. Copies and rewrites appear within
//!      hours; what recurs a day later with a shared template (the same kind of notice for
//!      another event) must share more;
//!    - *a heavy rewrite*, which keeps the release's facts and short phrases but rewords and
//!      reorders its sentences, so that few 5-word runs survive. Accepted only under strict
//!      conditions: published within 12 hours, tagged with a common kommun (an untagged item
//!      does not count), both texts at least 40 words, no number of one missing from the other
//!      (at least half of the smaller set shared even when a text holds a single number: two
//!      court reports from one court differ in the age of the accused), at least two names in
//!      common (a place, street, hospital, company), and ≥ 0.08 of the shorter text's word
//!      3-grams (at least 5) in the longer one. A follow-up that day names the same people and
//!      places but in new sentences (≤ 0.06 of its 3-grams on the tune set).
//!
//! A follow-up a day later with mostly new text is a different story. The thresholds were set on
//! `eval/dedup-pairs.jsonl` (the tune set) and checked once on `eval/dedup-report.jsonl`; see
//! `eval/README.md`.

mod index;
mod signature;

use chrono::{DateTime, Duration, Utc};

pub use index::StoryIndex;
pub use signature::{
    MIN_SHINGLES, MIN_WORDS, NAME_SAMPLE, SHINGLE_WORDS, SKETCH_SIZE, Signature,
    TRIGRAM_SKETCH_SIZE, signature,
};

/// How far apart two items may be published and still be one story, unless the index is
/// built with another window.
pub const DEFAULT_WINDOW: Duration = Duration::days(3);
/// Items published at most this far apart use the lenient containment threshold.
const CLOSE_IN_TIME: Duration = Duration::hours(12);
/// Containment needed when published close together: on the tune split, rewrites that are
/// not wholly reworded keep ≥ 0.37, unrelated texts on the same topic reach 0.24.
const CLOSE_CONTAINMENT: f64 = 0.30;
/// Containment needed when published further apart than [`CLOSE_IN_TIME`]: a train-disruption
/// notice and the next day's notice for another fault on the same line share 0.33.
const FAR_CONTAINMENT: f64 = 0.40;
/// Shared shingles needed before any estimate is trusted: one or two can come from a single
/// shared stock phrase.
pub(crate) const MIN_MATCHES: usize = 3;
/// Share of the smaller set of numbers that must occur in the other text.
const NUMBER_OVERLAP: f64 = 0.5;
/// Words each text needs before a heavy rewrite is considered: a short text shares a few
/// 3-grams and two names with any report from the same place.
const HEAVY_MIN_WORDS: u16 = 40;
/// 3-gram containment a heavy rewrite needs: on the tune set, heavy rewrites and pairs of two
/// rewrites keep ≥ 0.10, follow-ups the same day with new text ≤ 0.06; the threshold lies between.
const HEAVY_CONTAINMENT: f64 = 0.08;
/// Shared 3-grams a heavy rewrite needs at least: one stock phrase gives two or three.
pub(crate) const HEAVY_MIN_TRIGRAMS: usize = 5;
/// Names both texts must mention: the town alone is shared by every report from it.
pub(crate) const HEAVY_MIN_NAMES: usize = 2;

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

/// How closely `a` and `b` match when they are the same story, else `None`. Copied text ranks
/// above a heavy rewrite: 1 + the 5-gram containment for copied text, the 3-gram containment
/// for a heavy rewrite.
pub(crate) fn story_score(a: &Judged, b: &Judged, window: Duration) -> Option<f64> {
    let apart = (a.published - b.published).abs();
    if apart > window || !regions_compatible(a.regions, b.regions) {
        return None;
    }
    if a.sig.event != 0 && b.sig.event != 0 && a.sig.event != b.sig.event {
        return None;
    }
    if numbers_conflict(a.sig, b.sig, 2) {
        return None;
    }
    let (shared, c) = containment(a.sig, b.sig);
    let needed = if apart <= CLOSE_IN_TIME {
        CLOSE_CONTAINMENT
    } else {
        FAR_CONTAINMENT
    };
    if shared >= MIN_MATCHES && c >= needed {
        return Some(1.0 + c);
    }
    heavy_rewrite(a, b, apart)
}

/// The 3-gram containment when `b` is a heavy rewrite of `a` (or both of one release), under
/// the strict conditions of rule 6 in the module docs.
fn heavy_rewrite(a: &Judged, b: &Judged, apart: Duration) -> Option<f64> {
    if apart > CLOSE_IN_TIME
        || a.sig.words < HEAVY_MIN_WORDS
        || b.sig.words < HEAVY_MIN_WORDS
        || !share_kommun(a.regions, b.regions)
        || numbers_conflict(a.sig, b.sig, 1)
        || shared_names(a.sig, b.sig) < HEAVY_MIN_NAMES
    {
        return None;
    }
    let (shared, c) = trigram_containment(a.sig, b.sig);
    (shared >= HEAVY_MIN_TRIGRAMS && c >= HEAVY_CONTAINMENT).then_some(c)
}

/// Shared shingles, and the share of the smaller text's shingles found in the larger one.
/// Containment rather than Jaccard, because a rewrite that cuts half the release still consists
/// of the release's sentences. Both sketches are complete below the smaller of their cut-offs,
/// so the sample there gives the answer: exact when neither sketch is cut.
fn containment(a: &Signature, b: &Signature) -> (usize, f64) {
    bottom_k_containment(
        (&a.sketch, a.is_cut(), a.shingles),
        (&b.sketch, b.is_cut(), b.shingles),
    )
}

/// [`containment`] for the 3-gram sketches.
fn trigram_containment(a: &Signature, b: &Signature) -> (usize, f64) {
    bottom_k_containment(
        (&a.trigram_sketch, a.trigrams_cut(), a.trigrams),
        (&b.trigram_sketch, b.trigrams_cut(), b.trigrams),
    )
}

/// Shared values of two bottom-k samples, each given as (ascending sample, whether it was cut,
/// distinct values in the text), and the share of the smaller text's values in the other.
fn bottom_k_containment<T: Ord + Copy>(a: (&[T], bool, u16), b: (&[T], bool, u16)) -> (usize, f64) {
    let cutoff = |(s, cut, _): (&[T], bool, u16)| if cut { s.last().copied() } else { None };
    let limit = match (cutoff(a), cutoff(b)) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    let below = |s: &[T]| match limit {
        Some(l) => s.partition_point(|&v| v <= l),
        None => s.len(),
    };
    let xs = &a.0[..below(a.0)];
    let ys = &b.0[..below(b.0)];
    let shared = common(xs, ys);
    let smaller = if a.2 <= b.2 { xs.len() } else { ys.len() };
    if smaller == 0 {
        return (shared, 0.0);
    }
    (shared, (shared as f64 / smaller as f64).min(1.0))
}

/// Names both texts mention, counted below the smaller cut-off of the two name samples.
fn shared_names(a: &Signature, b: &Signature) -> usize {
    let cutoff = |s: &Signature| {
        if s.names_cut() {
            s.name_sample.last().copied().unwrap_or(u32::MAX)
        } else {
            u32::MAX
        }
    };
    let limit = cutoff(a).min(cutoff(b));
    let below = |s: &[u32]| s.partition_point(|&v| v <= limit);
    common(
        &a.name_sample[..below(&a.name_sample)],
        &b.name_sample[..below(&b.name_sample)],
    )
}

/// Values in both ascending slices.
fn common<T: Ord>(xs: &[T], ys: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < xs.len() && j < ys.len() {
        match xs[i].cmp(&ys[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
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

/// Whether both items are tagged with a kommun and have one in common. Stricter than
/// [`regions_compatible`], where an untagged item agrees with every place.
fn share_kommun(a: &[String], b: &[String]) -> bool {
    let is_kommun = |r: &&String| r.len() == 4 && r.bytes().all(|c| c.is_ascii_digit());
    a.iter()
        .filter(is_kommun)
        .any(|x| b.iter().filter(is_kommun).any(|y| y == x))
}

/// Whether the texts' numbers say they report different facts: both hold at least `min`
/// distinct numbers and less than half of the smaller set is in the other. Uses the bottom-k
/// samples: when a sample was cut, both are compared only below the smaller cut-off, where both
/// are complete.
fn numbers_conflict(a: &Signature, b: &Signature, min: u8) -> bool {
    if a.numbers < min || b.numbers < min {
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
    let xs: Vec<u16> = a
        .number_sample
        .iter()
        .copied()
        .filter(|&v| v <= limit)
        .collect();
    let ys: Vec<u16> = b
        .number_sample
        .iter()
        .copied()
        .filter(|&v| v <= limit)
        .collect();
    let smaller = xs.len().min(ys.len());
    if smaller < usize::from(min) || smaller == 0 {
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
        // A heavy rewrite needs a kommun on both sides, in common.
        assert!(share_kommun(&codes(&["18", "1881", "1861"]), &hallsberg));
        assert!(!share_kommun(&kumla, &lan_only));
        assert!(!share_kommun(&kumla, &[]));
        assert!(!share_kommun(&kumla, &hallsberg));
    }

    #[test]
    fn containment_of_sketches() {
        let sig = |sketch: Vec<u32>, shingles: u16| Signature {
            shingles,
            event: 0,
            numbers: 0,
            number_sample: Vec::new(),
            sketch,
            words: 100,
            trigrams: 0,
            trigram_sketch: Vec::new(),
            names: 0,
            name_sample: Vec::new(),
        };
        let whole = sig((0..100).map(|v| v * 10).collect(), 100);
        let half = sig((0..50).map(|v| v * 20).collect(), 50);
        assert_eq!(containment(&whole, &half), (50, 1.0));
        assert_eq!(containment(&half, &whole), (50, 1.0));
        // A cut sketch: only values up to its last one are compared.
        let cut = sig((0..10).map(|v| v * 10).collect(), 1000);
        assert_eq!(containment(&half, &cut), (5, 1.0));
        let disjoint = sig((0..60).map(|v| v * 10 + 1).collect(), 60);
        assert_eq!(containment(&whole, &disjoint), (0, 0.0));
    }
}
