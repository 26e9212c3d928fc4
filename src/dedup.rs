//! Near-duplicate story detection: decides whether two items tell the same story (a press
//! release and a local rewrite of it, county and national copies, edited versions), and keeps an
//! index of recent items so a new item finds its story quickly. Pure: no I/O, no SQL.
//!
//! The decision, in order (all must pass):
//! 1. both texts are long enough to judge: Polisen's one-line summaries repeat word for word for
//!    unrelated events, so short texts never merge by their words. A short text with a Polisen
//!    event title has a signature all the same, and is the same story as another Polisen event
//!    exactly when both titles name the same event (step 4: a county and a national copy, an
//!    "Uppdaterad" edit), and as a local site's longer report of it when they share the place,
//!    the facts and most of the event's content words (see [`event_report`]);
//! 2. the items are at most the window apart (3 days by default);
//! 3. the places agree: when both carry kommun codes they share one, and likewise for län;
//! 4. two Polisen event titles name the same time stamp, and the same place or places in one
//!    kommun (a county feed's "Visby" and the national feed's "Gotland");
//! 5. the numbers agree: when both texts hold at least two distinct numbers, at least half of
//!    the smaller set is in the other (weekly "results of traffic controls" share their template
//!    and differ in every figure, while a rewrite keeps the release's figures; "1 200" is one
//!    number);
//! 6. the names agree: when both texts name at least two specific things (streets, districts,
//!    people: see [`signature`]; compared by their first six letters without a genitive s, as
//!    "Gränsö" and "Gränsöbadet"), at least a third of the smaller set is in the other (two
//!    road-works notices from one template, one for Drottninggatan and one for Södra
//!    Kungsgatan, share their wording but none of their streets); when each names just one,
//!    it is the same one (a burglary in Nilstorp and one in Värpinge, a grass fire at Visby and
//!    one at Hemse); and when both name streets, they share one (no same-story tune pair names
//!    two different sets of streets, while 18 different-story pairs do);
//! 7. the headlines are not each about something the other report never mentions, a name or a
//!    kommun (two notices of one template: "… detaljplan för Norra Hamnen", "… detaljplan för
//!    Bosvedjan"; two assaults: "… på Ålidhem", "… i centrala Vännäs");
//! 8. then one of these holds:
//!    - *copied text*: at least three word 5-grams are shared, and enough of the shorter text's
//!      5-grams occur in the longer one
//!      (containment, exact for texts up to about 260 words, see [`Signature`]): ≥ 0.30 when
//!      published within 12 hours, ≥ 0.40 when further apart. Copies and rewrites appear within
//!      hours; what recurs a day later with a shared template must share more; or
//!    - the *retelling* paths below need the items within 12 hours, in one place (a shared
//!      kommun, or no kommun on either side and a shared län) and not each with a kommun of its
//!      own besides (two children rescued from Siljan, at Leksand and at Rättvik, share only
//!      their hospital's kommun), every number of the shorter text in the longer one (except
//!      for the last two paths), and titles that do not name different kommuner unless each
//!      item names the other's ("Fallolycka i Växjö" and "Arbetare föll i Alvesta" are two
//!      accidents, even when the second names Växjö's hospital). Then:
//!    - *condensed copy*: a national copy or a brief that retells a release in fewer words keeps
//!      its phrases but not its sentences: ≥ 0.30 of the shorter text's word 3-grams in the
//!      longer one suffice; or
//!    - *named rewrite*: under the same conditions, when the texts share at least two specific
//!      names and two thirds of the smaller set of names, ≥ 0.15 of 3-grams suffice. A rewrite
//!      that rewords the release keeps its streets and places; on the tune pairs, different
//!      stories sharing that many names (follow-ups) kept at most 0.05; or
//!    - *same facts*: within 6 hours, the content words the two texts share weigh ≥ 0.45 of the
//!      lighter text's content words, each word weighted by its rarity in a background of news
//!      texts (`data/content-df.tsv`); ≥ 0.65 when a figure of the shorter text is missing from
//!      the longer one; ≥ 0.35 when the texts state the same event's facts — a shared name or
//!      age, and no other weekday, kind of event, ages or title names —, or ≥ 0.45 for those
//!      6 to 12 hours apart (the next morning's paper). A newspaper's own report
//!      of a release keeps its rare words (the street, "radhus", "mordbrand") while stock words
//!      weigh little; or
//!    - *own account*: a newspaper's own account of an event shares few of the release's words
//!      but many of its rare ones (in at most one in 85 background texts; kommun and
//!      län names aside): at least 6 within 12 hours, 4 within 6 hours, with no other weekday
//!      and no other kind of event named, from two different sources when the index knows them
//!      (one source's items share its bylines and boilerplate). This path also lets an item
//!      with no place at all (a report naming only a district the tagger does not know), or
//!      one naming only the län, join a story in a kommun of that län. See [`own_account`].
//!
//! A follow-up a day later with mostly new text is a different story. The thresholds were set on
//! the tune split of `eval/dedup-pairs.jsonl`; see `eval/README.md`.

