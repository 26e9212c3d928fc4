//! Near-duplicate stories: the labelled pairs in `eval/dedup-pairs.jsonl` (precision and recall
//! of "same story" on the tune and report halves), and the index agreeing with the pairwise rule.

use chrono::{DateTime, Duration, Utc};
use regionfeed::dedup::{DEFAULT_WINDOW, Signature, StoryIndex, StoryItem, same_story, signature};
use serde::Deserialize;

const PAIRS: &str = include_str!("../../eval/dedup-pairs.jsonl");

#[derive(Deserialize)]
struct Side {
    title: String,
    text: String,
    published: DateTime<Utc>,
    regions: Vec<String>,
}

#[derive(Deserialize)]
struct Pair {
    id: String,
    /// `tune` (thresholds were set on it) or `report` (held out).
    split: String,
    kind: String,
    same: bool,
    a: Side,
    b: Side,
}

impl Side {
    fn item(&self) -> StoryItem<'_> {
        StoryItem {
            title: &self.title,
            text: &self.text,
            published: self.published,
            regions: &self.regions,
        }
    }
}

fn pairs() -> Vec<Pair> {
    PAIRS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("dedup-pairs.jsonl:{}: {e}", n + 1))
        })
        .collect()
}

fn is_tune(p: &Pair) -> bool {
    assert!(
        p.split == "tune" || p.split == "report",
        "{}: split {}",
        p.id,
        p.split
    );
    p.split == "tune"
}

#[test]
fn eval_set_is_large_and_covers_the_hard_cases() {
    let pairs = pairs();
    assert!(pairs.len() >= 150, "only {} pairs", pairs.len());
    let mut ids: Vec<&str> = pairs.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), pairs.len(), "duplicate ids");
    for kind in [
        "rewrite",
        "county-national-copy",
        "edited",
        "short-summary-other-event",
        "same-template-other-kommun",
        "same-topic-other-town",
        "same-text-two-weeks-apart",
        "follow-up",
    ] {
        for tune in [true, false] {
            assert!(
                pairs.iter().any(|p| p.kind == kind && is_tune(p) == tune),
                "no {kind} pair in the {} half",
                if tune { "tune" } else { "report" }
            );
        }
    }
    // Each kind has one label: a follow-up with mostly new text is a different story.
    let different = [
        "short-summary-other-event",
        "same-template-other-event",
        "same-template-other-kommun",
        "same-topic-other-town",
        "same-topic-other-event",
        "same-topic-same-town",
        "same-text-two-weeks-apart",
        "follow-up",
        "related-not-same",
    ];
    for p in &pairs {
        let expected = !different.contains(&p.kind.as_str());
        assert_eq!(
            p.same, expected,
            "{}: label {} for kind {}",
            p.id, p.same, p.kind
        );
    }
}

