//! Tags an item with the kommuner and län it is about, from an embedded gazetteer.
//!
//! One Aho-Corasick automaton (leftmost-longest) runs over a case-folded copy of the text; every
//! hit must sit on word boundaries, and names that are also Swedish words or personal names must
//! pass a context guard. Polisen titles are read by their place field instead.

mod gazetteer;
mod text;

use std::collections::{BTreeSet, HashMap, HashSet};

use aho_corasick::{AhoCorasick, Anchored, Input};

use crate::model::{Evidence, Tags};
use text::{
    COMPASS, CONTEXT_AFTER, CONTEXT_BEFORE, SPEECH_VERBS, fold, fold_into, is_background,
    is_list_gap, is_upper_at, next_word, next_word_start, prev_word, sentence_initial, word_end,
    word_start,
};

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
    pub const LANDSKAP: &str = "landskap";
    pub const COUNTY_ADJECTIVE: &str = "county-adjective";
    pub const CLUB: &str = "club";
    pub const VENUE: &str = "venue";
    pub const NOT_A_PLACE: &str = "not-a-place";
}

/// How much context an ambiguous name needs before it counts as a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    None,
    /// A common word: fine capitalised in mid-sentence, needs context at a sentence start.
    Word,
    /// A frequent word or a personal name: needs context, or a matching prior in mid-sentence.
    Strict,
    /// A generic village name ("Berga", "Ekeby") that dozens of unlisted places share: guarded
    /// like `Word`, and counted only when the prior or the rest of the item agrees on the län.
    Common,
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

impl Tagger {
    /// Builds the tagger from the embedded gazetteer plus operator places (name -> 4-digit kommun code).
    /// A 2-digit län code is accepted too and tags the län alone.
    pub fn new(extra_places: &[(String, String)]) -> Result<Tagger, TagError> {
        gazetteer::build(extra_places)
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
        // "kommer närmast från Umeå", "med rötter i Hallsberg och Örebro": where a person
        // comes from, not where the news happens; the verdict runs on along a list.
        let joined = |a: usize, b: usize| is_list_gap(&folded[hits[a].end..hits[b].start]);
        let mut background = false;
        for i in 0..hits.len() {
            background = (i > 0 && background && joined(i - 1, i))
                || (!trusted && is_background(folded, hits[i].start));
            if background {
                ok[i] = Some(false);
            }
        }
        // Guarded names in a list of places ("Mora, Orsa och Älvdalen") take their neighbours'
        // word for it; two rounds let a verdict travel along a short list.
        for _ in 0..2 {
            for i in 0..hits.len() {
                if ok[i].is_some() {
                    continue;
                }
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
            && (matches!(e.guard, Guard::Word | Guard::Common) || prior_agrees)
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
            Guard::Word | Guard::Common => Some(true),
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
        if prior.lan.is_some() || !context.is_empty() {
            // A local source, or an item about another county, naming a homonym that is not
            // there most likely means a place missing from the gazetteer.
            return None;
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
