//! Times the place tagger: items per second on one core, and how long the gazetteer takes to load.
//!
//! Run with `cargo bench --bench tag`. Plain `fn main` timing with medians over repeated runs, so
//! no benchmark framework is needed. Targets: ≥ 50,000 items/s for a title plus a 500-character
//! text, and `Tagger::new(&[])` under 50 ms.

use std::hint::black_box;
use std::time::{Duration, Instant};

use regionfeed::tag::Tagger;

/// Realistic items: a local news lede with several places, a police event, a national item.
const ITEMS: &[(&str, &str, Option<&str>)] = &[
    (
        "Samverkan för att minska brottslighet",
        "Nu har lokalpolisområde Hallsberg tillsammans med Askersund, Hallsberg, Kumla och Laxå \
         kommuner fattat nytt beslut om samverkan för brottsförebyggande och trygghetsskapande \
         arbete. Huvudmålet med samverkan mellan, i detta fall polis och kommuner, är att öka \
         tryggheten och minska brottsligheten. Jens Hedenborg är chef i lokalpolisområdet, vilket \
         i praktiken täcker in alla fyra kommunerna, och han tänker så här om överenskommelsen: \
         Det kommer att stärka oss eftersom det skapar utrymme att diskutera metoder.",
        Some("18"),
    ),
    (
        "16 mars 10:21, Trafikolycka, Kumla",
        "Två personbilar har kolliderat på Västra Drottningvägen i Kumla. Inga uppgifter om \
         personskador. Räddningstjänsten och ambulans är på plats och trafiken leds förbi \
         olycksplatsen. Polisen upprättar anmälan om vårdslöshet i trafik. Bärgning är beställd \
         och vägen väntas vara avstängd i ungefär en timme. Uppdatering: bilarna är bärgade och \
         vägen är öppen igen. Ingen person fördes till sjukhus, men en förare fick följa med \
         till Universitetssjukhuset Örebro för kontroll. Utredningen fortsätter under veckan.",
        Some("18"),
    ),
    (
        "Flexiblare regler för studentbostäder",
        "Regeringen går vidare med förslagen till lättnader i byggkraven för studentbostäder. \
         Det ska bli enklare och billigare att bygga små lägenheter för studenter, enligt \
         bostadsministern. Förslagen gäller bland annat tillgänglighet, ljudkrav och förråd. \
         Kritiker menar att kvaliteten riskerar att sjunka och att de nya reglerna inte löser \
         bostadsbristen. Remissinstanserna har varit delade. Reglerna föreslås träda i kraft \
         vid årsskiftet och gälla i hela landet, även för befintliga projekt som ännu inte \
         fått bygglov. Beslutet väntas under våren.",
        None,
    ),
];

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut loads = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let tagger = Tagger::new(&[]).expect("gazetteer loads");
        loads.push(t.elapsed());
        black_box(tagger);
    }
    let load = median(loads);

    let tagger = Tagger::new(&[]).expect("gazetteer loads");
    for (title, text, _) in ITEMS {
        assert!(
            text.chars().count() >= 450,
            "bench text too short for {title}"
        );
    }
    let per_round = 3000;
    let mut rounds = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        for i in 0..per_round {
            let (title, text, prior) = ITEMS[i % ITEMS.len()];
            black_box(tagger.tag(black_box(title), black_box(text), prior));
        }
        rounds.push(t.elapsed());
    }
    let round = median(rounds);
    let per_sec = per_round as f64 / round.as_secs_f64();
    println!(
        "Tagger::new(&[]) load: median {:.2} ms (target < 50 ms)",
        load.as_secs_f64() * 1e3
    );
    println!(
        "tag(title + ~500-char text): median {:.0} items/s on one core, {:.2} µs/item (target ≥ 50,000/s)",
        per_sec,
        round.as_secs_f64() * 1e6 / per_round as f64
    );
}