/// Scores one half; prints the figures and every error.
fn score(name: &str, pairs: &[&Pair]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for p in pairs {
        let said = same_story(&p.a.item(), &p.b.item());
        match (said, p.same) {
            (true, true) => tp += 1,
            (true, false) => {
                fp += 1;
                println!("{name}: false merge {} ({})", p.id, p.kind);
            }
            (false, true) => {
                fn_ += 1;
                println!("{name}: missed {} ({})", p.id, p.kind);
            }
            (false, false) => {}
        }
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = tp as f64 / (tp + fn_) as f64;
    println!(
        "{name}: {} pairs, {} same; precision {precision:.3} recall {recall:.3} (tp {tp}, fp {fp}, fn {fn_})",
        pairs.len(),
        tp + fn_
    );
    (precision, recall)
}

#[test]
fn precision_and_recall_on_labelled_pairs() {
    let pairs = pairs();
    let (tune, report): (Vec<&Pair>, Vec<&Pair>) = pairs.iter().partition(|p| is_tune(p));
    let results = [
        ("tune", score("tune", &tune)),
        ("report", score("report", &report)),
    ];
    for (name, (p, r)) in results {
        assert!(p >= 0.99, "{name}: precision {p:.3} < 0.99");
        assert!(r >= 0.90, "{name}: recall {r:.3} < 0.90");
    }
}

#[test]
fn decision_is_symmetric() {
    for p in pairs() {
        assert_eq!(
            same_story(&p.a.item(), &p.b.item()),
            same_story(&p.b.item(), &p.a.item()),
            "{}",
            p.id
        );
    }
}

#[test]
fn index_finds_exactly_what_the_pairwise_rule_accepts() {
    for p in pairs() {
        let mut index = StoryIndex::new(DEFAULT_WINDOW);
        // Unrelated items around the stored one, so the lookup works through shared buckets.
        for (n, q) in pairs().iter().enumerate().filter(|(_, q)| q.id != p.id) {
            if let Some(sig) = signature(&q.a.title, &q.a.text)
                && !same_story(&q.a.item(), &p.b.item())
            {
                index.insert(1000 + n as i64, sig, q.a.published, q.a.regions.clone());
            }
        }
        if let Some(sig) = signature(&p.a.title, &p.a.text) {
            index.insert(1, sig, p.a.published, p.a.regions.clone());
        }
        let found = signature(&p.b.title, &p.b.text)
            .and_then(|sig| index.find(&sig, p.b.published, &p.b.regions));
        let expected = same_story(&p.a.item(), &p.b.item()).then_some(1);
        assert_eq!(found, expected, "{} ({})", p.id, p.kind);
    }
}

const LONG: &str = "Polisen grep på tisdagskvällen en man i 30-årsåldern misstänkt för rån mot en \
    livsmedelsbutik i centrala Kumla. Strax efter klockan 20 kom mannen in i butiken på \
    Storgatan och hotade personalen med vad som såg ut att vara en kniv. Han fick med sig en \
    mindre summa kontanter och cigaretter innan han flydde till fots.";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test time")
}

fn codes(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| s.to_string()).collect()
}

/// One pairwise case: `a` and `b` as (title, text, published, regions), and the expected answer.
fn check(a: (&str, &str, &str, &[&str]), b: (&str, &str, &str, &[&str]), expected: bool) {
    let (ra, rb) = (codes(a.3), codes(b.3));
    let ia = StoryItem {
        title: a.0,
        text: a.1,
        published: at(a.2),
        regions: &ra,
    };
    let ib = StoryItem {
        title: b.0,
        text: b.1,
        published: at(b.2),
        regions: &rb,
    };
    assert_eq!(same_story(&ia, &ib), expected, "{:?} vs {:?}", a.0, b.0);
}

#[test]
fn pairwise_rules() {
    let kumla: &[&str] = &["18", "1881"];
    let t0 = "2025-03-11T21:40:00Z";
    // The same text from two sources an hour apart is one story.
    check(
        ("Rån i Kumla", LONG, t0, kumla),
        ("Butiksrån", LONG, "2025-03-11T22:40:00Z", kumla),
        true,
    );
    // A national (untagged) copy joins the regional one.
    check(
        ("Rån i Kumla", LONG, t0, kumla),
        ("Rån", LONG, t0, &[]),
        true,
    );
    // Polisen's short summaries repeat for different events: never judged.
    let short = "Bilist misstänks för brott.";
    check(
        ("27 november 18:57, Trafikbrott, Kumla", short, t0, kumla),
        ("27 november 18:57, Trafikbrott, Kumla", short, t0, kumla),
        false,
    );
    // Different kommuner, or more than the window apart, never merge.
    check(
        ("Rån i Kumla", LONG, t0, kumla),
        ("Rån", LONG, t0, &["18", "1861"]),
        false,
    );
    check(
        ("Rån i Kumla", LONG, t0, kumla),
        ("Rån", LONG, "2025-03-14T21:41:00Z", kumla),
        false,
    );
    // A day apart, the same text is still one story (an edit or a late copy).
    check(
        ("Rån i Kumla", LONG, t0, kumla),
        ("Rån", LONG, "2025-03-12T21:40:00Z", kumla),
        true,
    );
    // Two Polisen events with different time stamps are different events, whatever the text.
    check(
        ("11 mars 21:40, Rån, Kumla", LONG, t0, kumla),
        ("11 mars 23:05, Rån, Kumla", LONG, t0, kumla),
        false,
    );
    // ... and the same event, updated, is the same story.
    check(
        ("11 mars 21:40, Rån, Kumla", LONG, t0, kumla),
        (
            "Uppdaterad 2025-03-11 23:00:00 11 mars 21:40, Rån väpnat, Kumla",
            LONG,
            t0,
            kumla,
        ),
        true,
    );
}

