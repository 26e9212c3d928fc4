//! Reads Polisen's event titles: `27 november 18:57, Trafikolycka, personskada, Kumla`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use crate::model::PoliceTitle;
use crate::parse::stockholm_to_utc;

/// Swedish month names, lowercase, January first.
pub(crate) const MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
];

/// Month number (1-12) of a Swedish month name, any case.
pub fn month_number(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .map(|i| i as u32 + 1)
}

/// Splits off an `Uppdaterad 2022-02-09 08:20:44 ` prefix: returns the stamp and the rest.
fn strip_updated(title: &str) -> (Option<&str>, &str) {
    let t = title.trim_start();
    let Some(rest) = t.strip_prefix("Uppdaterad ") else {
        return (None, t);
    };
    let rest = rest.trim_start();
    let mut words = rest.splitn(3, ' ');
    let (Some(date), Some(time)) = (words.next(), words.next()) else {
        return (None, t);
    };
    let is_date = date.len() == 10 && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if !is_date {
        return (None, t);
    }
    let is_time = time.len() == 8 && time.bytes().all(|b| b.is_ascii_digit() || b == b':');
    let stamp_end = if is_time {
        date.len() + 1 + time.len()
    } else {
        date.len()
    };
    (Some(&rest[..stamp_end]), rest[stamp_end..].trim_start())
}

/// Whether the head field is a Polisen time stamp: "27 november 18:57", "22 augusti 17.59",
/// "2017-04-07 17:04".
fn is_time_head(head: &str) -> bool {
    let parts: Vec<&str> = head.split_whitespace().collect();
    let is_clock = |s: &str| {
        let b = s.as_bytes();
        b.len() == 5
            && b[0..2].iter().all(u8::is_ascii_digit)
            && (b[2] == b':' || b[2] == b'.')
            && b[3..5].iter().all(u8::is_ascii_digit)
    };
    match parts.as_slice() {
        [day, month, clock] => {
            day.len() <= 2
                && day.chars().all(|c| c.is_ascii_digit())
                && month_number(month).is_some()
                && is_clock(clock)
        }
        [date, clock] => {
            date.len() == 10
                && date.chars().all(|c| c.is_ascii_digit() || c == '-')
                && is_clock(clock)
        }
        _ => false,
    }
}

/// Parses a Polisen event title; `None` when the title is not in that shape.
pub fn parse_title(title: &str) -> Option<PoliceTitle> {
    let (stamp, rest) = strip_updated(title);
    let fields: Vec<&str> = rest.split(',').map(str::trim).collect();
    if fields.len() < 3 || !is_time_head(fields[0]) {
        return None;
    }
    let place = fields[fields.len() - 1];
    let event_type = fields[1..fields.len() - 1].join(", ");
    if place.is_empty() || event_type.is_empty() {
        return None;
    }
    Some(PoliceTitle {
        event_type,
        place: place.to_string(),
        updated_stamp: stamp.map(str::to_string),
        time_head: fields[0].to_string(),
    })
}

/// When the event happened, from the title's time field, in UTC. Titles carry no year: it is
/// the year of `published` (in Swedish time), or the one before when that would put the event
/// after its publication ("31 december 23:50" published on New Year's night).
pub fn event_time(title: &PoliceTitle, published: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let parts: Vec<&str> = title.time_head.split_whitespace().collect();
    let clock = |s: &str| -> Option<NaiveTime> {
        let (h, m) = s.split_once([':', '.'])?;
        NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
    };
    let local = |date: NaiveDate, time: NaiveTime| stockholm_to_utc(date.and_time(time));
    match parts.as_slice() {
        [date, time] => Some(local(
            NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?,
            clock(time)?,
        )),
        [day, month, time] => {
            let (day, month, time) = (day.parse().ok()?, month_number(month)?, clock(time)?);
            // The publication's year in Swedish time; a local offset of +1 h is close enough
            // for picking a year, since only the last hour of December could differ.
            let year = (published + chrono::Duration::hours(1)).year();
            let at = local(NaiveDate::from_ymd_opt(year, month, day)?, time);
            if at > published + chrono::Duration::days(1) {
                Some(local(NaiveDate::from_ymd_opt(year - 1, month, day)?, time))
            } else {
                Some(at)
            }
        }
        _ => None,
    }
}

/// The title without the `Uppdaterad …` prefix.
pub fn display_title(title: &str) -> &str {
    strip_updated(title).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn event_times() {
        let cases = [
            // (title, published, event time)
            (
                "09 februari 21:04, Rån väpnat, Sölvesborg",
                "2022-02-09T22:58:26Z",
                "2022-02-09T20:04:00Z",
            ),
            // Before midnight, published after it: still the day before.
            (
                "09 februari 23:50, Brand, Karlskrona",
                "2022-02-09T23:05:00Z",
                "2022-02-09T22:50:00Z",
            ),
            // New Year's night: the year before.
            (
                "31 december 23:50, Brand, Kumla",
                "2026-12-31T23:10:00Z",
                "2026-12-31T22:50:00Z",
            ),
            // Summer time, API style with a dot.
            (
                "22 augusti 17.59, Brand, Kävlinge",
                "2026-08-22T17:51:41Z",
                "2026-08-22T15:59:00Z",
            ),
            (
                "2017-04-07 17:04, Trafikolycka, Södertälje",
                "2017-04-07T15:30:00Z",
                "2017-04-07T15:04:00Z",
            ),
        ];
        for (title, published, want) in cases {
            let t = parse_title(title).unwrap();
            assert_eq!(event_time(&t, utc(published)), Some(utc(want)), "{title}");
        }
    }

    #[test]
    fn reads_titles() {
        let t = parse_title(
            "Uppdaterad 2022-02-09 08:20:44 09 februari 08:11, Stöld/inbrott, Karlskrona",
        )
        .unwrap();
        assert_eq!(t.place, "Karlskrona");
        assert_eq!(t.event_type, "Stöld/inbrott");
        assert_eq!(t.updated_stamp.as_deref(), Some("2022-02-09 08:20:44"));
        assert_eq!(t.time_head, "09 februari 08:11");
        let t = parse_title("22 augusti 11.48, Trafikolycka, personskada, Hjo").unwrap();
        assert_eq!(
            (t.event_type.as_str(), t.place.as_str()),
            ("Trafikolycka, personskada", "Hjo")
        );
        let t = parse_title("2017-04-07 17:04, Trafikolycka, Södertälje").unwrap();
        assert_eq!(t.place, "Södertälje");
        assert!(parse_title("BIK Karlskoga vann, igen, i kväll").is_none());
        assert_eq!(
            display_title(
                "Uppdaterad 2022-02-09 08:20:44 09 februari 08:11, Stöld/inbrott, Karlskrona"
            ),
            "09 februari 08:11, Stöld/inbrott, Karlskrona"
        );
    }
}
