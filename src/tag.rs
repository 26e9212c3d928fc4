//! Tags an item with the kommuner and län it is about, from an embedded gazetteer.
//!
//! One Aho-Corasick automaton (leftmost-longest) runs over a case-folded copy of the text; every
//! hit must sit on word boundaries, and names that are also Swedish words or personal names must
//! pass a context guard. Polisen titles are read by their place field instead.

use std::collections::{BTreeSet, HashMap, HashSet};

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use crate::model::{Evidence, Tags};
use crate::regions::Regions;

const PLACES_CSV: &str = include_str!("../data/places.csv");
const ALIASES_CSV: &str = include_str!("../data/aliases.csv");
const GUARDED_CSV: &str = include_str!("../data/guarded.csv");
const LPO_CSV: &str = include_str!("../data/lokalpolisomraden.csv");
const FORNAMN_TXT: &str = include_str!("../data/fornamn.txt");

/// Why a tagger could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("unknown region code {code:?} for place {name:?} in [places]")]
    UnknownCode { name: String, code: String },
    #[error("empty place name in [places]")]
    EmptyName,
    #[error("bad line {line} in embedded {file}: {reason}")]
    BadData {
        file: &'static str,
        line: usize,
        reason: String,
    },
    #[error("cannot build the place automaton: {0}")]
    Automaton(String),
}

/// Rule names as they appear in [`Evidence::rule`].
mod rule {
    pub const POLICE_TITLE: &str = "police-title";
    pub const KOMMUN: &str = "kommun-name";
    pub const LAN: &str = "lan-name";
    pub const LOCALITY: &str = "locality";
    pub const DEMONYM: &str = "demonym";
    pub const COMPOUND: &str = "compound";
    pub const INSTITUTION: &str = "institution";
    pub const LPO: &str = "lokalpolisomrade";
    pub const PLACE: &str = "place";
}

/// How much context an ambiguous name needs before it counts as a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    None,
    /// A common word: fine capitalised in mid-sentence, needs context at a sentence start.
    Word,
    /// A frequent word or a personal name: needs context, or a matching prior in mid-sentence.
    Strict,
}

