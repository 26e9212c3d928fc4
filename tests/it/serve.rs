//! serve: filtered views (`?type=`, `?q=`, `?limit=`), conditional requests and the limits that
//! keep slow or hostile clients from hurting others, against the real server in process.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use regionfeed::model::{FeedEntry, SourceRef};
use regionfeed::publish::{self, Document};
use regionfeed::serve::{Limits, SiteCache, serve_with};
use regionfeed::store::Snapshot;

use crate::readers::assert_valid_atom;
use crate::support::{HttpResponse, http};

const TYPES: [&str; 5] = [
    "Trafikolycka",
    "Trafikolycka, personskada",
    "Brand",
    "Inbrott",
    "Rån väpnat",
];

/// `n` Polisen-style events in Kumla and Örebro, newest first, and one local news item.
fn entries(n: usize) -> Vec<FeedEntry> {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap();
    let polisen = SourceRef {
        id: "polisen-orebro".into(),
        title: "Polisen – händelser, Örebro län".into(),
        feed_url: "https://polisen.se/aktuellt/rss/orebro-lan/handelser-rss---orebro-lan/".into(),
        site_link: Some("https://polisen.se/".into()),
        updated: None,
    };
    let mut out: Vec<FeedEntry> = (0..n)
        .map(|i| {
            let kind = TYPES[i % TYPES.len()];
            let (place, code) = if i % 3 == 0 {
                ("Kumla", "1881")
            } else {
                ("Örebro", "1880")
            };
            let at: DateTime<Utc> = start + chrono::Duration::minutes(37 * i as i64);
            FeedEntry {
                uid: format!("e{i:03}"),
                title: format!("{} november, {kind}, {place}", 20 + i / 40),
                link: Some(format!("https://polisen.se/aktuellt/handelser/{i}/")),
                summary: Some(format!(
                    "<p>Händelse {i} vid {}gatan i {place}.</p>",
                    if i % 4 == 0 { "Å" } else { "Stor" }
                )),
                content: None,
                published: at,
                updated: at,
                categories: vec![kind.to_string()],
                author: None,
                regions: vec![code.to_string(), "18".into()],
                source: polisen.clone(),
                carried_by: vec![polisen.id.clone()],
                related: vec![],
            }
        })
        .collect();
    out.reverse();
    out
}

// `..Default::default()` keeps this building when the store's snapshot grows a field.
#[allow(clippy::needless_update)]
fn snapshot(all: &[FeedEntry]) -> Snapshot {
    let mut by_region: HashMap<String, Vec<FeedEntry>> = HashMap::new();
    for e in all {
        for code in &e.regions {
            by_region.entry(code.clone()).or_default().push(e.clone());
        }
    }
    Snapshot {
        national: all.to_vec(),
        counts: by_region
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect(),
        by_region,
        total: all.len() as u64,
        ..Snapshot::default()
    }
}

/// The server on a loopback port, in its own runtime, with a site built from `entries`.
struct Server {
    addr: SocketAddr,
    base: url::Url,
    cache: Arc<SiteCache>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: std::sync::mpsc::Receiver<std::io::Result<()>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn start(limits: Limits, extra: Vec<Document>) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let base = url::Url::parse(&format!("http://{addr}")).unwrap();
        let cache = Arc::new(SiteCache::new());
        let mut docs = publish::build(&snapshot(&entries(40)), &base, None);
        docs.extend(extra);
        cache.replace(docs, Utc::now());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, done) = std::sync::mpsc::channel();
        let c = cache.clone();
        rt.spawn(async move {
            let r = serve_with(listener, c, limits, None, async {
                let _ = stopped.await;
            })
            .await;
            let _ = tx.send(r);
        });
        Server {
            addr,
            base,
            cache,
            stop: Some(stop),
            done,
            _rt: rt,
        }
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        http(self.addr, "GET", path, headers)
    }
}

