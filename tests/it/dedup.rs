//! Near-duplicate stories: the labelled pairs in `eval/` scored as two separate sets — `tune`
//! (`dedup-pairs.jsonl`, the rules were set on it) and `report` (`dedup-report.jsonl`, held
//! out) — and the index agreeing with the pairwise rule.

use chrono::{DateTime, Duration, Utc};
use regionfeed::dedup::{DEFAULT_WINDOW, Signature, StoryIndex, StoryItem, same_story, signature};
use serde::Deserialize;

/// Every pair the rules were tuned on (see `eval/README.md`).
const TUNE: &str = include_str!("../../eval/dedup-pairs.jsonl");
/// Held out: written before the current rules were tuned and scored once.
const REPORT: &str = include_str!("../../eval/dedup-report.jsonl");
/// The targets, on each set separately.
const MIN_PRECISION: f64 = 0.99;
const MIN_RECALL: f64 = 0.90;

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
    /// `tune` or `report`; must agree with the file the pair is in.
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

/// The pairs of one file, each checked to carry the file's split.
fn load(file: &str, text: &str, split: &str) -> Vec<Pair> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            let p: Pair =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
            assert_eq!(p.split, split, "{file}:{}: {}", n + 1, p.id);
            p
        })
        .collect()
}

fn tune() -> Vec<Pair> {
    load("dedup-pairs.jsonl", TUNE, "tune")
}

fn report() -> Vec<Pair> {
    load("dedup-report.jsonl", REPORT, "report")
}

/// Kinds labelled "not the same story"; every other kind is labelled "same".
const DIFFERENT: &[&str] = &[
    "short-summary-other-event",
    "same-template-other-event",
    "same-template-other-kommun",
    "same-topic-other-town",
    "same-topic-other-event",
    "same-topic-same-town",
    "same-town-same-day",
    "same-court-other-case",
    "same-text-two-weeks-apart",
    "follow-up",
    "related-not-same",
    "event-notice-other-event",
];

#[test]
fn eval_sets_are_large_and_cover_the_hard_cases() {
    let (tune, report) = (tune(), report());
    assert!(tune.len() >= 250, "tune: only {} pairs", tune.len());
    assert!(report.len() >= 100, "report: only {} pairs", report.len());
    let mut ids: Vec<&str> = tune.iter().chain(&report).map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), tune.len() + report.len(), "duplicate ids");
    for (name, set) in [("tune", &tune), ("report", &report)] {
        for kind in [
            "rewrite",
            "heavy-rewrite",
            "two-rewrites",
            "county-national-copy",
            "edited",
            "short-summary-other-event",
            "same-template-other-kommun",
            "same-topic-other-town",
            "same-text-two-weeks-apart",
            "follow-up",
        ] {
            assert!(
                set.iter().any(|p| p.kind == kind),
                "no {kind} pair in {name}"
            );
        }
        let same = set.iter().filter(|p| p.same).count();
        assert!(
            same * 3 >= set.len() && same * 3 <= set.len() * 2,
            "{name}: {same} of {} pairs are the same story",
            set.len()
        );
        // Each kind has one label: a follow-up with mostly new text is a different story.
        for p in set.iter() {
            let expected = !DIFFERENT.contains(&p.kind.as_str());
            assert_eq!(
                p.same, expected,
                "{}: label {} for kind {}",
                p.id, p.same, p.kind
            );
        }
    }
}

