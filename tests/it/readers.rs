//! Real readers against the running daemon: the feeds checked by the RFC 4287 RELAX NG schema
//! (xmllint) and the W3C validator's rules (`fixtures/readers/atomlint.py`), read by Python
//! feedparser and by newsboat, the pages rendered by headless Chromium, OPML and WebSub.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Daemon, Env, HttpResponse, Origin, Recorder, fixture, http};

/// The public base URL every test config uses (`Env`): self links name it, not the loopback port.
const BASE: &str = "http://feeds.example.test";

/// A daemon polling four real-shaped sources over loopback, with a WebSub hub configured.
pub struct Running {
    pub _origin: Origin,
    pub hub: Recorder,
    pub _env: Env,
    pub d: Daemon,
}

pub fn start() -> Running {
    let origin = crate::support::fixture_origin();
    let hub = Recorder::start(204);
    let mut config = format!("[websub]\nhub = \"{}\"\n\n", hub.url("/hub"));
    for (path, id, region) in crate::support::FIXTURE_SOURCES {
        config.push_str(&crate::support::source_toml(
            &origin, id, path, region, "1h",
        ));
    }
    let env = Env::new(&config);
    let d = Daemon::start(&env);
    wait_until_settled(&d);
    Running {
        _origin: origin,
        hub,
        _env: env,
        d,
    }
}

