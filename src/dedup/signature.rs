//! Turns an item's text into a compact, storable signature: bottom-k sketches of its word
//! 5-grams and 3-grams, its content words weighted by rarity, and the facts that tell template
//! look-alikes apart (the numbers and the specific names in the text, Polisen's event stamp).
//!
//! The sketch keeps the `SKETCH_SIZE` smallest shingle hashes. Texts up to about 260 words fit
//! whole, so the containment of two typical items is exact; for longer texts it is estimated from
//! the part of both sketches below the smaller cut-off, where both are complete samples.

use crate::police;

/// Shingle hashes kept per signature. 256 covers a press release or a news lede whole.
pub const SKETCH_SIZE: usize = 256;
/// Words per shingle. Five-word runs are rare outside copied sentences, while the three-word
/// runs of Polisen's and the kommuner's stock phrases ("har upprättat en anmälan") are not.
pub const SHINGLE_WORDS: usize = 5;
/// Below this many words (after boilerplate is dropped) a text is too short to judge:
/// Polisen's one-line summaries repeat word for word for unrelated events. Such an item still
/// gets a signature when its title is a Polisen event title, whose time stamp and place identify
/// the event (see [`Signature::is_short`]).
pub const MIN_WORDS: usize = 25;
/// Distinct shingles needed as well, so that a long run of one repeated phrase is not judged.
pub const MIN_SHINGLES: usize = 20;
/// How many of a text's distinct numbers are kept (the ones with the smallest hashes).
const NUMBER_SAMPLE: usize = 16;
/// How many of a text's distinct specific names are kept (the ones with the smallest hashes).
const NAME_SAMPLE: usize = 16;
/// Names are compared by their first characters, without a genitive s: a rewrite writes
/// "Gränsö" for "Gränsöbadet", "Margretelund" for "Margretelunds industriområde", "Hammerdals
/// dricksvatten" for "Hammerdal".
const NAME_STEM_CHARS: usize = 6;
/// How many of a text's distinct street names are kept (the ones with the smallest hashes).
const STREET_SAMPLE: usize = 8;
/// Endings of Swedish street and square names ("Drottninggatan", "Ekvägen", "Stortorget").
const STREET_ENDINGS: &[&str] = &[
    "gatan", "vägen", "gränd", "gränden", "torget", "backen", "leden", "allén", "stigen", "platsen",
];
/// Word 3-gram hashes kept per signature: enough for a brief or a national copy (≤ 130 words)
/// whole, which is where they are compared.
pub const TRIGRAM_SKETCH_SIZE: usize = 128;
/// Content stems kept per signature (the ones with the smallest hashes): a 200-word text has
/// about 120.
const CONTENT_SAMPLE: usize = 128;
/// Background document frequencies of content stems (see `scripts/gen_content_df.py`).
const CONTENT_DF: &str = include_str!("../../data/content-df.tsv");
/// Serialized layout version; bump when any hash, constant or the layout changes, so stored
/// signatures from an older build are recomputed instead of compared.
const FORMAT_VERSION: u8 = 11;
/// Bytes before the samples: version, flags, shingle count, event key, event time key, number
/// count, name count, street count, title kommun count, 3-gram count, content stem count,
/// weekdays, event kinds, age count, title name count, subject count, mention count, mentions
/// in all.
const HEADER_BYTES: usize = 1 + 1 + 2 + 4 + 4 + 1 + 1 + 1 + 1 + 2 + 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1;
/// How many mentions (all specific names, genitive s dropped) are kept.
const MENTION_SAMPLE: usize = 24;
/// How many ages and how many specific names of the title are kept.
const AGE_SAMPLE: usize = 8;
const TITLE_NAME_SAMPLE: usize = 4;
/// Kinds of event, each recognised by words that start with one of its stems. Two reports of
/// one event are of the same kinds; a fire and a burglary in one town the same day are not.
const EVENT_KINDS: &[&[&str]] = &[
    &[
        "brand",
        "brann",
        "brinn",
        "eld",
        "lågor",
        "rökutveck",
        "övertänd",
        "släck",
    ],
    &[
        "olycka",
        "olyckan",
        "kollider",
        "krock",
        "trafikolyck",
        "singelolyck",
        "voltade",
        "körde av",
        "påkörd",
        "kvaddad",
    ],
    &[
        "misshand",
        "knivskur",
        "knivhugg",
        "skottloss",
        "skjut",
        "sköts",
        "mord",
        "dråp",
        "våld",
    ],
    &["inbrott", "stöld", "stul", "stal", "rån", "rånad", "rånar"],
    &["narkotik", "cannabis", "kokain", "amfetamin"],
    &[
        "tingsrätt",
        "döms",
        "dömd",
        "dömer",
        "åtal",
        "häkta",
        "hovrätt",
    ],
    &["skola", "skolan", "elever", "förskol", "högstadi"],
    &["vatten", "avlopp", "ledning"],
    &["försvunnen", "saknad", "eftersök"],
];
const WEEKDAYS: &[&str] = &[
    "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag",
];
/// How many kommun names of the title are kept.
const TITLE_KOMMUN_SAMPLE: usize = 4;
/// Flag: the text is too short to judge; only the event stamp identifies the item.
const FLAG_SHORT: u8 = 1;