/// Scores one set: prints every error and the figures, and returns (precision, recall).
fn score(name: &str, pairs: &[Pair]) -> (f64, f64) {
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

fn assert_precision(name: &str, precision: f64) {
    assert!(
        precision >= MIN_PRECISION,
        "{name}: precision {precision:.3} < {MIN_PRECISION}"
    );
}

fn assert_recall(name: &str, recall: f64) {
    assert!(
        recall >= MIN_RECALL,
        "{name}: recall {recall:.3} < {MIN_RECALL}"
    );
}

/// The half of the target that holds: no false merge on any tuned pair. A false merge hides a
/// report from readers, so this guards every change to the rules.
#[test]
fn tune_precision() {
    let (precision, _) = score("tune", &tune());
    assert_precision("tune", precision);
}

/// Issue 5's whole target on the tune pairs (2,047 pairs: precision 1.000, recall 0.940). The
/// rules were set on these pairs, so this guards against a change losing what they find; the
/// held-out figure is `report_precision_and_recall`'s.
#[test]
fn tune_precision_and_recall() {
    let (precision, recall) = score("tune", &tune());
    assert_precision("tune", precision);
    assert_recall("tune", recall);
}

/// The half of the target that holds on the held-out report set: no false merge.
#[test]
fn report_precision() {
    let (precision, _) = score("report", &report());
    assert_precision("report", precision);
}

/// Issue 5's whole target on the held-out report set: 300 pairs (`n`, `o`) written blind and
/// committed unread with the thirteenth version's rules, then scored once: precision 0.992,
/// recall 0.919 (see `eval/README.md`). A change to the rules that this fails must not be fixed by reading these
/// pairs: they would then join the tune set, and the figure would need a fresh held-out set.
#[test]
fn report_precision_and_recall() {
    let (precision, recall) = score("report", &report());
    assert_precision("report", precision);
    assert_recall("report", recall);
}

fn check_symmetric(pairs: &[Pair]) {
    for p in pairs {
        assert_eq!(
            same_story(&p.a.item(), &p.b.item()),
            same_story(&p.b.item(), &p.a.item()),
            "{}",
            p.id
        );
    }
}

#[test]
fn tune_decision_is_symmetric() {
    check_symmetric(&tune());
}

#[test]
fn report_decision_is_symmetric() {
    check_symmetric(&report());
}

/// One index holds the first item of every pair (ids 1000 + n), so lookups go through buckets
/// shared with unrelated items. For each pair, its own first item is taken out, the lookup
/// without it is noted, then it is put back as id 1 and looked up again.
fn check_index_agrees(pairs: &[Pair]) {
    let sig_a: Vec<Option<Signature>> = pairs
        .iter()
        .map(|p| signature(&p.a.title, &p.a.text))
        .collect();
    let mut index = StoryIndex::new(DEFAULT_WINDOW);
    for (n, (p, sig)) in pairs.iter().zip(&sig_a).enumerate() {
        if let Some(sig) = sig {
            index.insert(
                1000 + n as i64,
                sig.clone(),
                p.a.published,
                p.a.regions.clone(),
                Some("a"),
            );
        }
    }
    for (n, (p, sig)) in pairs.iter().zip(&sig_a).enumerate() {
        let own = 1000 + n as i64;
        index.remove(own);
        let sig_b = signature(&p.b.title, &p.b.text);
        let lookup = |index: &StoryIndex| {
            sig_b
                .as_ref()
                .and_then(|s| index.find(s, p.b.published, &p.b.regions, Some("b")))
        };
        let without = lookup(&index);
        if let Some(other) = without {
            let q = &pairs[(other - 1000) as usize];
            assert!(
                same_story(&q.a.item(), &p.b.item()),
                "{}: index found {}",
                p.id,
                q.id
            );
        }
        if let Some(sig) = sig {
            index.insert(
                1,
                sig.clone(),
                p.a.published,
                p.a.regions.clone(),
                Some("a"),
            );
        }
        let with = lookup(&index);
        if same_story(&p.a.item(), &p.b.item()) {
            assert!(
                with == Some(1) || (with.is_some() && with == without),
                "{}: {with:?}",
                p.id
            );
        } else {
            assert_eq!(with, without, "{} ({})", p.id, p.kind);
        }
        index.remove(1);
        if let Some(sig) = sig {
            index.insert(
                own,
                sig.clone(),
                p.a.published,
                p.a.regions.clone(),
                Some("a"),
            );
        }
    }
}

#[test]
fn tune_index_finds_what_the_pairwise_rule_accepts() {
    check_index_agrees(&tune());
}

#[test]
fn report_index_finds_what_the_pairwise_rule_accepts() {
    check_index_agrees(&report());
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
    // Polisen's short summaries repeat for different events: never judged by their words...
    let short = "Bilist misstänks för brott.";
    check(
        ("27 november 18:57, Trafikbrott, Kumla", short, t0, kumla),
        ("27 november 19:20, Trafikbrott, Kumla", short, t0, kumla),
        false,
    );
    check(
        ("Rattfylla", short, t0, kumla),
        ("Rattfylla", short, t0, kumla),
        false,
    );
    // A local site's longer report of a short Polisen event notice is one story with it...
    let notice = "Det brinner i en fristående förrådsbyggnad på ett industriområde i Stallbacka. \
        Räddningstjänsten är på plats. Ingen person ska vara skadad.";
    let report = "En fristående förrådsbyggnad på ett industriområde i Stallbacka i Trollhättan \
        brinner på torsdagsmorgonen. Räddningstjänsten är på plats med flera enheter och kraftig \
        rök syns över området. Ingen person ska vara skadad, uppger polisen. Boende i närheten \
        uppmanas hålla fönster stängda. Källa: Polisen";
    let trollhattan: &[&str] = &["14", "1488"];
    let event_title = "27 augusti 07:30, Brand, Trollhättan";
    check(
        (event_title, notice, "2026-08-27T05:45:00Z", trollhattan),
        (
            "Förråd brinner på Stallbacka",
            report,
            "2026-08-27T06:20:00Z",
            trollhattan,
        ),
        true,
    );
    // ... but not a report of a fire somewhere else in town, nor Polisen's stock one-liner.
    check(
        (event_title, notice, "2026-08-27T05:45:00Z", trollhattan),
        (
            "Förråd brinner på Kronogården",
            &report.replace("Stallbacka", "Kronogården"),
            "2026-08-27T06:20:00Z",
            trollhattan,
        ),
        false,
    );
    check(
        (
            event_title,
            "Brand i förråd. Räddningstjänsten är på plats.",
            "2026-08-27T05:45:00Z",
            trollhattan,
        ),
        (
            "Förråd brinner på Stallbacka",
            report,
            "2026-08-27T06:20:00Z",
            trollhattan,
        ),
        false,
    );
    // Two notices of one template about different places, published together, are two
    // stories however much wording they share: each headline names what the other never does.
    let notice = |place: &str, what: &str| {
        format!(
            "Ett förslag till detaljplan för del av {place} i Sundsvall är ute på samråd 15 \
             september–6 oktober. Planen syftar till att möjliggöra {what}. Handlingarna finns \
             tillgängliga i Stadshuset och på kommunens webbplats. Synpunkter ska ha kommit in \
             skriftligen senast 6 oktober."
        )
    };
    let sundsvall: &[&str] = &["22", "2281"];
    let (hamnen, bosvedjan) = (
        notice("Norra Hamnen", "cirka 250 nya bostäder"),
        notice("Bosvedjan", "en ny förskola och cirka 40 radhus"),
    );
    let at = "2026-09-15T06:00:00Z";
    check(
        (
            "Samråd om detaljplan för Norra Hamnen",
            &hamnen,
            at,
            sundsvall,
        ),
        (
            "Samråd om detaljplan för Bosvedjan",
            &bosvedjan,
            at,
            sundsvall,
        ),
        false,
    );
    // A copy whose headline names the same place (in the genitive) is the same notice.
    check(
        (
            "Samråd om detaljplan för Norra Hamnen",
            &hamnen,
            at,
            sundsvall,
        ),
        (
            "Norra Hamnens nya bostäder ute på samråd",
            &hamnen,
            at,
            sundsvall,
        ),
        true,
    );
    // ... but one event's time stamp and place name it: its county and national copies, or its
    // update, are one story however short the text.
    check(
        ("27 november 18:57, Trafikbrott, Kumla", short, t0, kumla),
        (
            "Uppdaterad 2025-03-11 22:30:00 27 november 18:57, Trafikbrott, Kumla",
            "Bilist misstänks för rattfylleri på Västra Drottningvägen.",
            "2025-03-11T22:30:00Z",
            kumla,
        ),
        true,
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
    let event = signature(
        "27 november 18:57, Trafikbrott, Kumla",
        "Bilist misstänks för brott.",
    )
    .expect("a Polisen event is identified by its title");
    assert!(event.is_short());
    assert_eq!(Signature::from_bytes(&event.to_bytes()), Some(event));
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
    index.insert(7, partial.clone(), t0, kumla.clone(), None);
    index.insert(3, sig.clone(), t0, kumla.clone(), None);
    assert_eq!(index.len(), 2);
    // Both match; the full copy is the closer one.
    assert_eq!(index.find(&sig, t0, &kumla, None), Some(3));
    // The configured window applies, not the default.
    assert_eq!(
        index.find(&sig, t0 + Duration::hours(7), &kumla, None),
        None
    );
    index.remove(3);
    assert_eq!(index.find(&sig, t0, &kumla, None), Some(7));
    // Re-inserting an id replaces it.
    index.insert(7, partial, t0 + Duration::hours(10), kumla.clone(), None);
    assert_eq!(index.len(), 1);
    assert_eq!(index.find(&sig, t0, &kumla, None), None);
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
        index.insert(n as i64, sig, t0, kumla.clone(), None);
    }
    let oldest = signature("", &format!("{} Det skriver polisen.", own(0))).expect("long");
    assert_eq!(index.find(&oldest, t0, &kumla, None), Some(0));
    let other = format!(
        "Ett fönster krossades vid en skola på söndagskvällen och en lärare såg två personer \
         springa därifrån mot idrottsplatsen. Skolan har haft flera liknande händelser i vår, \
         och rektorn vill nu att kommunen sätter upp kameror vid entréerna. Föräldrar har \
         samlat namn för bättre belysning på skolgården, där det är mörkt redan vid fyratiden \
         på eftermiddagen under vinterhalvåret. {stock}"
    );
    let other = signature("", &other).expect("long enough");
    assert_eq!(index.find(&other, t0, &kumla, None), None);
}

#[derive(Deserialize)]
struct RealEvent {
    id: i64,
    datetime: String,
    name: String,
    summary: String,
}

/// Real data: 500 distinct events from Polisen's API (the tagging fixture). No two are one
/// story, so the index, fed them in time order with the tagger's regions, must find nothing.
#[test]
fn real_polisen_events_never_merge() {
    let events: Vec<RealEvent> =
        serde_json::from_slice(&crate::support::read_fixture("tag/api-events-2026-08.json"))
            .expect("events json");
    let tagger = regionfeed::tag::Tagger::new(&[]).expect("gazetteer");
    let mut items: Vec<(DateTime<Utc>, &RealEvent, Vec<String>)> = events
        .iter()
        .map(|e| {
            let at = DateTime::parse_from_str(&e.datetime, "%Y-%m-%d %H:%M:%S %z")
                .expect("event time")
                .with_timezone(&Utc);
            let tags = tagger.tag(&e.name, &e.summary, None);
            let regions = tags.kommuner.iter().chain(&tags.lan).cloned().collect();
            (at, e, regions)
        })
        .collect();
    items.sort_by_key(|(at, e, _)| (*at, e.id));
    let mut index = StoryIndex::new(DEFAULT_WINDOW);
    let mut merged = Vec::new();
    let mut judged = 0;
    for (at, e, regions) in &items {
        let Some(sig) = signature(&e.name, &e.summary) else {
            continue;
        };
        judged += 1;
        if let Some(other) = index.find(&sig, *at, regions, None) {
            merged.push(format!("{} ~ {other}: {}", e.id, e.name));
        }
        index.insert(e.id, sig, *at, regions.clone(), None);
    }
    assert!(judged >= 400, "only {judged} events have a signature");
    assert!(
        merged.is_empty(),
        "{} merges:\n{}",
        merged.len(),
        merged.join("\n")
    );
}
