//! Tests for `regionfeed::parse`: fixture feeds in, `ParsedFeed` (or a one-line error) out.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use regionfeed::model::ParsedFeed;
use regionfeed::parse::{ParseError, parse, parse_timestamp};
use url::Url;

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/it/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn base(url: &str) -> Url {
    Url::parse(url).expect("test base URL")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test date")
        .with_timezone(&Utc)
}

fn parse_fixture(path: &str, content_type: Option<&str>) -> ParsedFeed {
    let base = base("https://feeds.example/feed/");
    parse(&fixture(path), content_type, &base).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What a fixture must parse to: item count and the first item's main fields.
struct Expect {
    file: &'static str,
    content_type: Option<&'static str>,
    feed_title: &'static str,
    count: usize,
    title: &'static str,
    guid: Option<&'static str>,
    link: Option<&'static str>,
    published: Option<&'static str>,
}

fn check(e: &Expect) {
    let feed = parse_fixture(e.file, e.content_type);
    assert_eq!(
        feed.title.as_deref(),
        Some(e.feed_title),
        "{}: feed title",
        e.file
    );
    assert_eq!(feed.items.len(), e.count, "{}: item count", e.file);
    let first = &feed.items[0];
    assert_eq!(
        first.title.as_deref(),
        Some(e.title),
        "{}: first title",
        e.file
    );
    assert_eq!(first.guid.as_deref(), e.guid, "{}: first guid", e.file);
    assert_eq!(first.link.as_deref(), e.link, "{}: first link", e.file);
    assert_eq!(
        first.published,
        e.published.map(utc),
        "{}: first published",
        e.file
    );
}

#[test]
fn fixtures_parse() {
    let cases = [
        Expect {
            file: "feeds/polisen-blekinge.xml",
            content_type: Some("application/rss+xml; charset=utf-8"),
            feed_title: "Händelser RSS - Blekinge",
            count: 30,
            title: "09 februari 21:04, Rån väpnat, Sölvesborg",
            guid: Some(
                "https://polisen.se/aktuellt/handelser/2022/februari/9/09-februari-2104-ran-vapnat-solvesborg/",
            ),
            link: Some(
                "https://polisen.se/aktuellt/handelser/2022/februari/9/09-februari-2104-ran-vapnat-solvesborg/",
            ),
            published: Some("2022-02-09T23:58:26+01:00"),
        },
        Expect {
            file: "feeds/lokal-wordpress.xml",
            content_type: Some("application/rss+xml; charset=UTF-8"),
            feed_title: "Örebrolokalen",
            count: 7,
            title: "BIK Karlskoga vann första semifinalmatchen",
            guid: Some("https://orebrolokalen.example/?p=48213"),
            link: Some(
                "https://orebrolokalen.example/2026/11/16/bik-karlskoga-vann-forsta-semifinalmatchen/",
            ),
            published: Some("2026-11-16T18:42:00Z"),
        },
        Expect {
            file: "feeds/kommun-latin1.xml",
            // A wrong HTTP charset must not beat the document's own declaration.
            content_type: Some("text/xml; charset=utf-8"),
            feed_title: "Kumla kommun - Nyheter",
            count: 4,
            title: "Nytt äventyrsbad öppnar i Kumla",
            guid: Some("kumla-nyhet-2024-0142"),
            link: Some("https://www.kumla.example/nyheter/2024-05-15-nytt-aventyrsbad.html"),
            published: Some("2024-05-15T08:00:00+02:00"),
        },
        Expect {
            file: "feeds/lokal-atom.xml",
            content_type: Some("application/atom+xml"),
            feed_title: "Värmlandsnytt",
            count: 5,
            title: "Vägarbete på E18 mellan Karlskoga och Kristinehamn",
            guid: Some("tag:varmlandsnytt.example,2026-11-10:/nyheter/10412"),
            link: Some(
                "https://varmlandsnytt.example/nyheter/2026/11/vagarbete-e18-karlskoga-kristinehamn/",
            ),
            published: Some("2026-11-10T08:30:00+01:00"),
        },
        Expect {
            file: "feeds/json-feed.json",
            content_type: Some("application/feed+json"),
            feed_title: "Hallsbergsbladet",
            count: 2,
            title: "Pålsboda bageri utökar med nytt café",
            guid: Some("https://hallsbergsbladet.example/2026/11/17/palsboda-bageri-utokar"),
            link: Some("https://hallsbergsbladet.example/2026/11/17/palsboda-bageri-utokar"),
            published: Some("2026-11-17T10:00:00+01:00"),
        },
        Expect {
            file: "feeds/no-version.xml",
            content_type: None,
            feed_title: "Laxå Nyheter",
            count: 2,
            title: "Ramundersboda får ny busslinje",
            guid: Some("https://laxa-nyheter.example/2026/11/ramundersboda-busslinje"),
            link: Some("https://laxa-nyheter.example/2026/11/ramundersboda-busslinje"),
            published: Some("2026-11-17T12:00:00+01:00"),
        },
        Expect {
            file: "feeds/html-entities.xml",
            content_type: None,
            feed_title: "Askersunds-Tidningen",
            count: 1,
            title: "Sjöräddningen övar på Vättern",
            guid: Some("at-2026-1187"),
            link: Some("https://askersund-tidning.example/2026/11/sjoraddningen-ovar"),
            published: Some("2026-11-14T16:00:00+01:00"),
        },
        Expect {
            file: "feeds/entity-bomb.xml",
            content_type: None,
            feed_title: "Elak källa &lol9;",
            count: 1,
            title: "Miljarder skratt &lol9;",
            guid: Some("https://elak.example/lol"),
            link: Some("https://elak.example/lol"),
            published: Some("2026-11-16T08:00:00+01:00"),
        },
        Expect {
            file: "parse/utf8-mislabelled.xml",
            content_type: None,
            feed_title: "Nora kommun",
            count: 1,
            title: "Öppet hus på Göthlinska gården",
            guid: None,
            link: Some("https://nora.example/oppet-hus"),
            published: None,
        },
        Expect {
            file: "parse/latin9-no-declaration.xml",
            content_type: Some("application/rss+xml; charset=ISO-8859-15"),
            feed_title: "Lindesbergs kommun",
            count: 1,
            title: "Simhallen höjer entrén till 60 €",
            guid: None,
            link: Some("https://lindesberg.example/simhallen"),
            published: None,
        },
        Expect {
            file: "parse/windows-1252.xml",
            content_type: None,
            feed_title: "Degerfors",
            count: 1,
            title: "”Vi är redo” – Degerfors IF inför kvalet",
            guid: None,
            link: Some("https://degerfors.example/kval"),
            published: None,
        },
        Expect {
            file: "parse/utf16.xml",
            content_type: None,
            feed_title: "Ljusnarsberg",
            count: 1,
            title: "Kopparberg får ny vårdcentral",
            guid: None,
            link: Some("https://ljusnarsberg.example/vardcentral"),
            published: None,
        },
        Expect {
            file: "parse/bare-ampersand.xml",
            content_type: None,
            feed_title: "Hallsberg",
            count: 1,
            title: "Q&A med kommunalrådet: skatt < 22 kr?",
            guid: None,
            link: Some("https://hallsberg.example/qa?id=4&del=2"),
            published: None,
        },
        Expect {
            file: "parse/rss091.xml",
            content_type: None,
            feed_title: "Karlskoga Kuriren",
            count: 1,
            title: "Bofors fyller 380 år",
            guid: None,
            link: Some("https://karlskoga.example/bofors-380"),
            published: None,
        },
        Expect {
            file: "parse/rss1.rdf",
            content_type: None,
            feed_title: "Askersunds kommun",
            count: 1,
            title: "Hamnen i Askersund rustas upp",
            guid: None,
            link: Some("https://askersund.example/nyheter/hamnen"),
            published: Some("2026-11-12T09:00:00+01:00"),
        },
    ];
    for case in &cases {
        check(case);
    }
}

/// Details of single items that the table above does not cover.
#[test]
fn item_details() {
    let kumla = parse_fixture("feeds/kommun-latin1.xml", None);
    let notice = &kumla.items[3];
    assert_eq!(
        notice.title.as_deref(),
        Some("Öppettider under Kristi himmelsfärd")
    );
    assert_eq!(
        (notice.guid.as_deref(), notice.link.as_deref()),
        (None, None)
    );
    assert_eq!(
        kumla.items[1].published,
        Some(utc("2024-05-13T14:30:00+02:00"))
    );
    assert_eq!(kumla.items[2].categories, ["Barn och unga", "Fritid"]);
    // The description is escaped HTML in the XML: it comes out as raw HTML, numeric ref intact.
    let summary = kumla.items[0].summary.as_deref().unwrap_or("");
    assert!(summary.starts_with("<p>Nu är det klart"), "{summary}");
    assert!(summary.contains("juni &#8211; välkommen"), "{summary}");

    let wp = parse_fixture("feeds/lokal-wordpress.xml", None);
    let first = &wp.items[0];
    assert_eq!(first.author.as_deref(), Some("Redaktionen"));
    assert_eq!(first.categories, ["Sport", "Karlskoga", "Sport"]);
    let content = first.content.as_deref().unwrap_or("");
    assert!(
        content.contains("<script type=\"text/javascript\">"),
        "raw HTML is kept: {content}"
    );
    assert!(content.contains("src=\"/wp-content/uploads/"), "{content}");
    assert!(
        first
            .summary
            .as_deref()
            .unwrap_or("")
            .ends_with("[&#8230;]")
    );
    assert_eq!(
        wp.items[6].link.as_deref(),
        Some(
            "https://varmlandsnytt.example/nyheter/2026/11/vagarbete-e18-karlskoga-kristinehamn/?utm_source=rss&utm_medium=rss&utm_campaign=vagarbete-e18"
        )
    );
    assert_eq!(wp.link.as_deref(), Some("https://orebrolokalen.example/"));

    let atom = parse_fixture("feeds/lokal-atom.xml", None);
    assert_eq!(
        atom.id.as_deref(),
        Some("tag:varmlandsnytt.example,2019:feed")
    );
    assert_eq!(atom.link.as_deref(), Some("https://varmlandsnytt.example/"));
    assert_eq!(atom.updated, Some(utc("2026-11-18T16:40:00+01:00")));
    let e18 = &atom.items[0];
    assert_eq!(e18.updated, Some(utc("2026-11-18T16:40:00+01:00")));
    assert_eq!(e18.categories, ["Trafik"]);
    assert_eq!(e18.author.as_deref(), Some("Karin Nilsson"));
    // type="text" is escaped so that downstream can treat every summary as HTML.
    assert!(
        e18.summary
            .as_deref()
            .unwrap_or("")
            .contains("Kristinehamn &amp; hastigheten")
    );
    assert!(
        e18.content
            .as_deref()
            .unwrap_or("")
            .starts_with("<p>Från och med måndag")
    );
    // A relative entry link resolves against xml:base.
    assert_eq!(
        atom.items[1].link.as_deref(),
        Some("https://varmlandsnytt.example/nyheter/2026/11/cykelbanor-skoghall/")
    );
    let moose = &atom.items[4];
    assert_eq!(
        (moose.published, moose.updated),
        (None, Some(utc("2026-11-14T22:10:00+01:00")))
    );
    assert_eq!(moose.content, None);

    let json = parse_fixture("feeds/json-feed.json", None);
    let bakery = &json.items[0];
    assert_eq!(bakery.updated, Some(utc("2026-11-17T12:30:00+01:00")));
    assert_eq!(
        bakery.summary.as_deref(),
        Some("Bageriet i Pålsboda öppnar café i stationshuset.")
    );
    assert_eq!(bakery.categories, ["Näringsliv", "Pålsboda"]);
    assert_eq!(bakery.author.as_deref(), Some("Sara Lind"));
    let leak = &json.items[1];
    assert_eq!(
        leak.link.as_deref(),
        Some("/2026/11/16/vattenlacka-ostansjo"),
        "JSON links are resolved in normalize"
    );
    assert_eq!(
        leak.content.as_deref(),
        Some("Boende i Östansjö kan få missfärgat vatten &lt;till&gt; onsdag &amp; torsdag.")
    );

    // An RSS item with only a permalink guid gets it as link.
    let laxa = parse_fixture("feeds/no-version.xml", None);
    assert_eq!(laxa.items[1].link, laxa.items[1].guid);
    assert!(laxa.items[1].link.is_some());

    let entities = parse_fixture("feeds/html-entities.xml", None);
    assert_eq!(
        entities.items[0].summary.as_deref(),
        Some(
            "Sjöräddningssällskapet i Askersund övade\u{a0}i helgen vid Harge\u{a0}hamn… Caféet var öppet — & bjöd på kaffe."
        )
    );

    let bomb = parse_fixture("feeds/entity-bomb.xml", None);
    assert_eq!(
        bomb.items[0].summary.as_deref(),
        Some("&xxe;"),
        "external entities are never fetched"
    );

    let polisen = parse_fixture("feeds/polisen-blekinge.xml", None);
    assert_eq!(
        polisen.items[1].title.as_deref(),
        Some("Uppdaterad 2022-02-09 08:20:44 09 februari 08:11, Stöld/inbrott, Karlskrona")
    );
    assert_eq!(
        polisen.items[2].title.as_deref(),
        Some("08 februari 17:35, Trafikolycka, vilt, Karlskrona")
    );
    assert_eq!(polisen.link.as_deref(), Some("https://polisen.se/"));
}

#[test]
fn swedish_and_zone_less_dates() {
    let feed = parse_fixture("feeds/swedish-dates.xml", None);
    let expected = [
        ("d1", Some("2024-05-15T06:00:00Z")),
        ("d2", Some("2024-10-14T06:00:00Z")),
        ("d3", Some("2024-07-03T10:30:00Z")),
        ("d4", Some("2024-11-22T16:45:00Z")), // CET, UTC+1
        ("d5", Some("2024-06-20T08:00:00Z")), // CEST, UTC+2
        ("d6", Some("2024-11-21T07:05:00Z")),
        ("d7", Some("2024-11-21T07:05:00Z")),
        ("d8", None),
    ];
    assert_eq!(feed.items.len(), expected.len());
    for (item, (guid, published)) in feed.items.iter().zip(expected) {
        assert_eq!(item.guid.as_deref(), Some(guid));
        assert_eq!(item.published, published.map(utc), "{guid}");
    }
}

#[test]
fn timestamp_formats() {
    let cases = [
        (
            "tis, 15 maj 2024 08:00:00 +0200",
            Some("2024-05-15T06:00:00Z"),
        ),
        (
            "Mån, 14 Okt 2024 08:00:00 +0200",
            Some("2024-10-14T06:00:00Z"),
        ),
        ("lördag 2 mars 2024 kl. 14.05", Some("2024-03-02T13:05:00Z")),
        ("Sun, 31 Mar 2024 02:30:00", Some("2024-03-31T01:30:00Z")), // skipped hour: read as CET
        ("Sun, 27 Oct 2024 02:30:00", Some("2024-10-27T00:30:00Z")), // repeated hour: CEST
        ("Sun, 27 Oct 2024 03:30:00", Some("2024-10-27T02:30:00Z")),
        (
            "Wed, 09 Feb 2022 23:58:26 +0100",
            Some("2022-02-09T22:58:26Z"),
        ),
        ("09 Feb 22 23:58 EST", Some("2022-02-10T04:58:00Z")),
        (
            "Wed, 09 Feb 2022 23:58:26 -0000",
            Some("2022-02-09T23:58:26Z"),
        ),
        (
            "Wed, 09 Feb 2022 23:58:26 UTC",
            Some("2022-02-09T23:58:26Z"),
        ),
        ("Wed, 09 Feb 2022 23:58:26 Z", Some("2022-02-09T23:58:26Z")),
        (
            "February 9, 2022 11:58:26 +01:00",
            Some("2022-02-09T10:58:26Z"),
        ),
        ("2022-02-09T23:58:26Z", Some("2022-02-09T23:58:26Z")),
        ("2022-02-09T23:58:26.5+01:00", Some("2022-02-09T22:58:26Z")),
        ("2022-02-09T23:58+01", Some("2022-02-09T22:58:00Z")),
        ("2022-02-09 23:58:26 CET", Some("2022-02-09T22:58:26Z")),
        ("2022-02-09", Some("2022-02-08T23:00:00Z")),
        ("2022-02-09T24:00:00Z", Some("2022-02-10T00:00:00Z")),
        ("  2022-02-09T23:58:26Z\n", Some("2022-02-09T23:58:26Z")),
        ("i förrgår", None),
        ("31 februari 2024", None),
        ("15 maj", None),
        ("Wed, 09 Feb 2022 23:58:26 +2500", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(parse_timestamp(input), want.map(utc), "{input:?}");
    }
}

#[test]
fn errors_name_what_arrived() {
    let cases: [(&[u8], Option<&str>, &str); 12] = [
        (
            &fixture("feeds/not-a-feed.html"),
            Some("text/html; charset=utf-8"),
            "not a feed: got an HTML page (<html>)",
        ),
        (
            &fixture("feeds/malformed.xml"),
            None,
            "malformed XML at byte 868: syntax error: tag not closed: `>` not found before end of input",
        ),
        (
            &fixture("parse/sitemap.xml"),
            None,
            "not a feed: got an XML document with root element <urlset>",
        ),
        (
            &fixture("parse/not-json-feed.json"),
            None,
            "not a feed: JSON that is not JSON Feed",
        ),
        (b"[1, 2, 3]", None, "not a feed: JSON that is not JSON Feed"),
        (
            b"{\"version\": \"https://jsonfeed.org/version/2\", \"items\": []}",
            None,
            "not a feed: unsupported JSON Feed version https://jsonfeed.org/version/2",
        ),
        (
            b"{\"version\": \"https://jsonfeed.org/version/1.1\",\n \"items\": [}",
            None,
            "malformed JSON at line 2 column 12: expected value",
        ),
        (b"", None, "not a feed: empty body"),
        (b" \r\n ", None, "not a feed: empty body"),
        (
            b"Service Unavailable",
            None,
            "not a feed: neither XML nor JSON (starts with \"Service Unavailable\")",
        ),
        (
            b"<rss version=\"2.0\"><item/></rss>",
            None,
            "invalid feed: <rss> without <channel>",
        ),
        (
            b"<rss version=\"2.0\"><channel><title>a</titel></channel></rss>",
            None,
            "malformed XML at byte 36: ill-formed document: expected `</title>`, but `</titel>` was found",
        ),
    ];
    let base = base("https://feeds.example/");
    for (body, content_type, want) in cases {
        let got = parse(body, content_type, &base).map(|f| f.items.len());
        assert_eq!(got.map_err(|e| e.to_string()), Err(want.to_string()));
    }
}

#[test]
fn malformed_offsets_count_received_bytes() {
    // In latin-1, "ö" is one byte; the error offset must count the bytes as received.
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>\xf6\xf6\xf6</titel>";
    let err = parse(latin1, None, &base("https://feeds.example/")).err();
    let offset = match err {
        Some(ParseError::MalformedXml { offset, .. }) => offset,
        other => panic!("expected malformed XML, got {other:?}"),
    };
    assert_eq!(offset, latin1.len() as u64 - "</titel>".len() as u64);
}

#[test]
fn entity_bomb_is_inert_and_fast() {
    let body = fixture("feeds/entity-bomb.xml");
    let started = Instant::now();
    let feed = parse(&body, None, &base("https://feeds.example/")).expect("bomb parses as a feed");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    let title = feed.items[0].title.as_deref().unwrap_or("");
    assert!(
        title.len() < 100,
        "entity was expanded: {} bytes",
        title.len()
    );
}