fn ids(xml: &[u8]) -> Vec<String> {
    feed_rs::parser::parse(xml)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// One filter and which entries of the Örebro län feed it must keep.
struct Case {
    query: &'static str,
    keep: fn(&FeedEntry) -> bool,
    limit: Option<usize>,
}

const CASES: &[Case] = &[
    Case {
        query: "type=Trafikolycka",
        keep: |e| e.categories[0].starts_with("Trafikolycka"),
        limit: None,
    },
    Case {
        query: "type=Brand&type=Inbrott",
        keep: |e| ["Brand", "Inbrott"].contains(&e.categories[0].as_str()),
        limit: None,
    },
    Case {
        query: "type=r%C3%A5n%20v%C3%A4pnat",
        keep: |e| e.categories[0] == "Rån väpnat",
        limit: None,
    },
    Case {
        query: "q=kumla",
        keep: |e| e.title.contains("Kumla"),
        limit: None,
    },
    Case {
        query: "q=%C3%A5gatan%20kumla",
        keep: |e| e.title.contains("Kumla") && e.summary.as_deref().unwrap().contains("Ågatan"),
        limit: None,
    },
    Case {
        query: "limit=5",
        keep: |_| true,
        limit: Some(5),
    },
    Case {
        query: "type=Trafikolycka&q=%C3%B6rebro&limit=3",
        keep: |e| e.categories[0].starts_with("Trafikolycka") && e.title.contains("Örebro"),
        limit: Some(3),
    },
    Case {
        query: "type=Finns%20inte",
        keep: |_| false,
        limit: None,
    },
];

#[test]
fn filtered_views_are_valid_atom_with_their_own_self_link_and_etag() {
    let s = Server::start(Limits::default(), vec![]);
    let all = entries(40);
    let path = "/feeds/orebro-lan.atom";
    let plain = s.get(path, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut etags = vec![plain.header("etag").unwrap().to_string()];
    for (i, case) in CASES.iter().enumerate() {
        let url = format!("{path}?{}", case.query);
        let r = s.get(&url, &[]);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("application/atom+xml; charset=utf-8")
        );
        let want: Vec<String> = all
            .iter()
            .filter(|e| (case.keep)(e))
            .take(case.limit.unwrap_or(usize::MAX))
            .map(|e| format!("tag:127.0.0.1,2026:item:{}", e.uid))
            .collect();
        assert_eq!(ids(&r.body), want, "{url}");
        let feed = feed_rs::parser::parse(&r.body[..]).unwrap();
        let self_link = feed
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("self"))
            .unwrap();
        assert_eq!(
            self_link.href,
            format!("{}{}", s.base.as_str().trim_end_matches('/'), url)
        );
        assert_eq!(
            feed.id,
            format!("tag:127.0.0.1,2026:feed:/feeds/orebro-lan?{}", case.query)
        );
        // Its own ETag, which conditional requests honour; the same bytes gzipped.
        let etag = r.header("etag").unwrap().to_string();
        assert!(!etags.contains(&etag), "{url} shares an etag");
        etags.push(etag.clone());
        assert_eq!(s.get(&url, &[("If-None-Match", &etag)]).status, 304);
        assert_eq!(
            s.get(&url, &[]).body,
            r.body,
            "{url}: cached view, same bytes"
        );
        let gz = s.get(&url, &[("Accept-Encoding", "gzip")]);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, r.body);
        let head = http(s.addr, "HEAD", &url, &[]);
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(head.header("etag"), Some(etag.as_str()));

        let f = dir.path().join(format!("{i}.atom"));
        std::fs::write(&f, &r.body).unwrap();
        files.push((
            format!("{}{}", s.base.as_str().trim_end_matches('/'), url),
            f,
        ));
    }
    assert_valid_atom(&files);

    // The same filters on the other formats: same items, self link / feed_url with the query.
    let rss = s.get("/feeds/orebro-lan.rss?type=Brand&type=Inbrott", &[]);
    let atom = s.get("/feeds/orebro-lan.atom?type=Brand&type=Inbrott", &[]);
    assert_eq!(ids(&rss.body), ids(&atom.body));
    assert!(rss.text().contains(&format!(
        "<atom:link href=\"{}feeds/orebro-lan.rss?type=Brand&amp;type=Inbrott\" rel=\"self\"",
        s.base
    )));
    let json: serde_json::Value =
        serde_json::from_slice(&s.get("/feeds/orebro-lan.json?limit=5", &[]).body).unwrap();
    assert_eq!(
        json["feed_url"],
        format!("{}feeds/orebro-lan.json?limit=5", s.base)
    );
    assert_eq!(json["items"].as_array().unwrap().len(), 5);
}