/// A compact signature of an item's text; `None` from [`signature`] when the text is too short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Whether the text is too short to judge (then `event` is not 0).
    pub(crate) short: bool,
    /// Distinct shingles in the text (saturating at `u16::MAX`).
    pub(crate) shingles: u16,
    /// Hash of a Polisen event title's time stamp and place; 0 when the title is not one.
    pub(crate) event: u32,
    /// Hash of the time stamp alone: the county feed may say "Visby" where the national feed
    /// says "Gotland" for one event. 0 when the title is not a Polisen event title.
    pub(crate) event_time: u32,
    /// Distinct numeric tokens in the text (saturating).
    pub(crate) numbers: u8,
    /// Bottom-k sample of the numeric tokens' 16-bit hashes, ascending, at most `NUMBER_SAMPLE`.
    pub(crate) number_sample: Vec<u16>,
    /// Distinct specific names in title and text (saturating); see [`names`].
    pub(crate) names: u8,
    /// Bottom-k sample of the 32-bit hashes of the names' stems (first `NAME_STEM_CHARS`
    /// letters, genitive s dropped), ascending, at most `NAME_SAMPLE`.
    pub(crate) name_sample: Vec<u32>,
    /// Kommuner the title spells out ("Brand i Kumla"), as their SCB codes (1881), ascending,
    /// at most `TITLE_KOMMUN_SAMPLE`: where the headline says the news happened.
    pub(crate) title_kommuner: Vec<u32>,
    /// Distinct street names among the names (saturating).
    pub(crate) streets: u8,
    /// Bottom-k sample of the street names' hashes (as in `name_sample`), at most
    /// `STREET_SAMPLE`.
    pub(crate) street_sample: Vec<u32>,
    /// Distinct word 3-grams in the text (saturating at `u16::MAX`).
    pub(crate) trigrams: u16,
    /// The smallest 3-gram hashes, ascending, at most `TRIGRAM_SKETCH_SIZE`.
    pub(crate) trigram_sketch: Vec<u32>,
    /// Distinct content stems in title and text (saturating); see [`content_stems`].
    pub(crate) contents: u8,
    /// Bottom-k sample of the content stems' hashes, ascending, at most `CONTENT_SAMPLE`,
    /// each with its weight (rarity: 32 × ln((texts + 1) / (df + 1)), rounded).
    pub(crate) content_sample: Vec<(u32, u8)>,
    /// The facts a report states, for telling one event from another of its kind.
    pub(crate) facts: Facts,
    /// The smallest shingle hashes (top 32 bits of 64), ascending, at most `SKETCH_SIZE`.
    pub(crate) sketch: Vec<u32>,
}

/// The facts of a text that two reports of one event agree on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Weekdays named ("på onsdagen", "natten till lördag"), one bit each from Monday.
    pub weekdays: u8,
    /// Kinds of event named (fire, accident, violence, theft, …), one bit each
    /// (see `EVENT_KINDS`).
    pub kinds: u16,
    /// Ages and spans in years ("en 45-årig man", "i 60-årsåldern", "19 och 22 år"), ascending,
    /// at most `AGE_SAMPLE`.
    pub ages: Vec<u16>,
    /// Hashes of the title's specific names (as in `name_sample`), ascending, at most
    /// `TITLE_NAME_SAMPLE`.
    pub title_names: Vec<u32>,
    /// The same names without a genitive s ("Hertsöskolans" is "hertsöskolan"), hashed: what
    /// the headline is about.
    pub subjects: Vec<u32>,
    /// Every specific name of title and text without a genitive s, hashed, ascending, at most
    /// `MENTION_SAMPLE` (the smallest hashes)…
    pub mentions: Vec<u32>,
    /// … of this many (saturating).
    pub mentions_total: u8,
}