mod index;
mod signature;

use chrono::{DateTime, Duration, Utc};

pub use index::StoryIndex;
pub use signature::{MIN_SHINGLES, MIN_WORDS, SHINGLE_WORDS, SKETCH_SIZE, Signature, signature};

/// How far apart two items may be published and still be one story, unless the index is
/// built with another window.
pub const DEFAULT_WINDOW: Duration = Duration::days(3);
/// Items published at most this far apart use the lenient containment threshold.
pub(crate) const CLOSE_IN_TIME: Duration = Duration::hours(12);
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
/// Share of the smaller set of specific names that must occur in the other text.
const NAME_OVERLAP: f64 = 0.34;
/// 3-gram containment a condensed copy needs: on the tune pairs, national copies and briefs of
/// a release keep 0.32–0.58, different events from one kommun within 12 hours at most 0.27.
const CONDENSED_CONTAINMENT: f64 = 0.30;
/// 3-gram containment a named rewrite needs (see the module comment).
const NAMED_CONTAINMENT: f64 = 0.15;
/// Share of the smaller set of names a named rewrite must share (and at least two names).
const NAMED_AGREEMENT: f64 = 0.67;
/// Items published at most this far apart may match on shared content words alone.
const CONTENT_WINDOW: Duration = Duration::hours(6);
/// Weighted content-word containment needed for "same facts" (see the module comment).
const CONTENT_CONTAINMENT: f64 = 0.45;
/// ... and when a figure of the shorter text is missing from the longer one: a rewrite turns
/// "klockan 21.00" into "vid niotiden". On the tune pairs, different stories within 6 hours
/// that pass the other checks reached 0.58; rewrites that change a figure keep 0.63–0.81.
const STRONG_CONTENT_CONTAINMENT: f64 = 0.65;
/// ... and when the facts agree (see [`same_event_facts`]): on the tune pairs no different
/// story within 6 hours passes those checks at all, while heavy rewrites that do keep 0.19 and
/// up; 0.35 leaves a margin.
const EVENT_CONTENT_CONTAINMENT: f64 = 0.35;
/// ... and 6 to 12 hours apart, when the paper's own account comes the next morning: two
/// accidents on one road the same day, morning and evening, share 0.43 of their content words
/// and every fact the signature keeps; heavy rewrites that do keep 0.45–0.69.
const LATE_EVENT_CONTENT_CONTAINMENT: f64 = 0.45;
/// A short Polisen event text needs this many 5-word runs (12 words) to be told apart from
/// Polisen's stock one-liners ("Bilist misstänks för brott.") in [`event_report`].
const EVENT_REPORT_MIN_SHINGLES: usize = 8;
/// Weighted content containment a local report of a short Polisen event needs: on the tune
/// pairs no different story passes the other checks of [`event_report`], while reports that do
/// keep 0.48–1.00 of the event's content words (a newspaper's own account of a 20-word notice
/// keeps its place and kind of event but says "singelolycka" for "kört av vägen").
const EVENT_REPORT_CONTAINMENT: f64 = 0.45;
/// Rare content words a newspaper's own account shares with another report of the event within
/// 12 hours (see [`own_account`]): on the tune pairs, different stories within 12 hours that
/// pass the other checks share at most 5 (follow-ups about a missing man, 6.6 and 7.5 hours
/// after), heavy rewrites 1–13.
const OWN_ACCOUNT_RARE_WORDS: usize = 6;
/// ... and within 6 hours, where no different-story tune pair that passes the other checks
/// shares more than 3.
const NEAR_OWN_ACCOUNT_RARE_WORDS: usize = 4;

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
    matches!(judge(a, b), Verdict::Same { .. })
}