#[test]
fn filter_spellings_redirect_and_bad_filters_are_refused() {
    let s = Server::start(Limits::default(), vec![]);
    for (query, location) in [
        (
            "limit=5&type=Brand",
            "/feeds/orebro-lan.atom?type=Brand&limit=5",
        ),
        ("q=a+b", "/feeds/orebro-lan.atom?q=a%20b"),
        (
            "type=Brand&utm_source=x",
            "/feeds/orebro-lan.atom?type=Brand",
        ),
        ("q=%c3%a5", "/feeds/orebro-lan.atom?q=%C3%A5"),
    ] {
        let r = s.get(&format!("/feeds/orebro-lan.atom?{query}"), &[]);
        assert_eq!(
            (r.status, r.header("location")),
            (301, Some(location)),
            "{query}"
        );
    }
    for query in [
        "limit=0",
        "limit=x",
        "limit=5&limit=6",
        "q=",
        "type=",
        &"q=x".repeat(300),
    ] {
        let r = s.get(&format!("/feeds/orebro-lan.atom?{query}"), &[]);
        assert_eq!(r.status, 400, "{query}");
        assert!(r.text().starts_with("bad request: "), "{}", r.text());
    }
    // No filter parameter at all (a cache-buster): the plain feed. Pages ignore queries.
    let plain = s.get("/feeds/orebro-lan.atom", &[]);
    let busted = s.get("/feeds/orebro-lan.atom?_=123", &[]);
    assert_eq!((busted.status, &busted.body), (200, &plain.body));
    let page = s.get("/orebro-lan/?type=Brand", &[]);
    assert_eq!(
        (page.status, page.header("content-type")),
        (200, Some("text/html; charset=utf-8"))
    );
}

#[test]
fn views_follow_site_swaps() {
    let s = Server::start(Limits::default(), vec![]);
    let url = "/feeds/orebro-lan/kumla.atom?q=nyinflyttad";
    let before = s.get(url, &[]);
    assert_eq!(ids(&before.body).len(), 0);
    let mut all = entries(40);
    let mut fresh = all[0].clone();
    fresh.uid = "fresh".into();
    fresh.title = "Nyinflyttad älg i Kumla".into();
    fresh.updated += chrono::Duration::hours(1);
    all.insert(0, fresh);
    s.cache
        .replace(publish::build(&snapshot(&all), &s.base, None), Utc::now());
    let after = s.get(url, &[]);
    assert_eq!(ids(&after.body), ["tag:127.0.0.1,2026:item:fresh"]);
    assert_ne!(after.header("etag"), before.header("etag"));
}

/// Sends raw bytes on a fresh connection and returns what comes back until the server closes.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