impl Signature {
    /// The stored form, little-endian: the header, then 2 bytes per kept number, 4 per kept
    /// name, street, title kommun, 3-gram and 5-gram, and 5 per kept content stem, in all
    /// `19 + 2 × min(numbers, 16) + 4 × (min(names, 16) + min(streets, 8) + title kommuner
    /// + min(3-grams, 128) + min(5-grams, 256)) + 5 × min(stems, 128)` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_BYTES
                + 2 * self.number_sample.len()
                + 4 * (self.name_sample.len()
                    + self.street_sample.len()
                    + self.title_kommuner.len()
                    + self.facts.title_names.len()
                    + self.facts.subjects.len()
                    + self.facts.mentions.len()
                    + self.trigram_sketch.len()
                    + self.sketch.len())
                + 5 * self.content_sample.len(),
        );
        out.push(FORMAT_VERSION);
        out.push(if self.short { FLAG_SHORT } else { 0 });
        out.extend_from_slice(&self.shingles.to_le_bytes());
        out.extend_from_slice(&self.event.to_le_bytes());
        out.extend_from_slice(&self.event_time.to_le_bytes());
        out.push(self.numbers);
        out.push(self.names);
        out.push(self.streets);
        // At most TITLE_KOMMUN_SAMPLE, so it fits.
        out.push(self.title_kommuner.len() as u8);
        out.extend_from_slice(&self.trigrams.to_le_bytes());
        out.push(self.contents);
        out.push(self.facts.weekdays);
        out.extend_from_slice(&self.facts.kinds.to_le_bytes());
        // Both at most their sample sizes, so they fit.
        out.push(self.facts.ages.len() as u8);
        out.push(self.facts.title_names.len() as u8);
        out.push(self.facts.subjects.len() as u8);
        out.push(self.facts.mentions.len() as u8);
        out.push(self.facts.mentions_total);
        for v in self.number_sample.iter().chain(&self.facts.ages) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in self
            .name_sample
            .iter()
            .chain(&self.street_sample)
            .chain(&self.title_kommuner)
            .chain(&self.facts.title_names)
            .chain(&self.facts.subjects)
            .chain(&self.facts.mentions)
            .chain(&self.trigram_sketch)
            .chain(&self.sketch)
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (h, w) in &self.content_sample {
            out.extend_from_slice(&h.to_le_bytes());
            out.push(*w);
        }
        out
    }

    /// Reads [`Signature::to_bytes`] output; `None` for another version or a damaged value.
    pub fn from_bytes(b: &[u8]) -> Option<Signature> {
        if b.len() < HEADER_BYTES || b[0] != FORMAT_VERSION {
            return None;
        }
        let flags = b[1];
        let short = flags & FLAG_SHORT != 0;
        let shingles = u16::from_le_bytes([b[2], b[3]]);
        let event = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let event_time = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
        let numbers = b[12];
        let names = b[13];
        let streets = b[14];
        let kept_title_kommuner = usize::from(b[15]);
        let trigrams = u16::from_le_bytes([b[16], b[17]]);
        let contents = b[18];
        let weekdays = b[19];
        let kinds = u16::from_le_bytes([b[20], b[21]]);
        let kept_ages = usize::from(b[22]);
        let kept_title_names = usize::from(b[23]);
        let kept_subjects = usize::from(b[24]);
        let kept_mentions = usize::from(b[25]);
        let mentions_total = b[26];
        let kept_numbers = usize::from(numbers).min(NUMBER_SAMPLE);
        let kept_names = usize::from(names).min(NAME_SAMPLE);
        let kept_streets = usize::from(streets).min(STREET_SAMPLE);
        let kept_trigrams = usize::from(trigrams).min(TRIGRAM_SKETCH_SIZE);
        let kept_shingles = usize::from(shingles).min(SKETCH_SIZE);
        let kept_contents = usize::from(contents).min(CONTENT_SAMPLE);
        let body = &b[HEADER_BYTES..];
        let words32 = 4
            * (kept_names
                + kept_streets
                + kept_title_kommuner
                + kept_title_names
                + kept_subjects
                + kept_mentions
                + kept_trigrams
                + kept_shingles);
        let judged = usize::from(shingles) >= MIN_SHINGLES;
        if body.len() != 2 * (kept_numbers + kept_ages) + words32 + 5 * kept_contents
            || kept_ages > AGE_SAMPLE
            || kept_title_names > TITLE_NAME_SAMPLE
            || kept_subjects > TITLE_NAME_SAMPLE
            || kept_mentions > MENTION_SAMPLE
            || kept_mentions > usize::from(mentions_total)
            || flags & !FLAG_SHORT != 0
            || if short { event == 0 } else { !judged }
        {
            return None;
        }
        let (nums, rest) = body.split_at(2 * (kept_numbers + kept_ages));
        let (rest, content_bytes) = rest.split_at(words32);
        let content_sample: Vec<(u32, u8)> = content_bytes
            .chunks_exact(5)
            .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]), c[4]))
            .collect();
        let mut nums = nums
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        let number_sample: Vec<u16> = nums.by_ref().take(kept_numbers).collect();
        let ages: Vec<u16> = nums.collect();
        let mut words32 = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        let name_sample: Vec<u32> = words32.by_ref().take(kept_names).collect();
        let street_sample: Vec<u32> = words32.by_ref().take(kept_streets).collect();
        let title_kommuner: Vec<u32> = words32.by_ref().take(kept_title_kommuner).collect();
        let title_names: Vec<u32> = words32.by_ref().take(kept_title_names).collect();
        let subjects: Vec<u32> = words32.by_ref().take(kept_subjects).collect();
        let mentions: Vec<u32> = words32.by_ref().take(kept_mentions).collect();
        let trigram_sketch: Vec<u32> = words32.by_ref().take(kept_trigrams).collect();
        let sketch: Vec<u32> = words32.collect();
        let ascending = |v: &[u32]| v.windows(2).all(|w| w[0] < w[1]);
        let ascending16 = |v: &[u16]| v.windows(2).all(|w| w[0] < w[1]);
        let content_hashes: Vec<u32> = content_sample.iter().map(|&(h, _)| h).collect();
        if !ascending(&sketch)
            || !ascending(&trigram_sketch)
            || !ascending(&name_sample)
            || !ascending(&street_sample)
            || !ascending(&title_kommuner)
            || kept_title_kommuner > TITLE_KOMMUN_SAMPLE
            || (event == 0) != (event_time == 0)
            || !ascending(&content_hashes)
            || !ascending(&title_names)
            || !ascending(&subjects)
            || !ascending(&mentions)
            || !ascending16(&number_sample)
            || !ascending16(&ages)
        {
            return None;
        }
        Some(Signature {
            short,
            shingles,
            event,
            event_time,
            numbers,
            number_sample,
            names,
            name_sample,
            title_kommuner,
            streets,
            street_sample,
            trigrams,
            trigram_sketch,
            contents,
            content_sample,
            facts: Facts {
                weekdays,
                kinds,
                ages,
                title_names,
                subjects,
                mentions,
                mentions_total,
            },
            sketch,
        })
    }

    /// Whether the text is too short to judge by its words: such an item is the same story as
    /// another only when both are Polisen events with the same time stamp and place.
    pub fn is_short(&self) -> bool {
        self.short
    }

    /// Whether the sketch holds only part of the text's shingles.
    pub(crate) fn is_cut(&self) -> bool {
        usize::from(self.shingles) > self.sketch.len()
    }
}