/// The pairwise decision with its reason: the rule that made two items one story, or the check
/// that kept them apart (for `regionfeed match`, and for an operator asking why).
pub fn judge(a: &StoryItem, b: &StoryItem) -> Verdict {
    let (Some(sa), Some(sb)) = (signature(a.title, a.text), signature(b.title, b.text)) else {
        return Verdict::Different(Refusal::TooShort);
    };
    let a = Judged {
        sig: &sa,
        published: a.published,
        regions: a.regions,
        source: None,
    };
    let b = Judged {
        sig: &sb,
        published: b.published,
        regions: b.regions,
        source: None,
    };
    match decide(&a, &b, DEFAULT_WINDOW) {
        Ok((rule, score)) => Verdict::Same { rule, score },
        Err(refusal) => Verdict::Different(refusal),
    }
}

/// A decision on two items, with its reason.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// One story, by this rule; `score` is the containment the rule measured (1.0 for an event
    /// stamp).
    Same { rule: Rule, score: f64 },
    /// Two stories: the first check that kept them apart.
    Different(Refusal),
}

/// The rule that made two items one story (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Two Polisen event titles with the same time stamp and place.
    EventStamp,
    /// A local report of a short Polisen event notice.
    EventReport,
    /// Shared word 5-grams.
    CopiedText,
    /// Shared word 3-grams: a national copy or a brief.
    CondensedCopy,
    /// Shared 3-grams and names: a rewrite that keeps the release's streets and places.
    NamedRewrite,
    /// Shared rarity-weighted content words.
    SameFacts,
    /// Shared content words and the same event's facts.
    SameEvent,
    /// Many shared rare words: a newspaper's own account.
    OwnAccount,
}

/// The check that kept two items apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A text too short to judge by its words, and no event stamp or event report joins it.
    TooShort,
    /// Published further apart than the window (3 days), or than a rule's own window.
    TooFarApart,
    /// Different places: no shared kommun or län where the rule needs one.
    PlacesDiffer,
    /// Two Polisen events with different time stamps or places.
    OtherEvent,
    /// Each headline names something (a name, a kommun) the other item never mentions.
    HeadlinesDiffer,
    /// Different figures.
    NumbersDiffer,
    /// Different streets, districts or people.
    NamesDiffer,
    /// The titles name different kommuner, and one item never mentions the other's.
    TitleKommunerDiffer,
    /// Each item has a kommun of its own besides the one they share.
    PlacesDiverge,
    /// Both from one source, where a rule needs two (a paper's own account of another
    /// source's report).
    SameSource,
    /// Another weekday, kind of event or age, or no shared name or age, where a rule needs the
    /// event's facts.
    FactsDiffer,
    /// Not enough shared wording, content or rare words for any rule.
    TooLittleShared,
}

impl Rule {
    /// Every rule, in the order of [`Rule::index`].
    pub const ALL: [Rule; 8] = [
        Rule::EventStamp,
        Rule::EventReport,
        Rule::CopiedText,
        Rule::CondensedCopy,
        Rule::NamedRewrite,
        Rule::SameFacts,
        Rule::SameEvent,
        Rule::OwnAccount,
    ];

    /// The rule's position in [`Rule::ALL`], for counting by rule.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The rule named `name` (see [`Rule::name`]).
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The rule's name in `regionfeed match` and `regionfeed stories` output, in the database
    /// and in `/metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::EventStamp => "event-stamp",
            Rule::EventReport => "event-report",
            Rule::CopiedText => "copied-text",
            Rule::CondensedCopy => "condensed-copy",
            Rule::NamedRewrite => "named-rewrite",
            Rule::SameFacts => "same-facts",
            Rule::SameEvent => "same-event",
            Rule::OwnAccount => "own-account",
        }
    }
}

impl Refusal {
    /// The check's name in `regionfeed match` output.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::TooShort => "too-short",
            Refusal::TooFarApart => "too-far-apart",
            Refusal::PlacesDiffer => "places-differ",
            Refusal::OtherEvent => "other-event",
            Refusal::HeadlinesDiffer => "headlines-differ",
            Refusal::NumbersDiffer => "numbers-differ",
            Refusal::NamesDiffer => "names-differ",
            Refusal::TitleKommunerDiffer => "title-kommuner-differ",
            Refusal::PlacesDiverge => "places-diverge",
            Refusal::SameSource => "same-source",
            Refusal::FactsDiffer => "facts-differ",
            Refusal::TooLittleShared => "too-little-shared",
        }
    }
}

/// One side of a decision: a signature and the facts kept beside it.
pub(crate) struct Judged<'a> {
    pub sig: &'a Signature,
    pub published: DateTime<Utc>,
    pub regions: &'a [String],
    /// The source that published it, when known (the index knows; a pair of texts does not).
    pub source: Option<&'a str>,
}

