//! End to end: feeds fetched over real loopback HTTP, `poll --once` into a real SQLite file,
//! `render --out`, and the Atom read back by feed-rs and Python feedparser.

use std::path::Path;

use crate::support::{
    Env, FIXTURE_SOURCES, Origin, Route, atom, feedparser, files_under, fixture_origin,
    read_fixture, source_toml, titles,
};

/// The origin and config every end-to-end test starts from: four healthy sources of different
/// shapes (Polisen RSS, WordPress RSS, ISO-8859-1 RSS, Atom) and two broken ones.
fn setup() -> (Origin, Env) {
    let origin = fixture_origin();
    origin.route(
        "/broken/500",
        Route::new(500, "text/plain", "internal error"),
    );
    origin.route(
        "/broken/html",
        Route::new(200, "text/html", read_fixture("feeds/not-a-feed.html")),
    );
    let mut sources: String = FIXTURE_SOURCES
        .iter()
        .map(|(path, id, region)| source_toml(&origin, id, path, region, "5m"))
        .collect();
    sources.push_str(&source_toml(
        &origin,
        "broken-500",
        "/broken/500",
        "18",
        "5m",
    ));
    sources.push_str(&source_toml(
        &origin,
        "broken-html",
        "/broken/html",
        "18",
        "5m",
    ));
    let env = Env::new(&sources);
    (origin, env)
}

