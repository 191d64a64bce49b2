//! The command line: `audit`'s flags, and what it does with them (read,
//! watch, report or suggest, gate).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cardinality_guard_core::config::parse_duration;
use clap::{Parser, Subcommand, ValueEnum};

use crate::byte_size::parse_bytes;
use crate::growth::Growth;
use crate::read_error::ReadError;
use crate::report::{thousands, Audit};
use crate::source::{self, ReadOptions, Scrape, Source};
use crate::suggest::suggest;

#[derive(Parser)]
#[command(
    name = "cardinality-guard",
    version,
    about = "Audit the metric cardinality of any Prometheus endpoint, or guard it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Count the series of one exposition, per metric and label; watch its growth; suggest a guard.toml.
    Audit(AuditArgs),
    /// Serve a guarded copy of a service's /metrics: the same budgets as the library, totals conserved.
    #[command(long_about = crate::proxy::LONG_ABOUT)]
    Proxy(crate::proxy::ProxyArgs),
}

#[derive(clap::Args)]
struct AuditArgs {
    /// An http(s):// URL, a file, or `-` for stdin.
    source: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Scrape repeatedly for this long (e.g. 10m) and report growth per hour.
    #[arg(long, value_parser = parse_duration)]
    watch: Option<Duration>,
    /// Time between scrapes while watching.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    interval: Duration,
    /// Series budget per metric for the time-to-budget estimate (the embedded default max_series).
    #[arg(long, default_value_t = 2000)]
    budget: u64,
    /// Print a guard.toml for this service instead of the report (the suggestion engine of the guard's own report; for the proxy when the target does not run the guard).
    #[arg(long)]
    suggest: bool,
    /// Exit 1 if any metric family holds more series than this (the guard's own cardinality_guard_* families included).
    #[arg(long)]
    max_series: Option<u64>,
    /// Exit 1 if all metrics together hold more series than this (every line exported, the guard's self-report included).
    #[arg(long)]
    max_total: Option<u64>,
    /// Refuse a body larger than this (bytes; KiB, MiB, GiB suffixes allowed).
    #[arg(long, value_parser = parse_bytes, default_value = "256MiB")]
    max_bytes: u64,
    /// Refuse a line longer than this (bytes; KiB, MiB, GiB suffixes allowed).
    #[arg(long, value_parser = parse_bytes, default_value = "4MiB")]
    max_line_bytes: u64,
    /// Follow an HTTP redirect to another scheme, host or port (by default only the same ones).
    #[arg(long)]
    follow_redirects: bool,
    /// Give up reading and parsing one source (request included) after this.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

/// Runs `cardinality-guard` with `args` (the program name first, as
/// [`std::env::args_os`] gives them) and returns its exit status: 0 fine, 1 a
/// `--max-series` / `--max-total` gate exceeded, 2 unreadable or malformed
/// input or a usage error (`--help` and `--version` print and return 0).
/// `proxy` serves until `SIGTERM` or `Ctrl-C` (then 0), or returns 2 when
/// it can't start (a bad config, an address it can't bind).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Cli::try_parse_from(args) {
        Ok(cli) => match cli.command {
            Command::Audit(args) => args,
            Command::Proxy(args) => return crate::proxy::run(&args),
        },
        Err(usage) => {
            let _ = usage.print();
            return ExitCode::from(u8::try_from(usage.exit_code()).unwrap_or(2));
        }
    };
    match audit(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("cardinality-guard: {message}");
            ExitCode::from(2)
        }
    }
}

fn audit(args: &AuditArgs) -> Result<ExitCode, String> {
    let source = Source::parse(&args.source);
    let options = ReadOptions {
        max_bytes: args.max_bytes,
        max_line_bytes: args.max_line_bytes,
        timeout: args.timeout,
        track_series: args.watch.is_some(),
        follow_redirects: args.follow_redirects,
    };
    let read = |source: &Source| {
        source::read(source, &options).map_err(|e| match e {
            ReadError::Redirect { .. } => format!("{source}: {e} (--follow-redirects follows it)"),
            e => format!("{source}: {e}"),
        })
    };
    let first = read(&source)?;
    let (last, growth) = match args.watch {
        None => (first, None),
        Some(watch) => {
            if matches!(source, Source::Stdin) {
                return Err("--watch needs a URL or a file, not stdin".into());
            }
            let (last, growth) = watch_source(&source, first, watch, args.interval, &read);
            (last, Some(growth))
        }
    };
    let Scrape {
        inventory,
        format,
        bytes,
        url,
    } = last;
    let asked = source.to_string();
    let name = url.unwrap_or_else(|| asked.clone());
    let mut audit = Audit::new(
        &name,
        format,
        bytes,
        &inventory,
        growth.as_ref().map(|g| (g, args.budget)),
    );
    if name != asked {
        audit.redirected_from = Some(asked);
    }
    if args.suggest {
        print!("{}", suggest(&inventory, &name, growth.as_ref())?);
    } else {
        match args.format {
            OutputFormat::Text => print!("{}", audit.to_text()),
            OutputFormat::Json => println!("{}", audit.to_json()),
        }
    }
    Ok(gates(&audit, args))
}

/// The CI gates: exit 1 when exceeded. They count what the service
/// exports: the guard's self-report families are held to `--max-series`
/// too, and their lines count in `--max-total`.
fn gates(audit: &Audit, args: &AuditArgs) -> ExitCode {
    let mut exceeded = false;
    if let Some(max) = args.max_series {
        let own = audit.self_report.iter().flat_map(|s| &s.families);
        let families = audit
            .metrics
            .iter()
            .map(|m| (&m.name, m.series))
            .chain(own.map(|f| (&f.name, f.series)));
        for (name, series) in families.filter(|(_, series)| *series > max) {
            eprintln!(
                "cardinality-guard: {} holds {} series, more than --max-series {}",
                name,
                thousands(series),
                thousands(max)
            );
            exceeded = true;
        }
    }
    if let Some(max) = args.max_total {
        if audit.total_series > max {
            eprintln!(
                "cardinality-guard: {} series in all, more than --max-total {}",
                thousands(audit.total_series),
                thousands(max)
            );
            exceeded = true;
        }
    }
    if exceeded {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Scrapes every `interval` for `watch`; a failed scrape is reported and skipped.
fn watch_source(
    source: &Source,
    first: Scrape,
    watch: Duration,
    interval: Duration,
    read: &dyn Fn(&Source) -> Result<Scrape, String>,
) -> (Scrape, Growth) {
    let start = Instant::now();
    let mut growth = Growth::new(&first.inventory);
    let mut last = first;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(watch.as_secs().max(1));
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("watching {bar:30} {elapsed}/{duration} {msg}")
        {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let interval = interval.max(Duration::from_millis(10));
    loop {
        let elapsed = start.elapsed();
        if elapsed >= watch {
            break;
        }
        std::thread::sleep(interval.min(watch - elapsed));
        bar.set_position(start.elapsed().as_secs());
        match read(source) {
            Ok(scrape) => {
                growth.add(&scrape.inventory, start.elapsed());
                bar.set_message(format!(
                    "{} series, scrape {}",
                    thousands(scrape.inventory.total_series),
                    growth.scrapes()
                ));
                last = scrape;
            }
            Err(e) => bar.suspend(|| eprintln!("cardinality-guard: scrape skipped: {e}")),
        }
    }
    bar.finish_and_clear();
    (last, growth)
}