/// The rule and its estimated containment when `a` and `b` are the same story, else `None`.
pub(crate) fn story_score(a: &Judged, b: &Judged, window: Duration) -> Option<(Rule, f64)> {
    decide(a, b, window).ok()
}

/// The rule that makes `a` and `b` one story, with the containment it measured, or the check
/// that keeps them apart.
fn decide(a: &Judged, b: &Judged, window: Duration) -> Result<(Rule, f64), Refusal> {
    let apart = (a.published - b.published).abs();
    if apart > window {
        return Err(Refusal::TooFarApart);
    }
    if !regions_compatible(a.regions, b.regions) {
        return Err(Refusal::PlacesDiffer);
    }
    let both_events = a.sig.event != 0 && b.sig.event != 0;
    let same_event = both_events
        && a.sig.event_time == b.sig.event_time
        && (a.sig.event == b.sig.event || share_kommun(a.regions, b.regions));
    if both_events && !same_event {
        return Err(Refusal::OtherEvent);
    }
    if subjects_unmentioned(a, b) {
        return Err(Refusal::HeadlinesDiffer);
    }
    if a.sig.is_short() || b.sig.is_short() {
        if same_event {
            return Ok((Rule::EventStamp, 1.0));
        }
        return event_report(a, b, apart);
    }
    if numbers_conflict(a.sig, b.sig) {
        return Err(Refusal::NumbersDiffer);
    }
    if names_conflict(a.sig, b.sig) {
        return Err(Refusal::NamesDiffer);
    }
    let (shared, c) = containment(a.sig, b.sig);
    let close = apart <= CLOSE_IN_TIME;
    let needed = if close {
        CLOSE_CONTAINMENT
    } else {
        FAR_CONTAINMENT
    };
    if shared >= MIN_MATCHES && c >= needed {
        return Ok((Rule::CopiedText, c));
    }
    // The retelling paths: close in time, in one place, no new figures, and the headlines do
    // not put the news in different kommuner ("Fallolycka i Växjö", "Arbetare föll i Alvesta":
    // the second names Växjö's hospital, so the items share a kommun tag).
    if !close {
        return Err(Refusal::TooFarApart);
    }
    if title_kommuner_differ(a, b) {
        return Err(Refusal::TitleKommunerDiffer);
    }
    if places_diverge(a.regions, b.regions) {
        return Err(Refusal::PlacesDiverge);
    }
    if !same_place(a.regions, b.regions) {
        return own_account(a, b, apart, false);
    }
    let kept = numbers_kept(a.sig, b.sig);
    if kept {
        let c3 = trigram_containment(a.sig, b.sig);
        if c3 >= CONDENSED_CONTAINMENT {
            return Ok((Rule::CondensedCopy, c3));
        }
        if c3 >= NAMED_CONTAINMENT && names_agree(a.sig, b.sig) {
            return Ok((Rule::NamedRewrite, c3));
        }
    }
    let cw = content_containment(a.sig, b.sig);
    if apart <= CONTENT_WINDOW
        && (cw >= STRONG_CONTENT_CONTAINMENT || (kept && cw >= CONTENT_CONTAINMENT))
    {
        return Ok((Rule::SameFacts, cw));
    }
    let event_needs = if apart <= CONTENT_WINDOW {
        EVENT_CONTENT_CONTAINMENT
    } else {
        LATE_EVENT_CONTENT_CONTAINMENT
    };
    if cw >= event_needs && same_event_facts(a.sig, b.sig) {
        return Ok((Rule::SameEvent, cw));
    }
    own_account(a, b, apart, true)
}

