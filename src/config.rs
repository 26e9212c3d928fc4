//! Reads the TOML config raw, then validates it into typed values with `FILE:LINE:COL` errors.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::regions::Regions;

/// The validated configuration of one daemon instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The main file, as given.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub fetch: FetchConfig,
    pub feeds: FeedsConfig,
    pub websub: WebSubConfig,
    /// `[log] level`: a tracing filter such as "info" or "regionfeed=debug"; RUST_LOG wins.
    pub log_level: Option<String>,
    /// Operator-added place names and their kommun codes, in file order.
    pub places: Vec<(String, String)>,
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Absolute base for URLs written into feeds; always ends with `/`.
    pub base_url: Url,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// SQLite file; relative paths are relative to the working directory.
    pub path: PathBuf,
    /// Items last updated longer ago than this are pruned.
    pub keep_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchConfig {
    pub user_agent: String,
    /// Limit for one whole request.
    pub timeout: Duration,
    /// Body cap in bytes, counted after decompression.
    pub max_body: u64,
    /// How many sources are fetched at the same time.
    pub concurrency: usize,
    /// Minimum gap between two requests to the same host, unless a host rule says otherwise.
    pub host_gap: Duration,
    /// Requests at the same time to one host, unless a host rule says otherwise.
    pub host_concurrency: usize,
    pub connect_timeout: Duration,
    /// Most items read from one fetch; the rest of a huge feed is ignored.
    pub max_items: usize,
    /// Cap in bytes on an item's summary and content; longer text is cut.
    pub max_item_size: usize,
    /// Longest wait between polls after repeated errors (and after long origin hints).
    pub backoff_cap: Duration,
    /// Per-host rules by host name, lowercase.
    pub hosts: BTreeMap<String, HostConfig>,
}

/// Operator rules for one host; unset fields fall back to the `[fetch]` defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostConfig {
    pub gap: Option<Duration>,
    pub concurrency: Option<usize>,
    pub per_hour: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedsConfig {
    /// Newest items per feed.
    pub entries: usize,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebSubConfig {
    /// Hub that feeds advertise (`rel="hub"`) and that is pinged when a feed changes.
    pub hub: Option<Url>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// Stable id: `[a-z0-9-]+`, unique.
    pub id: String,
    pub url: Url,
    /// Display name; the feed's own title is used when absent.
    pub name: Option<String>,
    /// Prior region: a län (2 digits) or a kommun (4 digits).
    pub region: Option<String>,
    pub interval: Duration,
    /// Whether an item naming no place gets the source's region.
    pub fallback: bool,
}

/// One problem found in a config file, located for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found, each printable as `FILE:LINE:COL: message`.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid(p) => p.iter().map(ToString::to_string).collect(),
        }
    }
}

const DEFAULT_USER_AGENT: &str = concat!(
    "regionfeed/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/regionfeed/regionfeed)"
);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// A shorter interval than this only burdens origins; news does not move that fast.
const MIN_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    websub: RawWebSub,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    hosts: BTreeMap<String, RawHost>,
    #[serde(default)]
    places: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
}

/// An included file holds only sources (and optionally places), so operators can edit it alone.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInclude {
    #[serde(default)]
    places: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    keep_days: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    user_agent: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    host_gap: Option<Spanned<String>>,
    host_concurrency: Option<Spanned<i64>>,
    connect_timeout: Option<Spanned<String>>,
    max_items: Option<Spanned<i64>>,
    max_item_size: Option<Spanned<String>>,
    backoff_cap: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHost {
    gap: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    per_hour: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFeeds {
    entries: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebSub {
    hub: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    url: Spanned<String>,
    name: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    fallback: Option<bool>,
}

/// Parses "30s", "5m", "1h", "2d", "500ms"; also "1h30m".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "bad duration {s:?}: expected e.g. \"30s\", \"5m\", \"1h\""
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("bad duration {s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86400)),
            _ => {
                return Err(format!("bad duration {s:?}: unit must be ms, s, m, h or d"));
            }
        };
        total += part;
    }
    Ok(total)
}