/// Waits until every source's items are served and the national feed stopped changing.
fn wait_until_settled(d: &Daemon) {
    let needles = [
        "Rån väpnat, Sölvesborg",
        "Kvinna hittad avliden i Hällefors",
        "Nytt äventyrsbad öppnar i Kumla",
        "Älgolycka på riksväg 61 norr om Arvika",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    loop {
        let r = get(d, "/feeds/sverige.atom");
        let etag = r.header("etag").unwrap_or_default().to_string();
        if needles.iter().all(|n| r.text().contains(n)) && etag == last {
            return;
        }
        last = etag;
        assert!(
            Instant::now() < deadline,
            "the daemon never served every source; log:\n{}",
            d.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(800));
    }
}

pub fn get(d: &Daemon, path: &str) -> HttpResponse {
    let r = http(d.addr, "GET", path, &[]);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r
}

/// Runs a command, killing it if it takes longer than `secs` (a hung browser must fail the
/// test, not the CI run).
fn run(cmd: &mut Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (.ci/run installs it): {e}"));
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

/// Validates Atom files with xmllint against the RFC 4287 schema; returns xmllint's complaints.
pub fn relaxng_errors(files: &[PathBuf]) -> Option<String> {
    let out = run(
        Command::new("xmllint")
            .args(["--noout", "--relaxng"])
            .arg(fixture("readers/atom.rng"))
            .args(files),
        60,
    );
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The W3C validator's rules (see `fixtures/readers/atomlint.py`) for each (self URL, file):
/// the problems found per file, in order.
pub fn lint(files: &[(String, PathBuf)]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("python3");
    cmd.arg(fixture("readers/atomlint.py"));
    for (url, f) in files {
        cmd.arg(url).arg(f);
    }
    let out = run(&mut cmd, 60);
    assert!(
        out.status.success(),
        "atomlint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

/// Strict validity: the schema and the validator's rules both pass for every (self URL, file).
pub fn assert_valid_atom(files: &[(String, PathBuf)]) {
    let paths: Vec<PathBuf> = files.iter().map(|(_, p)| p.clone()).collect();
    if let Some(errors) = relaxng_errors(&paths) {
        panic!("RELAX NG (RFC 4287) rejects a feed:\n{errors}");
    }
    for ((url, f), problems) in files.iter().zip(lint(files)) {
        assert!(
            problems.is_empty(),
            "{url} ({}): {problems:#?}",
            f.display()
        );
    }
}

/// The feeds the validity tests read: whole feeds of every kind, an empty one, and filtered views.
const VALIDATED: &[&str] = &[
    "/feeds/sverige.atom",
    "/feeds/blekinge-lan.atom",
    "/feeds/blekinge-lan/karlskrona.atom",
    "/feeds/orebro-lan.atom",
    "/feeds/orebro-lan/kumla.atom",
    "/feeds/varmlands-lan/arvika.atom",
    "/feeds/gotlands-lan/gotland.atom",
    "/feeds/blekinge-lan.atom?type=Trafikolycka",
    "/feeds/sverige.atom?type=Trafikolycka&limit=3",
    "/feeds/sverige.atom?q=Kumla",
    "/feeds/blekinge-lan/karlskrona.atom?q=ingen%20s%C3%A5dan%20text",
];

#[test]
fn served_atom_passes_schema_and_validator_rules() {
    let r = start();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, path) in VALIDATED.iter().enumerate() {
        let resp = get(&r.d, path);
        assert_eq!(resp.header("etag").map(str::len), Some(26), "{path}");
        assert_eq!(
            resp.header("content-type"),
            Some("application/atom+xml; charset=utf-8")
        );
        let f = dir.path().join(format!("{i}.atom"));
        std::fs::write(&f, &resp.body).unwrap();
        files.push((format!("{BASE}{path}"), f));
    }
    assert_valid_atom(&files);
    // The filtered views really are filtered.
    let view = std::fs::read_to_string(&files[7].1).unwrap();
    assert!(
        view.contains("Trafikolycka") && !view.contains("Rån väpnat"),
        "{view}"
    );
    assert_eq!(crate::support::atom(&files[8].1).entries.len(), 3);
    assert_eq!(crate::support::atom(&files[10].1).entries.len(), 0);
}

/// The rule checks can fail: each mutation of a valid feed is caught by the named rule.
#[test]
fn validator_rules_catch_what_they_claim_to() {
    let good = std::fs::read_to_string(fixture("readers/valid.atom")).unwrap();
    let url = "http://127.0.0.1:8080/feeds/orebro-lan.atom";
    let cases: &[(&str, &str, &str)] = &[
        (
            "<title type=\"text\">Örebro",
            "<title>Örebro",
            "MissingTypeAttr",
        ),
        ("xml:lang=\"sv\"", "", "MissingDCLanguage"),
        (
            "tag:127.0.0.1,2026:item:41ab07",
            "tag:127.0.0.1,2026:item:9f1c2e",
            "DuplicateEntries",
        ),
        (
            "tag:127.0.0.1,2026:item:41ab07",
            "41ab07",
            "InvalidFullLink",
        ),
        (
            "tag:127.0.0.1,2026:feed:",
            "tag:Example.org,2026:feed:",
            "InvalidTAG",
        ),
        (
            "<updated>2026-11-27T18:30:00+00:00",
            "<updated>2026-11-27 18:30:00",
            "InvalidRFC3339Date",
        ),
        (
            "<published>2026-11-27",
            "<published>1989-11-27",
            "ImplausibleDate",
        ),
        (
            "href=\"http://127.0.0.1:8080/feeds/orebro-lan.atom\" rel=\"self\"",
            "href=\"http://127.0.0.1:8080/feeds/orebro-lan.rss\" rel=\"self\"",
            "SelfDoesntMatchLocation",
        ),
        ("rel=\"self\"", "rel=\"myself\"", "UnregisteredAtomLinkRel"),
        (
            "Två bilar har krockat",
            "&lt;a href=\"/rel\"&gt;x&lt;/a&gt; Två bilar har krockat",
            "ContainsRelRef",
        ),
        (
            "Två bilar har krockat",
            "&lt;script&gt;x&lt;/script&gt; Två bilar har krockat",
            "SecurityRisk",
        ),
        (
            "<title type=\"text\">Trafikolycka",
            "<title type=\"text\">&lt;/b&gt;Trafikolycka",
            "ContainsUndeclaredHTML",
        ),
        ("Två bilar", "Två\u{85} bilar", "BadCharacters"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![(url.to_string(), dir.path().join("good.atom"))];
    std::fs::write(&files[0].1, &good).unwrap();
    for (i, (from, to, _)) in cases.iter().enumerate() {
        assert!(good.contains(from), "fixture lacks {from:?}");
        let f = dir.path().join(format!("bad{i}.atom"));
        std::fs::write(&f, good.replacen(from, to, 1)).unwrap();
        files.push((url.to_string(), f));
    }
    let results = lint(&files);
    assert_eq!(
        results[0],
        Vec::<String>::new(),
        "the fixture itself is valid"
    );
    for ((_, _, rule), problems) in cases.iter().zip(&results[1..]) {
        assert!(
            problems.iter().any(|p| p.starts_with(rule)),
            "{rule} not reported: {problems:?}"
        );
    }
    // And the schema rejects what RFC 4287 forbids.
    let f = dir.path().join("noid.atom");
    std::fs::write(
        &f,
        good.replacen("<id>tag:127.0.0.1,2026:feed:/feeds/orebro-lan</id>", "", 1),
    )
    .unwrap();
    assert!(relaxng_errors(&[f]).is_some());
}

/// What Python feedparser made of one served feed.
fn feedparser_urls(urls: &[String]) -> Vec<serde_json::Value> {
    let script = concat!(
        "import feedparser, sys, json\n",
        "for p in sys.argv[1:]:\n",
        "    d = feedparser.parse(p)\n",
        "    print(json.dumps({'bozo': int(d.bozo), 'msg': str(d.get('bozo_exception', '')),",
        " 'version': d.version, 'title': d.feed.get('title'),",
        " 'ids': [e.get('id') for e in d.entries],",
        " 'titles': [e.get('title') for e in d.entries],",
        " 'tags': [[t.term for t in e.get('tags', [])] for e in d.entries],",
        " 'sources': [e.get('source', {}).get('title') for e in d.entries],",
        " 'hub': [l.href for l in d.feed.get('links', []) if l.get('rel') == 'hub']},",
        " ensure_ascii=False))\n",
    );
    let out = run(Command::new("python3").args(["-c", script]).args(urls), 60);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), urls.len());
    got
}

#[test]
fn readers_get_the_same_items_in_all_three_formats() {
    let r = start();
    let url = |p: &str| format!("http://{}{p}", r.d.addr);
    for stem in [
        "/feeds/blekinge-lan",
        "/feeds/sverige",
        "/feeds/orebro-lan/kumla",
    ] {
        // feedparser fetches Atom and RSS itself, as a reader would. (The feedparser release on
        // PyPI reads no JSON Feed; feed-rs, a reader library, reads all three below.)
        let got = feedparser_urls(&[url(&format!("{stem}.atom")), url(&format!("{stem}.rss"))]);
        let (atom, rss) = (&got[0], &got[1]);
        for v in &got {
            assert_eq!(v["bozo"], 0, "{stem}: {}", v["msg"]);
        }
        assert_eq!(
            (atom["version"].as_str(), rss["version"].as_str()),
            (Some("atom10"), Some("rss20"))
        );
        let ids = atom["ids"].as_array().unwrap();
        assert!(!ids.is_empty(), "{stem} is empty");
        assert!(
            ids.iter().all(|id| id
                .as_str()
                .unwrap()
                .starts_with("tag:feeds.example.test,2026:item:")),
            "{ids:?}"
        );
        assert_eq!(
            &rss["ids"], &atom["ids"],
            "{stem}: RSS carries the same items"
        );
        assert_eq!(&rss["titles"], &atom["titles"], "{stem}");
        assert_eq!(atom["title"], rss["title"]);
        assert_eq!(atom["tags"], rss["tags"], "{stem}: RSS categories");
        // Categories (a län code among them) and the source come through.
        let tags = atom["tags"].as_array().unwrap();
        for (tags, source) in tags.iter().zip(atom["sources"].as_array().unwrap()) {
            let tags: Vec<&str> = tags
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert!(
                tags.iter().any(|t| t.len() == 2 && t.parse::<u8>().is_ok()),
                "{stem}: {tags:?}"
            );
            assert!(source.as_str().is_some_and(|s| !s.is_empty()), "{stem}");
        }
        let hub = serde_json::json!([r.hub.url("/hub")]);
        assert_eq!(atom["hub"], hub, "{stem}: the hub is advertised");
        assert_eq!(rss["hub"], hub, "{stem}: the hub is advertised");

        // feed-rs reads all three formats to the same ids and titles.
        let parsed: Vec<feed_rs::model::Feed> = ["atom", "rss", "json"]
            .iter()
            .map(|ext| {
                let resp = get(&r.d, &format!("{stem}.{ext}"));
                feed_rs::parser::parse(&resp.body[..])
                    .unwrap_or_else(|e| panic!("{stem}.{ext}: {e}"))
            })
            .collect();
        let summary = |f: &feed_rs::model::Feed| -> Vec<(String, String)> {
            f.entries
                .iter()
                .map(|e| (e.id.clone(), e.title.as_ref().unwrap().content.clone()))
                .collect()
        };
        assert_eq!(
            parsed[0].feed_type,
            feed_rs::model::FeedType::Atom,
            "{stem}"
        );
        assert_eq!(
            parsed[2].feed_type,
            feed_rs::model::FeedType::JSON,
            "{stem}"
        );
        assert_eq!(summary(&parsed[1]), summary(&parsed[0]), "{stem}.rss");
        assert_eq!(summary(&parsed[2]), summary(&parsed[0]), "{stem}.json");
        let ids: Vec<String> = summary(&parsed[0]).into_iter().map(|(id, _)| id).collect();
        let fp_ids: Vec<String> = ids_of(atom);
        assert_eq!(ids, fp_ids);

        // JSON Feed 1.1's own rules: version, feed_url where it is served, hubs, and every
        // item with an id and content.
        let json: serde_json::Value =
            serde_json::from_slice(&get(&r.d, &format!("{stem}.json")).body).unwrap();
        assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(json["feed_url"], format!("{BASE}{stem}.json"));
        assert_eq!(json["language"], "sv");
        assert_eq!(json["hubs"][0]["type"], "WebSub");
        for item in json["items"].as_array().unwrap() {
            assert!(item["id"].is_string(), "{item}");
            assert!(
                item["content_html"].is_string() || item["content_text"].is_string(),
                "{item}"
            );
            assert!(
                chrono::DateTime::parse_from_rfc3339(item["date_published"].as_str().unwrap())
                    .is_ok()
            );
        }
    }
    // A Polisen event keeps its event type as a category.
    let got = feedparser_urls(&[url("/feeds/blekinge-lan.atom")]);
    assert!(
        got[0]["tags"].as_array().unwrap().iter().any(|t| t
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "Rån väpnat")),
        "{}",
        got[0]["tags"]
    );
}

fn ids_of(v: &serde_json::Value) -> Vec<String> {
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

/// One item as newsboat stored it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NewsboatItem {
    feed: String,
    title: String,
    guid: String,
}

/// Subscribes a fresh newsboat to `urls`, reloads non-interactively and returns what it stored
/// (from its cache database) and what `print-unread` said.
fn newsboat(urls: &[String]) -> (Vec<NewsboatItem>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("urls"), urls.join("\n") + "\n").unwrap();
    std::fs::write(dir.path().join("config"), "download-timeout 10\n").unwrap();
    let run_newsboat = |args: &[&str]| {
        let out = run(
            Command::new("newsboat")
                .current_dir(dir.path())
                .env("HOME", dir.path())
                .args(["-u", "urls", "-c", "cache.db", "-C", "config"])
                .args(args),
            120,
        );
        assert!(
            out.status.success(),
            "newsboat {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run_newsboat(&["-x", "reload"]);
    let unread = run_newsboat(&["-x", "print-unread"]);
    let db = rusqlite::Connection::open(dir.path().join("cache.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT feedurl, title, guid FROM rss_item ORDER BY feedurl, title")
        .unwrap();
    let items = stmt
        .query_map([], |row| {
            Ok(NewsboatItem {
                feed: row.get(0)?,
                title: row.get(1)?,
                guid: row.get(2)?,
            })
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (items, unread)
}

#[test]
fn newsboat_reloads_and_lists_the_items() {
    let r = start();
    let url = |p: &str| format!("http://{}{p}", r.d.addr);
    // newsboat keeps one copy of an item per id across all subscriptions, so feeds that share
    // items (a feed in two formats, a feed and its filtered view) each get their own run.
    let runs: &[&[&str]] = &[
        &[
            "/feeds/blekinge-lan.atom",
            "/feeds/orebro-lan/kumla.atom",
            "/feeds/varmlands-lan.atom",
        ],
        &["/feeds/blekinge-lan.rss"],
        &["/feeds/blekinge-lan.atom?type=Trafikolycka"],
    ];
    let mut guids_by_feed = std::collections::BTreeMap::new();
    for paths in runs {
        let urls: Vec<String> = paths.iter().map(|p| url(p)).collect();
        let (items, unread) = newsboat(&urls);
        assert!(
            unread.contains(&format!("{} unread articles", items.len())),
            "{unread}"
        );
        for (path, u) in paths.iter().zip(&urls) {
            let served = feed_rs::parser::parse(&get(&r.d, path).body[..]).unwrap();
            let want: BTreeSet<String> = served
                .entries
                .iter()
                .map(|e| e.title.as_ref().unwrap().content.clone())
                .collect();
            let mine: Vec<&NewsboatItem> = items.iter().filter(|i| &i.feed == u).collect();
            let got: BTreeSet<String> = mine.iter().map(|i| i.title.clone()).collect();
            assert!(!want.is_empty(), "{path} is empty");
            assert_eq!(got, want, "newsboat's items of {path}");
            let ids: BTreeSet<String> = served.entries.iter().map(|e| e.id.clone()).collect();
            let guids: BTreeSet<String> = mine.iter().map(|i| i.guid.clone()).collect();
            assert_eq!(guids, ids, "{path}: newsboat keys items by our ids");
            guids_by_feed.insert(*path, guids);
        }
    }
    assert_eq!(
        guids_by_feed["/feeds/blekinge-lan.atom"], guids_by_feed["/feeds/blekinge-lan.rss"],
        "Atom and RSS give newsboat the same items"
    );
    assert!(
        guids_by_feed["/feeds/blekinge-lan.atom?type=Trafikolycka"]
            .is_subset(&guids_by_feed["/feeds/blekinge-lan.atom"])
    );
}

#[test]
fn pages_work_in_headless_chromium_without_javascript() {
    let r = start();
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let chromium = |args: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let out = run(
            Command::new("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .args(args),
            90,
        );
        assert!(
            out.status.success(),
            "chromium {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let url = |p: &str| format!("http://{}{p}", r.d.addr);

    // The pages carry no script at all, so what Chromium shows is what a phone without
    // JavaScript shows. (Chromium's `scriptEnabled=false` setting cannot be used: headless
    // screenshots and DOM dumps need scripting themselves.)
    for (page, shot) in [
        ("/", "index.png"),
        ("/blekinge-lan/", "blekinge-lan.png"),
        ("/blekinge-lan/karlskrona/", "karlskrona.png"),
    ] {
        let html = get(&r.d, page).text();
        assert!(!html.contains("<script"), "{page} has a script");
        let png = artifacts.join(shot);
        let _ = std::fs::remove_file(&png);
        chromium(&[
            "--window-size=390,844".into(),
            "--hide-scrollbars".into(),
            format!("--screenshot={}", png.display()),
            url(page),
        ]);
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot of {page}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 2000,
            "{page}"
        );
    }

    // The index as the browser parsed it: every län with its kommuner, counts and headlines.
    let dom = chromium(&["--dump-dom".into(), url("/")]);
    let regions = regionfeed::regions::Regions::get_builtin();
    assert_eq!(dom.matches("<details>").count(), regions.lan().len());
    for lan in regions.lan() {
        assert!(
            dom.contains(&format!("<summary>{} <span", lan.name)),
            "{}",
            lan.name
        );
    }
    for k in regions.kommuner() {
        assert!(
            dom.contains(&format!(">{}</a>", k.name)),
            "kommun {}",
            k.name
        );
    }
    assert!(
        dom.contains("Rån väpnat, Sölvesborg"),
        "the latest Blekinge headlines"
    );
    assert!(dom.contains("<summary>Blekinge län <span class=\"n\">30 poster</span>"));

    // Fast on a phone: one request, no images, fonts or scripts to fetch, small over the wire.
    let gz = http(r.d.addr, "GET", "/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert!(
        gz.body.len() < 48 * 1024,
        "index is {} bytes gzipped",
        gz.body.len()
    );
    let index = get(&r.d, "/").text();
    for external in ["<img", "<link rel=\"stylesheet\"", "@import", "url("] {
        assert!(!index.contains(external), "{external}");
    }

    // Each region page advertises its feeds (autodiscovery), and every advertised feed is served.
    for page in ["/blekinge-lan/", "/blekinge-lan/karlskrona/", "/"] {
        let dom = chromium(&["--dump-dom".into(), url(page)]);
        let mut found = Vec::new();
        for (mime, ctype) in [
            (
                "application/atom+xml",
                "application/atom+xml; charset=utf-8",
            ),
            ("application/rss+xml", "application/rss+xml; charset=utf-8"),
            (
                "application/feed+json",
                "application/feed+json; charset=utf-8",
            ),
        ] {
            let tag = format!("<link rel=\"alternate\" type=\"{mime}\"");
            let at = dom
                .find(&tag)
                .unwrap_or_else(|| panic!("{page}: no {mime} autodiscovery"));
            let href = dom[at..]
                .split("href=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let path = href.strip_prefix(BASE).unwrap_or_else(|| panic!("{href}"));
            assert_eq!(
                get(&r.d, path).header("content-type"),
                Some(ctype),
                "{href}"
            );
            found.push(path.to_string());
        }
        let stem = found[0].trim_end_matches(".atom");
        assert_eq!(
            found,
            [
                format!("{stem}.atom"),
                format!("{stem}.rss"),
                format!("{stem}.json")
            ]
        );
    }
}

#[test]
fn opml_groups_every_feed_by_lan() {
    let r = start();
    let opml = get(&r.d, "/feeds.opml");
    assert_eq!(
        opml.header("content-type"),
        Some("text/x-opml; charset=utf-8")
    );
    let script = concat!(
        "import sys, json, xml.etree.ElementTree as E\n",
        "r = E.parse(sys.argv[1]).getroot()\n",
        "body = r.find('body')\n",
        "out = {'version': r.get('version'), 'top': [], 'folders': []}\n",
        "for o in body:\n",
        "    if o.get('type') == 'rss':\n",
        "        out['top'].append([o.get('title'), o.get('xmlUrl')])\n",
        "    else:\n",
        "        out['folders'].append([o.get('text'), [[c.get('text'), c.get('title'), c.get('xmlUrl')] for c in o]])\n",
        "print(json.dumps(out, ensure_ascii=False))\n",
    );
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &opml.body).unwrap();
    let out = run(
        Command::new("python3").args(["-c", script]).arg(f.path()),
        30,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.0");
    assert_eq!(
        v["top"],
        serde_json::json!([["Sverige — regionfeed", format!("{BASE}/feeds/sverige.atom")]])
    );
    let regions = regionfeed::regions::Regions::get_builtin();
    let folders = v["folders"].as_array().unwrap();
    assert_eq!(folders.len(), regions.lan().len());
    for (folder, lan) in folders.iter().zip(regions.lan()) {
        assert_eq!(folder[0], lan.name.as_str());
        let feeds = folder[1].as_array().unwrap();
        let want: Vec<String> = std::iter::once(lan)
            .chain(regions.kommuner_in(&lan.code))
            .map(|x| format!("{BASE}{}", x.path))
            .collect();
        let got: Vec<&str> = feeds.iter().map(|f| f[2].as_str().unwrap()).collect();
        assert_eq!(got, want, "{}", lan.name);
        for f in feeds {
            assert!(f[1].as_str().unwrap().ends_with(" — regionfeed"), "{f}");
            // Every listed feed is served (HEAD: headers only).
            let path = f[2].as_str().unwrap().strip_prefix(BASE).unwrap();
            assert_eq!(http(r.d.addr, "HEAD", path, &[]).status, 200, "{path}");
        }
    }
}

#[test]
fn websub_hub_is_advertised_and_pinged_when_feeds_change() {
    let r = start();
    let hub = r.hub.url("/hub");
    let atom = get(&r.d, "/feeds/blekinge-lan.atom");
    assert!(
        atom.text()
            .contains(&format!("<link href=\"{hub}\" rel=\"hub\"/>")),
        "{}",
        atom.text()
    );
    assert_eq!(
        atom.header("link"),
        Some(
            format!("<{hub}>; rel=\"hub\", <{BASE}/feeds/blekinge-lan.atom>; rel=\"self\"")
                .as_str()
        )
    );
    let rss = get(&r.d, "/feeds/blekinge-lan.rss").text();
    assert!(
        rss.contains(&format!("<atom:link href=\"{hub}\" rel=\"hub\"/>")),
        "{rss}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&get(&r.d, "/feeds/blekinge-lan.json").body).unwrap();
    assert_eq!(
        json["hubs"],
        serde_json::json!([{"type": "WebSub", "url": hub}])
    );

    // The first poll filled the feeds: the hub heard of each changed feed, form-encoded.
    let deadline = Instant::now() + Duration::from_secs(10);
    let topics = loop {
        let topics: BTreeSet<String> = r
            .hub
            .requests()
            .iter()
            .map(|req| {
                assert_eq!(req.method, "POST");
                assert_eq!(req.path, "/hub");
                assert_eq!(
                    req.headers.get("content-type").unwrap(),
                    "application/x-www-form-urlencoded"
                );
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
                    .into_owned()
                    .collect();
                assert_eq!(form.len(), 2, "{form:?}");
                assert_eq!(form[0], ("hub.mode".to_string(), "publish".to_string()));
                assert_eq!(form[1].0, "hub.url");
                form[1].1.clone()
            })
            .collect();
        if topics.contains(&format!("{BASE}/feeds/blekinge-lan.json")) || Instant::now() > deadline
        {
            break topics;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for changed in [
        "/feeds/sverige.atom",
        "/feeds/blekinge-lan.atom",
        "/feeds/blekinge-lan.rss",
        "/feeds/blekinge-lan.json",
        "/feeds/blekinge-lan/karlskrona.atom",
        "/feeds/orebro-lan/kumla.atom",
    ] {
        assert!(
            topics.contains(&format!("{BASE}{changed}")),
            "{changed} not pinged: {topics:?}"
        );
    }
    // Feeds that did not change are not announced.
    for quiet in [
        "/feeds/gotlands-lan.atom",
        "/feeds/gotlands-lan/gotland.atom",
    ] {
        assert!(
            !topics.contains(&format!("{BASE}{quiet}")),
            "{quiet} pinged"
        );
    }
    assert!(
        topics
            .iter()
            .all(|t| !t.ends_with(".html") && !t.ends_with(".opml"))
    );
}
