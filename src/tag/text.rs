//! Word-level reading of Swedish text: case folding, word boundaries and the context words
//! that tell a place from a word or a person.

/// Lowercases without changing any character's UTF-8 length, so byte offsets in the folded copy
/// are offsets in the original too.
pub(super) fn fold_into(s: &str, out: &mut String) {
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

pub(super) fn fold(s: &str) -> String {
    let mut out = String::new();
    fold_into(s, &mut out);
    out
}

/// Words before a name that make it a place: "i Mora", "utanför Kil", "centrala Nora".
pub(super) const CONTEXT_BEFORE: &[&str] = &[
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
pub(super) const CONTEXT_AFTER: &[&str] = &[
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
pub(super) const COMPASS: &[&str] = &[
    "norr",
    "söder",
    "öster",
    "väster",
    "nordost",
    "nordväst",
    "sydost",
    "sydväst",
];
/// Two words before a name that make it a person's background rather than the news' place.
pub(super) const BACKGROUND: &[(&str, &str)] = &[
    ("närmast", "från"),
    ("rötter", "i"),
    ("född", "i"),
    ("uppvuxen", "i"),
    ("uppväxt", "i"),
    ("ursprungligen", "från"),
];
/// A name right after these is a speaker, not a place: "säger Lindholm".
pub(super) const SPEECH_VERBS: &[&str] = &[
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

pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

pub(super) fn word_start(s: &str, at: usize) -> bool {
    s[..at].chars().next_back().is_none_or(|c| !is_word_char(c))
}

pub(super) fn word_end(s: &str, at: usize) -> bool {
    s[at..].chars().next().is_none_or(|c| !is_word_char(c))
}

/// The first word start after `at`.
pub(super) fn next_word_start(s: &str, at: usize) -> usize {
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
pub(super) fn prev_word(s: &str, at: usize) -> Option<(&str, usize)> {
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
pub(super) fn next_word(s: &str, at: usize) -> Option<(&str, usize)> {
    let rest = &s[at..];
    let trimmed = rest.trim_start_matches([' ', '\t', '\u{a0}']);
    let start = at + (rest.len() - trimmed.len());
    let end = trimmed
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(trimmed.len(), |(i, _)| i);
    (end > 0).then_some((&trimmed[..end], start))
}

pub(super) fn is_upper_at(s: &str, at: usize) -> bool {
    s[at..].chars().next().is_some_and(char::is_uppercase)
}

/// Whether a capital at `at` says nothing: the start of the text or of a sentence, line or quote.
pub(super) fn sentence_initial(s: &str, at: usize) -> bool {
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

/// Whether the words before `at` say where a person comes from ("närmast från", "rötter i").
pub(super) fn is_background(folded: &str, at: usize) -> bool {
    prev_word(folded, at).is_some_and(|(w, ws)| {
        prev_word(folded, ws).is_some_and(|(w2, _)| BACKGROUND.contains(&(w2, w)))
    })
}

/// Whether the text between two names joins them in a list: ", ", " och ", " eller ", "/".
pub(super) fn is_list_gap(gap: &str) -> bool {
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
