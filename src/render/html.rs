//! Writes the small, script-free HTML pages: the index of all feeds and one page per region.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SubsecRound as _, Utc};

use super::{
    FeedFormat, OPML_PATH, abs_url, display_name, escape, feed_path, feed_path_as, html_path,
    safe_link, xml_safe,
};
use crate::model::FeedEntry;
use crate::regions::{Region, RegionKind, Regions};

/// What the pages show about one region.
pub struct RegionSummary<'a> {
    pub region: &'a Region,
    /// Items in the region's feed.
    pub items: u64,
    /// Newest headlines first: (title, link).
    pub latest: Vec<(String, Option<String>)>,
}

/// Inline so the page needs one request; small enough not to matter on a phone.
const CSS: &str = "body{font:16px/1.45 system-ui,sans-serif;max-width:44rem;margin:0 auto;\
padding:0 .8rem;color:#222;background:#fff}a{color:#0645ad}h1{font-size:1.5rem}\
.n,.z,small,footer{color:#555}.n{font-size:.9em}details{border-top:1px solid #ddd;padding:.4rem 0}\
summary{cursor:pointer;font-weight:600}ul,ol{padding-left:1.2rem}li{margin:.2rem 0}\
.k{columns:2 12rem;list-style:none;padding:0}.z{font-size:.9em}.e li{margin:.8rem 0}\
.s p{margin:.2rem 0}footer{margin:2rem 0;font-size:.85em}\
@media(prefers-color-scheme:dark){body{background:#111;color:#ddd}a{color:#8ab4f8}\
.n,.z,small,footer{color:#aaa}}";

const FOOTER: &str = "Place data: SCB (CC0), GeoNames (CC BY 4.0)";

/// "1 post", "12 poster".
fn count(n: u64) -> String {
    if n == 1 {
        "1 post".to_string()
    } else {
        format!("{n} poster")
    }
}

/// The page head, with an autodiscovery link per feed format so that browsers and readers
/// offered the page find the feed (Atom first: it is the one readers should prefer).
fn head(out: &mut String, title: &str, base: &url::Url, region: Option<&Region>) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"sv\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"color-scheme\" content=\"light dark\">\n<title>{}</title>\n",
        escape(title),
    );
    let name = display_name(region);
    for format in FeedFormat::ALL {
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"{}\" title=\"{}\" href=\"{}\">",
            format.mime(),
            escape(&match format {
                FeedFormat::Atom => name.clone(),
                _ => format!("{name} ({})", format.label()),
            }),
            escape(&abs_url(base, &feed_path_as(region, format))),
        );
    }
    let _ = write!(out, "<style>{CSS}</style>\n</head>\n<body>\n");
}

/// "Atom · RSS · JSON Feed", each linked to the region's feed in that format.
fn format_links(out: &mut String, base: &url::Url, region: Option<&Region>) {
    for (i, format) in FeedFormat::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push_str(" · ");
        }
        let _ = write!(
            out,
            "<a href=\"{}\" type=\"{}\">{}</a>",
            escape(&abs_url(base, &feed_path_as(region, format))),
            format.mime(),
            format.label(),
        );
    }
}

fn footer(out: &mut String) {
    let _ = write!(
        out,
        "<footer>{} · regionfeed {}</footer>\n</body>\n</html>\n",
        escape(FOOTER),
        escape(env!("CARGO_PKG_VERSION"))
    );
}

/// A headline, linked when its link is a safe absolute URL.
fn headline(out: &mut String, title: &str, link: Option<&str>) {
    match safe_link(link) {
        Some(href) => {
            let _ = write!(out, "<a href=\"{}\">{}</a>", escape(&href), escape(title));
        }
        None => out.push_str(&escape(title)),
    }
}

