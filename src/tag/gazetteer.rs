//! Builds the tagger's automaton from the embedded gazetteer files and operator places.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind, StartKind};

use super::text::fold;
use super::{
    Entry, Guard, RANK_ALIAS, RANK_DERIVED, RANK_KOMMUN, RANK_LAN, RANK_LOCALITY, RANK_OPERATOR,
    TagError, Tagger, Target, rule,
};
use crate::regions::Regions;

const PLACES_CSV: &str = include_str!("../../data/places.csv");
const ALIASES_CSV: &str = include_str!("../../data/aliases.csv");
const GUARDED_CSV: &str = include_str!("../../data/guarded.csv");
const LPO_CSV: &str = include_str!("../../data/lokalpolisomraden.csv");
const FORNAMN_TXT: &str = include_str!("../../data/fornamn.txt");

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

/// Kommun and län codes of the builtin region table, as the tagger indexes them.
struct Codes {
    kommun_by_code: HashMap<&'static str, u16>,
    lan_by_code: HashMap<&'static str, u8>,
    kommun_lan: Vec<u8>,
}

impl Codes {
    /// Splits space-separated SCB codes into kommun and län indexes.
    fn parse(
        &self,
        codes: &str,
        file: &'static str,
        line: usize,
    ) -> Result<(Vec<u16>, Vec<u8>), TagError> {
        let mut ks = Vec::new();
        let mut ls = Vec::new();
        for c in codes.split_whitespace() {
            if let Some(&k) = self.kommun_by_code.get(c) {
                ks.push(k);
            } else if let Some(&l) = self.lan_by_code.get(c) {
                ls.push(l);
            } else {
                return Err(bad(file, line, format!("unknown code {c:?}")));
            }
        }
        Ok((ks, ls))
    }
}

fn bad(file: &'static str, line: usize, reason: impl Into<String>) -> TagError {
    TagError::BadData {
        file,
        line,
        reason: reason.into(),
    }
}

/// Reads every gazetteer file and builds one automaton over all surface forms.
pub(super) fn build(extra_places: &[(String, String)]) -> Result<Tagger, TagError> {
    let regions = Regions::get_builtin();
    let lan_codes: Vec<&'static str> = regions.lan().iter().map(|r| r.code.as_str()).collect();
    let kommun_codes: Vec<&'static str> =
        regions.kommuner().iter().map(|r| r.code.as_str()).collect();
    let lan_by_code: HashMap<&'static str, u8> = lan_codes
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i as u8))
        .collect();
    let kommun_lan = regions
        .kommuner()
        .iter()
        .map(|k| {
            k.lan
                .as_deref()
                .and_then(|l| lan_by_code.get(l).copied())
                .unwrap_or(0)
        })
        .collect();
    let codes = Codes {
        kommun_by_code: kommun_codes
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u16))
            .collect(),
        lan_by_code,
        kommun_lan,
    };
    let guards = load_guards()?;
    let guard_of = |name: &str| guards.get(&fold(name)).copied().unwrap_or(Guard::None);

    let mut b = Builder {
        forms: HashMap::new(),
        patterns: Vec::new(),
        entries: Vec::new(),
    };
    let mut title_places = HashMap::new();
    add_kommuner(&mut b, &mut title_places, regions, &guard_of);
    add_lan(&mut b, &mut title_places, regions);
    add_localities(&mut b, &codes, &guard_of)?;
    add_aliases(&mut b, &codes)?;
    add_lokalpolisomraden(&mut b, &codes)?;
    add_operator_places(&mut b, &mut title_places, &codes, extra_places)?;

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
        kommun_lan: codes.kommun_lan,
        kommun_codes,
        lan_codes,
        kommun_by_code: codes.kommun_by_code,
        lan_by_code: codes.lan_by_code,
    })
}