fn db_count(env: &Env, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn feed_file(site: &Path, path: &str) -> std::path::PathBuf {
    site.join(path.trim_start_matches('/'))
}

#[test]
fn poll_store_render_end_to_end() {
    let (_origin, env) = setup();
    let out = env.run(&["poll", "--once"]);
    assert!(
        out.status.success(),
        "poll --once exits 0 although two sources failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let site = env.render();

    // The right entries in the right regional feeds.
    let karlskrona = titles(&feed_file(&site, "/feeds/blekinge-lan/karlskrona.atom"));
    assert!(
        karlskrona.contains(&"09 februari 08:11, Stöld/inbrott, Karlskrona".to_string()),
        "the Uppdaterad prefix is dropped and the event is in Karlskrona's feed: {karlskrona:?}"
    );
    assert!(karlskrona.iter().all(|t| !t.starts_with("Uppdaterad")));
    let solvesborg = titles(&feed_file(&site, "/feeds/blekinge-lan/solvesborg.atom"));
    assert!(solvesborg.contains(&"09 februari 21:04, Rån väpnat, Sölvesborg".to_string()));
    assert!(karlskrona.iter().all(|t| !solvesborg.contains(t)));
    let blekinge = titles(&feed_file(&site, "/feeds/blekinge-lan.atom"));
    assert_eq!(
        blekinge.len(),
        30,
        "every Blekinge event is in the län feed"
    );

    // Swedish letters from the ISO-8859-1 feed are intact.
    let kumla = titles(&feed_file(&site, "/feeds/orebro-lan/kumla.atom"));
    assert!(
        kumla.contains(&"Nytt äventyrsbad öppnar i Kumla".to_string()),
        "{kumla:?}"
    );
    assert!(
        kumla.contains(&"Trafikomläggning på Örebrovägen".to_string()),
        "{kumla:?}"
    );
    let hallefors = titles(&feed_file(&site, "/feeds/orebro-lan/hallefors.atom"));
    assert_eq!(hallefors, vec!["Kvinna hittad avliden i Hällefors"]);

    // A national item naming no place falls back to its source's län, not to a kommun.
    let orebro_lan = titles(&feed_file(&site, "/feeds/orebro-lan.atom"));
    assert!(orebro_lan.contains(&"Flexiblare regler för studentbostäder".to_string()));
    for f in files_under(&site.join("feeds/orebro-lan"), ".atom") {
        assert!(
            !titles(&f).contains(&"Flexiblare regler för studentbostäder".to_string()),
            "{f:?}"
        );
    }

    // The item carried by two sources (same canonical link) appears once.
    let sverige = atom(&feed_file(&site, "/feeds/sverige.atom"));
    let shared = "Vägarbete på E18 mellan Karlskoga och Kristinehamn";
    let n = sverige
        .entries
        .iter()
        .filter(|e| e.title.as_ref().is_some_and(|t| t.content == shared))
        .count();
    assert_eq!(n, 1, "carried by two sources, listed once");
    assert_eq!(
        db_count(
            &env,
            "SELECT COUNT(*) FROM item_sources s JOIN items i ON i.id = s.item_id WHERE i.title = 'Vägarbete på E18 mellan Karlskoga och Kristinehamn'"
        ),
        2,
        "recorded as carried by both sources"
    );
    let items = db_count(&env, "SELECT COUNT(*) FROM items");
    assert_eq!(
        sverige.entries.len() as i64,
        items,
        "the national feed has every item"
    );

    // HTML is sanitized in every feed.
    for f in files_under(&site, ".atom") {
        let text = std::fs::read_to_string(&f).unwrap();
        for bad in [
            "&lt;script",
            "javascript:",
            "onclick",
            "&lt;iframe",
            "&lt;style",
        ] {
            assert!(!text.contains(bad), "{} contains {bad}", f.display());
        }
    }

    // Python feedparser reads every produced feed without complaint.
    let feeds = files_under(&site, ".atom");
    assert_eq!(
        feeds.len(),
        1 + 21 + 290,
        "sverige, every län and every kommun"
    );
    for r in feedparser(&feeds) {
        assert!(!r.bozo, "{}: {}", r.path, r.bozo_message);
    }
    let parsed = feedparser(&[feed_file(&site, "/feeds/sverige.atom")]);
    assert_eq!(parsed[0].entries, items as usize);

    // A second poll adds no duplicates and renders the same entries.
    let ids_before: Vec<String> = sverige.entries.iter().map(|e| e.id.clone()).collect();
    env.ok(&["poll", "--once"]);
    assert_eq!(db_count(&env, "SELECT COUNT(*) FROM items"), items);
    let site = env.render();
    let ids_after: Vec<String> = atom(&feed_file(&site, "/feeds/sverige.atom"))
        .entries
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(ids_before, ids_after);
}

#[test]
fn failing_sources_are_reported_while_healthy_ones_are_stored() {
    let (_origin, env) = setup();
    env.ok(&["poll", "--once"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    let row = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no row {id}"))
            .clone()
    };
    let broken = row("broken-500");
    assert_eq!(broken["last_status"], 500);
    assert_eq!(broken["last_error"], "http status 500");
    assert_eq!(broken["consecutive_errors"], 1);
    assert_eq!(broken["items"], 0);
    let html = row("broken-html");
    assert_eq!(
        html["last_status"],
        serde_json::Value::Null,
        "200 arrived, but no feed"
    );
    assert_eq!(html["last_error"], "not a feed: got an HTML page (<html>)");
    for id in [
        "polisen-blekinge",
        "orebrolokalen",
        "kumla-kommun",
        "varmlandsnytt",
    ] {
        let r = row(id);
        assert_eq!(r["last_status"], 200, "{id}");
        assert!(r["last_error"].is_null(), "{id}");
        assert_eq!(r["consecutive_errors"], 0, "{id}");
        assert!(r["items"].as_u64().unwrap() > 0, "{id}");
        assert!(
            r["next_poll_at"].as_str().unwrap().ends_with('Z'),
            "{id}: RFC 3339 UTC"
        );
        assert!(
            r["last_fetch_at"].as_str().unwrap().ends_with('Z'),
            "{id}: RFC 3339 UTC"
        );
    }
    // The streak grows; the next poll backs off.
    env.ok(&["poll", "--once"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    let broken = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "broken-500")
        .unwrap();
    assert_eq!(broken["consecutive_errors"], 2);
    // The table form names the failing source and its error.
    let table = env.ok(&["sources"]);
    let line = table.lines().find(|l| l.starts_with("broken-500")).unwrap();
    assert!(
        line.contains("500") && line.contains("http status 500"),
        "{line}"
    );
}

#[test]
fn edits_update_the_entry_in_place() {
    let origin = Origin::start();
    let rss = |title: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Polisen</title><link>https://polisen.se/</link>
<item><guid isPermaLink="false">https://polisen.se/aktuellt/handelser/2022/februari/9/x/</guid>
<link>https://polisen.se/aktuellt/handelser/2022/februari/9/x/</link><title>{title}</title>
<description>Larm om inbrott på skola.</description><pubDate>Wed, 09 Feb 2022 08:18:12 +0100</pubDate></item>
</channel></rss>"#
        )
    };
    origin.route(
        "/rss",
        Route::new(
            200,
            "application/rss+xml",
            rss("09 februari 08:11, Stöld/inbrott, Karlskrona"),
        ),
    );
    let env = Env::new(&format!(
        "[[source]]\nid = \"p\"\nurl = \"{}\"\nregion = \"10\"\ninterval = \"5m\"\n",
        origin.url("/rss")
    ));
    env.ok(&["poll", "--once"]);
    let site = env.render();
    let before = atom(&feed_file(&site, "/feeds/blekinge-lan/karlskrona.atom"));
    assert_eq!(before.entries.len(), 1);

    origin.route(
        "/rss",
        Route::new(
            200,
            "application/rss+xml",
            rss("Uppdaterad 2022-02-09 08:20:44 09 februari 08:11, Stöld/inbrott, Karlskrona")
                .replace(
                    "Larm om inbrott på skola.",
                    "Larm om inbrott på skola, Wämö.",
                ),
        ),
    );
    env.ok(&["poll", "--once"]);
    let site = env.render();
    let after = atom(&feed_file(&site, "/feeds/blekinge-lan/karlskrona.atom"));
    assert_eq!(after.entries.len(), 1, "an edit is not a second entry");
    let (b, a) = (&before.entries[0], &after.entries[0]);
    assert_eq!(a.id, b.id, "the entry id survives the edit");
    assert!(
        a.updated > b.updated,
        "updated moves forward: {:?} -> {:?}",
        b.updated,
        a.updated
    );
    assert_eq!(a.published, b.published);
    let summary = a.summary.as_ref().unwrap().content.clone();
    assert!(summary.contains("Wämö"), "{summary}");
}

#[test]
fn conditional_get_uses_stored_validators() {
    let origin = Origin::start();
    origin.route(
        "/feed",
        Route::feed("feeds/lokal-atom.xml")
            .header("etag", "\"v1\"")
            .header("last-modified", "Tue, 17 Nov 2026 10:00:00 GMT"),
    );
    let env = Env::new(&format!(
        "[[source]]\nid = \"v\"\nurl = \"{}\"\nregion = \"17\"\n",
        origin.url("/feed")
    ));
    env.ok(&["poll", "--once"]);
    origin.route("/feed", Route::new(304, "application/atom+xml", ""));
    env.ok(&["poll", "--once"]);
    let seen = origin.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].headers.get("if-none-match").is_none());
    assert_eq!(seen[1].headers.get("if-none-match").unwrap(), "\"v1\"");
    assert_eq!(
        seen[1].headers.get("if-modified-since").unwrap(),
        "Tue, 17 Nov 2026 10:00:00 GMT"
    );
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    assert_eq!(v[0]["last_status"], 304);
    assert!(v[0]["last_error"].is_null());
    assert_eq!(v[0]["items"], 5, "a 304 keeps every stored item");
}

