//! `cardinality-guard audit`: reads one Prometheus or OpenMetrics text
//! exposition and tells what each metric family costs in series, which label
//! makes it so, how fast it grows, and which `guard.toml` would cap it.
//!
//! ```
//! use cardinality_guard_cli::{report::Audit, source::read_str};
//! use cardinality_guard_core::text::Format;
//!
//! let text = "# TYPE logins_total counter\n\
//!             logins_total{user=\"ann\"} 1\n\
//!             logins_total{user=\"bob\"} 2\n";
//! let scrape = read_str(text, Format::Prometheus)?;
//! let audit = Audit::new("example", scrape.format, scrape.bytes, &scrape.inventory, None);
//! assert_eq!(audit.total_series, 2);
//! assert_eq!(audit.metrics[0].labels[0].name, "user");
//! assert_eq!(audit.metrics[0].labels[0].values, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parser is core's ([`cardinality_guard_core::text::Parser`]): strict
//! and streaming, so memory follows the number of distinct series, not the
//! size of the body, and the body is capped ([`source::DEFAULT_MAX_BYTES`]).

#![deny(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod growth;
pub mod inventory;
pub mod report;
pub mod source;
pub mod suggest;