/// What a matched form points at. Kommuner and län are indexes into the builtin region table.
#[derive(Debug, Clone)]
enum Target {
    Kommun(u16),
    Lan(u8),
    /// Homonymous localities: (kommun, population), resolved after the whole item is read.
    Choice(Vec<(u16, u32)>),
    /// Every one of these kommuner (a lokalpolisområde).
    All(Vec<u16>),
    /// A vague region: counts only when the source prior lies in one of these län.
    PriorLan(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Entry {
    target: Target,
    rule: &'static str,
    /// The form must start with a capital letter in the text.
    caps: bool,
    guard: Guard,
    /// Lower wins when two sources give the same form.
    rank: u8,
}

const RANK_OPERATOR: u8 = 0;
const RANK_ALIAS: u8 = 1;
const RANK_KOMMUN: u8 = 2;
const RANK_LAN: u8 = 3;
const RANK_DERIVED: u8 = 4;
const RANK_LOCALITY: u8 = 5;

/// The place tagger: an immutable gazetteer automaton, cheap to share between threads.
#[derive(Debug)]
pub struct Tagger {
    ac: AhoCorasick,
    entries: Vec<Entry>,
    /// Polisen title place (folded) -> kommun or län.
    title_places: HashMap<String, Target>,
    first_names: HashSet<String>,
    /// Län index of each kommun index.
    kommun_lan: Vec<u8>,
    kommun_codes: Vec<&'static str>,
    lan_codes: Vec<&'static str>,
    kommun_by_code: HashMap<&'static str, u16>,
    lan_by_code: HashMap<&'static str, u8>,
}

/// Lowercases without changing any character's UTF-8 length, so byte offsets in the folded copy
/// are offsets in the original too.
fn fold_into(s: &str, out: &mut String) {
    out.clear();
    out.reserve(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => out.push(l),
            _ => out.push(c),
        }
    }
}

fn fold(s: &str) -> String {
    let mut out = String::new();
    fold_into(s, &mut out);
    out
}

/// The genitive Swedish writes for a name: "Kumla" → "Kumlas"; names ending in s/x/z take none.
fn genitive(name: &str) -> Option<String> {
    match name.chars().last() {
        Some('s' | 'x' | 'z' | 'S' | 'X' | 'Z') | None => None,
        Some(_) => Some(format!("{name}s")),
    }
}

fn ends_with_vowel(name: &str) -> bool {
    name.chars()
        .last()
        .is_some_and(|c| "aeiouyåäöé".contains(c.to_lowercase().next().unwrap_or(c)))
}

/// Data rows of an embedded CSV: skips the header-free comment lines (`#`) and blank lines.
fn data_lines(text: &'static str) -> impl Iterator<Item = (usize, &'static str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

struct Builder {
    forms: HashMap<String, usize>,
    patterns: Vec<String>,
    entries: Vec<Entry>,
}

impl Builder {
    fn add(&mut self, form: &str, entry: Entry) {
        let key = fold(form.trim());
        if key.is_empty() {
            return;
        }
        match self.forms.get(&key) {
            Some(&i) => {
                let old = &mut self.entries[i];
                if entry.rank < old.rank {
                    *old = entry;
                }
            }
            None => {
                self.forms.insert(key.clone(), self.entries.len());
                self.patterns.push(key);
                self.entries.push(entry);
            }
        }
    }

    /// Adds a name and, with `gen`, its genitive with the same meaning.
    fn add_name(&mut self, name: &str, entry: Entry, with_genitive: bool) {
        if with_genitive && let Some(g) = genitive(name) {
            self.add(&g, entry.clone());
        }
        self.add(name, entry);
    }
}

impl Tagger {
    /// Builds the tagger from the embedded gazetteer plus operator places (name -> 4-digit kommun code).
    /// A 2-digit län code is accepted too and tags the län alone.
    pub fn new(extra_places: &[(String, String)]) -> Result<Tagger, TagError> {
        let regions = Regions::get_builtin();
        let lan_codes: Vec<&'static str> = regions.lan().iter().map(|r| r.code.as_str()).collect();
        let lan_by_code: HashMap<&'static str, u8> = lan_codes
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u8))
            .collect();
        let kommun_codes: Vec<&'static str> =
            regions.kommuner().iter().map(|r| r.code.as_str()).collect();
        let kommun_by_code: HashMap<&'static str, u16> = kommun_codes
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u16))
            .collect();
        let kommun_lan: Vec<u8> = regions
            .kommuner()
            .iter()
            .map(|k| {
                k.lan
                    .as_deref()
                    .and_then(|l| lan_by_code.get(l).copied())
                    .unwrap_or(0)
            })
            .collect();

        let mut guards: HashMap<String, Guard> = HashMap::new();
        for (line, l) in data_lines(GUARDED_CSV) {
            let (name, level) = l.split_once(',').ok_or_else(|| TagError::BadData {
                file: "guarded.csv",
                line,
                reason: "expected name,level".into(),
            })?;
            let g = match level.trim() {
                "strict" => Guard::Strict,
                "word" => Guard::Word,
                other => {
                    return Err(TagError::BadData {
                        file: "guarded.csv",
                        line,
                        reason: format!("unknown level {other:?}"),
                    });
                }
            };
            guards.insert(fold(name.trim()), g);
        }
        let guard_of = |name: &str| guards.get(&fold(name)).copied().unwrap_or(Guard::None);

        let mut b = Builder {
            forms: HashMap::new(),
            patterns: Vec::new(),
            entries: Vec::new(),
        };
        let mut title_places = HashMap::new();

        // Kommun names, their genitives, inhabitants ("kumlabo") and police compounds.
        for (i, k) in regions.kommuner().iter().enumerate() {
            let t = Target::Kommun(i as u16);
            let guard = guard_of(&k.name);
            title_places.insert(fold(&k.name), t.clone());
            let name_entry = Entry {
                target: t.clone(),
                rule: rule::KOMMUN,
                caps: true,
                guard,
                rank: RANK_KOMMUN,
            };
            b.add_name(&k.name, name_entry, true);
            if guard != Guard::None {
                continue;
            }
            let derived = |rule| Entry {
                target: t.clone(),
                rule,
                caps: false,
                guard: Guard::None,
                rank: RANK_DERIVED,
            };
            let n = &k.name;
            let mut stems = vec![n.clone()];
            if !ends_with_vowel(n) {
                stems.push(format!("{n}s"));
                for suffix in ["are", "aren", "arna", "ares", "arnas"] {
                    b.add(&format!("{n}{suffix}"), derived(rule::DEMONYM));
                }
            }
            for stem in &stems {
                for suffix in ["bo", "bon", "bor", "borna", "bos", "bons", "bornas"] {
                    b.add(&format!("{stem}{suffix}"), derived(rule::DEMONYM));
                }
                for suffix in ["polisen", "polisens"] {
                    b.add(&format!("{stem}{suffix}"), derived(rule::COMPOUND));
                }
            }
        }

        // Län: full names, short names that are no kommun's, and the bodies named after them.
        for (i, l) in regions.lan().iter().enumerate() {
            let t = Target::Lan(i as u8);
            title_places.insert(fold(&l.name), t.clone());
            let entry = |rule, rank| Entry {
                target: t.clone(),
                rule,
                caps: true,
                guard: Guard::None,
                rank,
            };
            b.add_name(&l.name, entry(rule::LAN, RANK_LAN), true);
            let short = l.name.strip_suffix(" län").unwrap_or(&l.name);
            let short = short.strip_suffix('s').unwrap_or(short);
            // "Västra Götalands län" → "Västra Götaland", "Jönköpings län" → "Jönköping".
            if !regions.kommuner().iter().any(|k| k.name == short) {
                b.add_name(short, entry(rule::LAN, RANK_LAN), true);
            }
            for prefix in ["Region", "Länsstyrelsen", "Länsstyrelsen i"] {
                b.add(
                    &format!("{prefix} {short}"),
                    entry(rule::INSTITUTION, RANK_ALIAS),
                );
                b.add(
                    &format!("{prefix} {}", l.name),
                    entry(rule::INSTITUTION, RANK_ALIAS),
                );
            }
        }

        // Localities from the postal and GeoNames data; homonyms become one choice.
        let mut localities: Vec<(String, Vec<(u16, u32)>)> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (line, l) in data_lines(PLACES_CSV).skip(1) {
            let bad = |reason: &str| TagError::BadData {
                file: "places.csv",
                line,
                reason: reason.into(),
            };
            let mut f = l.split(',');
            let (Some(name), Some(code), Some(pop)) = (f.next(), f.next(), f.next()) else {
                return Err(bad("expected name,kommun,population"));
            };
            let k = *kommun_by_code
                .get(code)
                .ok_or_else(|| bad("unknown kommun"))?;
            let pop: u32 = pop.parse().map_err(|_| bad("bad population"))?;
            let slot = *by_name.entry(name.to_string()).or_insert_with(|| {
                localities.push((name.to_string(), Vec::new()));
                localities.len() - 1
            });
            localities[slot].1.push((k, pop));
        }
        for (name, cands) in localities {
            let target = match cands.as_slice() {
                [(k, _)] => Target::Kommun(*k),
                _ => Target::Choice(cands),
            };
            let entry = Entry {
                target,
                rule: rule::LOCALITY,
                caps: true,
                guard: guard_of(&name),
                rank: RANK_LOCALITY,
            };
            b.add_name(&name, entry, true);
        }

        // Hand-curated forms: landskap, adjectives, clubs, institutions, districts.
        let parse_codes = |codes: &str, line: usize, file: &'static str| {
            let mut ks = Vec::new();
            let mut ls = Vec::new();
            for c in codes.split_whitespace() {
                if let Some(&k) = kommun_by_code.get(c) {
                    ks.push(k);
                } else if let Some(&l) = lan_by_code.get(c) {
                    ls.push(l);
                } else {
                    return Err(TagError::BadData {
                        file,
                        line,
                        reason: format!("unknown code {c:?}"),
                    });
                }
            }
            Ok((ks, ls))
        };
        for (line, l) in data_lines(ALIASES_CSV) {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != 4 {
                return Err(TagError::BadData {
                    file: "aliases.csv",
                    line,
                    reason: "expected form,codes,rule,flags".into(),
                });
            }
            let no_place = f[1].trim() == "-";
            let (ks, ls) = if no_place {
                (Vec::new(), Vec::new())
            } else {
                parse_codes(f[1], line, "aliases.csv")?
            };
            let flags: Vec<&str> = f[3].split_whitespace().collect();
            let rule: &'static str = match f[2] {
                "kommun-name" => rule::KOMMUN,
                "locality" => rule::LOCALITY,
                "demonym" => rule::DEMONYM,
                "institution" => rule::INSTITUTION,
                "landskap" => "landskap",
                "county-adjective" => "county-adjective",
                "club" => "club",
                "venue" => "venue",
                "not-a-place" => "not-a-place",
                other => {
                    return Err(TagError::BadData {
                        file: "aliases.csv",
                        line,
                        reason: format!("unknown rule {other:?}"),
                    });
                }
            };
            let prior_only = flags.contains(&"prior");
            let target = if no_place {
                // A name that contains a place name but is no place ("Göta kanal"): it claims
                // the text so that the shorter name inside it does not match.
                Target::All(Vec::new())
            } else if prior_only {
                let mut lans: Vec<u8> = ls.clone();
                lans.extend(ks.iter().map(|&k| kommun_lan[k as usize]));
                Target::PriorLan(lans)
            } else {
                match (ks.as_slice(), ls.as_slice()) {
                    ([k], []) => Target::Kommun(*k),
                    ([], [l]) => Target::Lan(*l),
                    (ks, []) if !ks.is_empty() => Target::All(ks.to_vec()),
                    _ => {
                        return Err(TagError::BadData {
                            file: "aliases.csv",
                            line,
                            reason: "several län need the prior flag".into(),
                        });
                    }
                }
            };
            let guard = if flags.contains(&"strict") {
                Guard::Strict
            } else if flags.contains(&"word") {
                Guard::Word
            } else {
                Guard::None
            };
            let entry = Entry {
                target,
                rule,
                caps: flags.contains(&"caps"),
                guard,
                rank: RANK_ALIAS,
            };
            b.add_name(f[0], entry, flags.contains(&"gen"));
        }

        // Lokalpolisområden: "lokalpolisområde Hallsberg" means all its kommuner.
        for (line, l) in data_lines(LPO_CSV) {
            let f: Vec<&str> = l.split(',').collect();
            if f.len() != 3 {
                return Err(TagError::BadData {
                    file: "lokalpolisomraden.csv",
                    line,
                    reason: "expected region,name,kommuner".into(),
                });
            }
            let (ks, ls) = parse_codes(f[2], line, "lokalpolisomraden.csv")?;
            if ks.is_empty() || !ls.is_empty() {
                return Err(TagError::BadData {
                    file: "lokalpolisomraden.csv",
                    line,
                    reason: "expected kommun codes".into(),
                });
            }
            for prefix in ["lokalpolisområde", "lokalpolisområdet", "LPO"] {
                let entry = Entry {
                    target: Target::All(ks.clone()),
                    rule: rule::LPO,
                    caps: false,
                    guard: Guard::None,
                    rank: RANK_ALIAS,
                };
                b.add(&format!("{prefix} {}", f[1].trim()), entry);
            }
        }

        // Operator places override everything built in.
        for (name, code) in extra_places {
            let name = name.trim();
            if name.is_empty() {
                return Err(TagError::EmptyName);
            }
            let target = if let Some(&k) = kommun_by_code.get(code.trim()) {
                Target::Kommun(k)
            } else if let Some(&l) = lan_by_code.get(code.trim()) {
                Target::Lan(l)
            } else {
                return Err(TagError::UnknownCode {
                    name: name.to_string(),
                    code: code.clone(),
                });
            };
            title_places.insert(fold(name), target.clone());
            let entry = Entry {
                target,
                rule: rule::PLACE,
                caps: name.chars().next().is_some_and(char::is_uppercase),
                guard: Guard::None,
                rank: RANK_OPERATOR,
            };
            b.add_name(name, entry, true);
        }

        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Both)
            .build(&b.patterns)
            .map_err(|e| TagError::Automaton(e.to_string()))?;
        let first_names = data_lines(FORNAMN_TXT).map(|(_, l)| fold(l)).collect();
        Ok(Tagger {
            ac,
            entries: b.entries,
            title_places,
            first_names,
            kommun_lan,
            kommun_codes,
            lan_codes,
            kommun_by_code,
            lan_by_code,
        })
    }

    /// Tags one item. `prior` is the source's region code (2 or 4 digits): a prior for
    /// disambiguation only, never a fallback tag.
    pub fn tag(&self, title: &str, text: &str, prior: Option<&str>) -> Tags {
        let prior = self.prior(prior);
        let mut acc = Acc::default();
        let mut folded = String::new();
        if let Some(pt) = crate::police::parse_title(title) {
            // Polisen's last title field is the place: trust it whatever its case or ambiguity.
            let place = pt.place.trim();
            let start = acc.found.len();
            match self.title_places.get(&fold(place)) {
                Some(t) => acc.found.push(Found {
                    target: t.clone(),
                    matched: place.to_string(),
                    rule: rule::POLICE_TITLE,
                }),
                None => {
                    fold_into(place, &mut folded);
                    self.scan(place, &folded, prior, true, &mut acc);
                    for f in &mut acc.found[start..] {
                        f.rule = rule::POLICE_TITLE;
                    }
                }
            }
            let title_lan: BTreeSet<u8> = acc.found[start..]
                .iter()
                .flat_map(|f| self.lans_of(&f.target))
                .collect();
            // An event belongs to its county: other län in the text are where people came from
            // or were taken to, not where it happened.
            if title_lan.len() == 1 {
                acc.only_lan = title_lan.first().copied();
            }
        } else {
            fold_into(title, &mut folded);
            self.scan(title, &folded, prior, false, &mut acc);
        }
        fold_into(text, &mut folded);
        self.scan(text, &folded, prior, false, &mut acc);
        self.resolve(acc, prior)
    }

    fn prior(&self, prior: Option<&str>) -> Prior {
        let Some(p) = prior.map(str::trim) else {
            return Prior::default();
        };
        if let Some(&k) = self.kommun_by_code.get(p) {
            Prior {
                kommun: Some(k),
                lan: Some(self.kommun_lan[k as usize]),
            }
        } else {
            Prior {
                kommun: None,
                lan: self.lan_by_code.get(p).copied(),
            }
        }
    }

    fn lans_of(&self, t: &Target) -> Vec<u8> {
        match t {
            Target::Kommun(k) => vec![self.kommun_lan[*k as usize]],
            Target::Lan(l) => vec![*l],
            Target::All(ks) => ks.iter().map(|&k| self.kommun_lan[k as usize]).collect(),
            Target::Choice(_) | Target::PriorLan(_) => Vec::new(),
        }
    }

    /// Finds every accepted form in one field and appends it to `acc`.
    fn scan(&self, orig: &str, folded: &str, prior: Prior, trusted: bool, acc: &mut Acc) {
        let hits = self.hits(folded);
        if hits.is_empty() {
            return;
        }
        let mut ok: Vec<Option<bool>> = hits
            .iter()
            .map(|h| self.verdict(orig, folded, h, prior, trusted))
            .collect();
        // Guarded names in a list of places ("Mora, Orsa och Älvdalen") take their neighbours'
        // word for it; two rounds let a verdict travel along a short list.
        for _ in 0..2 {
            for i in 0..hits.len() {
                if ok[i].is_some() {
                    continue;
                }
                let joined = |a: usize, b: usize| is_list_gap(&folded[hits[a].end..hits[b].start]);
                let left = i > 0 && ok[i - 1] == Some(true) && joined(i - 1, i);
                let right = i + 1 < hits.len() && ok[i + 1] == Some(true) && joined(i, i + 1);
                if left || right {
                    ok[i] = Some(true);
                }
            }
        }
        for (h, v) in hits.iter().zip(ok) {
            if v == Some(true) {
                let e = &self.entries[h.pat];
                acc.found.push(Found {
                    target: e.target.clone(),
                    matched: orig[h.start..h.end].to_string(),
                    rule: e.rule,
                });
            }
        }
    }

    /// Every pattern occurrence on word boundaries, leftmost-longest, non-overlapping.
    fn hits(&self, folded: &str) -> Vec<Hit> {
        let mut out = Vec::new();
        let len = folded.len();
        let mut pos = 0;
        while pos < len {
            let Some(m) = self.ac.find(Input::new(folded).span(pos..len)) else {
                break;
            };
            let s = m.start();
            let mut found = None;
            if word_start(folded, s) {
                let mut end = m.end();
                let mut pat = m.pattern().as_usize();
                loop {
                    if word_end(folded, end) {
                        found = Some((end, pat));
                        break;
                    }
                    // The longest form runs into a longer word ("Örebro länsstyrelse"): a
                    // shorter form at the same start may still end on a boundary.
                    let shorter = Input::new(folded).span(s..end - 1).anchored(Anchored::Yes);
                    match self.ac.find(shorter) {
                        Some(m2) => {
                            end = m2.end();
                            pat = m2.pattern().as_usize();
                        }
                        None => break,
                    }
                }
            }
            match found {
                Some((end, pat)) => {
                    out.push(Hit { start: s, end, pat });
                    pos = end;
                }
                None => pos = next_word_start(folded, s),
            }
        }
        out
    }

    /// Some(true) accept, Some(false) reject, None: undecided, acceptable inside a list of places.
    fn verdict(
        &self,
        orig: &str,
        folded: &str,
        h: &Hit,
        prior: Prior,
        trusted: bool,
    ) -> Option<bool> {
        let e = &self.entries[h.pat];
        if trusted {
            return Some(true);
        }
        if let Target::PriorLan(lans) = &e.target
            && !prior.lan.is_some_and(|p| lans.contains(&p))
        {
            return Some(false);
        }
        let capitalised = orig[h.start..]
            .chars()
            .next()
            .is_some_and(char::is_uppercase);
        if e.caps && !capitalised {
            return Some(false);
        }
        let prev = prev_word(folded, h.start);
        let next = next_word(folded, h.end);
        let kommun_after = next.is_some_and(|(w, _)| CONTEXT_AFTER.contains(&w));
        if e.caps
            && !kommun_after
            && let Some((w, ws)) = prev
            && ((self.first_names.contains(w) && is_upper_at(orig, ws))
                || SPEECH_VERBS.contains(&w))
        {
            // "Anna Lund", "säger Lindholm": a person, not a place.
            return Some(false);
        }
        if e.guard == Guard::None {
            return Some(true);
        }
        let strong = kommun_after
            || prev.is_some_and(|(w, ws)| {
                CONTEXT_BEFORE.contains(&w)
                    || (w == "om"
                        && prev_word(folded, ws).is_some_and(|(w2, _)| COMPASS.contains(&w2)))
            });
        if strong {
            return Some(true);
        }
        let initial = sentence_initial(orig, h.start);
        let prior_agrees = prior.lan.is_some_and(|p| self.target_in_lan(&e.target, p));
        // "Lund: Forskare hittar …" — a dateline opening a text names the place it is about.
        // A person quoted in a headline looks the same ("Nora: Jag …"), so a name that is
        // also a personal name needs the prior to agree.
        if initial
            && h.start == orig.len() - orig.trim_start().len()
            && orig[h.end..].starts_with(':')
            && (e.guard == Guard::Word || prior_agrees)
        {
            return Some(true);
        }
        // prev_word/next_word skip spaces only, so a capitalised neighbour is part of one name.
        let beside_name = prev
            .is_some_and(|(_, ws)| is_upper_at(orig, ws) && !sentence_initial(orig, ws))
            || next.is_some_and(|(_, ws)| is_upper_at(orig, ws));
        if initial || beside_name {
            return None;
        }
        match e.guard {
            Guard::Word => Some(true),
            _ => prior_agrees.then_some(true),
        }
    }

    fn target_in_lan(&self, t: &Target, lan: u8) -> bool {
        match t {
            Target::Kommun(k) => self.kommun_lan[*k as usize] == lan,
            Target::Lan(l) => *l == lan,
            Target::Choice(c) => c.iter().any(|&(k, _)| self.kommun_lan[k as usize] == lan),
            Target::All(ks) => ks.iter().any(|&k| self.kommun_lan[k as usize] == lan),
            Target::PriorLan(ls) => ls.contains(&lan),
        }
    }

    /// Turns the accepted forms into sorted codes with evidence.
    fn resolve(&self, acc: Acc, prior: Prior) -> Tags {
        let mut kommuner: BTreeSet<u16> = BTreeSet::new();
        let mut lans: BTreeSet<u8> = BTreeSet::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let allowed_k = |k: u16| {
            acc.only_lan
                .is_none_or(|l| self.kommun_lan[k as usize] == l)
        };
        let allowed_l = |l: u8| acc.only_lan.is_none_or(|o| o == l);
        let mut push_ev = |code: &str, matched: &str, rule: &str| {
            if !evidence
                .iter()
                .any(|e| e.code == code && e.matched == matched && e.rule == rule)
            {
                evidence.push(Evidence {
                    code: code.to_string(),
                    matched: matched.to_string(),
                    rule: rule.to_string(),
                });
            }
        };
        let mut choices = Vec::new();
        for f in &acc.found {
            match &f.target {
                Target::Kommun(k) => {
                    if allowed_k(*k) {
                        kommuner.insert(*k);
                        push_ev(self.kommun_codes[*k as usize], &f.matched, f.rule);
                    }
                }
                Target::Lan(l) => {
                    if allowed_l(*l) {
                        lans.insert(*l);
                        push_ev(self.lan_codes[*l as usize], &f.matched, f.rule);
                    }
                }
                Target::All(ks) => {
                    for &k in ks {
                        if allowed_k(k) {
                            kommuner.insert(k);
                            push_ev(self.kommun_codes[k as usize], &f.matched, f.rule);
                        }
                    }
                }
                Target::PriorLan(ls) => {
                    if let Some(p) = prior.lan
                        && ls.contains(&p)
                        && allowed_l(p)
                    {
                        lans.insert(p);
                        push_ev(self.lan_codes[p as usize], &f.matched, f.rule);
                    }
                }
                Target::Choice(c) => choices.push((c, f)),
            }
        }
        // Homonyms: the prior's kommun or län first, then the län the rest of the item is
        // about, then a clearly larger place; otherwise no tag, since a false alarm costs more.
        let context: BTreeSet<u8> = kommuner
            .iter()
            .map(|&k| self.kommun_lan[k as usize])
            .chain(lans.iter().copied())
            .collect();
        for (cands, f) in choices {
            let cands: Vec<(u16, u32)> = cands
                .iter()
                .copied()
                .filter(|&(k, _)| allowed_k(k))
                .collect();
            let pick = self.pick(&cands, prior, &context);
            if let Some(k) = pick {
                kommuner.insert(k);
                push_ev(self.kommun_codes[k as usize], &f.matched, f.rule);
            }
        }
        lans.extend(kommuner.iter().map(|&k| self.kommun_lan[k as usize]));
        Tags {
            kommuner: kommuner
                .iter()
                .map(|&k| self.kommun_codes[k as usize].to_string())
                .collect(),
            lan: lans
                .iter()
                .map(|&l| self.lan_codes[l as usize].to_string())
                .collect(),
            evidence,
        }
    }

    fn pick(&self, cands: &[(u16, u32)], prior: Prior, context: &BTreeSet<u8>) -> Option<u16> {
        let best = |set: Vec<(u16, u32)>| {
            set.into_iter()
                .max_by_key(|&(k, pop)| (pop, std::cmp::Reverse(k)))
                .map(|(k, _)| k)
        };
        if let Some(pk) = prior.kommun
            && cands.iter().any(|&(k, _)| k == pk)
        {
            return Some(pk);
        }
        if let Some(pl) = prior.lan {
            let inside: Vec<_> = cands
                .iter()
                .copied()
                .filter(|&(k, _)| self.kommun_lan[k as usize] == pl)
                .collect();
            if !inside.is_empty() {
                return best(inside);
            }
        }
        let inside: Vec<_> = cands
            .iter()
            .copied()
            .filter(|&(k, _)| context.contains(&self.kommun_lan[k as usize]))
            .collect();
        if !inside.is_empty() {
            return best(inside);
        }
        match cands {
            [] => None,
            [(k, _)] => Some(*k),
            _ => {
                let mut pops: Vec<u32> = cands.iter().map(|&(_, p)| p).collect();
                pops.sort_unstable_by(|a, b| b.cmp(a));
                if pops[0] >= 1000 && pops[0] >= pops[1].saturating_mul(3) {
                    best(cands.to_vec())
                } else {
                    None
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Prior {
    kommun: Option<u16>,
    lan: Option<u8>,
}

#[derive(Debug)]
struct Hit {
    start: usize,
    end: usize,
    pat: usize,
}

#[derive(Debug)]
struct Found {
    target: Target,
    matched: String,
    rule: &'static str,
}

#[derive(Debug, Default)]
struct Acc {
    found: Vec<Found>,
    /// A Polisen event's län: tags outside it are dropped.
    only_lan: Option<u8>,
}

/// Words before a name that make it a place: "i Mora", "utanför Kil", "centrala Nora".
const CONTEXT_BEFORE: &[&str] = &[
    "i",
    "vid",
    "utanför",
    "från",
    "till",
    "mot",
    "nära",
    "kring",
    "runt",
    "mellan",
    "genom",
    "inom",
    "via",
    "förbi",
    "invid",
    "på",
    "centrala",
    "norra",
    "södra",
    "östra",
    "västra",
    "mellersta",
    "nordvästra",
    "nordöstra",
    "sydvästra",
    "sydöstra",
    "ovanför",
    "nedanför",
    "bortom",
    "utanförbi",
];
/// Words after a name that make it a place: "Vara kommun", "Mora centrum".
const CONTEXT_AFTER: &[&str] = &[
    "kommun",
    "kommuns",
    "kommuner",
    "kommuners",
    "centrum",
    "tätort",
    "tätorts",
    "stad",
    "stads",
];
const COMPASS: &[&str] = &[
    "norr",
    "söder",
    "öster",
    "väster",
    "nordost",
    "nordväst",
    "sydost",
    "sydväst",
];
/// A name right after these is a speaker, not a place: "säger Lindholm".
const SPEECH_VERBS: &[&str] = &[
    "säger",
    "sa",
    "sade",
    "berättar",
    "förklarar",
    "tycker",
    "menar",
    "svarar",
    "fortsätter",
    "konstaterar",
    "skriver",
];

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn word_start(s: &str, at: usize) -> bool {
    s[..at].chars().next_back().is_none_or(|c| !is_word_char(c))
}

fn word_end(s: &str, at: usize) -> bool {
    s[at..].chars().next().is_none_or(|c| !is_word_char(c))
}

/// The first word start after `at`.
fn next_word_start(s: &str, at: usize) -> usize {
    let mut prev_word = true;
    for (i, c) in s[at..].char_indices().skip(1) {
        let w = is_word_char(c);
        if w && !prev_word {
            return at + i;
        }
        prev_word = w;
    }
    s.len()
}

/// The word before `at`, skipping spaces only (punctuation ends the search), with its start.
fn prev_word(s: &str, at: usize) -> Option<(&str, usize)> {
    let before = s[..at].trim_end_matches([' ', '\t', '\u{a0}']);
    if before.len() == at && at > 0 {
        return None;
    }
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let w = &before[start..];
    (!w.is_empty()).then_some((w, start))
}

/// The word after `at`, skipping spaces only, with its start.
fn next_word(s: &str, at: usize) -> Option<(&str, usize)> {
    let rest = &s[at..];
    let trimmed = rest.trim_start_matches([' ', '\t', '\u{a0}']);
    let start = at + (rest.len() - trimmed.len());
    let end = trimmed
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(trimmed.len(), |(i, _)| i);
    (end > 0).then_some((&trimmed[..end], start))
}

fn is_upper_at(s: &str, at: usize) -> bool {
    s[at..].chars().next().is_some_and(char::is_uppercase)
}

/// Whether a capital at `at` says nothing: the start of the text or of a sentence, line or quote.
fn sentence_initial(s: &str, at: usize) -> bool {
    for c in s[..at].chars().rev() {
        match c {
            ' ' | '\t' | '\u{a0}' | '"' | '\'' | '”' | '“' | '«' | '»' | '(' | '[' | '‘' | '’'
            | '*' => {}
            '.' | '!' | '?' | ':' | ';' | '\n' | '\r' | '–' | '—' | '-' | '•' | '|' => {
                return true;
            }
            _ => return false,
        }
    }
    true
}

/// Whether the text between two names joins them in a list: ", ", " och ", " eller ", "/".
fn is_list_gap(gap: &str) -> bool {
    matches!(
        gap.trim(),
        "," | "och"
            | "eller"
            | "samt"
            | "/"
            | "&"
            | "-"
            | "–"
            | ", och"
            | "och i"
            | ", i"
            | "och från"
    )
}