fn load_guards() -> Result<HashMap<String, Guard>, TagError> {
    let mut guards = HashMap::new();
    for (line, l) in data_lines(GUARDED_CSV) {
        let (name, level) = l
            .split_once(',')
            .ok_or_else(|| bad("guarded.csv", line, "expected name,level"))?;
        let g = match level.trim() {
            "strict" => Guard::Strict,
            "word" => Guard::Word,
            "common" => Guard::Common,
            other => return Err(bad("guarded.csv", line, format!("unknown level {other:?}"))),
        };
        guards.insert(fold(name.trim()), g);
    }
    Ok(guards)
}

/// Kommun names, their genitives, inhabitants ("kumlabo") and compounds ("Göteborgspolisen").
fn add_kommuner(
    b: &mut Builder,
    title_places: &mut HashMap<String, Target>,
    regions: &Regions,
    guard_of: &dyn Fn(&str) -> Guard,
) {
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
        // Derived forms of an ambiguous name ("Marks-", "Bergsbo") would be ambiguous too.
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
            for suffix in ["polisen", "polisens", "trakten", "området", "regionen"] {
                b.add(&format!("{stem}{suffix}"), derived(rule::COMPOUND));
            }
        }
    }
}

/// Län: full names, short names that are no kommun's, and the bodies named after them.
fn add_lan(b: &mut Builder, title_places: &mut HashMap<String, Target>, regions: &Regions) {
    for (i, l) in regions.lan().iter().enumerate() {
        let t = Target::Lan(i as u8);
        title_places.insert(fold(&l.name), t.clone());
        let entry = |rule| Entry {
            target: t.clone(),
            rule,
            caps: true,
            guard: Guard::None,
            // Below the hand-curated aliases, which may say better ("Region Gotland").
            rank: RANK_LAN,
        };
        b.add_name(&l.name, entry(rule::LAN), true);
        // "Västra Götalands län" → "Västra Götaland", "Jönköpings län" → "Jönköping".
        let short = l.name.strip_suffix(" län").unwrap_or(&l.name);
        let short = short.strip_suffix('s').unwrap_or(short);
        if !regions.kommuner().iter().any(|k| k.name == short) {
            b.add_name(short, entry(rule::LAN), true);
        }
        for prefix in ["Region", "Länsstyrelsen", "Länsstyrelsen i"] {
            b.add(&format!("{prefix} {short}"), entry(rule::INSTITUTION));
            b.add(&format!("{prefix} {}", l.name), entry(rule::INSTITUTION));
        }
    }
}

/// Localities from the postal and GeoNames data; homonyms become one choice.
fn add_localities(
    b: &mut Builder,
    codes: &Codes,
    guard_of: &dyn Fn(&str) -> Guard,
) -> Result<(), TagError> {
    let mut localities: Vec<(&str, Vec<(u16, u32)>)> = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (line, l) in data_lines(PLACES_CSV).skip(1) {
        let mut f = l.split(',');
        let (Some(name), Some(code), Some(pop)) = (f.next(), f.next(), f.next()) else {
            return Err(bad("places.csv", line, "expected name,kommun,population"));
        };
        let k = *codes
            .kommun_by_code
            .get(code)
            .ok_or_else(|| bad("places.csv", line, "unknown kommun"))?;
        let pop: u32 = pop
            .parse()
            .map_err(|_| bad("places.csv", line, "bad population"))?;
        let slot = *by_name.entry(name).or_insert_with(|| {
            localities.push((name, Vec::new()));
            localities.len() - 1
        });
        localities[slot].1.push((k, pop));
    }
    for (name, cands) in localities {
        let guard = guard_of(name);
        let target = match cands.as_slice() {
            [(k, _)] if guard != Guard::Common => Target::Kommun(*k),
            _ => Target::Choice(cands),
        };
        let entry = Entry {
            target,
            rule: rule::LOCALITY,
            caps: true,
            guard,
            rank: RANK_LOCALITY,
        };
        b.add_name(name, entry, true);
    }
    Ok(())
}

