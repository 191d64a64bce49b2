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
//! The parser is core's ([`cardinality_guard_core::text::Parser`]): strict,
//! streaming and linear in its input, so memory follows the number of
//! distinct series, not the size of the body. Every input is bounded: the
//! body (`--max-bytes`, 256 MiB by default), each line (`--max-line-bytes`,
//! 4 MiB: memory never follows a longer line), and the time to read and
//! parse it (`--timeout`, 30 s). An error quotes at most 300 bytes of a
//! malformed line.

mod command;
mod deadline;
mod growth;
mod http;
mod inventory;
mod lines;
mod observe;
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
