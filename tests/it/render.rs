//! render: Atom feeds, OPML and HTML pages, checked by snapshot and by real parsers
//! (feed-rs in process, Python feedparser and ElementTree out of process).

use std::io::Write as _;
use std::process::Command;

use chrono::{DateTime, Utc};
use regionfeed::model::{FeedEntry, SourceRef};
use regionfeed::regions::{Region, Regions};
use regionfeed::render::{self, FeedMeta, RegionSummary};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn polisen() -> SourceRef {
    SourceRef {
        id: "polisen-orebro-handelser".into(),
        title: "Polisen – händelser, Örebro län".into(),
        feed_url: "https://polisen.se/aktuellt/rss/orebro-lan/handelser-rss---orebro-lan/".into(),
        site_link: Some("https://polisen.se/aktuellt/handelser/".into()),
        updated: Some(t("2026-11-27T18:40:00Z")),
    }
}

fn lokaltidning() -> SourceRef {
    SourceRef {
        id: "kumla-lokaltidning".into(),
        title: "Kumla Lokaltidning".into(),
        feed_url: "https://example.se/kumla/feed?x=1&y=2".into(),
        site_link: None,
        updated: None,
    }
}

/// The test entries, newest first, as the store hands them to the renderer.
fn entries() -> Vec<FeedEntry> {
    vec![
        // Content and summary, a forbidden control character, an author, messy categories.
        FeedEntry {
            uid: "9f1c2e".into(),
            title: "Ny förskola öppnar i Hällabrottet\u{1} — köerna kortas".into(),
            link: Some("https://example.se/kumla/nyheter/ny-forskola".into()),
            summary: Some("<p>Kommunen räknar med att kön halveras.</p>".into()),
            content: Some(
                "<p>Förskolan på Åbyvägen\u{7} öppnar i januari &amp; tar emot 80 barn.</p>\u{FFFF}"
                    .into(),
            ),
            published: t("2026-11-28T06:00:00Z"),
            updated: t("2026-11-28T07:15:00Z"),
            categories: vec!["Utbildning".into(), "".into(), "  ".into(), "Utbildning".into()],
            author: Some("Åsa Öberg".into()),
            regions: vec!["1881".into(), "18".into()],
            source: lokaltidning(),
            carried_by: vec!["kumla-lokaltidning".into()],
            related: vec![],
        },
        // Summary only, two region codes (kommun and its län).
        FeedEntry {
            uid: "41ab07".into(),
            title: "Trafikolycka, personskada, Kumla".into(),
            link: Some("https://polisen.se/aktuellt/handelser/2026/november/27/27-november-18.57-trafikolycka-personskada-kumla/".into()),
            summary: Some("Två bilar har krockat på Ågatan. Räddningstjänsten är på plats.".into()),
            content: None,
            published: t("2026-11-27T17:57:00Z"),
            updated: t("2026-11-27T18:30:00Z"),
            categories: vec!["Trafikolycka, personskada".into()],
            author: None,
            regions: vec!["1881".into(), "18".into()],
            source: polisen(),
            carried_by: vec!["polisen-orebro-handelser".into()],
            related: vec![],
        },
        // No usable link (javascript:), markup in the title: must be escaped, and the entry
        // must carry atom:content since it has no alternate link.
        FeedEntry {
            uid: "7d00e1".into(),
            title: "Polisen: \"Lås förråden\" <b>& cyklarna</b>".into(),
            link: Some("javascript:alert(1)".into()),
            summary: Some("Inbrott i flera förråd i Örebro under natten.".into()),
            content: None,
            published: t("2026-11-26T05:10:00Z"),
            updated: t("2026-11-26T05:10:00Z"),
            categories: vec!["Inbrott".into()],
            author: None,
            regions: vec!["1880".into(), "18".into(), "9999".into()],
            source: polisen(),
            carried_by: vec!["polisen-orebro-handelser".into(), "na-orebro".into()],
            related: vec![],
        },
    ]
}

fn base(s: &str) -> url::Url {
    url::Url::parse(s).unwrap()
}