/// The signature of an item, or `None` when its text is too short to judge and its title is not
/// a Polisen event title.
///
/// The title is not shingled, because sources rewrite titles freely; it serves to drop a title
/// the text repeats, and a Polisen event title contributes its time stamp and place.
pub fn signature(title: &str, text: &str) -> Option<Signature> {
    let text = &join_digit_groups(text);
    let title_words = words(title);
    let mut words = words(text);
    if !title_words.is_empty() && words.starts_with(&title_words) {
        words.drain(..title_words.len());
    }
    drop_trailing_boilerplate(&mut words);
    let (event, event_time) = event_keys(title);
    let word_hashes: Vec<u64> = words.iter().map(|w| fnv1a(w.as_bytes())).collect();
    let (total, shingles) = bottom_k(&word_hashes, SHINGLE_WORDS, SHINGLE_SEED, SKETCH_SIZE);
    let short = words.len() < MIN_WORDS || total < MIN_SHINGLES;
    if short && event == 0 {
        return None;
    }
    let (trigrams, trigram_sketch) = bottom_k(&word_hashes, 3, TRIGRAM_SEED, TRIGRAM_SKETCH_SIZE);
    // A Polisen event title's capitalized words are its event type ("Trafikolycka,
    // personskada") and its place, not names of what the news is about.
    let title_names_raw = if event == 0 { names(title) } else { Vec::new() };
    let all_names: Vec<String> = title_names_raw.iter().cloned().chain(names(text)).collect();
    let name_hash = |n: &String| (mix64(fnv1a(n.as_bytes()) ^ NAME_SEED) >> 32) as u32;
    let (_, title_kommuner) = sample(title_kommuner(title).into_iter(), TITLE_KOMMUN_SAMPLE);
    let (_, title_names) = sample(title_names_raw.iter().map(name_hash), TITLE_NAME_SAMPLE);
    let unsuffixed = |n: &String| {
        let n = n.strip_suffix('s').unwrap_or(n);
        (mix64(fnv1a(n.as_bytes()) ^ NAME_SEED) >> 32) as u32
    };
    let (_, subjects) = sample(title_names_raw.iter().map(unsuffixed), TITLE_NAME_SAMPLE);
    let (mentions_total, mentions) = sample(all_names.iter().map(unsuffixed), MENTION_SAMPLE);
    let mut facts = facts(&format!("{title} {text}"), title_names);
    facts.subjects = subjects;
    facts.mentions = mentions;
    facts.mentions_total = u8::try_from(mentions_total).unwrap_or(u8::MAX);
    let name_stem_hash = |n: &String| {
        let n = n.strip_suffix('s').unwrap_or(n);
        let stem: String = n.chars().take(NAME_STEM_CHARS).collect();
        (mix64(fnv1a(stem.as_bytes()) ^ NAME_SEED) >> 32) as u32
    };
    let (names_total, name_sample) = sample(all_names.iter().map(name_stem_hash), NAME_SAMPLE);
    let (streets_total, street_sample) = sample(
        all_names
            .iter()
            .filter(|n| STREET_ENDINGS.iter().any(|e| n.ends_with(e)))
            .map(name_hash),
        STREET_SAMPLE,
    );
    let mut content_sample = content_stems(title, text);
    let contents_total = content_sample.len();
    content_sample.truncate(CONTENT_SAMPLE);
    let mut numbers: Vec<u16> = words
        .iter()
        .filter(|w| w.bytes().any(|b| b.is_ascii_digit()))
        .map(|w| (mix64(fnv1a(w.as_bytes()) ^ NUMBER_SEED) >> 48) as u16)
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let numbers_total = numbers.len();
    numbers.truncate(NUMBER_SAMPLE);
    Some(Signature {
        short,
        shingles: u16::try_from(total).unwrap_or(u16::MAX),
        event,
        event_time,
        numbers: u8::try_from(numbers_total).unwrap_or(u8::MAX),
        number_sample: numbers,
        names: u8::try_from(names_total).unwrap_or(u8::MAX),
        name_sample,
        title_kommuner,
        streets: u8::try_from(streets_total).unwrap_or(u8::MAX),
        street_sample,
        trigrams: u16::try_from(trigrams).unwrap_or(u16::MAX),
        trigram_sketch,
        contents: u8::try_from(contents_total).unwrap_or(u8::MAX),
        content_sample,
        facts,
        sketch: shingles,
    })
}