/// Hand-curated forms: landskap, adjectives, clubs, institutions, districts, non-places.
fn add_aliases(b: &mut Builder, codes: &Codes) -> Result<(), TagError> {
    const FILE: &str = "aliases.csv";
    for (line, l) in data_lines(ALIASES_CSV) {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() != 4 {
            return Err(bad(FILE, line, "expected form,codes,rule,flags"));
        }
        let no_place = f[1].trim() == "-";
        let (ks, ls) = if no_place {
            (Vec::new(), Vec::new())
        } else {
            codes.parse(f[1], FILE, line)?
        };
        let flags: Vec<&str> = f[3].split_whitespace().collect();
        let rule: &'static str = match f[2] {
            "kommun-name" => rule::KOMMUN,
            "locality" => rule::LOCALITY,
            "demonym" => rule::DEMONYM,
            "institution" => rule::INSTITUTION,
            "landskap" => rule::LANDSKAP,
            "county-adjective" => rule::COUNTY_ADJECTIVE,
            "club" => rule::CLUB,
            "venue" => rule::VENUE,
            "not-a-place" => rule::NOT_A_PLACE,
            other => return Err(bad(FILE, line, format!("unknown rule {other:?}"))),
        };
        let target = if no_place {
            // A name that contains a place name but is no place ("Göta kanal"): it claims
            // the text so that the shorter name inside it does not match.
            Target::All(Vec::new())
        } else if flags.contains(&"prior") {
            let mut lans = ls;
            lans.extend(ks.iter().map(|&k| codes.kommun_lan[k as usize]));
            Target::PriorLan(lans)
        } else {
            match (ks.as_slice(), ls.as_slice()) {
                ([k], []) => Target::Kommun(*k),
                ([], [l]) => Target::Lan(*l),
                (ks, []) if !ks.is_empty() => Target::All(ks.to_vec()),
                _ => return Err(bad(FILE, line, "several län need the prior flag")),
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
    Ok(())
}

/// Lokalpolisområden: "lokalpolisområde Hallsberg" means all its kommuner.
fn add_lokalpolisomraden(b: &mut Builder, codes: &Codes) -> Result<(), TagError> {
    const FILE: &str = "lokalpolisomraden.csv";
    for (line, l) in data_lines(LPO_CSV) {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() != 3 {
            return Err(bad(FILE, line, "expected region,name,kommuner"));
        }
        let (ks, ls) = codes.parse(f[2], FILE, line)?;
        if ks.is_empty() || !ls.is_empty() {
            return Err(bad(FILE, line, "expected kommun codes"));
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
    Ok(())
}

/// Operator places override everything built in, Polisen titles included.
fn add_operator_places(
    b: &mut Builder,
    title_places: &mut HashMap<String, Target>,
    codes: &Codes,
    extra_places: &[(String, String)],
) -> Result<(), TagError> {
    for (name, code) in extra_places {
        let name = name.trim();
        if name.is_empty() {
            return Err(TagError::EmptyName);
        }
        let unknown = || TagError::UnknownCode {
            name: name.to_string(),
            code: code.clone(),
        };
        let parts: Vec<&str> = code.split_whitespace().collect();
        let target = match parts[..] {
            [one] => {
                if let Some(&k) = codes.kommun_by_code.get(one) {
                    Target::Kommun(k)
                } else if let Some(&l) = codes.lan_by_code.get(one) {
                    Target::Lan(l)
                } else {
                    return Err(unknown());
                }
            }
            // Several kommun codes: a district of the operator's own ("lokalpolisområde Nacka")
            // that means all of them, like a row of lokalpolisomraden.csv.
            [_, _, ..] => Target::All(
                parts
                    .iter()
                    .map(|c| codes.kommun_by_code.get(c).copied().ok_or_else(unknown))
                    .collect::<Result<_, _>>()?,
            ),
            [] => return Err(unknown()),
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
    Ok(())
}