/// One feed to render and what readers must see in it.
struct Case {
    name: &'static str,
    base: &'static str,
    region: Option<&'static str>,
    /// uids of the test entries this feed carries.
    uids: &'static [&'static str],
    id: &'static str,
    title: &'static str,
    self_link: &'static str,
    alternate: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "orebro_lan",
        base: "http://127.0.0.1:8080",
        region: Some("18"),
        uids: &["9f1c2e", "41ab07", "7d00e1"],
        id: "tag:127.0.0.1,2026:feed:/feeds/orebro-lan",
        title: "Örebro län — regionfeed",
        self_link: "http://127.0.0.1:8080/feeds/orebro-lan.atom",
        alternate: "http://127.0.0.1:8080/orebro-lan/",
    },
    Case {
        name: "kumla_behind_prefix",
        base: "https://example.org/regionfeed/",
        region: Some("1881"),
        uids: &["9f1c2e", "41ab07"],
        id: "tag:example.org,2026:feed:/feeds/orebro-lan/kumla",
        title: "Kumla (Örebro län) — regionfeed",
        self_link: "https://example.org/regionfeed/feeds/orebro-lan/kumla.atom",
        alternate: "https://example.org/regionfeed/orebro-lan/kumla/",
    },
    Case {
        name: "empty_gotland",
        base: "http://127.0.0.1:8080",
        region: Some("0980"),
        uids: &[],
        id: "tag:127.0.0.1,2026:feed:/feeds/gotlands-lan/gotland",
        title: "Gotland (Gotlands län) — regionfeed",
        self_link: "http://127.0.0.1:8080/feeds/gotlands-lan/gotland.atom",
        alternate: "http://127.0.0.1:8080/gotlands-lan/gotland/",
    },
    Case {
        name: "sverige",
        base: "http://127.0.0.1:8080",
        region: None,
        uids: &["9f1c2e", "41ab07", "7d00e1"],
        id: "tag:127.0.0.1,2026:feed:/feeds/sverige",
        title: "Sverige — regionfeed",
        self_link: "http://127.0.0.1:8080/feeds/sverige.atom",
        alternate: "http://127.0.0.1:8080/",
    },
];

fn region(code: &str) -> &'static Region {
    Regions::get_builtin().get(code).unwrap()
}