/// The weekdays, kinds of event and ages a text states.
fn facts(text: &str, title_names: Vec<u32>) -> Facts {
    let lower = text.to_lowercase();
    // Byte offsets where a word starts: stems match there ("brand" in "branden", not in
    // "ombrand"; "rån" in "rånet", not in "från").
    let starts: Vec<usize> = lower
        .char_indices()
        .scan(None, |prev: &mut Option<char>, (i, c)| {
            let start = c.is_alphanumeric() && !prev.is_some_and(char::is_alphanumeric);
            *prev = Some(c);
            Some(start.then_some(i))
        })
        .flatten()
        .collect();
    let named = |stem: &str| starts.iter().any(|&i| lower[i..].starts_with(stem));
    let bits = |list: &[&str]| {
        list.iter()
            .enumerate()
            .filter(|&(_, w)| named(w))
            .fold(0u16, |acc, (i, _)| acc | 1 << i)
    };
    let kinds = EVENT_KINDS
        .iter()
        .enumerate()
        .filter(|&(_, stems)| stems.iter().any(|s| named(s)))
        .fold(0u16, |acc, (i, _)| acc | 1 << i);
    let (_, ages) = sample(ages(&lower).into_iter().map(u32::from), AGE_SAMPLE);
    Facts {
        weekdays: bits(WEEKDAYS) as u8,
        kinds,
        ages: ages.into_iter().map(|a| a as u16).collect(),
        title_names,
        ..Facts::default()
    }
}

/// Numbers of years a lowercased text states: a number of at most three digits followed by
/// "år", or by a word starting "årig", "åring" or "årsåldern" (after a space or a hyphen), and
/// the first number of "19 och 22 år".
fn ages(lower: &str) -> Vec<u16> {
    let tokens: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .flat_map(|t| t.split_inclusive('-'))
        .filter(|t| !t.is_empty() && *t != "-")
        .collect();
    let years = |t: &str| {
        t == "år"
            || ["årig", "åring", "årsåldern"]
                .iter()
                .any(|p| t.starts_with(p))
    };
    let number = |t: &str| {
        let t = t.trim_end_matches('-');
        (!t.is_empty() && t.len() <= 3 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u16>().ok())
            .flatten()
    };
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let Some(n) = number(t) else { continue };
        let next = tokens.get(i + 1).copied().unwrap_or("");
        let after_and = tokens.get(i + 2).copied().unwrap_or("");
        let then = tokens.get(i + 3).copied().unwrap_or("");
        if years(next) || (next == "och" && number(after_and).is_some() && then == "år") {
            out.push(n);
        }
    }
    out
}

/// Weight (32 × ln((texts + 1) / (df + 1))) from which a content stem counts as rare: it occurs
/// in at most one in 85 background texts (58 of the 4,961 in `data/content-df.tsv`, which holds
/// regional news of every kind besides police texts). A story's own words (a street, a village,
/// "radhus", "flytväst") are rare; the stock words of news ("larmades", "skadad", "förslag",
/// "ordförande") are not.
pub(crate) const RARE_WEIGHT: u8 = 142;

/// The political parties, by how their names start ("Socialdemokraterna", "Moderaternas",
/// "Centern"): every story of a kommun's politics names some of them, so they name no story.
const PARTIES: &[&str] = &[
    "socialdemokrat",
    "moderat",
    "sverigedemokrat",
    "centerpartie",
    "centern",
    "vänsterpartie",
    "vänstern",
    "kristdemokrat",
    "liberalern",
    "miljöpartie",
    "folkpartie",
];

/// Whether a lowercased word names a political party.
fn is_party(lower: &str) -> bool {
    PARTIES.iter().any(|p| lower.starts_with(p))
}

/// Whether a content stem's hash is that of a word of a kommun's or a län's name ("gävle",
/// "stockh") or of a party's ("social", "modera"): two items of one place share the place's
/// name, and two political stories the parties', whatever they report, so they are no evidence
/// of one story.
pub(crate) fn is_place_stem(hash: u32) -> bool {
    static PLACES: std::sync::OnceLock<std::collections::HashSet<u32>> = std::sync::OnceLock::new();
    PLACES
        .get_or_init(|| {
            let regions = crate::regions::Regions::get_builtin();
            regions
                .kommuner()
                .iter()
                .chain(regions.lan())
                .flat_map(|r| words(&r.name))
                .chain(PARTIES.iter().map(|p| p.to_string()))
                .filter_map(|w| content_stem(&w))
                .map(|stem| stem_hash(&stem))
                .collect()
        })
        .contains(&hash)
}