/// Parses "8MiB", "512KiB", "1GiB", "16MB", "1000" (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("bad size {s:?}: expected e.g. \"8MiB\""));
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("bad size {s:?}: number too large"))?;
    let mult: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => {
            return Err(format!(
                "bad size {s:?}: unit must be B, KiB, MiB, GiB, kB, MB or GB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("bad size {s:?}: too large"))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Collects problems for one file.
struct Reporter<'a> {
    file: &'a Path,
    text: &'a str,
    problems: &'a mut Vec<Problem>,
}

impl Reporter<'_> {
    fn at(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(self.text, span.start);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            col,
            message: message.into(),
        });
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let span = e.span().unwrap_or(0..0);
        // toml's messages may span lines; the contract is one line per problem.
        let msg = e.message().trim().replace('\n', " ");
        self.at(span, msg);
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl Config {
    /// Reads, parses and validates the config at `path` and every file it includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read(path)?;
        let mut problems = Vec::new();
        let raw: RawConfig = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                Reporter {
                    file: path,
                    text: &text,
                    problems: &mut problems,
                }
                .toml_error(&e);
                return Err(ConfigError::Invalid(problems));
            }
        };
        let mut v = Validator {
            regions: Regions::get_builtin(),
            problems,
            seen_ids: HashSet::new(),
            places: Vec::new(),
            sources: Vec::new(),
        };
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let config = v.main(path, &text, raw, base_dir);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(v.problems))
        }
    }
}

struct Validator {
    regions: &'static Regions,
    problems: Vec<Problem>,
    seen_ids: HashSet<String>,
    places: Vec<(String, String)>,
    sources: Vec<SourceConfig>,
}

