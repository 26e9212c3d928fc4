//! The `regionfeed` binary: parses arguments, sets up logging, calls the library, maps exit codes.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use regionfeed::app;
use regionfeed::config::{Config, ConfigError};
use regionfeed::pipeline::PollOutcome;
use regionfeed::regions::Regions;
use regionfeed::tag::Tagger;

/// Swedish police and local news, one Atom feed per län and kommun.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Config file [default: config/regionfeed.toml].
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: poll every source on its interval and serve the feeds over HTTP.
    Run,
    /// Poll sources and store their items.
    Poll {
        /// Poll every source once, then exit (the only mode for now: `run` polls on schedule).
        #[arg(long, required = true)]
        once: bool,
    },
    /// Write every feed, the OPML list and the HTML pages as static files under DIR.
    Render {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Show each source's last poll, error streak and next poll.
    Sources {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the reports that most recently joined another item's story, with the rule that matched, newest first: what to review when two stories were merged that should not be
    Stories {
        /// How many reports to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Copy the database consistently to FILE, also while `run` is writing to it.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Remove an item (or a whole story, given its first report) for good; ID is the entry's
    /// id from a feed (`tag:…:item:UID`) or its UID. It does not come back on the next poll.
    Forget {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// Validate the config: exit 0, or print each problem as FILE:LINE:COL: message and exit 2.
    Check,
    /// List every region with its SCB code, slug and feed path.
    Regions {
        #[arg(long)]
        json: bool,
    },
    /// Tag JSON lines {"id","title","text","region"} from stdin with kommun and län codes.
    Tag {
        /// Read and write JSON lines (the only format).
        #[arg(long, required = true)]
        jsonl: bool,
        /// Add the matched text and the rule behind each tag.
        #[arg(long)]
        explain: bool,
    },
    /// Decide for JSON lines {"id","a","b"} from stdin (each side {"title","text","published","regions"}, as in eval/dedup-pairs.jsonl) whether the two items tell one story, and by which rule or which check
    Match {
        /// Read and write JSON lines (the only format).
        #[arg(long, required = true)]
        jsonl: bool,
    },
}

/// Exit code for an invalid config, as `check` documents.
const EXIT_CONFIG: u8 = 2;

type LogHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Lets the config's `[log] level` replace the default filter once the config is read.
static LOG_FILTER: std::sync::OnceLock<LogHandle> = std::sync::OnceLock::new();

fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    let _ = LOG_FILTER.set(handle);
    // journald adds its own timestamps; colours only for a person at a terminal.
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .init();
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    let config = Config::load(path).map_err(|e| {
        for p in e.problems() {
            eprintln!("{p}");
        }
        ExitCode::from(EXIT_CONFIG)
    })?;
    // RUST_LOG, when set, wins over the config.
    if let (Some(level), None) = (&config.log_level, std::env::var_os("RUST_LOG"))
        && let (Some(h), Ok(f)) = (
            LOG_FILTER.get(),
            tracing_subscriber::EnvFilter::try_new(level),
        )
    {
        let _ = h.reload(f);
    }
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

const DEFAULT_CONFIG: &str = "config/regionfeed.toml";

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    let explicit_config = cli.config.is_some();
    let config_path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start async runtime")
    };
    match cli.command {
        Command::Check => match Config::load(&config_path) {
            Ok(c) => {
                println!(
                    "{}: ok ({} sources)",
                    config_path.display(),
                    c.sources.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e @ ConfigError::Read { .. }) | Err(e @ ConfigError::Invalid(_)) => {
                for p in e.problems() {
                    println!("{p}");
                }
                Ok(ExitCode::from(EXIT_CONFIG))
            }
        },
        Command::Run => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            runtime()?.block_on(async {
                let signals = app::Signals::unix().context("cannot install signal handlers")?;
                app::run(config, signals).await.map_err(anyhow::Error::from)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Poll { once: _ } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let reports = runtime()?.block_on(app::poll_once(config))?;
            let failed = reports
                .iter()
                .filter(|r| matches!(r.outcome, PollOutcome::Failed { .. }))
                .count();
            // The peak is logged so operators (and the memory test) see what a run cost.
            tracing::info!(
                sources = reports.len(),
                failed,
                peak_rss_kib = peak_rss_kib(),
                "poll finished"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { out } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let n = app::render_to(&config, &out)?;
            tracing::info!(files = n, out = %out.display(), "rendered");
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { out } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            app::backup(&config, &out)?;
            tracing::info!(out = %out.display(), "backup written");
            Ok(ExitCode::SUCCESS)
        }
        Command::Forget { id } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            match app::forget(&config, &id)? {
                0 => {
                    eprintln!("error: no item {id}");
                    Ok(ExitCode::FAILURE)
                }
                n => {
                    println!(
                        "forgot {n} item(s); restart or reload a running daemon to update its feeds"
                    );
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Sources { json } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rows = app::sources(&config)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<32} {:>6} {:>6} {:>4} {:<20} {:<20} {:<13} ERROR",
                    "ID", "STATUS", "ITEMS", "ERRS", "LAST FETCH", "NEXT POLL", "WHY"
                );
                for r in rows {
                    // A gone source is the one thing an operator must act on: say it first.
                    let mut note = String::new();
                    if r.gone {
                        note.push_str("GONE (410): change its url; ");
                    }
                    if let Some(to) = &r.permanent_redirect {
                        note.push_str(&format!("moved permanently to {to}; "));
                    }
                    note.push_str(r.last_error.as_deref().unwrap_or(""));
                    println!(
                        "{:<32} {:>6} {:>6} {:>4} {:<20} {:<20} {:<13} {}",
                        r.id,
                        r.last_status.map_or("-".into(), |s| s.to_string()),
                        r.items,
                        r.consecutive_errors,
                        r.last_fetch_at.as_deref().unwrap_or("-"),
                        r.next_poll_at.as_deref().unwrap_or("-"),
                        r.next_poll_reason.as_deref().unwrap_or("-"),
                        note.trim_end_matches("; "),
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stories { limit, json } => {
            let config = match load(&config_path) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let rows = app::stories(&config, limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<20} {:<14} {:<16} {:<40} JOINED STORY (SOURCE: TITLE)",
                    "PUBLISHED", "RULE", "SOURCE", "REPORT"
                );
                for r in rows {
                    println!(
                        "{:<20} {:<14} {:<16} {:<40} {}: {}",
                        r.report.published,
                        r.rule.as_deref().unwrap_or("-"),
                        r.report.source,
                        clip(&r.report.title, 40),
                        r.story.source,
                        r.story.title,
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Regions { json } => {
            let regions: Vec<_> = Regions::get_builtin().all().collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&regions)?);
            } else {
                for r in regions {
                    println!(
                        "{:<4} {:<7} {:<28} {}",
                        r.code,
                        format!("{:?}", r.kind).to_lowercase(),
                        r.name,
                        r.path
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Match { jsonl: _ } => {
            let stdin = std::io::stdin();
            let failed = app::match_jsonl(stdin.lock(), std::io::stdout().lock())?;
            Ok(if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Tag { jsonl: _, explain } => {
            // `[places]` come from the config only when one is named explicitly: tagging is
            // useful without any config at all.
            let places = if explicit_config {
                match load(&config_path) {
                    Ok(c) => c.places,
                    Err(code) => return Ok(code),
                }
            } else {
                Vec::new()
            };
            let tagger = Tagger::new(&places)?;
            let stdin = std::io::stdin();
            let failed = app::tag_jsonl(&tagger, stdin.lock(), std::io::stdout().lock(), explain)?;
            Ok(if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// At most `n` characters of `s`, an ellipsis marking a cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// The process's peak resident memory, from Linux's /proc (None elsewhere).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