/// A word's content stem: its first six characters, for words of at least four letters without
/// digits; `None` for other words.
fn content_stem(word: &str) -> Option<String> {
    (word.chars().count() >= 4 && !word.chars().any(|c| c.is_ascii_digit()))
        .then(|| word.chars().take(6).collect())
}

/// The hash a content stem is kept under.
fn stem_hash(stem: &str) -> u32 {
    (mix64(fnv1a(stem.as_bytes()) ^ CONTENT_SEED) >> 32) as u32
}

/// The content stems of title and text with their weights, by ascending hash: the first six
/// characters of every word of at least four letters without digits. A crude stem, but Swedish
/// inflects at the end ("radhus", "radhuset", "radhusen"), and the weight makes the stock words
/// of news ("polisen", "larmades") count for little and a story's own words for much.
fn content_stems(title: &str, text: &str) -> Vec<(u32, u8)> {
    let table = content_df();
    let mut out: Vec<(u32, u8)> = words(title)
        .into_iter()
        .chain(words(text))
        .filter_map(|w| content_stem(&w))
        .map(|stem| {
            let df = table.df.get(stem.as_str()).copied().unwrap_or(0);
            let idf = ((table.texts + 1) as f64 / f64::from(df + 1)).ln();
            (
                stem_hash(&stem),
                (idf * 32.0).round().clamp(1.0, 255.0) as u8,
            )
        })
        .collect();
    out.sort_unstable();
    out.dedup_by_key(|&mut (h, _)| h);
    out
}

/// The background frequencies of `data/content-df.tsv`.
struct ContentDf {
    texts: u32,
    df: std::collections::HashMap<&'static str, u32>,
}

fn content_df() -> &'static ContentDf {
    static TABLE: std::sync::OnceLock<ContentDf> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut texts = 0;
        let mut df = std::collections::HashMap::new();
        for line in CONTENT_DF.lines() {
            let mut f = line.split('\t');
            let (Some(stem), Some(n)) = (f.next(), f.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u32>() else {
                continue;
            };
            if stem == "# texts" {
                texts = n;
            } else if !stem.starts_with('#') {
                df.insert(stem, n);
            }
        }
        ContentDf { texts, df }
    })
}

/// How many distinct values there are, and the smallest `k` of them, ascending.
fn sample(values: impl Iterator<Item = u32>, k: usize) -> (usize, Vec<u32>) {
    let mut v: Vec<u32> = values.collect();
    v.sort_unstable();
    v.dedup();
    let total = v.len();
    v.truncate(k);
    (total, v)
}

/// How many distinct `n`-word runs the text has, and the smallest `k` of their hashes,
/// ascending. The top 32 bits of a mixed 64-bit hash keep the order, so the smallest 32-bit
/// values are the smallest hashes, and two different runs collide with chance 2⁻³².
fn bottom_k(word_hashes: &[u64], n: usize, seed: u64, k: usize) -> (usize, Vec<u32>) {
    let mut runs: Vec<u32> = word_hashes
        .windows(n)
        .map(|w| (w.iter().fold(seed, |h, &t| mix64(h ^ t)) >> 32) as u32)
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let total = runs.len();
    runs.truncate(k);
    (total, runs)
}

/// The codes of the kommuner a title names by a capitalized word ("Brand i Kumla", "Kumlas
/// damer", with or without a genitive s).
fn title_kommuner(title: &str) -> Vec<u32> {
    let kommuner = kommun_names();
    words_as_written(title)
        .into_iter()
        .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
        .filter_map(|w| {
            let lower = w.to_lowercase();
            if let Some(&code) = kommuner.get(lower.as_str()) {
                return Some(code);
            }
            kommuner.get(lower.strip_suffix('s')?).copied()
        })
        .collect()
}

/// The text with Swedish thousands separators removed: "1 200 kunder" and "150 000 kronor" are
/// one number each ("1200", "150000"), not two, so that an edit correcting "1 200" to "2 100"
/// differs in one figure rather than in two unrelated ones. A group of one to three digits is
/// joined to a following group of exactly three digits across one space (plain, no-break or
/// narrow no-break).
fn join_digit_groups(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut out = String::with_capacity(text.len());
    let mut run = 0; // digits just written, in the current group
    for (i, &c) in chars.iter().enumerate() {
        let separator = matches!(c, ' ' | '\u{a0}' | '\u{202f}');
        let joins = separator
            && (1..=3).contains(&run)
            && (1..=3).all(|k| digit(i + k))
            && !digit(i + 4)
            && !(i > run && digit(i - run - 1));
        if joins {
            run = 0;
            continue;
        }
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        out.push(c);
    }
    out
}

