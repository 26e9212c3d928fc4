//! Times near-duplicate matching: `StoryIndex::find` for a new item against 100,000 stored
//! items (target < 1 ms per call), and states the signature's size per item (its database cost).
//!
//! Run with `cargo bench --bench dedup`. Plain `fn main` timing with `Instant` and medians over
//! repeated rounds. The stored texts are generated from Swedish word lists and sentence
//! templates in the style of Polisen press releases and local news, with the stock phrases
//! ("Polisen har upprättat en anmälan om …", "ombeds ringa 114 14") that many items share, so
//! the index's common buckets are as crowded as in a real feed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use regionfeed::dedup::{DEFAULT_WINDOW, Signature, StoryIndex, StoryItem, same_story, signature};

const STORED: usize = 100_000;
const QUERIES: usize = 2_000;
const ROUNDS: usize = 5;

const WHO: &[&str] = &[
    "En man i 20-årsåldern",
    "En man i 30-årsåldern",
    "En kvinna i 40-årsåldern",
    "En kvinna i 70-årsåldern",
    "Två män i 25-årsåldern",
    "En pojke i tonåren",
    "En äldre man",
    "En cyklist",
    "En motorcyklist",
    "En lastbilschaufför",
];
const WHEN: &[&str] = &[
    "på måndagskvällen",
    "på tisdagsmorgonen",
    "under natten till onsdag",
    "på torsdagseftermiddagen",
    "på fredagskvällen",
    "under lördagen",
    "natten till söndag",
    "strax efter midnatt",
];
const WHAT: &[&str] = &[
    "greps misstänkt för rån",
    "skadades i en trafikolycka",
    "misshandlades",
    "knivskars",
    "rånades på sin mobiltelefon",
    "greps misstänkt för inbrott",
    "hittades medvetslös",
    "omkom i en singelolycka",
    "greps misstänkt för rattfylleri",
    "utsattes för ett bedrägeri",
];
const PLACES: &[&str] = &[
    "centrum",
    "ett bostadsområde",
    "en parkering",
    "en busshållplats",
    "en livsmedelsbutik",
    "en restaurang",
    "ett industriområde",
    "en skolgård",
    "en idrottshall",
    "en bensinstation",
];
const CRIMES: &[&str] = &[
    "rån",
    "grov misshandel",
    "vållande till kroppsskada",
    "stöld",
    "skadegörelse",
    "olaga hot",
    "vårdslöshet i trafik",
    "rattfylleri",
    "bedrägeri",
    "försök till mord",
];
const HOSPITALS: &[&str] = &[
    "Universitetssjukhuset",
    "Centralsjukhuset",
    "länssjukhuset",
    "Akademiska sjukhuset",
    "Sahlgrenska",
];
const DETAILS: &[&str] = &[
    "Vittnen har sett {n} personer springa från platsen i riktning mot {street}.",
    "Gärningspersonen beskrivs som {n}0 till {m}0 år gammal och klädd i mörka kläder.",
    "{who} fördes med ambulans till {hospital} med lindriga skador.",
    "{who} fördes med ambulans till {hospital} där tillståndet beskrivs som allvarligt.",
    "Räddningstjänsten var på plats i omkring {n} timmar och {street} var avstängd under tiden.",
    "Polisen har spärrat av ett område runt {place} för teknisk undersökning.",
    "Ett tiotal personer har hörts av polisen under {when2} och fler förhör planeras.",
    "Enligt polisen hade {who2} fått med sig kontanter och smycken till ett värde av {n}0 000 kronor.",
    "Bilen var kraftigt skadad och bärgades efter ungefär {n} timmar.",
    "Det är den {ordinal} liknande händelsen i området den här månaden.",
    "Polisen har förstärkt närvaron kring {street} och {place} under helgen.",
    "{who} greps en knapp kilometer från {place} efter ett tips från allmänheten.",
    "Trafiken leds om via {street} medan arbetet pågår.",
    "Övervakningskameror vid {place} har säkrats och ska granskas under veckan.",
    "En granne berättar att det hördes höga röster från {place} strax innan.",
    "Åklagaren ska under {when2} ta ställning till om {who2} ska begäras häktad.",
    "– {opinion}, säger {name}, {role}.",
    "– {opinion}, säger {name} som bor vid {street}.",
    "Vid platsen hittades {object} och {object2} som nu undersöks.",
    "{name} hade parkerat {object} vid {street} när det hände.",
    "Larmet kom klockan {clock} och de första patrullerna var på plats tio minuter senare.",
    "Enligt {name}, {role}, har liknande händelser rapporterats vid {street} tidigare i år.",
];
const STOCK: &[&str] = &[
    "Polisen har upprättat en anmälan om {crime} och söker vittnen.",
    "Den som har information ombeds ringa 114 14 och uppge diarienummer {case}.",
    "Polisen vill komma i kontakt med personer som befann sig vid {street} mellan klockan {n} och {m}.",
    "I nuläget finns ingen misstänkt för brottet.",
    "Ingen person är gripen i nuläget.",
];
const WHEN2: &[&str] = &["dagen", "natten", "helgen", "veckan", "förmiddagen"];
/// Parts of free-standing detail sentences: adverbial, verb, subject, object.
const ADVERBIALS: &[&str] = &[
    "Strax därefter",
    "Enligt uppgifter till polisen",
    "Vid tretiden",
    "Senare under kvällen",
    "Redan på morgonen",
    "Efter en stund",
    "Under eftermiddagen",
    "Kort före midnatt",
    "Enligt ett vittne",
    "Vid lunchtid",
    "Samtidigt",
    "Ungefär en timme senare",
];
const SUBJECTS: &[&str] = &[
    "en förbipasserande",
    "en granne",
    "en väktare",
    "personalen",
    "en busschaufför",
    "en hundägare",
    "två ungdomar",
    "en taxiförare",
    "ägaren",
    "en patrull",
    "räddningstjänsten",
    "en äldre kvinna",
];
const VERBS: &[&str] = &[
    "upptäckte",
    "fotograferade",
    "såg",
    "hörde",
    "undersökte",
    "anmälde",
    "rapporterade",
    "hittade",
    "filmade",
    "iakttog",
    "fann",
    "noterade",
];
const COMPLEMENTS: &[&str] = &[
    "rök från ett fönster",
    "en person som sprang",
    "en övergiven bil",
    "krossat glas",
    "en öppen dörr",
    "en man med luvtröja",
    "blodspår på marken",
    "en brinnande container",
    "ett larm som tjöt",
    "en skadad cyklist",
    "en väska i diket",
    "skrik från en lägenhet",
];
/// Street names are built from these halves (150 streets), as real ones are.
const STREET_HEADS: &[&str] = &[
    "Björk",
    "Ek",
    "Lind",
    "Gran",
    "Tall",
    "Asp",
    "Al",
    "Rönn",
    "Hassel",
    "Lönn",
    "Sjö",
    "Berg",
    "Kvarn",
    "Smedje",
    "Skol",
    "Kyrk",
    "Hamn",
    "Park",
    "Torg",
    "Bruks",
    "Gärdes",
    "Ängs",
    "Mosse",
    "Back",
    "Strand",
    "Tegel",
    "Såg",
    "Post",
    "Prästgårds",
    "Fabriks",
];
const STREET_TAILS: &[&str] = &["vägen", "gatan", "stigen", "backen", "gränd"];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Anders", "Sara", "Per", "Lena",
    "Mikael", "Emma", "Jonas", "Ida", "Fredrik", "Elin", "Magnus", "Sofia", "Henrik",
];
const SURNAMES: &[&str] = &[
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Lindström",
    "Lindqvist",
    "Berg",
    "Axelsson",
    "Holm",
    "Sandberg",
    "Forsberg",
];
const ROLES: &[&str] = &[
    "presstalesperson",
    "förundersökningsledare",
    "räddningsledare",
    "insatschef",
    "kommunalråd",
    "verksamhetschef",
    "vittne",
    "granne",
    "butiksägare",
    "rektor",
];
const OBJECTS: &[&str] = &[
    "en mobiltelefon",
    "en cykel",
    "ett kylskåp",
    "en vit skåpbil",
    "en röd personbil",
    "ett kassaskåp",
    "en ryggsäck",
    "en båtmotor",
    "två datorer",
    "ett paket",
    "en kniv",
    "en hammare",
    "en motorsåg",
    "ett släpfordon",
    "en moped",
    "en gasolflaska",
];
const OPINIONS: &[&str] = &[
    "Det var en chock för alla som bor här",
    "Vi har arbetat intensivt sedan i går kväll",
    "Vi vet ännu inte vad som har orsakat det",
    "Det är viktigt att den som sett något hör av sig",
    "Vi följer utvecklingen noga",
    "Det här har pågått alldeles för länge",
    "Vi har fått in flera tips som vi nu går igenom",
    "Ingen ska behöva känna sig otrygg på väg hem",
];
const ORDINALS: &[&str] = &["andra", "tredje", "fjärde", "femte"];

