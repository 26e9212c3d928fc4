//! The place tagger: single rule cases, labelled corpora scored for precision and recall, and
//! the real Polisen API events.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use regionfeed::model::Tags;
use regionfeed::regions::Regions;
use regionfeed::tag::{TagError, Tagger};

use crate::support::{fixture, read_fixture};

fn tagger() -> &'static Tagger {
    static T: OnceLock<Tagger> = OnceLock::new();
    T.get_or_init(|| Tagger::new(&[]).expect("the embedded gazetteer loads"))
}

/// The contract every result keeps: sorted unique codes, every kommun's län present, evidence
/// for every kommun.
fn check_invariants(tags: &Tags, what: &str) {
    let regions = Regions::get_builtin();
    for list in [&tags.kommuner, &tags.lan] {
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(&sorted, list, "{what}: codes not sorted and unique");
    }
    for k in &tags.kommuner {
        let lan = &regions.lan_of(k).expect("known kommun").code;
        assert!(tags.lan.contains(lan), "{what}: län {lan} of {k} missing");
        assert!(
            tags.evidence
                .iter()
                .any(|e| &e.code == k && !e.matched.is_empty()),
            "{what}: no evidence for {k}"
        );
    }
}

fn codes(field: &str) -> Vec<String> {
    if field.trim() == "-" {
        Vec::new()
    } else {
        field.split_whitespace().map(str::to_string).collect()
    }
}

/// One case: the tagger's kommuner and län must be exactly the expected ones.
fn check(title: &str, text: &str, prior: Option<&str>, kommuner: &[String], lan: &[String]) {
    let tags = tagger().tag(title, text, prior);
    let what = format!("{title:?} / {text:?} (prior {prior:?})");
    check_invariants(&tags, &what);
    assert_eq!(
        (&tags.kommuner[..], &tags.lan[..]),
        (kommuner, lan),
        "{what}: evidence {:?}",
        tags.evidence
    );
}

#[test]
fn rule_cases() {
    let text = String::from_utf8(read_fixture("tag/cases.tsv")).expect("utf-8");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 5, "bad case line {line:?}");
        let prior = (f[2] != "-").then_some(f[2]);
        check(f[0], f[1], prior, &codes(f[3]), &codes(f[4]));
        n += 1;
    }
    assert!(n >= 40, "only {n} cases");
}

/// The shipped lokalpolisområde map: every row tags exactly its kommuner, and region
/// Bergslagen (Örebro, Värmlands and Dalarnas län) is covered with each kommun in one row.
#[test]
fn lokalpolisomraden_cover_bergslagen() {
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lokalpolisomraden.csv"),
    )
    .expect("data file");
    let regions = Regions::get_builtin();
    let mut covered: Vec<String> = Vec::new();
    for line in csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split(',').collect();
        let mut want = codes(f[2]);
        want.sort();
        let lan: BTreeSet<String> = want
            .iter()
            .map(|k| regions.lan_of(k).expect("known kommun").code.clone())
            .collect();
        let lan: Vec<String> = lan.into_iter().collect();
        let title = format!("Nya besked från lokalpolisområde {}", f[1]);
        check(
            &title,
            "Polisen berättar mer på torsdag.",
            None,
            &want,
            &lan,
        );
        if f[0] == "Bergslagen" {
            covered.extend(want);
        }
    }
    let mut bergslagen: Vec<String> = ["17", "18", "20"]
        .iter()
        .flat_map(|l| regions.kommuner_in(l))
        .map(|k| k.code.clone())
        .collect();
    bergslagen.sort();
    covered.sort();
    assert_eq!(
        covered, bergslagen,
        "each Bergslagen kommun in exactly one row"
    );
}

#[test]
fn evidence_names_the_text_and_rule() {
    let tags = tagger().tag("Bilbrand i Nora under natten", "", Some("18"));
    assert_eq!(tags.evidence.len(), 1);
    let e = &tags.evidence[0];
    assert_eq!(
        (e.code.as_str(), e.matched.as_str(), e.rule.as_str()),
        ("1884", "Nora", "kommun-name")
    );
    let tags = tagger().tag("16 mars 10:21, Trafikolycka, Kumla", "", None);
    assert_eq!(tags.evidence[0].rule, "police-title");
    let tags = tagger().tag("Kö vid Fjugesta", "", None);
    assert_eq!(
        (
            tags.evidence[0].matched.as_str(),
            tags.evidence[0].rule.as_str()
        ),
        ("Fjugesta", "locality")
    );
}

#[test]
fn operator_places_extend_and_override() {
    let places = vec![
        ("Kvarntorp".to_string(), "1881".to_string()),
        ("Mellösa".to_string(), "0482".to_string()),
        // A district of the operator's own: several kommun codes mean all of them.
        (
            "lokalpolisområde Nacka".to_string(),
            "0182 0192".to_string(),
        ),
    ];
    let t = Tagger::new(&places).expect("valid places");
    let tags = t.tag("Ny cykelväg till Kvarntorp", "", None);
    assert_eq!(tags.kommuner, ["1881"]);
    assert_eq!(tags.evidence[0].rule, "place");
    // Built in, Mellösa is a homonym in two kommuner; the operator says which one.
    assert_eq!(t.tag("Brand i Mellösa", "", None).kommuner, ["0482"]);
    let tags = t.tag("Fler poliser i lokalpolisområde Nacka", "", None);
    assert_eq!(tags.kommuner, ["0182", "0192"]);
    assert_eq!(tags.lan, ["01"]);
    assert_eq!(tags.evidence[0].matched, "lokalpolisområde Nacka");
    for code in ["9999", "0182 9999", "01 0182"] {
        let bad = Tagger::new(&[("Ingenstans".to_string(), code.to_string())]);
        assert!(
            matches!(bad, Err(TagError::UnknownCode { .. })),
            "{code}: {bad:?}"
        );
    }
}