/// Alphanumeric words as written (case kept).
fn words_as_written(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The specific names a text mentions: capitalized words inside a sentence (streets,
/// districts, people, firms: "Drottninggatan", "Araby"), lowercased. Kommun names (and their
/// genitives), months and weekdays are left out: two notices from one kommun share its name
/// whatever they are about, while two template notices about different streets share none of
/// their street names, and a rewrite keeps them.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut gap = String::new();
    let mut word = String::new();
    // A trailing separator flushes the last word.
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            if word.is_empty() && !sentence_start && starts_sentence(&gap) {
                sentence_start = true;
            }
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            if !sentence_start && let Some(n) = specific_name(&word) {
                out.push(n);
            }
            sentence_start = false;
            word.clear();
            gap.clear();
        }
        gap.push(c);
    }
    out
}

/// Whether the text between two words ends a sentence: `.`, `!`, `?` or `:` followed by a
/// space, or a dash between spaces (a quote or an aside opens with one).
fn starts_sentence(gap: &str) -> bool {
    let Some((before, _)) = gap.split_once(char::is_whitespace) else {
        return false;
    };
    before.ends_with(['.', '!', '?', ':'])
        || gap.split_whitespace().any(|p| matches!(p, "–" | "-" | "—"))
}

/// A capitalized word that names something specific, lowercased; `None` for other words.
fn specific_name(word: &str) -> Option<String> {
    let first = word.chars().next()?;
    if !first.is_uppercase()
        || word.chars().count() < 3
        || word
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(char::is_uppercase)
    {
        return None;
    }
    let lower = word.to_lowercase();
    if police::MONTHS.contains(&lower.as_str())
        || WEEKDAYS.contains(&lower.as_str())
        || is_party(&lower)
    {
        return None;
    }
    let kommuner = kommun_names();
    let base = lower
        .strip_suffix('s')
        .filter(|b| kommuner.contains_key(*b));
    if kommuner.contains_key(lower.as_str()) || base.is_some() {
        return None;
    }
    Some(lower)
}

/// The 290 kommun names, lowercased, with their codes.
fn kommun_names() -> &'static std::collections::HashMap<String, u32> {
    static NAMES: std::sync::OnceLock<std::collections::HashMap<String, u32>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        crate::regions::Regions::get_builtin()
            .kommuner()
            .iter()
            .filter_map(|k| Some((k.name.to_lowercase(), k.code.parse().ok()?)))
            .collect()
    })
}

/// Lowercased alphanumeric words; every other character separates words.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Drops a closing source line ("Källa: Polisen Halland", "(TT)", "Artikeln uppdateras"): local
/// sites append it to copied text, and it would otherwise tie unrelated copies together.
fn drop_trailing_boilerplate(words: &mut Vec<String>) {
    let n = words.len();
    if let Some(i) = (n.saturating_sub(5)..n).find(|&i| words[i] == "källa") {
        words.truncate(i);
    }
    if words.last().is_some_and(|w| w == "tt") {
        words.pop();
    }
    if let [.., a, b] = words.as_slice()
        && a == "artikeln"
        && b == "uppdateras"
    {
        words.truncate(words.len() - 2);
    }
}

/// Identity of a Polisen event: hashes of its time stamp and place, and of its time stamp
/// alone, in the same form whether the feed wrote `09 februari 21:04` or the API
/// `9 februari 21.04`; (0, 0) when the title is not a Polisen event title. The event type is
/// left out because Polisen refines it when it updates an event.
fn event_keys(title: &str) -> (u32, u32) {
    let Some(t) = police::parse_title(title) else {
        return (0, 0);
    };
    let mut key = String::new();
    for part in t.time_head.split_whitespace() {
        let part = part.replace('.', ":");
        key.push_str(part.trim_start_matches('0'));
        key.push(' ');
    }
    let time = (mix64(fnv1a(key.as_bytes())) >> 32) as u32;
    key.push_str(&t.place.to_lowercase());
    let both = (mix64(fnv1a(key.as_bytes())) >> 32) as u32;
    (both.max(1), time.max(1))
}