/// splitmix64: a small deterministic generator, so every run times the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// A kommun: (code, name, län code).
type Kommun = (String, String, String);

fn kommuner() -> Vec<Kommun> {
    include_str!("../data/kommuner.csv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect()
}

/// The specifics of one story, which its sentences repeat, as a real report's do: the street,
/// the people, the time, the case number.
struct Scene {
    town: String,
    street: String,
    name: String,
    role: &'static str,
    object: &'static str,
    object2: &'static str,
    place: &'static str,
    crime: &'static str,
    hospital: &'static str,
    opinion: &'static str,
    clock: String,
    case: String,
}

fn scene(rng: &mut Rng, town: &str) -> Scene {
    Scene {
        town: town.to_string(),
        street: format!("{}{}", rng.pick(STREET_HEADS), rng.pick(STREET_TAILS)),
        name: format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(SURNAMES)),
        role: rng.pick(ROLES),
        object: rng.pick(OBJECTS),
        object2: rng.pick(OBJECTS),
        place: rng.pick(PLACES),
        crime: rng.pick(CRIMES),
        hospital: rng.pick(HOSPITALS),
        opinion: rng.pick(OPINIONS),
        clock: format!("{:02}.{:02}", rng.below(24), rng.below(60)),
        case: format!("5000-K{}-25", 100_000 + rng.below(900_000)),
    }
}