/// The kommuner of a län: those with items as a list with counts and feed links, the rest on
/// one compact line (still linked to their feeds, which a reader may want before anything happens).
fn kommun_list(out: &mut String, base: &url::Url, kommuner: &[(&Region, u64)]) {
    let (active, quiet): (Vec<_>, Vec<_>) = kommuner.iter().partition(|(_, n)| *n > 0);
    if !active.is_empty() {
        out.push_str("<ul class=\"k\">\n");
        for &(k, n) in active {
            let _ = writeln!(
                out,
                "<li><a href=\"{}\">{}</a> <span class=\"n\">{}</span> · <a href=\"{}\">Atom</a></li>",
                escape(&abs_url(base, &html_path(Some(k)))),
                escape(&k.name),
                count(n),
                escape(&abs_url(base, &feed_path(Some(k)))),
            );
        }
        out.push_str("</ul>\n");
    }
    if !quiet.is_empty() {
        out.push_str("<p class=\"z\">Inga poster just nu: ");
        for (i, (k, _)) in quiet.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(
                out,
                "<a href=\"{}\">{}</a>",
                escape(&abs_url(base, &feed_path(Some(k)))),
                escape(&k.name)
            );
        }
        out.push_str("</p>\n");
    }
}

/// The front page: the national feed, then every län (collapsed) with its feed, count, latest
/// headlines and kommuner. Regions come from the built-in table in SCB code order, so a region
/// missing from `summaries` is still listed (with zero items) and the order does not depend on
/// the caller.
pub fn index_html(base_url: &url::Url, national_items: u64, summaries: &[RegionSummary]) -> String {
    let base = base_url;
    let by_code: BTreeMap<&str, &RegionSummary> = summaries
        .iter()
        .map(|s| (s.region.code.as_str(), s))
        .collect();
    let items = |code: &str| by_code.get(code).map_or(0, |s| s.items);
    let national = abs_url(base, &feed_path(None));
    let mut out = String::with_capacity(96 * 1024);
    head(
        &mut out,
        "regionfeed — polisens händelser och lokala nyheter per län och kommun",
        base,
        None,
    );
    let _ = write!(
        out,
        "<h1>regionfeed</h1>\n<p>Polisens händelser och lokala nyheter, sorterade per län och \
kommun, som flöden att prenumerera på (Atom, RSS eller JSON Feed).</p>\n\
<p><a href=\"{}\">Hela Sverige</a> <span class=\"n\">{}</span> · <a href=\"{}\">Alla flöden (OPML)</a></p>\n",
        escape(&national),
        count(national_items),
        escape(&abs_url(base, OPML_PATH)),
    );
    let regions = Regions::get_builtin();
    for lan in regions.lan() {
        let summary = by_code.get(lan.code.as_str());
        let _ = write!(
            out,
            "<details>\n<summary>{} <span class=\"n\">{}</span></summary>\n\
<p><a href=\"{}\">Senaste för {}</a> · ",
            escape(&lan.name),
            count(items(&lan.code)),
            escape(&abs_url(base, &html_path(Some(lan)))),
            escape(&lan.name),
        );
        format_links(&mut out, base, Some(lan));
        out.push_str("</p>\n");
        if let Some(s) = summary.filter(|s| !s.latest.is_empty()) {
            out.push_str("<ul>\n");
            for (title, link) in &s.latest {
                out.push_str("<li>");
                headline(&mut out, title, link.as_deref());
                out.push_str("</li>\n");
            }
            out.push_str("</ul>\n");
        }
        let kommuner: Vec<(&Region, u64)> = regions
            .kommuner_in(&lan.code)
            .map(|k| (k, items(&k.code)))
            .collect();
        kommun_list(&mut out, base, &kommuner);
        out.push_str("</details>\n");
    }
    footer(&mut out);
    out
}

/// Swedish wall-clock time: CET, or CEST between the last Sundays of March and October at
/// 01:00 UTC (the EU rule), so times read as they do on Polisen's own site without a tz database.
fn stockholm_time(t: DateTime<Utc>) -> String {
    fn last_sunday_0100(year: i32, month: u32) -> Option<DateTime<Utc>> {
        // Both months have 31 days.
        let last = NaiveDate::from_ymd_opt(year, month, 31)?;
        let sunday = last - Duration::days(i64::from(last.weekday().num_days_from_sunday()));
        Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
    }
    let summer = match (
        last_sunday_0100(t.year(), 3),
        last_sunday_0100(t.year(), 10),
    ) {
        (Some(start), Some(end)) => t >= start && t < end,
        _ => false,
    };
    let local = t + Duration::hours(if summer { 2 } else { 1 });
    local.format("%Y-%m-%d %H:%M").to_string()
}