/// Runs a Python snippet on `text` written to a temp file; fails loudly when Python or the
/// module is missing, because a skipped interoperability check would pass silently.
fn python(script: &str, text: &str) -> String {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is required for the render tests and could not run: {e}")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 snippet failed; the render tests need python3 with feedparser (`pip install feedparser`):\n{stderr}"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The text a reader shows for a title: HTML-typed ones (titles that look like markup are
/// published that way) with their character references decoded.
fn shown(t: &feed_rs::model::Text) -> String {
    if t.content_type.essence().to_string() == "text/html" {
        quick_xml::escape::unescape(&t.content)
            .unwrap()
            .into_owned()
    } else {
        t.content.clone()
    }
}

fn check(case: &Case) {
    let all = entries();
    let picked: Vec<FeedEntry> = all
        .iter()
        .filter(|e| case.uids.contains(&e.uid.as_str()))
        .cloned()
        .collect();
    let base = base(case.base);
    let meta = FeedMeta {
        base_url: &base,
        region: case.region.map(region),
        updated: picked.iter().map(|e| e.updated).max(),
        hub: None,
        filter: None,
    };
    let xml = render::atom(&meta, &picked);
    assert_eq!(
        xml,
        render::atom(&meta, &picked),
        "{}: not deterministic",
        case.name
    );
    assert!(!xml.contains('\u{1}') && !xml.contains('\u{7}') && !xml.contains('\u{FFFF}'));
    insta::assert_snapshot!(format!("atom_{}", case.name), xml);

    let feed = feed_rs::parser::parse(xml.as_bytes())
        .unwrap_or_else(|e| panic!("{}: feed-rs rejects the feed: {e}", case.name));
    assert_eq!(feed.id, case.id);
    assert_eq!(feed.title.as_ref().unwrap().content, case.title);
    // The first link of `rel`; for `alternate` the HTML page (other alternates are the feed in
    // its other formats).
    let href = |links: &[feed_rs::model::Link], rel: &str| {
        links
            .iter()
            .find(|l| {
                l.rel.as_deref() == Some(rel)
                    && (rel != "alternate" || l.media_type.as_deref() == Some("text/html"))
            })
            .map(|l| l.href.clone())
    };
    assert_eq!(href(&feed.links, "self").as_deref(), Some(case.self_link));
    assert_eq!(
        href(&feed.links, "alternate").as_deref(),
        Some(case.alternate)
    );
    assert_eq!(feed.entries.len(), picked.len(), "{}", case.name);
    let host = base.host_str().unwrap();
    for (got, want) in feed.entries.iter().zip(&picked) {
        assert_eq!(got.id, format!("tag:{host},2026:item:{}", want.uid));
        let title: String = want.title.chars().filter(|c| *c != '\u{1}').collect();
        assert_eq!(shown(got.title.as_ref().unwrap()), title);
        let link = want.link.as_deref().filter(|l| l.starts_with("http"));
        assert_eq!(
            href(&got.links, "alternate").as_deref(),
            link,
            "{}",
            want.uid
        );
        assert!(
            got.summary.is_some() || got.content.is_some(),
            "{}",
            want.uid
        );
        // Regions first (known codes only), then the free categories, deduplicated.
        let mut terms: Vec<&str> = want
            .regions
            .iter()
            .map(String::as_str)
            .filter(|c| Regions::get_builtin().get(c).is_some())
            .collect();
        for c in &want.categories {
            if !c.trim().is_empty() && !terms.contains(&c.trim()) {
                terms.push(c.trim());
            }
        }
        let got_terms: Vec<&str> = got.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(got_terms, terms, "{}", want.uid);
        for c in &got.categories {
            match Regions::get_builtin().get(&c.term) {
                Some(r) => {
                    assert_eq!(c.label.as_deref(), Some(r.name.as_str()));
                    let kind = if r.code.len() == 2 { "lan" } else { "kommun" };
                    let scheme = format!("{}/schema/{kind}", case.base.trim_end_matches('/'));
                    assert_eq!(c.scheme.as_deref(), Some(scheme.as_str()));
                }
                None => assert_eq!(c.scheme, None),
            }
        }
    }

    let verdict = python(
        "import feedparser,sys; d=feedparser.parse(sys.argv[1]); print(int(d.bozo), len(d.entries), d.get('bozo_exception', ''))",
        &xml,
    );
    assert_eq!(
        verdict,
        format!("0 {}", picked.len()),
        "{}: feedparser",
        case.name
    );
}

#[test]
fn atom_feeds() {
    for case in CASES {
        check(case);
    }
}

#[test]
fn feedparser_sees_what_we_meant() {
    // Beyond bozo: the fields a reader shows must arrive intact through a lenient parser too.
    // A title that looks like markup is published as escaped HTML, so a reader shows it after
    // decoding entities; `shown` does that.
    let b = base("http://127.0.0.1:8080");
    let all = entries();
    let meta = FeedMeta {
        base_url: &b,
        region: Some(region("18")),
        updated: Some(all[0].updated),
        hub: None,
        filter: None,
    };
    let xml = render::atom(&meta, &all);
    let got = python(
        "import feedparser,sys,json,html; d=feedparser.parse(sys.argv[1]); \
         shown=lambda t, d: html.unescape(t) if d.type == 'text/html' else t; \
         print(json.dumps([d.feed.language, d.feed.title, d.feed.generator, \
         [[shown(e.title, e.title_detail), e.author, e.source.title, [l.href for l in e.get('links', []) if l.get('rel') == 'alternate'], \
         [t.term for t in e.tags]] \
         for e in d.entries]], ensure_ascii=False))",
        &xml,
    );
    let want = serde_json::json!([
        "sv",
        "Örebro län — regionfeed",
        "regionfeed",
        [
            [
                "Ny förskola öppnar i Hällabrottet — köerna kortas",
                "Åsa Öberg",
                "Kumla Lokaltidning",
                ["https://example.se/kumla/nyheter/ny-forskola"],
                ["1881", "18", "Utbildning"]
            ],
            [
                "Trafikolycka, personskada, Kumla",
                "Polisen – händelser, Örebro län",
                "Polisen – händelser, Örebro län",
                [all[1].link],
                ["1881", "18", "Trafikolycka, personskada"]
            ],
            [
                "Polisen: \"Lås förråden\" <b>& cyklarna</b>",
                "Polisen – händelser, Örebro län",
                "Polisen – händelser, Örebro län",
                [],
                ["1880", "18", "Inbrott"]
            ]
        ]
    ]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got, want);
}

#[test]
fn empty_feed_has_a_fixed_updated_and_lang() {
    let b = base("http://127.0.0.1:8080");
    let meta = FeedMeta {
        base_url: &b,
        region: None,
        updated: None,
        hub: None,
        filter: None,
    };
    let xml = render::atom(&meta, &[]);
    assert!(
        xml.contains("<updated>2026-01-01T00:00:00+00:00</updated>"),
        "{xml}"
    );
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed "));
    assert!(xml.contains("xml:lang=\"sv\""));
}

#[test]
fn opml_lists_every_feed_once() {
    let b = base("http://127.0.0.1:8080/rf");
    let opml = render::opml(&b, Regions::get_builtin());
    assert_eq!(opml, render::opml(&b, Regions::get_builtin()));
    insta::assert_snapshot!("opml", opml);
    let got = python(
        "import xml.etree.ElementTree as E,sys; r=E.parse(sys.argv[1]).getroot(); \
         o=[x for x in r.iter('outline') if x.get('type')=='rss']; \
         print(r.get('version'), len(o), len({x.get('xmlUrl') for x in o}), \
         len(r.find('body')), o[0].get('xmlUrl'), all(x.get('xmlUrl').startswith('http://127.0.0.1:8080/rf/feeds/') for x in o))",
        &opml,
    );
    // 1 national + 21 län + 290 kommuner feeds, all distinct; the body holds Sverige + 21 folders.
    assert_eq!(
        got,
        "2.0 312 312 22 http://127.0.0.1:8080/rf/feeds/sverige.atom True"
    );
}

fn summaries() -> Vec<RegionSummary<'static>> {
    let e = entries();
    Regions::get_builtin()
        .all()
        .map(|r| {
            let mine: Vec<&FeedEntry> = e.iter().filter(|x| x.regions.contains(&r.code)).collect();
            RegionSummary {
                region: r,
                items: mine.len() as u64,
                latest: mine
                    .iter()
                    .take(2)
                    .map(|x| (x.title.clone(), x.link.clone()))
                    .collect(),
            }
        })
        .collect()
}

/// The part of a page from `start` up to and including the next `end`.
fn cut<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let i = page.find(start).unwrap_or_else(|| panic!("no {start:?}"));
    let j = i + page[i..].find(end).unwrap_or_else(|| panic!("no {end:?}")) + end.len();
    &page[i..j]
}

