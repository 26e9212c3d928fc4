//! `regionfeed run` as a real process: polling on schedule, serving, conditional GET, signals.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Env, Origin, Route, http};

const RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lokala nyheter</title><link>https://lokal.example/</link>
<item><guid>https://lokal.example/hallefors-1</guid><link>https://lokal.example/hallefors-1</link>
<title>Kvinna hittad avliden i Hällefors</title>
<description>Under lördagen påträffades en avliden person i Hällefors kommun.</description>
<pubDate>Sat, 15 Mar 2025 10:00:00 +0100</pubDate></item>
</channel></rss>"#;

/// Polls `path` until its body contains `needle` or 15 s pass.
fn wait_for(d: &Daemon, path: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = http(d.addr, "GET", path, &[]);
        let body = r.text();
        if r.status == 200 && body.contains(needle) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never contained {needle:?}; last: {} {body}\nlog:\n{}",
            r.status,
            d.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn run_polls_serves_and_stops_on_sigterm() {
    let origin = Origin::start();
    origin.route("/rss", Route::new(200, "application/rss+xml", RSS));
    let env = Env::new(&format!(
        "[[source]]\nid = \"lokal\"\nurl = \"{}\"\nregion = \"18\"\ninterval = \"1h\"\n",
        origin.url("/rss")
    ));
    let d = Daemon::start(&env);

    let feed = wait_for(
        &d,
        "/feeds/orebro-lan/hallefors.atom",
        "Kvinna hittad avliden i Hällefors",
    );
    assert!(feed.contains(r#"<category term="1863""#), "{feed}");
    let r = http(d.addr, "GET", "/feeds/orebro-lan/hallefors.atom", &[]);
    assert_eq!(
        r.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    let etag = r.header("etag").expect("etag").to_string();
    let last_modified = r
        .header("last-modified")
        .expect("last-modified")
        .to_string();

    // Conditional requests.
    let r304 = http(
        d.addr,
        "GET",
        "/feeds/orebro-lan/hallefors.atom",
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r304.status, 304);
    assert!(r304.body.is_empty());
    let r304 = http(
        d.addr,
        "GET",
        "/feeds/orebro-lan/hallefors.atom",
        &[("If-Modified-Since", &last_modified)],
    );
    assert_eq!(r304.status, 304);
    let r200 = http(
        d.addr,
        "GET",
        "/feeds/orebro-lan/hallefors.atom",
        &[("If-None-Match", "\"other\"")],
    );
    assert_eq!(r200.status, 200);

    // gzip when asked, the same bytes once decompressed.
    let gz = http(
        d.addr,
        "GET",
        "/feeds/orebro-lan/hallefors.atom",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, r.body);

    // HEAD: the headers without the body.
    let head = http(d.addr, "HEAD", "/feeds/orebro-lan/hallefors.atom", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag"), Some(etag.as_str()));

    // The other documents, an empty region, unknown paths and methods.
    for (path, ctype) in [
        ("/feeds/sverige.atom", "application/atom+xml; charset=utf-8"),
        (
            "/feeds/blekinge-lan/karlskrona.atom",
            "application/atom+xml; charset=utf-8",
        ),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/orebro-lan/", "text/html; charset=utf-8"),
        ("/orebro-lan/hallefors/", "text/html; charset=utf-8"),
    ] {
        let r = http(d.addr, "GET", path, &[]);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(ctype)),
            "{path}"
        );
    }
    assert_eq!(http(d.addr, "GET", "/feeds/nowhere.atom", &[]).status, 404);
    assert_eq!(http(d.addr, "GET", "/feeds/../Cargo.toml", &[]).status, 404);
    assert_eq!(http(d.addr, "POST", "/feeds/sverige.atom", &[]).status, 405);
    assert_eq!(http(d.addr, "GET", "/healthz", &[]).status, 200);

    // The origin saw our User-Agent.
    let seen = origin.seen();
    assert!(!seen.is_empty());
    assert_eq!(
        seen[0].headers.get("user-agent").unwrap(),
        "regionfeed-tests/1 (+https://example.test)"
    );

    let started = Instant::now();
    d.signal("TERM");
    let (status, log) = d.wait(10);
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(log.contains("shutting down"), "{log}");
}
