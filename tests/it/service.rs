//! regionfeed as a service: sd_notify over a real socket, SIGHUP reload, signals, kill -9,
//! a full disk, online backup, and the systemd unit checked by systemd-analyze.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Daemon, Env, Origin, Route, http};

fn rss(items: &[(&str, &str)]) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Lokalt</title><link>https://lokal.example/</link>"#,
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid>https://lokal.example/{guid}</guid><link>https://lokal.example/{guid}</link><title>{title}</title><description>{title}.</description><pubDate>Mon, 16 Nov 2026 08:00:00 +0100</pubDate></item>"
        ));
    }
    s + "</channel></rss>"
}

/// The origin's answer: an RSS feed of these (guid, title) items.
fn rss_route(items: &[(&str, &str)]) -> Route {
    Route::new(200, "application/rss+xml", rss(items))
}

fn source(origin: &Origin, id: &str, path: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nurl = \"{}\"\nregion = \"18\"\ninterval = \"1h\"\n\n",
        origin.url(path)
    )
}

/// Waits until `cond` holds, up to `secs`; panics with the daemon's log otherwise.
fn eventually(d: &Daemon, secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "never: {what}\nlog:\n{}",
            d.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn national(d: &Daemon) -> String {
    http(d.addr, "GET", "/feeds/sverige.atom", &[]).text()
}

/// Reads sd_notify datagrams until one contains `want` (or `secs` pass); returns all seen.
fn expect_notify(sock: &UnixDatagram, want: &str, secs: u64, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let hit = msg.lines().any(|l| l == want);
            seen.push(msg);
            if hit {
                return;
            }
        }
    }
    panic!("no {want} from the daemon; got {seen:?}");
}