#[test]
fn a_feed_repeating_one_guid_is_keyed_by_link() {
    let origin = Origin::start();
    let item = |n: u32| {
        format!(
            "<item><guid isPermaLink=\"false\">1</guid><link>https://kommun.example/nyheter/{n}</link><title>Nyhet {n} från Kumla kommun</title><description>Text {n}.</description></item>"
        )
    };
    let feed = |items: &[u32]| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Kumla kommun</title><link>https://kommun.example/</link>{}</channel></rss>"#,
            items.iter().map(|n| item(*n)).collect::<String>()
        )
    };
    origin.route(
        "/rss",
        Route::new(200, "application/rss+xml", feed(&[1, 2, 3])),
    );
    let env = Env::new(&format!(
        "[[source]]\nid = \"k\"\nurl = \"{}\"\nregion = \"1881\"\n",
        origin.url("/rss")
    ));
    env.ok(&["poll", "--once"]);
    assert_eq!(
        db_count(&env, "SELECT COUNT(*) FROM items"),
        3,
        "three items, not one"
    );
    origin.route(
        "/rss",
        Route::new(200, "application/rss+xml", feed(&[1, 2, 3, 4])),
    );
    env.ok(&["poll", "--once"]);
    assert_eq!(
        db_count(&env, "SELECT COUNT(*) FROM items"),
        4,
        "stable keys across polls"
    );
    let site = env.render();
    assert_eq!(
        titles(&feed_file(&site, "/feeds/orebro-lan/kumla.atom")).len(),
        4
    );
}
