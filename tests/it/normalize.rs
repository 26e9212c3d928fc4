//! Tests for `regionfeed::normalize`: canonical links, sanitizing, keys, titles and dates.

use chrono::{DateTime, TimeDelta, Utc};
use regionfeed::model::{Item, ParsedItem};
use regionfeed::normalize::{canonical_url, html_to_text, normalize, sanitize_html};
use url::Url;

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test date")
        .with_timezone(&Utc)
}

fn fetched_at() -> DateTime<Utc> {
    utc("2026-11-20T12:00:00Z")
}

fn item(title: &str, guid: Option<&str>, link: Option<&str>, summary: Option<&str>) -> ParsedItem {
    ParsedItem {
        title: Some(title.to_string()),
        guid: guid.map(str::to_string),
        link: link.map(str::to_string),
        summary: summary.map(str::to_string),
        ..ParsedItem::default()
    }
}

fn norm(parsed: &ParsedItem) -> Item {
    normalize(parsed, &url("https://lokal.example/feed/"), fetched_at()).expect("item has content")
}

fn fixture_items(path: &str, feed_url: &str) -> Vec<Item> {
    let full = format!("{}/tests/it/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    let base = url(feed_url);
    let feed =
        regionfeed::parse::parse(&body, None, &base).unwrap_or_else(|e| panic!("{path}: {e}"));
    feed.items
        .iter()
        .filter_map(|i| normalize(i, &base, fetched_at()))
        .collect()
}

#[test]
fn canonical_urls() {
    let cases = [
        (
            "HTTPS://Lokal.EXAMPLE:443/Nyheter/?utm_source=rss#kommentarer",
            Some("https://lokal.example/Nyheter"),
        ),
        ("http://lokal.example:80/", Some("http://lokal.example/")),
        ("https://lokal.example", Some("https://lokal.example/")),
        (
            "http://lokal.example:8080/sport/",
            Some("http://lokal.example:8080/sport"),
        ),
        (
            "https://lokal.example/a?b=2&a=1",
            Some("https://lokal.example/a?b=2&a=1"),
        ),
        (
            "https://lokal.example/a?utm_source=x&id=5&fbclid=abc&UTM_Medium=y",
            Some("https://lokal.example/a?id=5"),
        ),
        (
            "https://lokal.example/a?gclid=1&mc_cid=2&mc_eid=3&igshid=4&msclkid=5",
            Some("https://lokal.example/a"),
        ),
        (
            "https://lokal.example/a?ref=start&source=rss",
            Some("https://lokal.example/a?ref=start&source=rss"),
        ),
        (
            "https://lokal.example/a?&&id=1&",
            Some("https://lokal.example/a?id=1"),
        ),
        ("https://lokal.example/a?", Some("https://lokal.example/a")),
        ("https://lokal.example/a//", Some("https://lokal.example/a")),
        (
            "https://redaktion:hemligt@lokal.example/a",
            Some("https://lokal.example/a"),
        ),
        (
            "https://lokal.example/a/./b/../c",
            Some("https://lokal.example/a/c"),
        ),
        (
            "  https://lokal.example/a  ",
            Some("https://lokal.example/a"),
        ),
        (
            "https://www.Örebro.example/Å",
            Some("https://www.xn--rebro-iua.example/%C3%85"),
        ),
        ("ftp://lokal.example/a", None),
        ("javascript:alert(1)", None),
        ("mailto:red@lokal.example", None),
        ("/relativ/lank", None),
        ("", None),
    ];
    for (input, want) in cases {
        let got = canonical_url(input);
        assert_eq!(got.as_deref(), want, "{input:?}");
        if let Some(c) = got {
            assert_eq!(canonical_url(&c), Some(c.clone()), "not idempotent: {c}");
        }
    }
}

#[test]
fn sanitizing() {
    let base = url("https://orebrolokalen.example/2026/11/artikel/");
    let cases = [
        (
            "<p onclick=\"steal()\" style=\"color:red\">Hej</p>",
            "<p>Hej</p>",
        ),
        ("<script>alert(1)</script><p>Text</p>", "<p>Text</p>"),
        ("<style>p { display:none }</style>Text", "Text"),
        (
            "<iframe src=\"https://kartor.example/\">Kartan kan inte visas</iframe>Efter",
            "Efter",
        ),
        (
            "<object data=\"film.swf\"><embed src=\"film.swf\"></object>Efter",
            "Efter",
        ),
        (
            "<form action=\"/s\"><input name=\"q\"><button>Sök</button></form>Efter",
            "Efter",
        ),
        (
            "<a href=\"javascript:alert(1)\">Dela</a>",
            "<a rel=\"noopener noreferrer\">Dela</a>",
        ),
        (
            "<a href=\"JaVaScRiPt:alert(1)\">Dela</a>",
            "<a rel=\"noopener noreferrer\">Dela</a>",
        ),
        (
            "<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"x\">",
            "<img alt=\"x\">",
        ),
        (
            "<img src=\"/bilder/lekplats.jpg\" alt=\"Lekplats\">",
            "<img src=\"https://orebrolokalen.example/bilder/lekplats.jpg\" alt=\"Lekplats\">",
        ),
        (
            "<img src=\"bild.png\">",
            "<img src=\"https://orebrolokalen.example/2026/11/artikel/bild.png\">",
        ),
        (
            "<img src=\"//cdn.example/a.jpg\">",
            "<img src=\"https://cdn.example/a.jpg\">",
        ),
        (
            "<a href=\"../../sport/\" target=\"_blank\">Sport</a>",
            "<a href=\"https://orebrolokalen.example/2026/sport/\" rel=\"noopener noreferrer\">Sport</a>",
        ),
        (
            "<a href=\"https://polisen.se/\" rel=\"follow\">Polisen</a>",
            "<a href=\"https://polisen.se/\" rel=\"noopener noreferrer\">Polisen</a>",
        ),
        (
            "<p>Kontroll\u{1}tecken\u{c}bort\u{1f}</p>",
            "<p>Kontrollteckenbort</p>",
        ),
        (
            "<div><b>Fet</b> &amp; <em>kursiv</em><br>rad</div>",
            "<div><b>Fet</b> &amp; <em>kursiv</em><br>rad</div>",
        ),
        ("  <p>Trimmat</p>\n", "<p>Trimmat</p>"),
    ];
    for (html, want) in cases {
        assert_eq!(sanitize_html(html, &base), want, "{html}");
    }
}

#[test]
fn plain_text() {
    let cases = [
        (
            "<p>Hej&nbsp;<b>Kum</b>la</p><p>Örebro &amp; Karlskoga</p>",
            "Hej Kumla Örebro & Karlskoga",
        ),
        (
            "Sj&ouml;r&auml;ddningen &#246;var&#x2026; &#150; klart",
            "Sjöräddningen övar… – klart",
        ),
        ("<script>var a = '<p>Kumla</p>';</script>Laxå", "Laxå"),
        (
            "<li>Askersund</li><li>Hallsberg</li>",
            "Askersund Hallsberg",
        ),
        ("1 < 2 & 3 > 2, R&D &okänd;", "1 < 2 & 3 > 2, R&D &okänd;"),
        ("<a href=\"/x\" title=\"a > b\">Arvika</a>", "Arvika"),
        ("  flera\n\n\tmellanslag  ", "flera mellanslag"),
        ("<!-- dold Kumla -->synlig", "synlig"),
        ("", ""),
    ];
    for (html, want) in cases {
        assert_eq!(html_to_text(html), want, "{html}");
    }
}

#[test]
fn text_extraction_is_linear() {
    // Inputs that make naive scanners quadratic: unclosed tags, comments, entities.
    for unit in ["<a href=\"", "<!--", "&ouml", "<script>", "&#", "<"] {
        let input = unit.repeat(200_000);
        let started = std::time::Instant::now();
        let _ = html_to_text(&input);
        assert!(
            started.elapsed().as_secs() < 2,
            "{unit:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn keys() {
    let with_guid = norm(&item(
        "Brand i Kumla",
        Some(" polisen-123 "),
        Some("https://lokal.example/a"),
        None,
    ));
    assert_eq!(with_guid.key, "guid:polisen-123");
    let edited = norm(&item(
        "Uppdaterad: Brand i Kumla",
        Some("polisen-123"),
        Some("https://lokal.example/b"),
        Some("Mer info"),
    ));
    assert_eq!(
        edited.key, with_guid.key,
        "title, link and text edits keep a guid key"
    );
    assert_ne!(
        edited.content_hash, with_guid.content_hash,
        "an edit changes the content hash"
    );

    let with_link = norm(&item(
        "Lekplats i Snavlunda",
        None,
        Some("/2026/11/lekplats/?utm_source=rss#top"),
        None,
    ));
    assert_eq!(with_link.key, "link:https://lokal.example/2026/11/lekplats");
    assert_eq!(
        with_link.link.as_deref(),
        Some("https://lokal.example/2026/11/lekplats/?utm_source=rss#top")
    );
    assert_eq!(
        with_link.canonical_link.as_deref(),
        Some("https://lokal.example/2026/11/lekplats")
    );
    let retitled = norm(&item(
        "Ny lekplats i Snavlunda",
        None,
        Some("https://LOKAL.example/2026/11/lekplats/"),
        None,
    ));
    assert_eq!(retitled.key, with_link.key, "a title edit keeps a link key");

    let bare = item(
        "Öppettider i helgen",
        None,
        None,
        Some("<p>Kommunhuset har stängt.</p>"),
    );
    let hashed = norm(&bare);
    assert!(hashed.key.starts_with("hash:"), "{}", hashed.key);
    assert_eq!(hashed.key.len(), "hash:".len() + 64);
    assert_eq!(norm(&bare).key, hashed.key, "the hash key is stable");
    let reworded = item(
        "Öppettider i helgen",
        None,
        None,
        Some("<p>Kommunhuset har öppet.</p>"),
    );
    assert_ne!(norm(&reworded).key, hashed.key);
    let same_text_other_markup = item(
        "Öppettider  i helgen",
        None,
        None,
        Some("<div>Kommunhuset har <b>stängt</b>.</div>"),
    );
    assert_eq!(
        norm(&same_text_other_markup).key,
        hashed.key,
        "the hash covers normalized text, not markup"
    );

    // Only http(s) links survive; a javascript: link leaves the item without link.
    let js = norm(&item(
        "Dela",
        None,
        Some("javascript:alert(1)"),
        Some("text"),
    ));
    assert_eq!((js.link, js.canonical_link), (None, None));
    assert!(js.key.starts_with("hash:"));
}

#[test]
fn shared_story_has_one_canonical_link() {
    let wp = fixture_items(
        "feeds/lokal-wordpress.xml",
        "https://orebrolokalen.example/feed/",
    );
    let atom = fixture_items(
        "feeds/lokal-atom.xml",
        "https://varmlandsnytt.example/feed.atom",
    );
    let shared = &wp[6];
    assert_eq!(
        shared.title,
        "Vägarbete på E18 mellan Karlskoga och Kristinehamn"
    );
    assert_eq!(shared.canonical_link, atom[0].canonical_link);
    assert_eq!(
        shared.canonical_link.as_deref(),
        Some("https://varmlandsnytt.example/nyheter/2026/11/vagarbete-e18-karlskoga-kristinehamn")
    );
    let other_links: Vec<_> = wp[..6]
        .iter()
        .chain(&atom[1..])
        .map(|i| i.canonical_link.clone())
        .collect();
    assert!(!other_links.contains(&shared.canonical_link));
}

#[test]
fn polisen_titles() {
    let items = fixture_items(
        "feeds/polisen-blekinge.xml",
        "https://polisen.se/aktuellt/rss/blekinge/handelser-rss---blekinge/",
    );
    assert_eq!(items.len(), 30);
    let cases = [
        (
            0,
            "09 februari 21:04, Rån väpnat, Sölvesborg",
            "Rån väpnat",
            "Sölvesborg",
            None,
        ),
        (
            1,
            "09 februari 08:11, Stöld/inbrott, Karlskrona",
            "Stöld/inbrott",
            "Karlskrona",
            Some("2022-02-09 08:20:44"),
        ),
        (
            2,
            "08 februari 17:35, Trafikolycka, vilt, Karlskrona",
            "Trafikolycka, vilt",
            "Karlskrona",
            None,
        ),
        (
            7,
            "04 februari 06:51, Sammanfattning natt, Blekinge län",
            "Sammanfattning natt",
            "Blekinge län",
            None,
        ),
        (
            13,
            "28 januari 21:24, Trafikolycka, singel, Karlskrona",
            "Trafikolycka, singel",
            "Karlskrona",
            Some("2022-01-28 23:09:04"),
        ),
    ];
    for (index, title, event_type, place, stamp) in cases {
        let item = &items[index];
        assert_eq!(item.title, title);
        let police = item
            .police
            .as_ref()
            .unwrap_or_else(|| panic!("{title}: not read as a police title"));
        assert_eq!(
            (
                police.event_type.as_str(),
                police.place.as_str(),
                police.updated_stamp.as_deref()
            ),
            (event_type, place, stamp)
        );
        assert!(
            item.key
                .starts_with("guid:https://polisen.se/aktuellt/handelser/")
        );
    }
    // Published when the event happened (the title's 08:11), not when the feed said (08:18).
    assert_eq!(items[1].published, utc("2022-02-09T08:11:00+01:00"));
    assert_eq!(items[1].updated, utc("2022-02-09T08:18:12+01:00"));
    assert_eq!(items[1].text, "Larm om inbrott på skola, Wämö.");

    let news = norm(&item(
        "BIK Karlskoga vann, igen, i kväll",
        None,
        Some("https://lokal.example/bik"),
        None,
    ));
    assert_eq!(news.police, None);
}

#[test]
fn dates() {
    let p = utc("2026-11-18T08:00:00Z");
    let later = p + TimeDelta::hours(3);
    let earlier = p - TimeDelta::hours(3);
    let f = fetched_at();
    let cases = [
        ((Some(p), Some(later)), (p, later)),
        ((Some(p), None), (p, p)),
        ((None, Some(later)), (later, later)),
        ((None, None), (f, f)),
        ((Some(p), Some(earlier)), (p, p)), // updated is never before published
    ];
    for ((published, updated), want) in cases {
        let mut parsed = item("Datum", Some("d"), None, None);
        parsed.published = published;
        parsed.updated = updated;
        let got = norm(&parsed);
        assert_eq!(
            (got.published, got.updated),
            want,
            "{published:?} {updated:?}"
        );
    }
}

#[test]
fn fields() {
    let parsed = ParsedItem {
        guid: Some("g1".into()),
        link: Some("nyheter/1".into()),
        title: Some("  <b>Sjö&shy;räddning</b>\n i   Askersund &amp; Laxå ".into()),
        summary: Some("<p>Kort</p>".into()),
        content: Some("<p onclick=\"x()\">Lång <script>x()</script>text om <a href=\"/askersund\">Askersund</a></p>".into()),
        categories: vec![" Blåljus ".into(), "blåljus".into(), "".into(), "Askersund".into(), "Kultur &amp; nöje".into()],
        author: Some("  Anna Bergström ".into()),
        ..ParsedItem::default()
    };
    let got = norm(&parsed);
    assert_eq!(got.title, "Sjö\u{ad}räddning i Askersund & Laxå");
    assert_eq!(
        got.link.as_deref(),
        Some("https://lokal.example/feed/nyheter/1")
    );
    assert_eq!(got.summary.as_deref(), Some("<p>Kort</p>"));
    assert_eq!(
        got.content.as_deref(),
        Some(
            "<p>Lång text om <a href=\"https://lokal.example/askersund\" rel=\"noopener noreferrer\">Askersund</a></p>"
        )
    );
    assert_eq!(
        got.text, "Lång text om Askersund",
        "text comes from content when there is content"
    );
    assert_eq!(got.categories, ["Blåljus", "Askersund", "Kultur & nöje"]);
    assert_eq!(got.author.as_deref(), Some("Anna Bergström"));
    assert_eq!(got.content_hash.len(), 64);
}

#[test]
fn empty_items() {
    let base = url("https://lokal.example/");
    assert_eq!(normalize(&ParsedItem::default(), &base, fetched_at()), None);
    let markup_only = ParsedItem {
        title: Some(" <br> ".into()),
        summary: Some("<p> </p>".into()),
        ..ParsedItem::default()
    };
    assert_eq!(normalize(&markup_only, &base, fetched_at()), None);

    let link_only = ParsedItem {
        link: Some("https://lokal.example/a".into()),
        ..ParsedItem::default()
    };
    assert_eq!(
        normalize(&link_only, &base, fetched_at()).map(|i| i.title),
        Some("https://lokal.example/a".into())
    );
    let text_only = ParsedItem {
        summary: Some("Kommunhuset i Kumla har stängt under helgen på grund av ett vattenläckage i källaren som upptäcktes i fredags.".into()),
        ..ParsedItem::default()
    };
    assert_eq!(
        normalize(&text_only, &base, fetched_at()).map(|i| i.title),
        Some("Kommunhuset i Kumla har stängt under helgen på grund av ett vattenläckage i…".into())
    );
}

/// The hostile WordPress fixture, normalized: everything dangerous is gone, relative URLs are
/// absolute. The full result is a snapshot so that any change in sanitizing shows up in review.
#[test]
fn wordpress_fixture() {
    let items = fixture_items(
        "feeds/lokal-wordpress.xml",
        "https://orebrolokalen.example/feed/",
    );
    assert_eq!(items.len(), 7);
    for item in &items {
        for html in [&item.summary, &item.content].into_iter().flatten() {
            for banned in [
                "<script",
                "<style",
                "<iframe",
                "<form",
                "<input",
                "onclick",
                "javascript:",
                "src=\"/",
                "src=\"wp-",
            ] {
                assert!(!html.contains(banned), "{banned} in {}: {html}", item.title);
            }
        }
    }
    let mut out = String::new();
    for item in &items {
        out.push_str(&format!(
            "key: {}\ntitle: {}\nlink: {:?}\ncanonical: {:?}\npublished: {} updated: {}\ncategories: {:?} author: {:?}\ntext: {}\ncontent: {}\n\n",
            item.key,
            item.title,
            item.link,
            item.canonical_link,
            item.published.to_rfc3339(),
            item.updated.to_rfc3339(),
            item.categories,
            item.author,
            item.text,
            item.content.as_deref().unwrap_or("-"),
        ));
    }
    insta::assert_snapshot!("wordpress_fixture", out);
}