#[test]
fn index_page() {
    let b = base("http://127.0.0.1:8080");
    let sums = summaries();
    let page = render::index_html(&b, 3, &sums);
    assert_eq!(page, render::index_html(&b, 3, &sums));
    // Every feed is linked from the front page, including kommuner without items.
    for r in Regions::get_builtin().all() {
        let href = format!("href=\"http://127.0.0.1:8080{}\"", r.path);
        assert!(page.contains(&href), "{} missing", r.name);
    }
    assert!(!page.contains("javascript:") && !page.contains("<script"));
    assert!(page.contains("Place data: SCB (CC0), GeoNames (CC BY 4.0)"));
    // The full page lists 311 regions; the snapshot keeps the head, one län and the footer.
    let trimmed = [
        cut(&page, "<!DOCTYPE html>", "</p>\n<details>"),
        cut(&page, "<details>\n<summary>Örebro län", "</details>\n"),
        cut(&page, "<footer>", "</html>\n"),
    ]
    .join("\n[…]\n");
    insta::assert_snapshot!("index_html_trimmed", trimmed);
}

#[test]
fn region_pages() {
    let b = base("http://127.0.0.1:8080");
    let sums = summaries();
    let find = |code: &str| sums.iter().find(|s| s.region.code == code).unwrap();
    let kommuner: Vec<RegionSummary> = sums
        .iter()
        .filter(|s| s.region.lan.as_deref() == Some("18"))
        .map(|s| RegionSummary {
            region: s.region,
            items: s.items,
            latest: s.latest.clone(),
        })
        .collect();
    let all = entries();
    let lan = render::region_html(&b, find("18"), &kommuner, &all);
    let kumla = render::region_html(&b, find("1881"), &[], &all[..2]);
    assert_eq!(kumla, render::region_html(&b, find("1881"), &[], &all[..2]));
    assert!(lan.contains(
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Örebro län\" \
         href=\"http://127.0.0.1:8080/feeds/orebro-lan.atom\">"
    ));
    assert!(!lan.contains("javascript:") && !lan.contains("<b>&"));
    insta::assert_snapshot!("region_html_kumla", kumla);
    insta::assert_snapshot!(
        "region_html_orebro_lan_entries",
        cut(&lan, "<h2>Senaste</h2>", "</ol>\n")
    );
}