fn fill(rng: &mut Rng, template: &str, sc: &Scene) -> String {
    let mut s = template.to_string();
    for (slot, value) in [
        ("{who}", rng.pick(WHO).to_string()),
        ("{who2}", rng.pick(WHO).to_lowercase()),
        ("{street}", format!("{} i {}", sc.street, sc.town)),
        ("{name}", sc.name.clone()),
        ("{role}", sc.role.to_string()),
        ("{object2}", sc.object2.to_string()),
        ("{object}", sc.object.to_string()),
        ("{opinion}", sc.opinion.to_string()),
        ("{place}", sc.place.to_string()),
        ("{crime}", sc.crime.to_string()),
        ("{hospital}", sc.hospital.to_string()),
        ("{when2}", rng.pick(WHEN2).to_string()),
        ("{ordinal}", rng.pick(ORDINALS).to_string()),
        ("{clock}", sc.clock.clone()),
        ("{case}", sc.case.clone()),
        ("{n}", (2 + rng.below(8)).to_string()),
        ("{m}", (1 + rng.below(9)).to_string()),
    ] {
        s = s.replace(slot, &value);
    }
    s
}

/// A press-release-like item: a lede, four to seven details, two or three stock sentences.
fn story(rng: &mut Rng, town: &str) -> Vec<String> {
    let sc = scene(rng, town);
    let mut sentences = vec![format!(
        "{} {} {} vid {} i {town}.",
        rng.pick(WHO),
        rng.pick(WHAT),
        rng.pick(WHEN),
        sc.street
    )];
    for _ in 0..4 + rng.below(4) {
        if rng.below(2) == 0 {
            let t = rng.pick(DETAILS);
            sentences.push(fill(rng, t, &sc));
        } else {
            // Swedish puts the verb second: "Vid tretiden upptäckte en granne rök …".
            sentences.push(format!(
                "{} {} {} {} vid {}.",
                rng.pick(ADVERBIALS),
                rng.pick(VERBS),
                rng.pick(SUBJECTS),
                rng.pick(COMPLEMENTS),
                sc.street
            ));
        }
    }
    for _ in 0..2 + rng.below(2) {
        let t = rng.pick(STOCK);
        sentences.push(fill(rng, t, &sc));
    }
    sentences
}

