//! The CLI contracts: `check`, `regions`, `tag --jsonl`, `match --jsonl`, `sources`, `--help`.

use crate::support::{Env, regionfeed};

/// Runs `check` on a config whose `[[source]]` part is `sources` and compares what it prints.
fn check(sources: &str, expected: &[&str]) {
    let env = Env::new(sources);
    let out = env.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let file = env.config().display().to_string();
    if expected.is_empty() {
        assert!(out.status.success(), "expected ok, got {stdout}");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "check must exit 2: {stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), expected.len(), "problems: {stdout}");
    for (line, want) in lines.iter().zip(expected) {
        let want = format!("{file}:{want}");
        assert!(
            line.starts_with(&want),
            "got {line:?}, want a line starting {want:?}"
        );
    }
}

/// Line of the first `[[source]]` in the scratch config (see support::Env), so the cases below
/// can say where a problem is relative to their own text.
fn first_source_line() -> usize {
    let env = Env::new("[[source]]");
    let text = std::fs::read_to_string(env.config()).unwrap();
    text.lines().position(|l| l == "[[source]]").unwrap() + 1
}

#[test]
fn check_reports_file_line_col() {
    let ok = "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\nregion = \"1881\"\ninterval = \"5m\"\n";
    check(ok, &[]);
    let first = first_source_line();
    let cases: &[(&str, String)] = &[
        (
            "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\ncolour = \"red\"\n",
            format!("{}:1: unknown field `colour`", first + 3),
        ),
        (
            "[[source]]\nid = \"A b\"\nurl = \"https://example.org/feed\"\n",
            format!("{}:6: bad source id", first + 1),
        ),
        (
            "[[source]]\nid = \"a\"\nurl = \"ftp://example.org/feed\"\n",
            format!("{}:7: bad url", first + 2),
        ),
        (
            "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\nregion = \"99\"\n",
            format!("{}:10: unknown region code \"99\"", first + 3),
        ),
        (
            "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\ninterval = \"5 minutes\"\n",
            format!("{}:12: bad duration", first + 3),
        ),
        (
            // Text before any [[source]] continues the scratch config's [places] table.
            "\"Storby\" = \"0182 99\"\n",
            format!("{first}:12: place \"Storby\": \"0182 99\" is not a kommun code"),
        ),
    ];
    // A place may name several kommuner: an operator's own district.
    check("\"lokalpolisområde Nacka\" = \"0182  0192\"\n", &[]);
    for (sources, want) in cases {
        check(sources, &[want]);
    }
    // Several problems are all reported, each on its own line.
    check(
        "[[source]]\nid = \"a\"\nurl = \"https://example.org/feed\"\n\n[[source]]\nid = \"a\"\nurl = \"https://example.org/other\"\nregion = \"0000\"\n",
        &[&format!("{}:6: duplicate source id \"a\"", first + 5)],
    );
}

#[test]
fn check_reports_problems_in_included_files() {
    let env = Env::new("");
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(
        env.config(),
        format!("include = [\"sources.toml\"]\n{text}"),
    )
    .unwrap();
    let inc = env.dir.path().join("sources.toml");
    std::fs::write(&inc, "[[source]]\nid = \"ok\"\nurl = \"https://example.org/a\"\n\n[[source]]\nid = \"b\"\nurl = \"not a url\"\n").unwrap();
    let out = env.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.starts_with(&format!("{}:7:7: bad url", inc.display())),
        "{stdout}"
    );
}