/// A newspaper's own account of an event: it shares little wording with the release, but the
/// event's own rare words — the street, the village, "radhus", "flytvästar",
/// "Sjöräddningssällskapet" — are in both, while two events of one town the same day share at
/// most a district name or two. Within 12 hours, at least `OWN_ACCOUNT_RARE_WORDS` rare content
/// words (kommun and län names aside) must be shared, or `NEAR_OWN_ACCOUNT_RARE_WORDS` within 6
/// hours: a follow-up ("found alive", the search called off) comes later and keeps the
/// subject's rare words. Neither item may name another weekday or another kind of event.
/// `in_place` says the items share a kommun (or a län, neither naming a kommun); otherwise they
/// must share a län, or one of them have no place at all (a report that names only a district
/// the tagger does not know). The two must come from different sources: one source's items
/// share its own rare words whatever they report (a byline, "Tipsa redaktionen", a regular
/// column's name), and a paper's own account is of another source's report.
fn own_account(
    a: &Judged,
    b: &Judged,
    apart: Duration,
    in_place: bool,
) -> Result<(Rule, f64), Refusal> {
    let placed = in_place
        || a.regions.is_empty()
        || b.regions.is_empty()
        || a.regions
            .iter()
            .any(|r| !is_kommun(r) && b.regions.contains(r));
    if !placed {
        return Err(Refusal::PlacesDiffer);
    }
    if a.source.is_some() && a.source == b.source {
        return Err(Refusal::SameSource);
    }
    if kinds_or_days_differ(a.sig, b.sig) {
        return Err(Refusal::FactsDiffer);
    }
    let needed = if apart <= CONTENT_WINDOW {
        NEAR_OWN_ACCOUNT_RARE_WORDS
    } else {
        OWN_ACCOUNT_RARE_WORDS
    };
    if rare_shared(a.sig, b.sig) < needed {
        return Err(Refusal::TooLittleShared);
    }
    Ok((Rule::OwnAccount, content_containment(a.sig, b.sig)))
}

/// How many rare content words (see [`signature::RARE_WEIGHT`]) both texts hold, kommun and
/// län names aside, compared below the smaller cut-off of the two samples.
fn rare_shared(a: &Signature, b: &Signature) -> usize {
    let (xs, ys) = comparable_contents(a, b);
    shared_stems(xs, ys)
        .filter(|&(h, w)| w >= signature::RARE_WEIGHT && !signature::is_place_stem(h))
        .count()
}

/// The stems both ascending samples hold, in hash order, with the first sample's weights (both
/// are weighed by one table).
fn shared_stems<'s>(xs: &'s [Stem], ys: &'s [Stem]) -> impl Iterator<Item = Stem> + 's {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        while i < xs.len() && j < ys.len() {
            match xs[i].0.cmp(&ys[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    return Some(xs[i - 1]);
                }
            }
        }
        None
    })
}

/// Whether the texts name different weekdays, or different kinds of event, and none in common.
fn kinds_or_days_differ(a: &Signature, b: &Signature) -> bool {
    let disjoint = |x: u16, y: u16| x != 0 && y != 0 && x & y == 0;
    disjoint(a.facts.weekdays.into(), b.facts.weekdays.into())
        || disjoint(a.facts.kinds, b.facts.kinds)
}

/// Weight of the content stems both texts hold, as a share of the lighter text's total,
/// compared below the smaller cut-off of the two samples.
fn content_containment(a: &Signature, b: &Signature) -> f64 {
    let (xs, ys) = comparable_contents(a, b);
    let weight = |v: &[Stem]| v.iter().map(|&(_, w)| u32::from(w)).sum::<u32>();
    let lighter = weight(xs).min(weight(ys));
    if lighter == 0 {
        return 0.0;
    }
    let shared: u32 = shared_stems(xs, ys).map(|(_, w)| u32::from(w)).sum();
    f64::from(shared) / f64::from(lighter)
}

/// A content stem's hash and weight, as a signature keeps them.
type Stem = (u32, u8);

/// The parts of two content samples below the smaller cut-off, where both are complete.
fn comparable_contents<'s>(a: &'s Signature, b: &'s Signature) -> (&'s [Stem], &'s [Stem]) {
    let cut = |s: &Signature| {
        if usize::from(s.contents) > s.content_sample.len() {
            s.content_sample.last().map_or(u32::MAX, |&(h, _)| h)
        } else {
            u32::MAX
        }
    };
    let limit = cut(a).min(cut(b));
    let below = |v: &[Stem]| v.partition_point(|&(h, _)| h <= limit);
    (
        &a.content_sample[..below(&a.content_sample)],
        &b.content_sample[..below(&b.content_sample)],
    )
}

/// Whether the texts share at least two specific names, and two thirds of the smaller set.
fn names_agree(a: &Signature, b: &Signature) -> bool {
    let (shared, x, y) = overlap(&a.name_sample, a.names, &b.name_sample, b.names);
    shared >= 2 && shared as f64 >= NAMED_AGREEMENT * x.min(y) as f64
}

