//! The Prometheus text format, both ways: the grammar of names, escaping,
//! numbers, and a streaming parser of Prometheus text (0.0.4) and
//! OpenMetrics text (1.0.0).
//!
//! The guard's render writes with these functions, and the
//! `cardinality-guard` command line reads with [`Parser`]; the tests read
//! the render back with it too.
//!
//! ```
//! use cardinality_guard_core::text::{write_f64, write_labels, Format, Line, Parser};
//!
//! let mut out = String::from("# TYPE queue_depth gauge\nqueue_depth{");
//! write_labels(&mut out, [("queue", "a \"b\"")]);
//! out.push_str("} ");
//! write_f64(&mut out, f64::INFINITY);
//! assert_eq!(out, "# TYPE queue_depth gauge\nqueue_depth{queue=\"a \\\"b\\\"\"} +Inf");
//!
//! let mut parser = Parser::new(Format::Prometheus);
//! let mut read = Vec::new();
//! for line in out.lines() {
//!     if let Line::Sample(sample) = parser.line(line)? {
//!         read.push((sample.label("queue").map(str::to_owned), sample.value));
//!     }
//! }
//! assert_eq!(read, [(Some("a \"b\"".to_owned()), f64::INFINITY)]);
//! # Ok::<(), cardinality_guard_core::text::ParseError>(())
//! ```

mod escape;
mod format;
mod grammar;
mod number;
mod parse;
mod sample;

pub use escape::{escape_help_into, escape_label_value, escape_label_value_into, write_labels};
pub use format::{Format, Kind};
pub use grammar::{is_label_name, is_metric_name};
pub use number::{parse_f64, write_f64};
pub use parse::{Line, ParseError, Parser};
pub use sample::Sample;