/// FNV-1a: a fixed, documented hash, so signatures stored by one build compare with the next
/// (std's `DefaultHasher` makes no such promise).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The splitmix64 finalizer: spreads every input bit over the output.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Fixed seeds keep number and shingle hashes apart; changing one needs a `FORMAT_VERSION` bump.
const NUMBER_SEED: u64 = 0x6e75_6d62_6572_7321;
const SHINGLE_SEED: u64 = 0x7265_6769_6f6e_6665;
const TRIGRAM_SEED: u64 = 0x7472_6967_7261_6d73;
const NAME_SEED: u64 = 0x6e61_6d65_7320_2020;
const CONTENT_SEED: u64 = 0x636f_6e74_656e_7473;

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Polisen grep på tisdagskvällen en man i 30-årsåldern misstänkt för rån \
        mot en livsmedelsbutik i centrala Kumla. Strax efter klockan 20 kom mannen in i butiken \
        på Storgatan och hotade personalen med vad som såg ut att vara en kniv.";

    #[test]
    fn bytes_round_trip_and_reject_damage() {
        let sig = signature("Rån i Kumla", TEXT).expect("long enough");
        let bytes = sig.to_bytes();
        assert_eq!(Signature::from_bytes(&bytes), Some(sig));
        assert_eq!(Signature::from_bytes(&bytes[..bytes.len() - 1]), None);
        let mut other_version = bytes.clone();
        other_version[0] = 0;
        assert_eq!(Signature::from_bytes(&other_version), None);
        assert_eq!(Signature::from_bytes(&[]), None);
    }

    #[test]
    fn boilerplate_and_repeated_title_do_not_count() {
        let plain = signature("x", TEXT);
        let sourced = signature("Rånet", &format!("{TEXT} Källa: Polisen Örebro län"));
        let titled = signature("Rånet i Kumla", &format!("Rånet i Kumla. {TEXT}"));
        assert!(plain.is_some());
        assert_eq!(
            plain.as_ref().map(|s| &s.sketch),
            sourced.as_ref().map(|s| &s.sketch)
        );
        assert_eq!(plain.map(|s| s.sketch), titled.map(|s| s.sketch));
    }

    #[test]
    fn names_are_specific_capitalized_words_inside_sentences() {
        let text = "Från och med måndag den 14 april påbörjar Gävle kommun arbete på \
            Drottninggatan mellan Nygatan och Kyrkogatan. Under arbetet är gatan avstängd. \
            – Det blir bra, säger Anna Lindqvist på Gävles Tekniska kontor. Ring SMHI: Ingen fara.";
        assert_eq!(
            names(text),
            [
                "drottninggatan",
                "nygatan",
                "kyrkogatan",
                "anna",
                "lindqvist",
                "tekniska"
            ]
        );
        assert_eq!(names("Brand i Araby"), ["araby"]);
        // Parties are in every story of a kommun's politics: they name none.
        assert_eq!(
            names("Förslaget från Moderaterna och Centerns grupp fick stöd av Ekebyskolan."),
            ["ekebyskolan"]
        );
        assert!(names("").is_empty());
    }

    #[test]
    fn content_words_weigh_by_rarity() {
        assert!(content_df().texts > 1000, "the background table loads");
        let weights = content_stems("", "Polisen larmades till en mordbrand i ett radhus.");
        let weight = |stem: &str| {
            let h = (mix64(fnv1a(stem.as_bytes()) ^ CONTENT_SEED) >> 32) as u32;
            weights.iter().find(|&&(x, _)| x == h).map(|&(_, w)| w)
        };
        // Stems are at most six characters; words under four ("en", "i", "ett") are left out.
        assert_eq!(weights.len(), 5, "{weights:?}");
        assert!(weight("polise") < weight("mordbr"));
        assert!(weight("larmad") < weight("radhus"));
        assert_eq!(weight("ett"), None);
    }

    #[test]
    fn thousands_separators_join_digit_groups() {
        assert_eq!(join_digit_groups("cirka 1 200 kunder"), "cirka 1200 kunder");
        assert_eq!(
            join_digit_groups("150\u{a0}000 kronor och 12 345 678 tkr"),
            "150000 kronor och 12345678 tkr"
        );
        // Not a thousands group: two figures, a four-digit group on either side.
        assert_eq!(join_digit_groups("19 och 22 år"), "19 och 22 år");
        assert_eq!(join_digit_groups("den 6 2026"), "den 6 2026");
        assert_eq!(join_digit_groups("klockan 13 1234"), "klockan 13 1234");
        assert_eq!(
            join_digit_groups("år 2025 200 personer"),
            "år 2025 200 personer"
        );
    }

    #[test]
    fn facts_of_a_report() {
        let f = facts(
            "Brand i radhus – två män, 19 och 22 år, gripna. En 45-årig kvinna i \
             60-årsåldern? Natten till lördag kom 14 personer från Araby, fängelse i 8 år.",
            Vec::new(),
        );
        assert_eq!(f.ages, [8, 19, 22, 45, 60]);
        assert_eq!(f.weekdays, 1 << 5, "lördag, not 'från' or 'radhus'");
        // Fire (brand), but not theft: "rån" only inside "från".
        assert_eq!(f.kinds, 1 << 0);
    }

    #[test]
    fn police_event_key_ignores_feed_spelling_and_type_refinement() {
        let rss = event_keys("Uppdaterad 2025-08-22 19:00:01 09 februari 21:04, Brand, Kävlinge");
        let api = event_keys("9 februari 21.04, Brand, byggnad, Kävlinge");
        assert_ne!(rss, (0, 0));
        assert_eq!(rss, api);
        let later = event_keys("9 februari 21.05, Brand, Kävlinge");
        assert_ne!(rss.0, later.0);
        assert_ne!(rss.1, later.1);
        // The same minute elsewhere: the same time key, another event key.
        let elsewhere = event_keys("9 februari 21.04, Brand, Lund");
        assert_eq!(rss.1, elsewhere.1);
        assert_ne!(rss.0, elsewhere.0);
        assert_eq!(event_keys("Rån i Kumla"), (0, 0));
    }
}