/// Share of the shorter text's 3-grams found in the longer one, compared below the smaller
/// cut-off of the two sketches, where both are complete samples.
fn trigram_containment(a: &Signature, b: &Signature) -> f64 {
    let cutoff = |s: &Signature| {
        if usize::from(s.trigrams) > s.trigram_sketch.len() {
            s.trigram_sketch.last().copied().unwrap_or(u32::MAX)
        } else {
            u32::MAX
        }
    };
    let limit = cutoff(a).min(cutoff(b));
    let below = |s: &'_ Signature| {
        let v = &s.trigram_sketch;
        v.len().min(v.partition_point(|&x| x <= limit))
    };
    let xs = &a.trigram_sketch[..below(a)];
    let ys = &b.trigram_sketch[..below(b)];
    let smaller = if a.trigrams <= b.trigrams {
        xs.len()
    } else {
        ys.len()
    };
    if smaller == 0 {
        return 0.0;
    }
    (common(xs, ys) as f64 / smaller as f64).min(1.0)
}

/// Whether two items are about one place: they share a kommun, or neither names a kommun and
/// they share a län (a länsstyrelse's notice and a local paper's report of it).
fn same_place(a: &[String], b: &[String]) -> bool {
    let kommun_free = |r: &[String]| !r.iter().any(|c| is_kommun(c));
    share_kommun(a, b) || (kommun_free(a) && kommun_free(b) && a.iter().any(|x| b.contains(x)))
}

/// Whether both titles name kommuner, none of them the same, and one item never mentions the
/// other's headline kommun: "Fallolycka i Växjö" and "Arbetare föll i Alvesta" are two
/// accidents even though the second names Växjö's hospital. When each item names the other's
/// headline kommun too, the headlines only lead with different ends of one story ("Man skadad i
/// arbetsplatsolycka i Oskarshamn", "Arbetare klämd av fallande last – flögs till Linköping").
fn title_kommuner_differ(a: &Judged, b: &Judged) -> bool {
    let (ta, tb) = (&a.sig.title_kommuner, &b.sig.title_kommuner);
    let named_in =
        |codes: &[u32], regions: &[String]| codes.iter().all(|&k| names_kommun(regions, k));
    let each_names_the_other = named_in(ta, b.regions) && named_in(tb, a.regions);
    !ta.is_empty()
        && !tb.is_empty()
        && !ta.iter().any(|k| tb.binary_search(k).is_ok())
        && !each_names_the_other
}

/// A local report of a Polisen event: one side is a Polisen event too short to judge by its
/// words alone ("Det brinner i en förrådsbyggnad i Stallbacka. Räddningstjänsten är på
/// plats."), the other is not a Polisen event and tells it at length. Within 12 hours, in a
/// shared kommun, with at least `EVENT_REPORT_MIN_SHINGLES` word runs in the event's text, no
/// conflicting figures or names, the event's facts (a shared name or age, nothing contradicted),
/// and ≥ 0.45 of the event's weighted content words in the report.
fn event_report(a: &Judged, b: &Judged, apart: Duration) -> Result<(Rule, f64), Refusal> {
    let (event, report) = if a.sig.is_short() { (a, b) } else { (b, a) };
    let judgeable = event.sig.event != 0
        && report.sig.event == 0
        && !report.sig.is_short()
        && usize::from(event.sig.shingles) >= EVENT_REPORT_MIN_SHINGLES;
    if !judgeable {
        return Err(Refusal::TooShort);
    }
    if apart > CLOSE_IN_TIME {
        return Err(Refusal::TooFarApart);
    }
    if !share_kommun(a.regions, b.regions) {
        return Err(Refusal::PlacesDiffer);
    }
    if numbers_conflict(a.sig, b.sig) {
        return Err(Refusal::NumbersDiffer);
    }
    if names_conflict(a.sig, b.sig) {
        return Err(Refusal::NamesDiffer);
    }
    if !same_event_facts(a.sig, b.sig) {
        return Err(Refusal::FactsDiffer);
    }
    let cw = content_containment(a.sig, b.sig);
    if cw < EVENT_REPORT_CONTAINMENT {
        return Err(Refusal::TooLittleShared);
    }
    Ok((Rule::EventReport, cw))
}