#[test]
fn feed_paths_and_ids() {
    let b = base("http://127.0.0.1:8080/");
    for (code, path, page) in [
        (None, "/feeds/sverige.atom", "/"),
        (Some("18"), "/feeds/orebro-lan.atom", "/orebro-lan/"),
        (
            Some("1881"),
            "/feeds/orebro-lan/kumla.atom",
            "/orebro-lan/kumla/",
        ),
        (
            Some("0114"),
            "/feeds/stockholms-lan/upplands-vasby.atom",
            "/stockholms-lan/upplands-vasby/",
        ),
    ] {
        let r = code.map(region);
        assert_eq!(render::feed_path(r), path);
        assert_eq!(render::html_path(r), page);
        assert_eq!(
            render::feed_id(&b, r),
            format!("tag:127.0.0.1,2026:feed:{}", path.trim_end_matches(".atom"))
        );
    }
}

fn orebro_meta<'a>(
    b: &'a url::Url,
    hub: Option<&'a url::Url>,
    filter: Option<&'a render::Filter>,
    entries: &[FeedEntry],
) -> FeedMeta<'a> {
    FeedMeta {
        base_url: b,
        region: Some(region("18")),
        updated: entries.iter().map(|e| e.updated).max(),
        hub,
        filter,
    }
}

#[test]
fn rss_and_json_feed_carry_the_same_items() {
    let b = base("http://127.0.0.1:8080");
    let hub = base("https://hub.example/");
    let all = entries();
    let meta = orebro_meta(&b, Some(&hub), None, &all);
    let rss = render::rss(&meta, &all);
    let json = render::json_feed(&meta, &all);
    assert_eq!(rss, render::rss(&meta, &all), "rss: not deterministic");
    assert_eq!(
        json,
        render::json_feed(&meta, &all),
        "json: not deterministic"
    );
    assert!(!rss.contains('\u{1}') && !json.contains('\u{1}') && !json.contains("\\u0001"));
    insta::assert_snapshot!("rss_orebro_lan", rss);
    let pretty: serde_json::Value = serde_json::from_str(&json).unwrap();
    insta::assert_snapshot!(
        "json_feed_orebro_lan",
        serde_json::to_string_pretty(&pretty).unwrap()
    );
    let atom = render::atom(&meta, &all);
    let read = |text: &str| {
        let f = feed_rs::parser::parse(text.as_bytes()).unwrap();
        let items: Vec<(String, String, Option<String>)> = f
            .entries
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    shown(e.title.as_ref().unwrap()),
                    e.links.first().map(|l| l.href.clone()),
                )
            })
            .collect();
        (f.feed_type, items)
    };
    let (atom_type, atom_items) = read(&atom);
    let (rss_type, rss_items) = read(&rss);
    let (json_type, json_items) = read(&json);
    assert_eq!(
        (atom_type, rss_type, json_type),
        (
            feed_rs::model::FeedType::Atom,
            feed_rs::model::FeedType::RSS2,
            feed_rs::model::FeedType::JSON
        )
    );
    assert_eq!(atom_items.len(), 3);
    assert_eq!(
        rss_items.iter().map(|i| &i.0).collect::<Vec<_>>(),
        atom_items.iter().map(|i| &i.0).collect::<Vec<_>>()
    );
    assert_eq!(json_items, atom_items);
    // The hub and self links of every format.
    assert!(atom.contains("<link href=\"https://hub.example/\" rel=\"hub\"/>"));
    assert!(rss.contains("<atom:link href=\"https://hub.example/\" rel=\"hub\"/>"));
    assert!(rss.contains(
        "<atom:link href=\"http://127.0.0.1:8080/feeds/orebro-lan.rss\" rel=\"self\" type=\"application/rss+xml\"/>"
    ));
    assert_eq!(pretty["hubs"][0]["url"], "https://hub.example/");
    assert_eq!(
        pretty["feed_url"],
        "http://127.0.0.1:8080/feeds/orebro-lan.json"
    );
    // feedparser reads the RSS cleanly, guids and categories included.
    let got = python(
        "import feedparser,sys,json; d=feedparser.parse(sys.argv[1]); \
         print(json.dumps([int(d.bozo), d.version, [e.id for e in d.entries], \
         [[t.term for t in e.tags] for e in d.entries]]))",
        &rss,
    );
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got[0], 0);
    assert_eq!(got[1], "rss20");
    assert_eq!(
        got[2],
        serde_json::json!(atom_items.iter().map(|i| &i.0).collect::<Vec<_>>())
    );
    assert_eq!(
        got[3][1],
        serde_json::json!(["1881", "18", "Trafikolycka, personskada"])
    );
}