/// A summary as page-safe HTML: only a few inline and paragraph tags, no links or images (the
/// item's own link is the headline; images would cost a phone bandwidth).
fn summary_html(cleaner: &ammonia::Builder, html: &str) -> String {
    cleaner.clean(&xml_safe(html)).to_string()
}

/// A region's page (`/orebro-lan/`, `/orebro-lan/kumla/`): its own autodiscovery link, its
/// feed and count, for a län its kommuner, then the latest `entries` (newest first).
pub fn region_html(
    base_url: &url::Url,
    summary: &RegionSummary,
    kommuner: &[RegionSummary],
    entries: &[FeedEntry],
) -> String {
    let base = base_url;
    let region = summary.region;
    let name = display_name(Some(region));
    let mut out = String::with_capacity(32 * 1024);
    head(
        &mut out,
        &format!("{name} — regionfeed"),
        base,
        Some(region),
    );
    let _ = write!(
        out,
        "<nav><a href=\"{}\">Sverige</a>",
        escape(&abs_url(base, &html_path(None)))
    );
    if region.kind == RegionKind::Kommun
        && let Some(lan) = region
            .lan
            .as_deref()
            .and_then(|c| Regions::get_builtin().get(c))
    {
        let _ = write!(
            out,
            " › <a href=\"{}\">{}</a>",
            escape(&abs_url(base, &html_path(Some(lan)))),
            escape(&lan.name)
        );
    }
    let _ = write!(out, "</nav>\n<h1>{}</h1>\n<p>Prenumerera: ", escape(&name),);
    format_links(&mut out, base, Some(region));
    let _ = writeln!(
        out,
        " <span class=\"n\">{}</span></p>",
        count(summary.items)
    );
    if !kommuner.is_empty() {
        out.push_str("<h2>Kommuner</h2>\n");
        let list: Vec<(&Region, u64)> = kommuner.iter().map(|k| (k.region, k.items)).collect();
        kommun_list(&mut out, base, &list);
    }
    out.push_str("<h2>Senaste</h2>\n");
    if entries.is_empty() {
        out.push_str("<p>Inga poster ännu.</p>\n");
    } else {
        let mut cleaner = ammonia::Builder::empty();
        cleaner.add_tags(["p", "br", "b", "i", "em", "strong"]);
        out.push_str("<ol class=\"e\">\n");
        for e in entries {
            out.push_str("<li>");
            headline(&mut out, &e.title, e.link.as_deref());
            let _ = write!(
                out,
                "<br><small><time datetime=\"{}\">{}</time> · {}</small>",
                escape(&e.published.trunc_subsecs(0).to_rfc3339()),
                stockholm_time(e.published),
                escape(&e.source.title),
            );
            if let Some(s) = e.summary.as_deref().or(e.content.as_deref()) {
                let cleaned = summary_html(&cleaner, s);
                if !cleaned.trim().is_empty() {
                    let _ = write!(out, "<div class=\"s\">{cleaned}</div>");
                }
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
    footer(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stockholm_time_follows_eu_summer_time() {
        for ((y, mo, d, h, mi), want) in [
            ((2026, 1, 15, 12, 0), "2026-01-15 13:00"),
            ((2026, 7, 1, 22, 30), "2026-07-02 00:30"),
            // 2026: summer time starts 29 March and ends 25 October, at 01:00 UTC.
            ((2026, 3, 29, 0, 59), "2026-03-29 01:59"),
            ((2026, 3, 29, 1, 0), "2026-03-29 03:00"),
            ((2026, 10, 25, 0, 59), "2026-10-25 02:59"),
            ((2026, 10, 25, 1, 0), "2026-10-25 02:00"),
        ] {
            let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
            assert_eq!(stockholm_time(t), want, "{t}");
        }
    }

    #[test]
    fn counts_are_swedish() {
        assert_eq!(count(0), "0 poster");
        assert_eq!(count(1), "1 post");
        assert_eq!(count(7), "7 poster");
    }
}