/// Whether each headline is about something the other report never mentions: "Samråd om
/// detaljplan för Norra Hamnen" and "Samråd om detaljplan för Bosvedjan" are two notices of one
/// template however much wording they share; "Ung man misshandlad på Ålidhem" and "Man
/// misshandlad i centrala Vännäs" are two assaults, although both victims were taken to the
/// hospital in Umeå. A rewrite names what the release's headline names somewhere: one of its
/// specific names among the other item's names, one of its kommuner among the other item's
/// places. (No same-story tune pair has this; 270 different-story pairs do.) Unknown when a
/// report names more things than its signature keeps, or has no kommun to compare a headline's
/// kommun with. A Polisen event title's place is its event stamp's, judged by the event rules
/// instead.
fn subjects_unmentioned(a: &Judged, b: &Judged) -> bool {
    let unmentioned = |x: &Judged, y: &Judged| {
        let names = &x.sig.facts.subjects;
        let kommuner: &[u32] = if x.sig.event == 0 {
            &x.sig.title_kommuner
        } else {
            &[]
        };
        let y_has_kommun = y.regions.iter().any(|r| is_kommun(r));
        let names_known = usize::from(y.sig.facts.mentions_total) <= y.sig.facts.mentions.len();
        let names_unmentioned = !names.is_empty()
            && names_known
            && !names
                .iter()
                .any(|v| y.sig.facts.mentions.binary_search(v).is_ok());
        let kommuner_unmentioned = !kommuner.is_empty()
            && y_has_kommun
            && !kommuner.iter().any(|&k| names_kommun(y.regions, k));
        names_unmentioned || kommuner_unmentioned
    };
    unmentioned(a, b) && unmentioned(b, a)
}

/// Whether both items carry kommuner of their own besides any they share: "Barn räddades ur
/// Siljan vid Tibble" (Leksand) and "Flicka räddades ur Siljan vid Långbryggan" (Rättvik) share
/// only the kommun of the hospital both children were taken to. A rewrite may add a place (the
/// hospital, the road's other end) but does not drop the release's own. (No same-story tune
/// pair has this; 24 different-story pairs that share a kommun do.)
fn places_diverge(a: &[String], b: &[String]) -> bool {
    let own = |x: &[String], y: &[String]| x.iter().any(|r| is_kommun(r) && !y.contains(r));
    own(a, b) && own(b, a)
}

/// Whether two texts state one event's facts: they share a specific name or an age, and
/// contradict nowhere: no other weekday, no other kind of event, no other ages, no other names
/// in the title. A newspaper's own account of an event words it anew but keeps these; two
/// events of one town the same day differ in one of them.
fn same_event_facts(a: &Signature, b: &Signature) -> bool {
    let (fa, fb) = (&a.facts, &b.facts);
    let disjoint_bits = |x: u16, y: u16| x != 0 && y != 0 && x & y == 0;
    let disjoint = |x: &[u32], y: &[u32]| {
        !x.is_empty() && !y.is_empty() && !x.iter().any(|v| y.binary_search(v).is_ok())
    };
    let shared_age = fa.ages.iter().any(|v| fb.ages.binary_search(v).is_ok());
    let disjoint_ages = !fa.ages.is_empty() && !fb.ages.is_empty() && !shared_age;
    let (shared_names, _, _) = overlap(&a.name_sample, a.names, &b.name_sample, b.names);
    (shared_names > 0 || shared_age)
        && !disjoint_bits(fa.weekdays.into(), fb.weekdays.into())
        && !disjoint_bits(fa.kinds, fb.kinds)
        && !disjoint_ages
        && !disjoint(&fa.title_names, &fb.title_names)
}

/// Whether the regions hold the kommun with this code.
fn names_kommun(regions: &[String], code: u32) -> bool {
    regions
        .iter()
        .any(|r| is_kommun(r) && r.parse() == Ok(code))
}

/// Whether both items carry kommun codes and share one.
fn share_kommun(a: &[String], b: &[String]) -> bool {
    a.iter().filter(|r| is_kommun(r)).any(|x| b.contains(x))
}

/// Whether a region code is a kommun's (four digits) rather than a län's (two).
pub(crate) fn is_kommun(code: &str) -> bool {
    code.len() == 4 && code.bytes().all(|c| c.is_ascii_digit())
}

/// Whether every number of the shorter text is in the longer one (of two equally long texts,
/// each in the other): a retelling drops figures but does not bring new ones.
fn numbers_kept(a: &Signature, b: &Signature) -> bool {
    let (shared, x, y) = overlap(&a.number_sample, a.numbers, &b.number_sample, b.numbers);
    match a.shingles.cmp(&b.shingles) {
        std::cmp::Ordering::Less => shared == x,
        std::cmp::Ordering::Greater => shared == y,
        std::cmp::Ordering::Equal => shared == x && shared == y,
    }
}