impl Validator {
    fn rep<'a>(&'a mut self, file: &'a Path, text: &'a str) -> Reporter<'a> {
        Reporter {
            file,
            text,
            problems: &mut self.problems,
        }
    }

    fn main(&mut self, path: &Path, text: &str, raw: RawConfig, base_dir: &Path) -> Config {
        let listen = match &raw.server.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(l) => match l.get_ref().parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => {
                    self.rep(path, text).at(
                        l.span(),
                        format!("bad listen address {:?}: expected IP:PORT", l.get_ref()),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 8080))
                }
            },
        };
        let base_url = match &raw.server.base_url {
            None => Url::parse(&format!("http://{listen}/")).expect("socket address forms a URL"),
            Some(b) => match Url::parse(b.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                    with_trailing_slash(u)
                }
                _ => {
                    self.rep(path, text).at(
                        b.span(),
                        format!(
                            "bad base_url {:?}: expected an absolute http(s) URL",
                            b.get_ref()
                        ),
                    );
                    Url::parse("http://127.0.0.1:8080/").expect("constant URL")
                }
            },
        };
        let storage_path = raw.storage.path.as_ref().map_or_else(
            || PathBuf::from("var/regionfeed.db"),
            |p| PathBuf::from(p.get_ref()),
        );

        let user_agent = match &raw.fetch.user_agent {
            None => DEFAULT_USER_AGENT.to_string(),
            Some(ua) if ua.get_ref().trim().is_empty() => {
                // Polisen and many origins refuse clients without a User-Agent.
                self.rep(path, text)
                    .at(ua.span(), "user_agent must not be empty");
                DEFAULT_USER_AGENT.to_string()
            }
            Some(ua) => ua.get_ref().clone(),
        };
        let timeout = self
            .duration(path, text, raw.fetch.timeout.as_ref())
            .unwrap_or(Duration::from_secs(20));
        let host_gap = self
            .duration(path, text, raw.fetch.host_gap.as_ref())
            .unwrap_or(Duration::from_secs(1));
        let max_body = match &raw.fetch.max_body {
            None => 16 << 20,
            Some(s) => match parse_size(s.get_ref()) {
                Ok(0) => {
                    self.rep(path, text)
                        .at(s.span(), "max_body must be above 0");
                    16 << 20
                }
                Ok(n) => n,
                Err(m) => {
                    self.rep(path, text).at(s.span(), m);
                    16 << 20
                }
            },
        };
        let concurrency = self
            .positive(path, text, raw.fetch.concurrency.as_ref(), "concurrency")
            .unwrap_or(8);
        let host_concurrency = self
            .positive(
                path,
                text,
                raw.fetch.host_concurrency.as_ref(),
                "host_concurrency",
            )
            .unwrap_or(2);
        let connect_timeout = self
            .duration(path, text, raw.fetch.connect_timeout.as_ref())
            .unwrap_or(Duration::from_secs(10));
        let max_items = self
            .positive(path, text, raw.fetch.max_items.as_ref(), "max_items")
            .unwrap_or(1000);
        let max_item_size = match &raw.fetch.max_item_size {
            None => 256 << 10,
            Some(s) => match parse_size(s.get_ref()) {
                Ok(n) if n > 0 && n <= usize::MAX as u64 => n as usize,
                Ok(_) => {
                    self.rep(path, text)
                        .at(s.span(), "max_item_size must be above 0");
                    256 << 10
                }
                Err(m) => {
                    self.rep(path, text).at(s.span(), m);
                    256 << 10
                }
            },
        };
        let backoff_cap = self
            .duration(path, text, raw.fetch.backoff_cap.as_ref())
            .unwrap_or(Duration::from_secs(6 * 3600));
        let mut hosts = BTreeMap::new();
        for (name, h) in raw.hosts {
            let host = HostConfig {
                gap: self.duration(path, text, h.gap.as_ref()),
                concurrency: self.positive(path, text, h.concurrency.as_ref(), "concurrency"),
                per_hour: self
                    .positive(path, text, h.per_hour.as_ref(), "per_hour")
                    .map(|n| n.min(u32::MAX as usize) as u32),
            };
            hosts.insert(name.to_ascii_lowercase(), host);
        }
        let entries = self
            .positive(path, text, raw.feeds.entries.as_ref(), "entries")
            .unwrap_or(100);
        let keep_days = self
            .positive(path, text, raw.storage.keep_days.as_ref(), "keep_days")
            .map_or(90, |d| d.min(365 * 100) as u32);

        let hub = match &raw.websub.hub {
            None => None,
            Some(h) => match Url::parse(h.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                _ => {
                    self.rep(path, text).at(
                        h.span(),
                        format!(
                            "bad websub hub {:?}: expected an absolute http(s) URL",
                            h.get_ref()
                        ),
                    );
                    None
                }
            },
        };

        let log_level = match &raw.log.level {
            None => None,
            Some(l) if valid_log_filter(l.get_ref()) => Some(l.get_ref().clone()),
            Some(l) => {
                self.rep(path, text).at(
                    l.span(),
                    format!(
                        "bad log level {:?}: expected error, warn, info, debug, trace, off or target=level, comma-separated",
                        l.get_ref()
                    ),
                );
                None
            }
        };

        self.places(path, text, raw.places);
        self.sources(path, text, raw.sources);
        for inc in &raw.include {
            let inc_path = base_dir.join(inc.get_ref());
            match std::fs::read_to_string(&inc_path) {
                Err(e) => self.rep(path, text).at(
                    inc.span(),
                    format!("cannot read included file {}: {e}", inc_path.display()),
                ),
                Ok(inc_text) => match toml::from_str::<RawInclude>(&inc_text) {
                    Err(e) => self.rep(&inc_path, &inc_text).toml_error(&e),
                    Ok(r) => {
                        self.places(&inc_path, &inc_text, r.places);
                        self.sources(&inc_path, &inc_text, r.sources);
                    }
                },
            }
        }

        Config {
            path: path.to_path_buf(),
            server: ServerConfig { listen, base_url },
            storage: StorageConfig {
                path: storage_path,
                keep_days,
            },
            fetch: FetchConfig {
                user_agent,
                timeout,
                max_body,
                concurrency,
                host_gap,
                host_concurrency,
                connect_timeout,
                max_items,
                max_item_size,
                backoff_cap,
                hosts,
            },
            feeds: FeedsConfig { entries },
            websub: WebSubConfig { hub },
            log_level,
            places: std::mem::take(&mut self.places),
            sources: std::mem::take(&mut self.sources),
        }
    }

    fn duration(
        &mut self,
        file: &Path,
        text: &str,
        v: Option<&Spanned<String>>,
    ) -> Option<Duration> {
        let v = v?;
        match parse_duration(v.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.rep(file, text)
                    .at(v.span(), "duration must be above 0");
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                self.rep(file, text).at(v.span(), m);
                None
            }
        }
    }

    fn positive(
        &mut self,
        file: &Path,
        text: &str,
        v: Option<&Spanned<i64>>,
        name: &str,
    ) -> Option<usize> {
        let v = v?;
        match usize::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.rep(file, text)
                    .at(v.span(), format!("{name} must be a positive whole number"));
                None
            }
        }
    }

    fn places(&mut self, file: &Path, text: &str, places: BTreeMap<String, Spanned<String>>) {
        // BTreeMap loses file order; sort by position so the result is stable and readable.
        let mut places: Vec<_> = places.into_iter().collect();
        places.sort_by_key(|(_, v)| v.span().start);
        for (name, code) in places {
            // One kommun code, or several separated by spaces for a district that covers them all.
            let parts: Vec<&str> = code.get_ref().split_whitespace().collect();
            let ok = !parts.is_empty()
                && parts
                    .iter()
                    .all(|c| c.len() == 4 && self.regions.get(c).is_some_and(|r| r.lan.is_some()));
            if name.trim().is_empty() {
                self.rep(file, text)
                    .at(code.span(), "place name must not be empty");
            } else if !ok {
                self.rep(file, text).at(
                    code.span(),
                    format!(
                        "place {name:?}: {:?} is not a kommun code (4 digits, e.g. \"1881\", or several separated by spaces)",
                        code.get_ref()
                    ),
                );
            } else {
                let codes = parts.join(" ");
                self.places.push((name.trim().to_string(), codes));
            }
        }
    }

    fn sources(&mut self, file: &Path, text: &str, sources: Vec<Spanned<RawSource>>) {
        for s in sources {
            let s = s.into_inner();
            let id = s.id.get_ref();
            let id_ok = !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                self.rep(file, text).at(
                    s.id.span(),
                    format!("bad source id {id:?}: use only a-z, 0-9 and -"),
                );
                continue;
            }
            if !self.seen_ids.insert(id.clone()) {
                self.rep(file, text)
                    .at(s.id.span(), format!("duplicate source id {id:?}"));
                continue;
            }
            let url = match Url::parse(s.url.get_ref()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
                Ok(_) => {
                    self.rep(file, text).at(
                        s.url.span(),
                        format!(
                            "bad url {:?}: only http and https are polled",
                            s.url.get_ref()
                        ),
                    );
                    continue;
                }
                Err(e) => {
                    self.rep(file, text)
                        .at(s.url.span(), format!("bad url {:?}: {e}", s.url.get_ref()));
                    continue;
                }
            };
            let region = match &s.region {
                None => None,
                Some(r) if self.regions.get(r.get_ref()).is_some() => Some(r.get_ref().clone()),
                Some(r) => {
                    self.rep(file, text).at(
                        r.span(),
                        format!(
                            "unknown region code {:?}: expected a län (2 digits, e.g. \"18\") or a kommun (4 digits, e.g. \"1881\")",
                            r.get_ref()
                        ),
                    );
                    continue;
                }
            };
            let interval = match &s.interval {
                None => DEFAULT_INTERVAL,
                Some(i) => match parse_duration(i.get_ref()) {
                    Ok(d) if d < MIN_INTERVAL => {
                        self.rep(file, text).at(
                            i.span(),
                            format!("interval {:?} is below the minimum of 30s", i.get_ref()),
                        );
                        continue;
                    }
                    Ok(d) => d,
                    Err(m) => {
                        self.rep(file, text).at(i.span(), m);
                        continue;
                    }
                },
            };
            self.sources.push(SourceConfig {
                id: id.clone(),
                url,
                name: s.name.map(Spanned::into_inner),
                region,
                interval,
                fallback: s.fallback.unwrap_or(true),
            });
        }
    }
}

/// Whether `s` is a filter of plain levels and `target=level` directives (tracing's own parser
/// accepts almost anything as a target name, so a typo would silently log nothing).
fn valid_log_filter(s: &str) -> bool {
    let level = |l: &str| {
        matches!(
            l.trim().to_ascii_lowercase().as_str(),
            "error" | "warn" | "info" | "debug" | "trace" | "off"
        )
    };
    !s.trim().is_empty()
        && s.split(',').all(|d| match d.split_once('=') {
            None => level(d),
            Some((target, l)) => {
                !target.trim().is_empty()
                    && target
                        .trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    && level(l)
            }
        })
}

fn with_trailing_slash(mut u: Url) -> Url {
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("8 furlongs").is_err());
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("a\nbc\nd", 3), (2, 2));
        assert_eq!(line_col("å\nö", 3), (2, 1));
    }
}
