//! One story, one entry: a local rewrite of a police press release joins its story across
//! sources, and so does a paper's own account after a restart; short look-alike police
//! summaries never do; `forget` and retention remove for good.

use crate::support::{Daemon, Env, Origin, Route, atom};

const RELEASE: &str = "Nu har lokalpolisområde Hallsberg tillsammans med Askersund, Hallsberg, Kumla och Laxå kommuner fattat nytt beslut om samverkan för brottsförebyggande och trygghetsskapande arbete. Huvudmålet med samverkan mellan polis och kommuner är att öka tryggheten och minska brottsligheten. Respektive kommun har olika fokusområden i sina långsiktiga lägesbilder och åtgärdsplaner. Utöver dessa har man också kommit överens om tre gemensamma områden: våld i nära relation, samverkan kring barn och unga samt lokal avhopparverksamhet. En strukturerad samverkan mellan skola, socialtjänst, polis och fritid ska utvecklas med syfte att stärka det förebyggande arbetet kring unga. Samverkansöverenskommelsen gäller från 2024 till och med 2026.";

const REWRITE: &str = "Polisen och fyra kommuner i södra Örebro län skriver på ett nytt avtal. Nu har lokalpolisområde Hallsberg tillsammans med Askersund, Hallsberg, Kumla och Laxå kommuner fattat nytt beslut om samverkan för brottsförebyggande och trygghetsskapande arbete. Huvudmålet med samverkan mellan polis och kommuner är att öka tryggheten och minska brottsligheten. Utöver dessa har man också kommit överens om tre gemensamma områden: våld i nära relation, samverkan kring barn och unga samt lokal avhopparverksamhet. – Det kommer naturligtvis att stärka oss, säger Jens Hedenborg, chef i lokalpolisområdet. En strukturerad samverkan mellan skola, socialtjänst, polis och fritid ska utvecklas med syfte att stärka det förebyggande arbetet kring unga. Källa: Polisen";

fn item(link: &str, title: &str, text: &str, date: &str) -> String {
    format!(
        "<item><guid>{link}</guid><link>{link}</link><title>{title}</title><description>{text}</description><pubDate>{date}</pubDate></item>"
    )
}

fn rss(items: &[String]) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Källa</title><link>https://example.se/</link>{}</channel></rss>"#,
        items.concat()
    )
}

fn setup() -> (Origin, Env) {
    let origin = Origin::start();
    origin.route(
        "/polisen",
        Route::new(
            200,
            "application/rss+xml",
            rss(&[
                item(
                    "https://polisen.se/aktuellt/nyheter/2026/november/samverkan/",
                    "Samverkan för att minska brottslighet",
                    RELEASE,
                    "Mon, 16 Nov 2026 09:00:00 +0100",
                ),
                // Short summaries repeat word for word for different events: never one story.
                item(
                    "https://polisen.se/h/1",
                    "16 november 08:10, Trafikbrott, Kumla",
                    "Bilist misstänks för brott.",
                    "Mon, 16 Nov 2026 08:20:00 +0100",
                ),
                item(
                    "https://polisen.se/h/2",
                    "16 november 08:40, Trafikbrott, Hallsberg",
                    "Bilist misstänks för brott.",
                    "Mon, 16 Nov 2026 08:50:00 +0100",
                ),
            ]),
        ),
    );
    origin.route(
        "/lokal",
        Route::new(
            200,
            "application/rss+xml",
            rss(&[
                item("https://orebrolokalen.example/samverkan", "Fyra kommuner och polisen i nytt avtal mot brott", REWRITE, "Mon, 16 Nov 2026 11:30:00 +0100"),
                item("https://orebrolokalen.example/bik", "BIK Karlskoga vann första semifinalen", "Under söndagen var det dags för BIK Karlskoga att spela semifinal på hemmaplan inför fullsatt arena.", "Mon, 16 Nov 2026 10:00:00 +0100"),
            ]),
        ),
    );
    let env = Env::new(&sources(&origin, &["polisen", "lokal"]));
    (origin, env)
}