/// Whether the texts name different things: both name at least two and too few of the
/// smaller set are in the other, or each names exactly one and they differ. (One name against
/// several proves little: a rewrite may drop the release's places and name an authority.)
fn names_conflict(a: &Signature, b: &Signature) -> bool {
    let (streets, x, y) = overlap(&a.street_sample, a.streets, &b.street_sample, b.streets);
    if x > 0 && y > 0 && streets == 0 {
        return true;
    }
    let (shared, x, y) = overlap(&a.name_sample, a.names, &b.name_sample, b.names);
    if a.names >= 2 && b.names >= 2 {
        let smaller = x.min(y);
        return smaller >= 2 && (shared as f64) < NAME_OVERLAP * smaller as f64;
    }
    a.names == 1 && b.names == 1 && shared == 0
}

/// How two bottom-k samples overlap: (shared values, values of the first, values of the
/// second), counting only values below the smaller cut-off, where both samples are complete (a
/// sample holding fewer values than its total was cut at its last value).
fn overlap<T: Copy + Ord + Bounded>(
    xs: &[T],
    x_total: u8,
    ys: &[T],
    y_total: u8,
) -> (usize, usize, usize) {
    let cut = |s: &[T], total: u8| {
        if usize::from(total) > s.len() {
            s.last().copied().unwrap_or(T::MAX)
        } else {
            T::MAX
        }
    };
    let limit = cut(xs, x_total).min(cut(ys, y_total));
    let xs = &xs[..xs.partition_point(|&v| v <= limit)];
    let ys = &ys[..ys.partition_point(|&v| v <= limit)];
    let shared = xs.iter().filter(|v| ys.binary_search(v).is_ok()).count();
    (shared, xs.len(), ys.len())
}
/// The largest value of a sample's integer type.
trait Bounded {
    const MAX: Self;
}
impl Bounded for u16 {
    const MAX: u16 = u16::MAX;
}
impl Bounded for u32 {
    const MAX: u32 = u32::MAX;
}

/// Shared shingles, and the share of the smaller text's shingles found in the larger one.
/// Containment rather than Jaccard, because a rewrite that cuts half the release still consists
/// of the release's sentences. Both sketches are complete below the smaller of their cut-offs,
/// so the sample there gives the answer: exact when neither sketch is cut.
fn containment(a: &Signature, b: &Signature) -> (usize, f64) {
    let cutoff = |s: &Signature| {
        if s.is_cut() {
            s.sketch.last().copied().unwrap_or(u32::MAX)
        } else {
            u32::MAX
        }
    };
    let limit = cutoff(a).min(cutoff(b));
    let xs = &a.sketch[..a.sketch.partition_point(|&v| v <= limit)];
    let ys = &b.sketch[..b.sketch.partition_point(|&v| v <= limit)];
    let shared = common(xs, ys);
    let smaller = if a.shingles <= b.shingles {
        xs.len()
    } else {
        ys.len()
    };
    if smaller == 0 {
        return (shared, 0.0);
    }
    (shared, (shared as f64 / smaller as f64).min(1.0))
}

/// Values in both ascending slices.
fn common(xs: &[u32], ys: &[u32]) -> usize {
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

/// Whether the texts' numbers say they report different facts. Uses the bottom-k samples: when
/// a sample was cut, both are compared only below the smaller cut-off, where both are complete.
fn numbers_conflict(a: &Signature, b: &Signature) -> bool {
    if a.numbers < 2 || b.numbers < 2 {
        return false;
    }
    let (shared, x, y) = overlap(&a.number_sample, a.numbers, &b.number_sample, b.numbers);
    let smaller = x.min(y);
    smaller >= 2 && (shared as f64) < NUMBER_OVERLAP * smaller as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rules_are_listed_once_in_index_order_and_named_uniquely() {
        for (i, rule) in Rule::ALL.into_iter().enumerate() {
            assert_eq!(rule.index(), i);
            assert_eq!(Rule::from_name(rule.name()), Some(rule));
        }
        assert_eq!(Rule::from_name("no-such-rule"), None);
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
    fn containment_of_sketches() {
        let sig = |sketch: Vec<u32>, shingles: u16| Signature {
            short: false,
            shingles,
            event: 0,
            event_time: 0,
            title_kommuner: Vec::new(),
            numbers: 0,
            number_sample: Vec::new(),
            names: 0,
            name_sample: Vec::new(),
            streets: 0,
            street_sample: Vec::new(),
            trigrams: 0,
            trigram_sketch: Vec::new(),
            contents: 0,
            content_sample: Vec::new(),
            facts: Default::default(),
            sketch,
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