/// One labelled line: the same shape as the shared `tagging-dev.jsonl`.
#[derive(serde::Deserialize)]
struct Labelled {
    id: String,
    title: String,
    text: String,
    region: Option<String>,
    kommuner: Vec<String>,
    lan: Vec<String>,
}

#[derive(Debug, Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, want: &[String], have: &[String]) {
        let want: BTreeSet<_> = want.iter().collect();
        let have: BTreeSet<_> = have.iter().collect();
        self.tp += want.intersection(&have).count();
        self.fp += have.difference(&want).count();
        self.fn_ += want.difference(&have).count();
    }
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
}

/// Scores a labelled JSONL file and fails below the quality target.
fn score(path: &Path, min_items: usize) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut k, mut l) = (Counts::default(), Counts::default());
    let mut n = 0;
    let mut misses = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let g: Labelled = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let tags = tagger().tag(&g.title, &g.text, g.region.as_deref());
        check_invariants(&tags, &g.id);
        k.add(&g.kommuner, &tags.kommuner);
        l.add(&g.lan, &tags.lan);
        if tags.kommuner != g.kommuner || tags.lan != g.lan {
            misses.push(format!(
                "{}: want {:?} {:?} got {:?} {:?} | {}",
                g.id, g.kommuner, g.lan, tags.kommuner, tags.lan, g.title
            ));
        }
        n += 1;
    }
    let name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!(
        "{name}: kommun P={:.3} R={:.3} | lan P={:.3} R={:.3} | n={n}",
        k.precision(),
        k.recall(),
        l.precision(),
        l.recall()
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(n >= min_items, "{name}: only {n} items");
    assert!(
        k.precision() >= 0.97 && k.recall() >= 0.95 && l.precision() >= 0.98 && l.recall() >= 0.97,
        "{name} below target: kommun P={:.3} R={:.3} lan P={:.3} R={:.3}",
        k.precision(),
        k.recall(),
        l.precision(),
        l.recall()
    );
}

#[test]
fn shared_dev_set() {
    score(&fixture("tag/tagging-dev.jsonl"), 25);
}

#[test]
fn tune_set() {
    score(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/tagging-tune.jsonl"),
        200,
    );
}

#[test]
fn held_out_report_set() {
    score(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/tagging-report.jsonl"),
        200,
    );
}

#[derive(serde::Deserialize)]
struct ApiEvent {
    name: String,
    summary: String,
    location: ApiLocation,
}

#[derive(serde::Deserialize)]
struct ApiLocation {
    name: String,
}

/// Every real event gets its title place, and its län is exactly the one Polisen files it under.
#[test]
fn real_api_events() {
    let regions = Regions::get_builtin();
    let events: Vec<ApiEvent> =
        serde_json::from_slice(&read_fixture("tag/api-events-2026-08.json")).expect("events json");
    assert_eq!(events.len(), 500);
    let mut failures = Vec::new();
    for ev in &events {
        let tags = tagger().tag(&ev.name, &ev.summary, None);
        check_invariants(&tags, &ev.name);
        let place = ev
            .name
            .rsplit(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        let lan = regions
            .lan()
            .iter()
            .find(|l| l.name == ev.location.name)
            .unwrap_or_else(|| panic!("unknown län {}", ev.location.name));
        let want = match regions
            .kommuner()
            .iter()
            .find(|k| k.name.to_lowercase() == place)
        {
            Some(k) => tags.kommuner.contains(&k.code),
            None => lan.name.to_lowercase() == place,
        };
        if !want || tags.lan != [lan.code.clone()] {
            failures.push(format!("{} -> {:?} {:?}", ev.name, tags.kommuner, tags.lan));
        }
    }
    assert!(
        failures.is_empty(),
        "{} events wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A real county feed: every event stays in its county, and a kommun in the title is tagged.
#[test]
fn real_county_rss_feed() {
    let regions = Regions::get_builtin();
    let feed = feed_rs::parser::parse(&read_fixture("tag/handelser-blekinge-2022-02.xml")[..])
        .expect("rss parses");
    assert_eq!(feed.entries.len(), 200);
    for entry in &feed.entries {
        let title = entry
            .title
            .as_ref()
            .map(|t| t.content.clone())
            .unwrap_or_default();
        let text = entry
            .summary
            .as_ref()
            .map(|t| t.content.clone())
            .unwrap_or_default();
        let tags = tagger().tag(&title, &text, Some("10"));
        check_invariants(&tags, &title);
        assert_eq!(tags.lan, ["10"], "{title} / {text}: {:?}", tags.evidence);
        let place = title.rsplit(',').next().unwrap_or_default().trim();
        if let Some(k) = regions.kommuner().iter().find(|k| k.name == place) {
            assert!(
                tags.kommuner.contains(&k.code),
                "{title}: {:?}",
                tags.kommuner
            );
        }
    }
}
