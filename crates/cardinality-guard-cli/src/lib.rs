//! `cardinality-guard audit`: reads one Prometheus or OpenMetrics text
//! exposition and tells what each metric family costs in series, which label
//! makes it so, how fast it grows, and which `guard.toml` would cap it.
//!
//! This library is the `cardinality-guard` binary ([`run`]) and, for tools
//! and tests, the audit of one exposition in memory ([`audit_text`]), the
//! very [`Audit`] that `cardinality-guard audit FILE --format json` prints:
//!
//! ```
//! use cardinality_guard_cli::audit_text;
//! use cardinality_guard_core::text::Format;
//!
//! let text = "# TYPE logins_total counter\n\
//!             logins_total{user=\"ann\"} 1\n\
//!             logins_total{user=\"bob\"} 2\n";
//! let audit = audit_text("example", text, Format::Prometheus)?;
//! assert_eq!(audit.total_series, 2);
//! assert_eq!(audit.metrics[0].labels[0].name, "user");
//! assert_eq!(audit.metrics[0].labels[0].values, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A target that runs the guard ("guarded": it exports the guard's
//! self-report) is read for what it is: the `cardinality_guard_*` families
//! are summed up apart ([`Audit::self_report`]), the overflow series and
//! `__overflow__` values are folds, not values, and the running budgets and
//! label limits are kept. [`suggest_text`] is `--suggest`: the core's one
//! suggestion engine, the guard's own report's, for what the scrape shows.
//!
//! The parser is core's ([`cardinality_guard_core::text::Parser`]): strict,
//! streaming and linear in its input, so memory follows the number of
//! distinct series, not the size of the body. Every input is bounded: the
//! body (`--max-bytes`, 256 MiB by default), each line (`--max-line-bytes`,
//! 4 MiB: memory never follows a longer line), and the time to read and
//! parse it (`--timeout`, 30 s). An error quotes at most 300 bytes of a
//! malformed line.
//!
//! `cardinality-guard proxy --upstream URL --listen ADDR [--config
//! guard.toml]` is the guard for a service in any language: Prometheus
//! scrapes the proxy, which fetches the service's exposition, feeds it into
//! the library's guard (the same `guard.toml`, budgets, folding,
//! self-report and `/debug/cardinality` report) by deltas kept per input
//! series, so counters and histograms keep their totals and never reset,
//! and answers the guard's exposition. `cardinality-guard proxy --help`
//! says the rest: an upstream failure is a `503` with one line of reason,
//! never a partial exposition; `--staleness` (10 m) forgets an input unseen
//! that long (seen again, it counts as new); `--max-inputs` (1,000,000)
//! bounds the state: a 40-byte entry per input series in a hash map, 47
//! to 94 bytes with its spare room (47.0 measured at 50,000 counters; a
//! histogram or summary has 32 bytes more on the heap, and a histogram 8
//! per bucket and 8).

mod byte_size;
mod command;
mod deadline;
mod growth;
mod http;
mod inventory;
mod lines;
mod observe;
mod proxy;
mod read_error;
mod report;
mod self_report;
mod source;
mod suggest;
mod table;

pub use command::run;
pub use read_error::ReadError;
pub use report::{
    Audit, FoldingMetric, LabelAudit, MetricAudit, Offender, SelfReportAudit, SelfReportFamily,
    WatchSummary,
};

/// The audit of the exposition `text` (named `source` in the audit), read
/// with the grammar of `format`: what `cardinality-guard audit` reports for
/// it, without growth (that takes a watch). The default bounds apply: a
/// line longer than 4 MiB or a text longer than 256 MiB is an error.
pub fn audit_text(
    source: &str,
    text: &str,
    format: cardinality_guard_core::text::Format,
) -> Result<Audit, ReadError> {
    let scrape = source::read_str(text, format)?;
    Ok(Audit::new(
        source,
        scrape.format,
        scrape.bytes,
        &scrape.inventory,
        None,
    ))
}

/// The `guard.toml` that `cardinality-guard audit --suggest` prints for the
/// exposition `text` (named `source` in its header), read with the grammar
/// of `format`: the suggestion of the core's one engine
/// ([`SuggestedConfig::from_observations`]) for what the text shows. For a
/// guarded target it is the advice of the guard's own report; otherwise the
/// file is for the proxy, with entries only for the metrics whose labels
/// grow. An error when the text can't be read, or when the file would not fit
/// the config's 1 MiB cap.
///
/// ```
/// use cardinality_guard_cli::suggest_text;
/// use cardinality_guard_core::{text::Format, Config};
///
/// let mut text = String::from("# TYPE logins_total counter\n");
/// for user in 0..5000 {
///     text.push_str(&format!("logins_total{{user=\"u{user}\"}} 1\n"));
/// }
/// let toml = suggest_text("http://127.0.0.1:8000/metrics", &text, Format::Prometheus)?;
/// assert!(toml.contains("cardinality-guard proxy --upstream http://127.0.0.1:8000/metrics"));
/// let config = Config::from_toml(&toml, "guard.toml")?;
/// // 5,000 user ids, each seen once: an id, to be removed from the code;
/// // meanwhile `label_limits = { user = 1 }` folds it.
/// assert!(toml.contains("remove the label user from the code"));
/// assert_eq!(config.policy_for("logins_total").label_limits["user"].get(), 1);
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
///
/// [`SuggestedConfig::from_observations`]: cardinality_guard_core::SuggestedConfig::from_observations
pub fn suggest_text(
    source: &str,
    text: &str,
    format: cardinality_guard_core::text::Format,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let scrape = source::read_str(text, format)?;
    Ok(suggest::suggest(&scrape.inventory, source, None)?)
}
