//! `cardinality-guard proxy`: the guard in front of any service's
//! `/metrics`, whatever its language.
//!
//! Each `GET /metrics` of the proxy fetches the upstream's exposition
//! ([`fetch`]: Prometheus or OpenMetrics text, negotiated as the audit
//! does), parses all of it ([`feed::check`]) and only then feeds it into a
//! [`PrometheusGuard`](cardinality_guard_core::PrometheusGuard) by deltas
//! ([`inputs`]), and answers the guard's render (its self-report included)
//! and the proxy's own lines ([`own_lines`]). An upstream that fails
//! (connection, status, `--timeout`, `--max-bytes`, a malformed line or
//! invalid UTF-8) gets a `503` with one line of reason, and nothing of it
//! is applied. Scrapes run one at a time. `/debug/cardinality` is the
//! library's report endpoint; `SIGHUP` reloads `--config`.

mod answer;
mod failure;
mod feed;
mod fetch;
mod inputs;
mod own_lines;
mod server;
mod sink;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cardinality_guard_core::config::parse_duration;

/// `cardinality-guard proxy --help`'s text above the flags.
pub(crate) const LONG_ABOUT: &str =
    "Serve a guarded copy of a service's /metrics, for Prometheus to \
scrape instead of the service (any language).

Each scrape of the proxy fetches the upstream (Prometheus or OpenMetrics text), parses all of it, \
and only then feeds it into the guard: what the guard.toml budgets admit keeps its names, kinds, \
help and labels; the rest folds into overflow series. Counters and histograms fold by deltas \
kept per input series, so totals are conserved and the proxy's series never reset (the proxy's \
own restart aside). An upstream failure (connection, status, --timeout, --max-bytes, a malformed \
line) answers 503 with one line of reason, applies nothing, and counts in \
cardinality_guard_proxy_upstream_failures_total.

An input series that vanishes keeps its last contribution; unseen for --staleness, its state is \
forgotten, and seen again it counts as new (its full value is added again). Beyond --max-inputs, \
samples of new input series are dropped and counted. Each tracked input costs a 40-byte entry \
in a hash map with its spare room (47 to 94 bytes in all; a histogram or summary 32 more, and a \
histogram 8 per bucket and 8; the self-report says how much: cardinality_guard_proxy_inputs_bytes).

At most 4 answers of /metrics are in memory at once: a client that asks and never reads holds \
one until --write-timeout closes its connection, and further scrapes wait their turn.

Routes: /metrics, /debug/cardinality (the guard's report: page, JSON, ?format=toml). SIGHUP \
reloads --config; SIGTERM or Ctrl-C stops.";

/// `cardinality-guard proxy`'s flags.
#[derive(clap::Args)]
pub(crate) struct ProxyArgs {
    /// The service's metrics URL (http:// or https://).
    #[arg(long)]
    upstream: String,
    /// The address to serve on, host and port (e.g. 0.0.0.0:9464 on every interface, 127.0.0.1:9464 locally; port 0 picks one). Prints "listening on ADDR" once bound.
    #[arg(long)]
    listen: String,
    /// The guard.toml (budgets, label limits, mode...); the embedded default without it. Reloaded on SIGHUP.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Give up on the upstream (connect, answer, body, parse) after this; the scrape answers 503.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Refuse an upstream body larger than this (bytes; KiB, MiB, GiB suffixes allowed); the scrape answers 503.
    #[arg(long, value_parser = crate::byte_size::parse_bytes, default_value = "256MiB")]
    max_bytes: u64,
    /// Track at most this many upstream input series; samples of new ones beyond it are dropped and counted.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_inputs: u64,
    /// Forget the state of an input series unseen for this long (seen again, it counts as new).
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    staleness: Duration,
    /// Close a connection whose client has not taken an answer this long after its first byte was written (a client that never reads).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    write_timeout: Duration,
    /// Close a connection whose request head is not complete this long after it started.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    header_read_timeout: Duration,
    /// Close a connection with no request under way after this.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    idle_timeout: Duration,
    /// Serve at most this many connections at once; more wait, unaccepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

/// Runs the proxy until `SIGTERM` or `Ctrl-C`: 0 then, 2 when it can't
/// start (a bad config, an address it can't bind).
pub(crate) fn run(args: &ProxyArgs) -> ExitCode {
    match server::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cardinality-guard proxy: {message}");
            ExitCode::from(2)
        }
    }
}