#[test]
fn signature_needs_enough_text() {
    assert!(signature("", "Bilist misstänks för brott.").is_none());
    assert!(signature("", "Larm om inbrott. Källa: Polisen").is_none());
    let sig = signature("", LONG).expect("long text is judged");
    assert_eq!(Signature::from_bytes(&sig.to_bytes()), Some(sig));
}

#[test]
fn index_remove_replace_prune_and_best_match() {
    let kumla = codes(&["18", "1881"]);
    let t0 = at("2025-03-11T21:40:00Z");
    let sig = signature("", LONG).expect("long");
    let cut: String = LONG
        .split_whitespace()
        .take(40)
        .collect::<Vec<_>>()
        .join(" ");
    let partial = signature("", &cut).expect("long enough");
    let mut index = StoryIndex::new(Duration::hours(6));
    assert!(index.is_empty());
    index.insert(7, partial.clone(), t0, kumla.clone());
    index.insert(3, sig.clone(), t0, kumla.clone());
    assert_eq!(index.len(), 2);
    // Both match; the full copy is the closer one.
    assert_eq!(index.find(&sig, t0, &kumla), Some(3));
    // The configured window applies, not the default.
    assert_eq!(index.find(&sig, t0 + Duration::hours(7), &kumla), None);
    index.remove(3);
    assert_eq!(index.find(&sig, t0, &kumla), Some(7));
    // Re-inserting an id replaces it.
    index.insert(7, partial, t0 + Duration::hours(10), kumla.clone());
    assert_eq!(index.len(), 1);
    assert_eq!(index.find(&sig, t0, &kumla), None);
    assert_eq!(index.prune(t0 + Duration::hours(17)), 1);
    assert!(index.is_empty());
    index.remove(99);
}

#[test]
fn index_lookup_survives_crowded_stock_phrases() {
    // 500 stored items end in the same stock paragraph, so its shingles' buckets are crowded;
    // an old item must still be found through its own sentences, and a new item whose own
    // text outweighs the shared stock paragraph must match none.
    let stock = "Polisen har upprättat en anmälan och söker vittnen. Den som har information \
        ombeds ringa 114 14.";
    let what = [
        "en bil",
        "en moped",
        "en båtmotor",
        "ett släp",
        "en cykel",
        "en husvagn",
    ];
    let street = [
        "Storgatan",
        "Kungsgatan",
        "Skolgatan",
        "Hamngatan",
        "Parkvägen",
        "Ågatan",
    ];
    let when = [
        "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag",
    ];
    let found = [
        "utbränd",
        "sönderslagen",
        "i en bäck",
        "vid en grusväg",
        "i ett skogsbryn",
    ];
    let own = |n: usize| {
        format!(
            "Natten till {} stals {} från {} och ägaren upptäckte det först på morgonen. \
             Stöldgodset hittades senare {} ett par kilometer bort av en förbipasserande \
             som larmade. Ärendet har nummer {n}.",
            when[n % 7],
            what[n / 7 % 6],
            street[n / 42 % 6],
            found[n / 252 % 5],
        )
    };
    let kumla = codes(&["18", "1881"]);
    let t0 = at("2025-03-11T08:00:00Z");
    let mut index = StoryIndex::new(DEFAULT_WINDOW);
    for n in 0..500 {
        let sig = signature("", &format!("{} {stock}", own(n))).expect("long enough");
        index.insert(n as i64, sig, t0, kumla.clone());
    }
    let oldest = signature("", &format!("{} Det skriver polisen.", own(0))).expect("long");
    assert_eq!(index.find(&oldest, t0, &kumla), Some(0));
    let other = format!(
        "Ett fönster krossades vid en skola på söndagskvällen och en lärare såg två personer \
         springa därifrån mot idrottsplatsen. Skolan har haft flera liknande händelser i vår, \
         och rektorn vill nu att kommunen sätter upp kameror vid entréerna. Föräldrar har \
         samlat namn för bättre belysning på skolgården, där det är mörkt redan vid fyratiden \
         på eftermiddagen under vinterhalvåret. {stock}"
    );
    let other = signature("", &other).expect("long enough");
    assert_eq!(index.find(&other, t0, &kumla), None);
}