/// `[[source]]` tables for the given routes of the origin, each source named after its route.
fn sources(origin: &Origin, ids: &[&str]) -> String {
    ids.iter()
        .map(|id| {
            format!(
                "[[source]]\nid = \"{id}\"\nurl = \"{}\"\nregion = \"18\"\n\n",
                origin.url(&format!("/{id}"))
            )
        })
        .collect()
}

fn entries(env: &Env, path: &str) -> Vec<feed_rs::model::Entry> {
    let site = env.render();
    atom(&site.join(path.trim_start_matches('/'))).entries
}

#[test]
fn a_local_rewrite_joins_the_press_release_story() {
    let (_origin, env) = setup();
    env.ok(&["poll", "--once"]);
    for path in [
        "/feeds/orebro-lan/kumla.atom",
        "/feeds/orebro-lan.atom",
        "/feeds/sverige.atom",
    ] {
        let all = entries(&env, path);
        let story: Vec<_> = all
            .iter()
            .filter(|e| e.links.iter().any(|l| l.href.contains("samverkan")))
            .collect();
        assert_eq!(story.len(), 1, "{path}: one entry for the story");
        let e = story[0];
        let alternate = e
            .links
            .iter()
            .find(|l| l.rel.as_deref() != Some("related"))
            .unwrap();
        assert_eq!(
            alternate.href, "https://polisen.se/aktuellt/nyheter/2026/november/samverkan/",
            "the earliest report leads"
        );
        let related: Vec<_> = e
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("related"))
            .collect();
        assert_eq!(related.len(), 1, "{path}: {:?}", e.links);
        assert_eq!(related[0].href, "https://orebrolokalen.example/samverkan");
        assert_eq!(
            related[0].title.as_deref(),
            Some("Fyra kommuner och polisen i nytt avtal mot brott")
        );
    }
    let joins = story_joins(&env);
    assert_eq!(joins.len(), 1, "{joins:?}");
    assert_eq!(joins[0]["rule"], "copied-text");
    assert_eq!(
        joins[0]["report"]["title"],
        "Fyra kommuner och polisen i nytt avtal mot brott"
    );
    assert_eq!(
        joins[0]["story"]["title"],
        "Samverkan för att minska brottslighet"
    );
    let table = env.ok(&["stories"]);
    assert!(
        table.lines().next().unwrap().starts_with("PUBLISHED"),
        "{table}"
    );
    assert!(table.contains("copied-text"), "{table}");
    // The story's regions are the union of its reports': the release names all four kommuner.
    for kommun in ["askersund", "hallsberg", "laxa"] {
        let e = entries(&env, &format!("/feeds/orebro-lan/{kommun}.atom"));
        assert_eq!(
            e.iter()
                .filter(|e| e.links.iter().any(|l| l.href.contains("samverkan")))
                .count(),
            1,
            "{kommun}"
        );
    }
    // Identical short summaries of two events stay two entries.
    let national = entries(&env, "/feeds/sverige.atom");
    let traffic = national
        .iter()
        .filter(|e| {
            e.links
                .iter()
                .any(|l| l.href.starts_with("https://polisen.se/h/"))
        })
        .count();
    assert_eq!(traffic, 2);
    assert_eq!(national.len(), 4, "story, two events, the sports item");
}

/// The story a rewrite joins, as the Kumla feed shows it: the alternate link and the related ones.
fn samverkan_story(env: &Env) -> Vec<(String, Option<String>)> {
    let all = entries(env, "/feeds/orebro-lan/kumla.atom");
    let story: Vec<_> = all
        .iter()
        .filter(|e| e.links.iter().any(|l| l.href.contains("samverkan")))
        .collect();
    assert_eq!(story.len(), 1, "one entry for the story: {all:?}");
    story[0]
        .links
        .iter()
        .map(|l| (l.href.clone(), l.rel.clone()))
        .collect()
}

