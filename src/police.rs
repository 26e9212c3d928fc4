//! Reads Polisen's event titles: `27 november 18:57, Trafikolycka, personskada, Kumla`.

use crate::model::PoliceTitle;

const MONTHS: [&str; 12] = [
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

/// The title without the `Uppdaterad …` prefix.
pub fn display_title(title: &str) -> &str {
    strip_updated(title).1
}

#[cfg(test)]
mod tests {
    use super::*;

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