#[test]
fn shipped_config_is_valid() {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/config/regionfeed.toml");
    let out = regionfeed(&["--config", cfg, "check"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (21 sources)"));
}

#[test]
fn regions_lists_every_lan_and_kommun() {
    let out = regionfeed(&["regions", "--json"], None);
    assert!(out.status.success());
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 21 + 290);
    let find = |code: &str| v.iter().find(|r| r["code"] == code).unwrap().clone();
    assert_eq!(
        find("1881"),
        serde_json::json!({"code": "1881", "name": "Kumla", "kind": "kommun", "lan": "18",
            "slug": "kumla", "path": "/feeds/orebro-lan/kumla.atom"})
    );
    assert_eq!(
        find("14"),
        serde_json::json!({"code": "14", "name": "Västra Götalands län", "kind": "lan", "lan": null,
            "slug": "vastra-gotalands-lan", "path": "/feeds/vastra-gotalands-lan.atom"})
    );
    assert_eq!(find("0114")["slug"], "upplands-vasby");
    assert_eq!(
        find("2023")["path"],
        "/feeds/dalarnas-lan/malung-salen.atom"
    );
    let text = regionfeed(&["regions"], None);
    assert_eq!(String::from_utf8_lossy(&text.stdout).lines().count(), 311);
}

/// `match --jsonl` reads the labelled pairs as they are and gives, for each in order, the
/// library's decision with its reason; a bad line gets an error line and exit code 1.
#[test]
fn match_jsonl_gives_the_decision_and_its_reason() {
    use regionfeed::dedup::{StoryItem, same_story};
    let pairs = include_str!("../../eval/dedup-report.jsonl");
    let input = format!(
        "{pairs}not json\n{{\"id\": 1, \"a\": {{\"published\": \"yesterday\"}}, \"b\": {{\"published\": \"2026-01-01T00:00:00Z\"}}}}\n"
    );
    let out = regionfeed(&["match", "--jsonl"], Some(input.as_bytes()));
    assert_eq!(out.status.code(), Some(1), "bad lines make the exit code 1");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let given: Vec<serde_json::Value> = pairs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), given.len() + 2);
    let rules = [
        "event-stamp",
        "event-report",
        "copied-text",
        "condensed-copy",
        "named-rewrite",
        "same-facts",
        "same-event",
        "own-account",
    ];
    let refusals = [
        "too-short",
        "too-far-apart",
        "places-differ",
        "other-event",
        "headlines-differ",
        "numbers-differ",
        "names-differ",
        "title-kommuner-differ",
        "places-diverge",
        "same-source",
        "facts-differ",
        "too-little-shared",
    ];
    let (mut seen_rules, mut seen_refusals) = (Vec::new(), Vec::new());
    for (got, pair) in lines.iter().zip(&given) {
        assert_eq!(got["id"], pair["id"], "in input order");
        let side = |s: &str| {
            let v = &pair[s];
            (
                v["title"].as_str().unwrap().to_string(),
                v["text"].as_str().unwrap().to_string(),
                v["published"].as_str().unwrap().parse().unwrap(),
                serde_json::from_value::<Vec<String>>(v["regions"].clone()).unwrap(),
            )
        };
        let ((ta, xa, pa, ra), (tb, xb, pb, rb)) = (side("a"), side("b"));
        let item = |t, x, p, r| StoryItem {
            title: t,
            text: x,
            published: p,
            regions: r,
        };
        let same = same_story(&item(&ta, &xa, pa, &ra), &item(&tb, &xb, pb, &rb));
        assert_eq!(got["same"], same, "{got}");
        if same {
            let rule = got["rule"].as_str().unwrap();
            assert!(rules.contains(&rule), "{got}");
            assert!(
                got["score"].as_f64().is_some_and(|s| s > 0.0 && s <= 1.0),
                "{got}"
            );
            seen_rules.push(rule.to_string());
        } else {
            let refusal = got["refused"].as_str().unwrap();
            assert!(refusals.contains(&refusal), "{got}");
            seen_refusals.push(refusal.to_string());
        }
    }
    // The held-out pairs exercise most of the rules and checks, not one catch-all.
    seen_rules.sort();
    seen_rules.dedup();
    seen_refusals.sort();
    seen_refusals.dedup();
    assert!(seen_rules.len() >= 5, "{seen_rules:?}");
    assert!(seen_refusals.len() >= 6, "{seen_refusals:?}");
    let n = given.len();
    assert_eq!(lines[n]["line"], n + 1);
    assert!(lines[n]["error"].as_str().unwrap().contains("expected"));
    assert!(
        lines[n + 1]["error"]
            .as_str()
            .unwrap()
            .contains("yesterday")
    );
}