#[test]
fn filtered_views_at_render_level() {
    let b = base("http://127.0.0.1:8080");
    let all = entries();
    for (query, canonical, want) in [
        ("type=trafikolycka", "type=trafikolycka", vec!["41ab07"]),
        (
            "type=Inbrott&type=Utbildning",
            "type=Inbrott&type=Utbildning",
            vec!["9f1c2e", "7d00e1"],
        ),
        ("q=%C3%85gatan", "q=%C3%85gatan", vec!["41ab07"]),
        (
            "q=kommunen+halveras",
            "q=kommunen%20halveras",
            vec!["9f1c2e"],
        ),
        ("q=strong", "q=strong", vec![]),
        ("limit=2&x=1", "limit=2", vec!["9f1c2e", "41ab07"]),
    ] {
        let f = render::Filter::from_query(query).unwrap().unwrap();
        assert_eq!(f.query(), canonical);
        let picked = f.apply(&all);
        let kept: Vec<&str> = picked.iter().map(|e| e.uid.as_str()).collect();
        assert_eq!(kept, want, "{query}");
        let meta = orebro_meta(&b, None, Some(&f), &picked);
        let feed = feed_rs::parser::parse(render::atom(&meta, &picked).as_bytes()).unwrap();
        assert_eq!(
            feed.id,
            format!("tag:127.0.0.1,2026:feed:/feeds/orebro-lan?{canonical}")
        );
        let self_link = feed
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("self"))
            .unwrap();
        assert_eq!(
            self_link.href,
            format!("http://127.0.0.1:8080/feeds/orebro-lan.atom?{canonical}")
        );
        assert!(
            feed.title
                .unwrap()
                .content
                .starts_with("Örebro län — regionfeed (")
        );
    }
}

#[test]
fn relative_links_in_content_are_resolved() {
    let b = base("http://127.0.0.1:8080");
    let mut e = entries().remove(0);
    e.content = Some(r#"<p><a href="/kumla/mer">Mer</a> <img src="bild.jpg" alt=""></p>"#.into());
    let meta = orebro_meta(&b, None, None, std::slice::from_ref(&e));
    let atom = render::atom(&meta, std::slice::from_ref(&e));
    assert!(
        atom.contains("&lt;a href=&quot;https://example.se/kumla/mer&quot;&gt;")
            && atom.contains("src=&quot;https://example.se/kumla/nyheter/bild.jpg&quot;"),
        "{atom}"
    );
    let json = render::json_feed(&meta, std::slice::from_ref(&e));
    assert!(
        json.contains(r#"href=\"https://example.se/kumla/mer\""#),
        "{json}"
    );
}