#[test]
fn signatures_stored_by_an_older_build_are_recomputed() {
    let (origin, env) = setup();
    // A run fills its story index with the last few days' items, so this story is recent.
    let hours_ago = |h: i64| (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc2822();
    let release = "https://polisen.se/aktuellt/nyheter/2026/november/samverkan/";
    let release = item(
        release,
        "Samverkan för att minska brottslighet",
        RELEASE,
        &hours_ago(3),
    );
    let rss_route = |body: String| Route::new(200, "application/rss+xml", body);
    origin.route("/polisen", rss_route(rss(&[release])));
    let title = "Fyra kommuner och polisen i nytt avtal mot brott";
    let rewrite = item(
        "https://orebrolokalen.example/samverkan",
        title,
        REWRITE,
        &hours_ago(1),
    );
    origin.route("/lokal", rss_route(rss(&[rewrite])));
    env.write_config(&sources(&origin, &["polisen"]));
    env.ok(&["poll", "--once"]);
    // Make every stored signature look like another format version, as after an upgrade.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let old = conn
        .execute(
            "UPDATE items SET signature = CAST(X'01' || substr(signature, 2) AS BLOB) WHERE signature IS NOT NULL",
            [],
        )
        .unwrap();
    assert!(old >= 1, "the release has a signature");
    drop(conn);
    // The next run fills its story index from the database: the rewrite must still find the
    // release, whose signature is recomputed from its stored text.
    env.write_config(&sources(&origin, &["polisen", "lokal"]));
    env.ok(&["poll", "--once"]);
    let links = samverkan_story(&env);
    assert!(
        links.contains(&(
            "https://orebrolokalen.example/samverkan".to_string(),
            Some("related".to_string())
        )),
        "{links:?}"
    );
}

#[test]
fn forget_removes_a_story_for_good() {
    let (_origin, env) = setup();
    env.ok(&["poll", "--once"]);
    let national = entries(&env, "/feeds/sverige.atom");
    let story = national
        .iter()
        .find(|e| e.links.iter().any(|l| l.href.contains("samverkan")))
        .unwrap();
    let out = env.ok(&["forget", &story.id]);
    assert!(out.contains("forgot 2 item(s)"), "{out}");
    env.ok(&["poll", "--once"]);
    let after = entries(&env, "/feeds/sverige.atom");
    assert_eq!(after.len(), 3);
    assert!(
        after
            .iter()
            .all(|e| e.links.iter().all(|l| !l.href.contains("samverkan"))),
        "it stays gone"
    );
    let out = env.run(&[
        "forget",
        "tag:feeds.example.test,2026:item:000000000000000000000000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no item"));
}

#[test]
fn retention_prunes_old_items_no_source_lists_any_more() {
    let origin = Origin::start();
    let old = |n: u32| {
        item(
            &format!("https://lokal.example/old-{n}"),
            &format!("Gammal nyhet {n} från Kumla"),
            "Text.",
            "Mon, 03 Jan 2022 10:00:00 +0100",
        )
    };
    origin.route(
        "/feed",
        Route::new(200, "application/rss+xml", rss(&[old(1), old(2)])),
    );
    let env = Env::new(&format!(
        "[[source]]\nid = \"l\"\nurl = \"{}\"\nregion = \"18\"\ninterval = \"1h\"\n",
        origin.url("/feed")
    ));
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        text.replace("[storage]\n", "[storage]\nkeep_days = 30\n"),
    )
    .unwrap();
    env.ok(&["poll", "--once"]);
    // The source drops item 1 and keeps listing item 2: dropped is not deleted by a poll...
    origin.route(
        "/feed",
        Route::new(200, "application/rss+xml", rss(&[old(2)])),
    );
    env.ok(&["poll", "--once"]);
    let count = || -> i64 {
        let conn = rusqlite::Connection::open(env.db()).unwrap();
        conn.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(), 2);
    // Time passes: item 1 was last listed two months ago (the test moves the clock back).
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let two_months_ago = (chrono::Utc::now() - chrono::Duration::days(60)).timestamp();
    conn.execute(
        "UPDATE item_sources SET last_seen = ?1 WHERE key LIKE '%old-1'",
        [two_months_ago],
    )
    .unwrap();
    drop(conn);
    // ...but retention removes what is older than keep_days and no longer listed.
    let d = Daemon::start(&env);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    // The log line follows the commit: wait for both, or the check races the daemon's logging.
    let logged = || d.log.lock().unwrap().contains("pruned old items");
    while count() != 1 || !logged() {
        assert!(
            std::time::Instant::now() < deadline,
            "not pruned; log:\n{}",
            d.log.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let title: String = conn
        .query_row("SELECT title FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "Gammal nyhet 2 från Kumla");
    assert_eq!(conn.query_row::<i64, _, _>("SELECT COUNT(*) FROM item_regions r WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.id = r.item_id)", [], |r| r.get(0)).unwrap(), 0, "tags go with their item");
}

const FIRE: &str = "Strax efter klockan tre natten till lördag larmades räddningstjänst och polis till en brand i ett radhus på Sjöängsvägen i Kumla. När räddningstjänsten kom fram brann det kraftigt i husets nedre plan. En kvinna i 60-årsåldern fördes med ambulans till Universitetssjukhuset Örebro med brännskador och misstänkt rökförgiftning. Två grannhus utrymdes under släckningsarbetet. En brandtekniker ska undersöka huset under lördagen och polisen har upprättat en anmälan om mordbrand.";

/// A paper's own account of the fire: its own words, and no place the tagger knows.
const OWN_ACCOUNT: &str = "– Vi hörde en smäll och sedan såg vi lågorna genom fönstret, säger en granne som tidningen har pratat med. Det var vid tretiden i natt som elden tog fart i bottenvåningen på radhuset på Sjöängsvägen. Kvinnan som bor där tog sig ut själv men fick brännskador och andades in rök. Grannhusen på båda sidor utrymdes medan brandmännen arbetade. Polisen utreder branden som mordbrand och en brandtekniker går igenom huset under dagen.";

/// The story index survives a restart: each `poll --once` is a new process that rebuilds it
/// from the database. A paper's own account that shares hardly a phrase with the release and
/// names only a street (so it has no region of its own) still joins the release's story in
/// Kumla, found through the index's list of items without a place.
#[test]
fn an_own_account_without_a_place_joins_the_story_after_a_restart() {
    let origin = Origin::start();
    // Recent, so that the restarted process loads the release into its index (it loads the
    // items that may still gain reports, those of the last few days).
    let hours_ago = |h: i64| (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc2822();
    let release = item(
        "https://polisen.se/aktuellt/nyheter/2026/november/brand-kumla/",
        "Kvinna till sjukhus efter brand i radhus i Kumla",
        FIRE,
        &hours_ago(6),
    );
    let own = item(
        "https://tidningen.example/radhusbranden",
        "Grannarna väcktes av smällar – radhusbranden utreds som mordbrand",
        OWN_ACCOUNT,
        &hours_ago(3),
    );
    origin.route(
        "/polisen",
        Route::new(
            200,
            "application/rss+xml",
            rss(std::slice::from_ref(&release)),
        ),
    );
    origin.route(
        "/tidningen",
        Route::new(200, "application/rss+xml", rss(&[])),
    );
    // The paper is a national outlet: no prior region.
    let env = Env::new(&format!(
        "[[source]]\nid = \"polisen\"\nurl = \"{}\"\nregion = \"18\"\n\n[[source]]\nid = \"tidningen\"\nurl = \"{}\"\n",
        origin.url("/polisen"),
        origin.url("/tidningen")
    ));
    env.ok(&["poll", "--once"]);
    origin.route(
        "/tidningen",
        Route::new(200, "application/rss+xml", rss(&[own])),
    );
    env.ok(&["poll", "--once"]);
    let kumla = entries(&env, "/feeds/orebro-lan/kumla.atom");
    assert_eq!(kumla.len(), 1, "one entry for the fire in Kumla");
    let links: Vec<(&str, Option<&str>)> = kumla[0]
        .links
        .iter()
        .map(|l| (l.href.as_str(), l.rel.as_deref()))
        .collect();
    assert!(
        links.contains(&("https://tidningen.example/radhusbranden", Some("related"))),
        "{links:?}"
    );
    let national = entries(&env, "/feeds/sverige.atom");
    assert_eq!(national.len(), 1, "the own account is no entry of its own");
    // The operator sees what was merged, and by which rule.
    let joins = story_joins(&env);
    assert_eq!(joins.len(), 1, "{joins:?}");
    assert_eq!(joins[0]["rule"], "own-account");
    assert_eq!(joins[0]["report"]["source"], "tidningen");
    assert_eq!(
        joins[0]["report"]["link"],
        "https://tidningen.example/radhusbranden"
    );
    assert_eq!(joins[0]["story"]["source"], "polisen");
}

/// A paper's own account joins another source's report, never a report of its own source:
/// one source's items share its own rare words (bylines, boilerplate) whatever they report.
#[test]
fn an_own_account_is_of_another_sources_report() {
    use regionfeed::dedup::{StoryIndex, signature};
    let at = |h: i64| {
        chrono::DateTime::parse_from_rfc3339("2026-11-21T04:10:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
            + chrono::Duration::hours(h)
    };
    let release = signature("Kvinna till sjukhus efter brand i radhus i Kumla", FIRE).unwrap();
    let own = signature(
        "Grannarna väcktes av smällar – radhusbranden utreds som mordbrand",
        OWN_ACCOUNT,
    )
    .unwrap();
    let kumla: Vec<String> = ["18", "1880", "1881"].map(String::from).to_vec();
    let mut index = StoryIndex::new(chrono::Duration::days(3));
    index.insert(1, release, at(0), kumla, Some("lokalen"));
    assert_eq!(index.find(&own, at(3), &[], Some("tidningen")), Some(1));
    assert_eq!(index.find(&own, at(3), &[], Some("lokalen")), None);
    // Unknown sources (a pair of texts, as `regionfeed match` judges) are not held apart.
    assert_eq!(index.find(&own, at(3), &[], None), Some(1));
}

/// `regionfeed stories --json`: the reports that joined a story, newest first.
fn story_joins(env: &Env) -> Vec<serde_json::Value> {
    serde_json::from_str(&env.ok(&["stories", "--json"])).unwrap()
}

#[test]
fn the_pairwise_rule_agrees_on_the_fixture_texts() {
    use chrono::{DateTime, Utc};
    use regionfeed::dedup::{StoryItem, same_story};
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let regions: Vec<String> = ["1860", "1861", "1881", "1882", "18"]
        .map(String::from)
        .to_vec();
    let release = StoryItem {
        title: "Samverkan för att minska brottslighet",
        text: RELEASE,
        published: t("2026-11-16T08:00:00Z"),
        regions: &regions,
    };
    let rewrite = StoryItem {
        title: "Fyra kommuner och polisen i nytt avtal mot brott",
        text: REWRITE,
        published: t("2026-11-16T10:30:00Z"),
        regions: &regions,
    };
    assert!(same_story(&release, &rewrite));
    let a = StoryItem {
        title: "16 november 08:10, Trafikbrott, Kumla",
        text: "Bilist misstänks för brott.",
        published: t("2026-11-16T07:20:00Z"),
        regions: &regions,
    };
    let b = StoryItem {
        title: "16 november 08:40, Trafikbrott, Hallsberg",
        text: "Bilist misstänks för brott.",
        published: t("2026-11-16T07:50:00Z"),
        regions: &regions,
    };
    assert!(!same_story(&a, &b));
}