/// A local site's rewrite: a new lede, one detail cut, a quote added, a source line.
fn rewrite(rng: &mut Rng, sentences: &[String], town: &str) -> String {
    let mut out = vec![format!(
        "Det blev en dramatisk {} i {town}.",
        rng.pick(WHEN2)
    )];
    let cut = 1 + rng.below(sentences.len() - 1);
    out.extend(
        sentences
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| *i != cut)
            .map(|(_, s)| s.clone()),
    );
    out.insert(
        2,
        "– Vi tar det här på stort allvar, säger polisens presstalesperson.".into(),
    );
    out.push("Källa: Polisen".into());
    out.join(" ")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let kommuner = kommuner();
    let mut rng = Rng(0x00de_d0b5_eed5);
    let start: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().expect("fixed time");
    let span = DEFAULT_WINDOW.num_seconds();

    // Stored items, spread over one window so that none is too old to match.
    let mut stored: Vec<(Vec<String>, usize, DateTime<Utc>)> = Vec::with_capacity(STORED);
    let mut sigs: Vec<Signature> = Vec::with_capacity(STORED);
    let mut sig_time = Duration::ZERO;
    while sigs.len() < STORED {
        let k = rng.below(kommuner.len());
        let s = story(&mut rng, &kommuner[k].1);
        let text = s.join(" ");
        let t = Instant::now();
        let sig = signature("", black_box(&text));
        sig_time += t.elapsed();
        if let Some(sig) = sig {
            let at = start + chrono::Duration::seconds(rng.next() as i64 % span).abs();
            stored.push((s, k, at));
            sigs.push(sig);
        }
    }
    let sizes: Vec<usize> = sigs.iter().map(|s| s.to_bytes().len()).collect();
    let words: usize = stored
        .iter()
        .map(|(s, _, _)| s.join(" ").split_whitespace().count())
        .sum();

    let t = Instant::now();
    let mut index = StoryIndex::new(DEFAULT_WINDOW);
    for (i, (sig, (_, k, at))) in sigs.iter().zip(&stored).enumerate() {
        let (code, _, lan) = &kommuner[*k];
        // The stored items are the other sources' reports, the queries a new source's.
        index.insert(
            i as i64,
            sig.clone(),
            *at,
            vec![lan.clone(), code.clone()],
            Some("stored"),
        );
    }
    let build = t.elapsed();

    // Queries: half are rewrites of a stored item (should find it), half are new stories.
    let mut queries = Vec::with_capacity(QUERIES);
    while queries.len() < QUERIES {
        let (text, k, at, source) = if queries.len() % 2 == 0 {
            let i = rng.below(stored.len());
            let (s, k, at) = &stored[i];
            let text = rewrite(&mut rng, s, &kommuner[*k].1);
            (text, *k, *at + chrono::Duration::hours(2), Some(i as i64))
        } else {
            let k = rng.below(kommuner.len());
            let text = story(&mut rng, &kommuner[k].1).join(" ");
            (text, k, start + chrono::Duration::hours(36), None)
        };
        if let Some(sig) = signature("", &text) {
            let (code, _, lan) = &kommuner[k];
            queries.push((sig, at, vec![lan.clone(), code.clone()], source, text));
        }
    }

    let mut all = Vec::with_capacity(QUERIES * ROUNDS);
    let mut round_medians = Vec::with_capacity(ROUNDS);
    let (mut found_source, mut found_other, mut found_for_new) = (0, 0, 0);
    for round in 0..ROUNDS {
        let mut times = Vec::with_capacity(QUERIES);
        for (sig, at, regions, source, _) in &queries {
            let t = Instant::now();
            let found = index.find(black_box(sig), *at, regions, Some("new"));
            times.push(t.elapsed());
            if round == 0 {
                match (source, found) {
                    (Some(s), Some(f)) if *s == f => found_source += 1,
                    (Some(_), Some(_)) => found_other += 1,
                    (None, Some(_)) => found_for_new += 1,
                    _ => {}
                }
            }
        }
        times.sort();
        round_medians.push(percentile(&times, 0.5));
        all.extend(times);
    }
    all.sort();
    round_medians.sort();

    // Misses of the index that the pairwise rule would have accepted (the walk bound at work).
    let mut index_misses = 0;
    for (sig, at, regions, source, text) in &queries {
        let Some(s) = source else { continue };
        if index.find(sig, *at, regions, Some("new")) == Some(*s) {
            continue;
        }
        let (sentences, k, stored_at) = &stored[*s as usize];
        let stored_text = sentences.join(" ");
        let (code, _, lan) = &kommuner[*k];
        let stored_regions = vec![lan.clone(), code.clone()];
        let a = StoryItem {
            title: "",
            text: &stored_text,
            published: *stored_at,
            regions: &stored_regions,
        };
        let b = StoryItem {
            title: "",
            text,
            published: *at,
            regions,
        };
        if same_story(&a, &b) {
            index_misses += 1;
        }
    }
    let mut sorted_sizes = sizes.clone();
    sorted_sizes.sort();
    let mean_size = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    println!(
        "stored items: {} synthetic press-release texts, {:.0} words on average",
        STORED,
        words as f64 / STORED as f64
    );
    println!(
        "signature(): {:.1} µs per item",
        sig_time.as_secs_f64() * 1e6 / STORED as f64
    );
    println!(
        "signature bytes per item (DB cost): mean {:.0}, median {}, max {} (format 11: 27 + 2 per number (≤ 16) and age (≤ 8) + 4 per name (≤ 16), street (≤ 8), title kommun (≤ 4), title name and subject (≤ 4 each), mention (≤ 24), 3-gram (≤ 128) and 5-gram (≤ 256) + 5 per content stem (≤ 128) kept)",
        mean_size,
        percentile_usize(&sorted_sizes, 0.5),
        sorted_sizes.last().copied().unwrap_or(0)
    );
    println!(
        "index build: {:.2} s for {} inserts; heap {:.1} MB ({:.0} bytes per item)",
        build.as_secs_f64(),
        index.len(),
        index.heap_bytes() as f64 / 1e6,
        index.heap_bytes() as f64 / index.len() as f64
    );
    println!(
        "find() against {} items: median {:.1} µs (median of {} round medians {:.1} µs), p99 {:.1} µs, max {:.1} µs (target < 1000 µs)",
        index.len(),
        percentile(&all, 0.5).as_secs_f64() * 1e6,
        ROUNDS,
        percentile(&round_medians, 0.5).as_secs_f64() * 1e6,
        percentile(&all, 0.99).as_secs_f64() * 1e6,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e6
    );
    println!(
        "sanity: {}/{} rewrites found their source ({} another item; {} missed by the index although the pairwise rule accepts them), {}/{} new stories matched something",
        found_source,
        QUERIES / 2,
        found_other,
        index_misses,
        found_for_new,
        QUERIES / 2
    );
}

fn percentile_usize(sorted: &[usize], p: f64) -> usize {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