#[test]
fn only_get_and_head_small_requests_and_known_paths() {
    let s = Server::start(Limits::default(), vec![]);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
        let r = http(s.addr, method, "/feeds/sverige.atom", &[]);
        assert_eq!(
            (r.status, r.header("allow")),
            (405, Some("GET, HEAD")),
            "{method}"
        );
    }
    // A GET that announces a body is refused before the body is read.
    let r = raw(
        s.addr,
        b"GET /feeds/sverige.atom HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
    );
    assert_eq!(status_of(&r), 413, "{r}");
    let r = raw(
        s.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(status_of(&r), 413, "{r}");
    // Traversal and odd paths are just unknown paths: nothing is read from disk.
    for path in [
        "/feeds/../Cargo.toml",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/feeds/..%2fCargo.toml",
        "/feeds/sverige.atom/..",
        "//etc/passwd",
        "/feeds\\..\\Cargo.toml",
        "/index.html%00.atom",
    ] {
        let r = raw(
            s.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let status = status_of(&r);
        assert!((400..500).contains(&status), "{path}: {status}");
        assert!(!r.contains("[package]") && !r.contains("root:"), "{path}");
    }
    // Oversized request heads are refused with 431 (or 414 for the URI) and the connection closed.
    let big = "a".repeat(20 * 1024);
    let r = raw(
        s.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status_of(&r), 431, "{r}");
    let r = raw(
        s.addr,
        format!("GET /{big} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    );
    assert!([414, 431].contains(&status_of(&r)), "{r}");
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = raw(
        s.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(status_of(&r), 431, "{r}");
    let r = raw(s.addr, b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(status_of(&r), 400, "{r}");
    // And the server still serves.
    assert_eq!(s.get("/feeds/sverige.atom", &[]).status, 200);
}

/// Whether the server has closed `c` (EOF or reset) within `wait`.
fn closed_within(c: &mut TcpStream, wait: Duration) -> bool {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn hundreds_of_idle_connections_do_not_delay_a_reader() {
    let s = Server::start(
        Limits {
            header_read_timeout: Duration::from_secs(3),
            ..Limits::default()
        },
        vec![],
    );
    // 300 connections that say nothing and 40 that stop in the middle of their headers.
    let mut idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(s.addr).unwrap())
        .collect();
    for _ in 0..40 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.write_all(b"GET /feeds/sverige.atom HTTP/1.1\r\nHost: x\r\nUser-Agent: slo")
            .unwrap();
        idle.push(c);
    }
    let r = s.get("/feeds/orebro-lan.atom", &[]);
    assert_eq!(r.status, 200);
    assert!(!ids(&r.body).is_empty());
    // Served while the idle connections were all still open: it did not wait for them to go.
    for c in idle.iter_mut().step_by(17) {
        assert!(
            !closed_within(c, Duration::from_millis(1)),
            "closed too early"
        );
    }
    // The header timeout then closes each of them.
    for c in idle.iter_mut() {
        assert!(
            closed_within(c, Duration::from_secs(15)),
            "idle connection never closed"
        );
    }
}

#[test]
fn connections_over_the_cap_get_503_and_room_comes_back() {
    let s = Server::start(
        Limits {
            max_connections: 4,
            ..Limits::default()
        },
        vec![],
    );
    // Four kept-alive connections, each known to be accepted (it was answered once).
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut c = TcpStream::connect(s.addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).ends_with("ok\n"));
            c
        })
        .collect();
    let r = raw(s.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status_of(&r), 503, "{r}");
    assert!(r.contains("retry-after: 1"));
    // One leaves; its place is free again once the server notices.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = raw(
            s.addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if status_of(&r) == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no room after a connection closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_that_stops_reading_is_dropped() {
    // A document far larger than the socket buffers, so the server's write blocks.
    let big = Document {
        path: "/big.txt".into(),
        content_type: "text/plain; charset=utf-8",
        body: "0123456789abcdef".repeat(1 << 20),
        feed: None,
    };
    let size = big.body.len();
    let s = Server::start(
        Limits {
            write_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        vec![big],
    );
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"GET /big.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(
        got.len() < size,
        "the server waited for the reader: {} of {size} bytes",
        got.len()
    );
    // Others were never affected.
    assert_eq!(s.get("/healthz", &[]).status, 200);
}

#[test]
fn shutdown_stops_accepting_and_returns() {
    let mut s = Server::start(Limits::default(), vec![]);
    let mut idle = TcpStream::connect(s.addr).unwrap();
    assert_eq!(s.get("/healthz", &[]).status, 200);
    s.stop.take().unwrap().send(()).unwrap();
    let result = s
        .done
        .recv_timeout(Duration::from_secs(10))
        .expect("serve returns after shutdown");
    assert!(result.is_ok(), "{result:?}");
    assert!(closed_within(&mut idle, Duration::from_secs(5)));
    assert!(TcpStream::connect(s.addr).is_err(), "still accepting");
}

#[test]
fn a_client_dripping_its_headers_is_cut_off_at_the_header_deadline() {
    let s = Server::start(
        Limits {
            header_read_timeout: Duration::from_secs(2),
            ..Limits::default()
        },
        vec![],
    );
    let mut c = TcpStream::connect(s.addr).unwrap();
    let started = Instant::now();
    let head = b"GET /feeds/sverige.atom HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
    // One byte every 250 ms: always making progress, never finishing.
    let mut closed = false;
    for b in head.iter() {
        if c.write_all(&[*b]).is_err() || closed_within(&mut c, Duration::from_millis(250)) {
            closed = true;
            break;
        }
    }
    let took = started.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "closed early, after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "closed late, after {took:?}");
    // A kept-alive client that asks again within the deadline is served each time.
    let mut k = TcpStream::connect(s.addr).unwrap();
    k.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..4 {
        k.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = k.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("ok\n"));
        std::thread::sleep(Duration::from_millis(900));
    }
}