#[test]
fn sd_notify_ready_watchdog_reload_stopping() {
    let origin = Origin::start();
    origin.route("/a", rss_route(&[("a1", "Nytt i Kumla")]));
    let env = Env::new(&source(&origin, "a", "/a"));
    let sock_path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let d = Daemon::start_with(
        &env,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
        &[],
    );
    let mut seen = Vec::new();
    expect_notify(&sock, "READY=1", 10, &mut seen);
    let mut first = seen.clone();
    assert!(seen.iter().any(|m| m.contains("STATUS=")), "{seen:?}");
    // Half of WATCHDOG_USEC: at least one ping within 2 s, from the scheduler's loop.
    seen.clear();
    expect_notify(&sock, "WATCHDOG=1", 3, &mut seen);
    first.extend(seen.iter().cloned());
    let mut all = first;
    eventually(&d, 10, "the status line counts the source", || {
        let mut buf = [0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf) {
            all.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        all.iter()
            .any(|m| m.contains("STATUS=1 sources: 1 ok, 0 failing; 1 items stored"))
    });
    d.signal("HUP");
    seen.clear();
    expect_notify(&sock, "RELOADING=1", 5, &mut seen);
    assert!(
        seen.iter().any(|m| m.contains("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    expect_notify(&sock, "READY=1", 5, &mut seen);
    d.signal("TERM");
    seen.clear();
    expect_notify(&sock, "STOPPING=1", 5, &mut seen);
    let (status, _) = d.wait(10);
    assert!(status.success());
}

#[test]
fn sighup_applies_a_valid_config_and_refuses_an_invalid_one() {
    let origin = Origin::start();
    origin.route("/a", rss_route(&[("a1", "Nytt bibliotek i Kumla")]));
    origin.route("/b", rss_route(&[("b1", "Ny skola byggs i Testby")]));
    let env = Env::new(&source(&origin, "a", "/a"));
    let d = Daemon::start(&env);
    eventually(&d, 15, "source a polled", || {
        national(&d).contains("Nytt bibliotek i Kumla")
    });

    // Add a source and a place: the new source is polled at once and the place applies.
    let text = std::fs::read_to_string(env.config()).unwrap();
    let text =
        text.replace("[places]\n", "[places]\nTestby = \"1881\"\n") + &source(&origin, "b", "/b");
    std::fs::write(env.config(), &text).unwrap();
    d.signal("HUP");
    eventually(&d, 15, "source b polled after reload", || {
        http(d.addr, "GET", "/feeds/orebro-lan/kumla.atom", &[])
            .text()
            .contains("Ny skola byggs i Testby")
    });

    // A broken config is refused with its location; the old one keeps running.
    std::fs::write(
        env.config(),
        text.replace("[places]\n", "[places]\ncolour = 7\n"),
    )
    .unwrap();
    d.signal("HUP");
    let file = env.config().display().to_string();
    eventually(&d, 10, "the refusal is logged with FILE:LINE:COL", || {
        let log = d.log.lock().unwrap();
        log.lines()
            .any(|l| l.contains("reload refused") && l.contains(&format!("{file}:")))
    });
    assert_eq!(http(d.addr, "GET", "/healthz", &[]).status, 200);
    assert!(national(&d).contains("Ny skola byggs i Testby"));

    // Remove a source: it is no longer polled or listed.
    std::fs::write(env.config(), text.replace(&source(&origin, "a", "/a"), "")).unwrap();
    d.signal("HUP");
    eventually(&d, 10, "reload applied", || {
        d.log.lock().unwrap().matches("config reloaded").count() >= 2
    });
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], "b");
    d.signal("INT");
    let (status, _) = d.wait(10);
    assert!(status.success(), "SIGINT exits 0 too");
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn round_items(round: usize) -> Vec<(String, String)> {
    (0..1500)
        .map(|i| {
            (
                format!("r{round}n{i}"),
                format!("Nyhet {i} i omgång {round} från Kumla"),
            )
        })
        .collect()
}

fn serve_items(origin: &Origin, items: &[(String, String)]) {
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    origin.route("/big", Route::new(200, "application/rss+xml", rss(&refs)));
}

#[test]
fn kill_9_during_ingestion_loses_nothing_committed() {
    let origin = Origin::start();
    let env = Env::new(&source(&origin, "big", "/big"));
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        text.replace("host_gap = ", "max_items = 20000\nhost_gap = "),
    )
    .unwrap();
    let mut committed = 0;
    for (round, delay_ms) in [40u64, 150, 300, 80, 500, 220].into_iter().enumerate() {
        // Each round brings new items and is due at once, so each kill can land mid-ingestion.
        serve_items(&origin, &round_items(round));
        if env.db().exists() {
            let conn = rusqlite::Connection::open(env.db()).unwrap();
            conn.execute("UPDATE sources SET next_poll_at = NULL", [])
                .unwrap();
        }
        let mut d = Daemon::start(&env);
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.child.kill().unwrap(); // SIGKILL
        d.child.wait().unwrap();
        // Whatever the moment: a sound file, all or nothing of a poll, no half-written item.
        let conn = rusqlite::Connection::open(env.db()).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok", "round {round}");
        let this = count(
            &env.db(),
            &format!("SELECT COUNT(*) FROM items WHERE link LIKE '%/r{round}n%'"),
        );
        assert!(
            this == 0 || this == 1500,
            "round {round}: {this} items; a poll is one transaction"
        );
        committed += this;
        assert_eq!(
            count(&env.db(), "SELECT COUNT(*) FROM items"),
            committed,
            "round {round}"
        );
        let orphans = count(
            &env.db(),
            "SELECT COUNT(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM item_sources s WHERE s.item_id = i.id) OR NOT EXISTS (SELECT 1 FROM item_regions r WHERE r.item_id = i.id)",
        );
        assert_eq!(orphans, 0, "round {round}: half-written items");
    }
    // After a restart polling and serving continue, and the database matches the origin.
    let all: Vec<(String, String)> = (0..6).flat_map(round_items).collect();
    serve_items(&origin, &all);
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute("UPDATE sources SET next_poll_at = NULL", [])
        .unwrap();
    drop(conn);
    let d = Daemon::start(&env);
    eventually(&d, 60, "all items stored", || {
        count(&env.db(), "SELECT COUNT(*) FROM items") == 9000
    });
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let mut stmt = conn.prepare("SELECT link FROM items").unwrap();
    let mut stored: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    stored.sort();
    let mut served: Vec<String> = all
        .iter()
        .map(|(g, _)| format!("https://lokal.example/{g}"))
        .collect();
    served.sort();
    assert_eq!(stored, served);
    eventually(&d, 15, "served", || {
        national(&d).matches("<entry").count() == 100
    });
}

#[test]
fn a_full_disk_keeps_serving_and_recovers() {
    let origin = Origin::start();
    origin.route("/small", rss_route(&[("s1", "Liten nyhet i Kumla")]));
    let env = Env::new(&source(&origin, "small", "/small"));
    // First run: the database exists with one item.
    {
        let d = Daemon::start(&env);
        eventually(&d, 15, "first item", || {
            national(&d).contains("Liten nyhet i Kumla")
        });
        d.signal("TERM");
        assert!(d.wait(10).0.success());
    }
    let big: Vec<(String, String)> = (0..1000)
        .map(|i| {
            (
                format!("b{i}"),
                format!("Lång nyhet {i} om vägbygget i Kumla med mycket text"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = big.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    origin.route("/small", Route::new(200, "application/rss+xml", rss(&refs)));
    // Due at once on the next start.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute("UPDATE sources SET next_poll_at = NULL", [])
        .unwrap();
    drop(conn);
    let db_size = std::fs::metadata(env.db()).unwrap().len();
    // No file may grow past the database's size now: every write of the big feed fails with
    // EFBIG, as on a full disk. SIGXFSZ is ignored (as a shell's trap does) so the write fails
    // instead of killing the process.
    // Only the soft limit: raising it again later needs no privilege (a container's root may
    // lack CAP_SYS_RESOURCE).
    let fsize = format!("--fsize={}:unlimited", db_size + 64 * 1024);
    let wrapper = [
        "sh",
        "-c",
        "trap '' XFSZ; exec \"$@\"",
        "sh",
        "prlimit",
        fsize.as_str(),
        "--",
    ];
    let d = Daemon::start_with(&env, &[], &wrapper);
    eventually(&d, 20, "healthz reports the database", || {
        let r = http(d.addr, "GET", "/healthz", &[]);
        r.status == 503 && r.text().contains("database not writable")
    });
    // Still serving what it had.
    let feed = national(&d);
    assert!(feed.contains("Liten nyhet i Kumla"));
    std::thread::sleep(Duration::from_secs(3));
    let log = d.log.lock().unwrap().clone();
    assert_eq!(
        log.matches("database write failed").count(),
        1,
        "logged once:\n{log}"
    );

    // Space returns: it recovers by itself.
    let ok = Command::new("prlimit")
        .args([
            "--pid",
            &d.child.id().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    eventually(&d, 60, "recovered", || {
        http(d.addr, "GET", "/healthz", &[]).status == 200
            && count(&env.db(), "SELECT COUNT(*) FROM items") == 1001
    });
    assert!(
        d.log
            .lock()
            .unwrap()
            .contains("database takes writes again")
    );
}

#[test]
fn backup_is_consistent_while_running() {
    let origin = Origin::start();
    let items: Vec<(String, String)> = (0..200)
        .map(|i| (format!("k{i}"), format!("Kumla nyhet {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    origin.route("/k", Route::new(200, "application/rss+xml", rss(&refs)));
    let env = Env::new(&source(&origin, "k", "/k"));
    let d = Daemon::start(&env);
    eventually(&d, 20, "items stored", || {
        count(&env.db(), "SELECT COUNT(*) FROM items") == 200
    });
    let out = env.dir.path().join("backup.db");
    env.ok(&["backup", "--out", out.to_str().unwrap()]);
    let conn = rusqlite::Connection::open(&out).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(count(&out, "SELECT COUNT(*) FROM items"), 200);
    assert_eq!(
        http(d.addr, "GET", "/healthz", &[]).status,
        200,
        "the daemon kept running"
    );
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/regionfeed.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    // verify checks that ExecStart's binary exists: point it at the one under test.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("regionfeed.service");
    std::fs::write(
        &local,
        text.replace(
            "/usr/local/bin/regionfeed",
            env!("CARGO_BIN_EXE_regionfeed"),
        ),
    )
    .unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&local)
        .output()
        .expect("systemd-analyze (Debian's systemd package; .ci/run installs it)");
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && !stderr.contains("regionfeed.service"),
        "verify: {stderr}"
    );

    let sec = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&sec.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{out}"));
    let level: f64 = line
        .split(':')
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(level <= 2.0, "{line}");
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "DynamicUser=yes",
        "StateDirectory=",
        "ConfigurationDirectory=",
        "ExecReload=",
    ] {
        assert!(text.contains(key), "unit lacks {key}");
    }
}

#[test]
fn metrics_count_polls_items_requests_and_the_database() {
    let origin = Origin::start();
    origin.route("/a", rss_route(&[("a1", "Nytt bibliotek i Kumla")]));
    origin.route("/broken", Route::new(500, "text/plain", "boom"));
    let env = Env::new(
        &[
            source(&origin, "a", "/a"),
            source(&origin, "broken", "/broken"),
        ]
        .concat(),
    );
    let d = Daemon::start(&env);
    eventually(&d, 15, "polled", || {
        national(&d).contains("Nytt bibliotek i Kumla")
    });
    for _ in 0..3 {
        assert_eq!(
            http(d.addr, "GET", "/feeds/orebro-lan/kumla.atom", &[]).status,
            200
        );
    }
    http(d.addr, "GET", "/no/such/feed", &[]);
    let r = http(d.addr, "GET", "/metrics", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(value("regionfeed_polls_total{source=\"a\"}"), 1.0);
    assert_eq!(value("regionfeed_poll_errors_total{source=\"a\"}"), 0.0);
    assert_eq!(
        value("regionfeed_poll_errors_total{source=\"broken\"}"),
        1.0
    );
    assert_eq!(value("regionfeed_fetch_duration_seconds_count"), 2.0);
    assert_eq!(
        value("regionfeed_fetch_duration_seconds_bucket{le=\"+Inf\"}"),
        2.0
    );
    assert_eq!(value("regionfeed_items"), 1.0);
    assert_eq!(value("regionfeed_region_items{region=\"1881\"}"), 1.0);
    assert!(value("regionfeed_http_requests_total{status=\"200\"}") >= 3.0);
    assert_eq!(value("regionfeed_http_requests_total{status=\"404\"}"), 1.0);
    assert!(value("regionfeed_http_response_bytes_total") > 1000.0);
    assert!(value("regionfeed_database_bytes") > 4096.0);
    // Every family is declared before its samples, as the text format requires.
    for name in [
        "regionfeed_polls_total",
        "regionfeed_fetch_duration_seconds",
        "regionfeed_items",
        "regionfeed_database_bytes",
    ] {
        let ty = text
            .find(&format!("# TYPE {name} "))
            .unwrap_or_else(|| panic!("no TYPE for {name}"));
        let first = text.lines().position(|l| l.starts_with(name)).unwrap();
        assert!(text[..ty].lines().count() <= first, "{name}");
    }
}

#[test]
fn a_shorter_interval_applies_at_reload() {
    let origin = Origin::start();
    origin.route("/a", rss_route(&[("a1", "Nytt i Kumla")]));
    let env = Env::new(&source(&origin, "a", "/a"));
    let d = Daemon::start(&env);
    eventually(&d, 15, "polled", || national(&d).contains("Nytt i Kumla"));
    let next = || -> i64 {
        let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
        let at =
            chrono::DateTime::parse_from_rfc3339(v[0]["next_poll_at"].as_str().unwrap()).unwrap();
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
    };
    assert!(next() > 3000, "an hour away");
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        text.replace("interval = \"1h\"", "interval = \"30s\""),
    )
    .unwrap();
    d.signal("HUP");
    eventually(&d, 10, "the next poll moves to the new interval", || {
        next() <= 30
    });
}