#[test]
fn tag_jsonl_keeps_order_and_reports_bad_lines() {
    let input = concat!(
        r#"{"id": "a", "title": "09 februari 21:04, Rån väpnat, Sölvesborg", "text": "Centralt.", "region": "10"}"#,
        "\n",
        "this is not json\n",
        r#"{"id": 7, "title": "Regeringen går vidare med förslaget", "text": "", "region": null}"#,
        "\n",
        r#"{"id": "c", "title": "Ny lekplats på gång i Snavlunda", "text": ""}"#,
        "\n",
    );
    let out = regionfeed(&["tag", "--jsonl"], Some(input.as_bytes()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit code 1"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[0],
        serde_json::json!({"id": "a", "kommuner": ["1083"], "lan": ["10"]})
    );
    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"].as_str().unwrap().contains("expected"));
    assert_eq!(
        lines[2],
        serde_json::json!({"id": 7, "kommuner": [], "lan": []})
    );
    // Without --config, operator places are unknown: Snavlunda is only in the test config.
    assert_eq!(lines[3]["id"], "c");

    let env = Env::new("");
    let out = env.run(&["tag", "--jsonl", "--explain"]);
    assert!(out.status.success(), "empty input is fine");
    let input = r#"{"id": "c", "title": "Ny lekplats på gång i Snavlunda", "text": ""}"#;
    let cfg = env.config();
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "tag",
        "--jsonl",
        "--explain",
    ];
    let out = regionfeed(&args, Some(input.as_bytes()));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["kommuner"],
        serde_json::json!(["1882"]),
        "[places] from --config: {v}"
    );
    assert_eq!(v["lan"], serde_json::json!(["18"]));
    let ev = v["evidence"].as_array().expect("--explain adds evidence");
    assert!(
        ev.iter()
            .any(|e| e["code"] == "1882" && e["matched"] == "Snavlunda"),
        "{v}"
    );
}

#[test]
fn every_command_has_help() {
    for cmd in [
        "run", "poll", "render", "sources", "check", "regions", "tag",
    ] {
        let out = regionfeed(&[cmd, "--help"], None);
        assert!(out.status.success(), "{cmd} --help");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: regionfeed"));
    }
}

#[test]
fn sources_lists_configured_sources_before_any_poll() {
    let env = Env::new(
        "[[source]]\nid = \"b-second\"\nurl = \"http://127.0.0.1:9/b\"\n\n[[source]]\nid = \"a-first\"\nurl = \"http://127.0.0.1:9/a\"\n",
    );
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["sources", "--json"])).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], "b-second", "config order");
    for key in ["last_fetch_at", "last_status", "last_error", "next_poll_at"] {
        assert!(
            rows[0][key].is_null(),
            "{key} is null before the first poll"
        );
    }
    assert_eq!(rows[0]["consecutive_errors"], 0);
    assert_eq!(rows[0]["items"], 0);
    assert_eq!(rows[0]["url"], "http://127.0.0.1:9/b");
}

#[test]
fn tag_jsonl_on_the_labelled_dev_examples() {
    // The shared dev examples (copied into the repo): labels stripped on the way in, as the
    // project's scorer does, and compared with what comes out, line by line and in order.
    let path = crate::support::fixture("tag/tagging-dev.jsonl");
    let gold: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(gold.len() >= 25);
    let input: String = gold
        .iter()
        .map(|g| {
            serde_json::json!({"id": g["id"], "title": g["title"], "text": g["text"], "region": g["region"]})
                .to_string()
                + "\n"
        })
        .collect();
    let out = regionfeed(&["tag", "--jsonl"], Some(input.as_bytes()));
    assert!(out.status.success());
    let got: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), gold.len());
    for (g, o) in gold.iter().zip(&got) {
        assert_eq!(o["id"], g["id"], "output keeps input order");
        let mut want_k: Vec<String> = serde_json::from_value(g["kommuner"].clone()).unwrap();
        let mut want_l: Vec<String> = serde_json::from_value(g["lan"].clone()).unwrap();
        want_k.sort();
        want_l.sort();
        assert_eq!(
            o["kommuner"],
            serde_json::json!(want_k),
            "{}: {}",
            g["id"],
            g["title"]
        );
        assert_eq!(
            o["lan"],
            serde_json::json!(want_l),
            "{}: {}",
            g["id"],
            g["title"]
        );
    }
}

#[test]
fn log_level_comes_from_the_config_unless_rust_log_is_set() {
    let env = Env::new("");
    let text = std::fs::read_to_string(env.config()).unwrap();
    std::fs::write(env.config(), format!("[log]\nlevel = \"warn\"\n\n{text}")).unwrap();
    let run = |rust_log: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_regionfeed"));
        cmd.args(["--config", env.config().to_str().unwrap(), "poll", "--once"]);
        cmd.env_remove("RUST_LOG");
        if let Some(l) = rust_log {
            cmd.env("RUST_LOG", l);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        !run(None).contains("poll finished"),
        "warn hides info lines"
    );
    assert!(run(Some("info")).contains("poll finished"), "RUST_LOG wins");
    std::fs::write(env.config(), format!("[log]\nlevel = \"loud!!\"\n\n{text}")).unwrap();
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(":2:9: bad log level"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
