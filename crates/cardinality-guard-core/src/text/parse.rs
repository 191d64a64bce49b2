//! A strict, streaming parser of Prometheus text (0.0.4) and OpenMetrics
//! text (1.0.0), one line at a time.
//!
//! It keeps nothing but the declared family types, so memory does not grow
//! with the body; every error names its line. What it accepts is what a
//! Prometheus server accepts, and it reads samples the way Prometheus stores
//! them: every sample line is one series (`_bucket`, `_sum`, `_count`,
//! `_created` included); `# HELP`, `# TYPE`, `# UNIT`, comments and exemplars
//! are not. `# TYPE` and `# HELP` lines are told apart ([`Line::Type`],
//! [`Line::Help`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use super::escape::unescape_help;
use super::format::{Format, Kind, SUFFIXES};
use super::grammar::is_metric_name;
use super::sample::{sample, split_token, Sample};

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// What [`Parser::line`] found on a line.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// A sample: one series.
    Sample(Sample<'a>),
    /// `# TYPE`: a family declared.
    Type(&'a str, Kind),
    /// `# HELP`: a family's name and its help text (unescaped; borrowed
    /// when it holds no escape).
    Help(&'a str, Cow<'a, str>),
    /// Anything else that is fine: `# UNIT`, a comment, an empty line, `# EOF`.
    Other,
}

/// The parser's state between lines: the format, the declared types, and
/// whether `# EOF` has been seen.
///
/// ```
/// use cardinality_guard_core::text::{Format, Kind, Line, Parser};
///
/// let text = "# TYPE rpc_seconds histogram\n\
///             rpc_seconds_bucket{le=\"+Inf\"} 2\n\
///             rpc_seconds_count 2\n";
/// let mut parser = Parser::new(Format::Prometheus);
/// let mut samples = Vec::new();
/// for line in text.lines() {
///     if let Line::Sample(sample) = parser.line(line)? {
///         samples.push((sample.family.to_owned(), sample.name.to_owned(), sample.kind));
///     }
/// }
/// parser.finish()?;
/// assert_eq!(samples[0], ("rpc_seconds".into(), "rpc_seconds_bucket".into(), Kind::Histogram));
/// assert_eq!(samples[1].1, "rpc_seconds_count");
///
/// let error = Parser::new(Format::Prometheus).line("x{a=\"1\" 1").unwrap_err();
/// assert_eq!(error.to_string(), "line 1: expected `,` or `}` after label a");
/// # Ok::<(), cardinality_guard_core::text::ParseError>(())
/// ```
#[derive(Debug)]
pub struct Parser {
    format: Format,
    types: HashMap<String, Kind>,
    line: usize,
    eof: bool,
}

impl Parser {
    /// A parser of text in `format`.
    pub fn new(format: Format) -> Parser {
        Parser {
            format,
            types: HashMap::new(),
            line: 0,
            eof: false,
        }
    }

    /// The format this parser applies.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether `# EOF` was seen.
    pub fn saw_eof(&self) -> bool {
        self.eof
    }

    /// Parses the next line, given without its `\n`. A `\r` before it is
    /// refused, as Prometheus does.
    pub fn line<'a>(&'a mut self, text: &'a str) -> Result<Line<'a>, ParseError> {
        self.line += 1;
        let at = self.line;
        let err = |message: String| ParseError { line: at, message };
        if text.ends_with('\r') {
            return Err(err(
                "carriage return at the end of the line (lines end with \\n only)".into(),
            ));
        }
        if self.eof {
            return Err(err("text after `# EOF`".into()));
        }
        if text.is_empty() {
            return if self.format == Format::OpenMetrics {
                Err(err("empty line (OpenMetrics allows none)".into()))
            } else {
                Ok(Line::Other)
            };
        }
        if let Some(rest) = text.strip_prefix('#') {
            return self.comment(rest).map_err(err);
        }
        let open_metrics = self.format.open_metrics();
        let mut sample = sample(text, open_metrics).map_err(err)?;
        let (family, kind) = self.family_of(sample.name);
        sample.family = family;
        sample.kind = kind;
        Ok(Line::Sample(sample))
    }

    /// Checks the end of the text: OpenMetrics must end with `# EOF`.
    pub fn finish(&self) -> Result<(), ParseError> {
        if self.format == Format::OpenMetrics && !self.eof {
            let message = if self.line == 0 {
                "empty body: OpenMetrics text must end with `# EOF`"
            } else {
                "OpenMetrics text must end with `# EOF` (truncated body?)"
            };
            return Err(ParseError {
                line: self.line.max(1),
                message: message.into(),
            });
        }
        Ok(())
    }

    fn comment<'a>(&'a mut self, rest: &'a str) -> Result<Line<'a>, String> {
        let open_metrics = self.format.open_metrics();
        if rest == " EOF" && open_metrics {
            self.eof = true;
            return Ok(Line::Other);
        }
        let Some(rest) = rest.strip_prefix([' ', '\t']) else {
            return if self.format == Format::OpenMetrics {
                Err(format!("unknown comment `#{rest}`"))
            } else {
                Ok(Line::Other)
            };
        };
        let rest = rest.trim_start_matches([' ', '\t']);
        let (keyword, rest) = split_token(rest);
        match keyword {
            "HELP" | "TYPE" | "UNIT" => {}
            _ if self.format == Format::OpenMetrics => {
                return Err(format!("unknown comment `# {keyword}`"))
            }
            _ => return Ok(Line::Other),
        }
        if keyword == "UNIT" && !open_metrics {
            return Ok(Line::Other);
        }
        let (name, rest) = split_token(rest);
        if !is_metric_name(name) {
            return Err(format!(
                "`# {keyword}` needs a valid metric name, got {name:?}"
            ));
        }
        if keyword == "HELP" {
            return Ok(Line::Help(name, unescape_help(rest, open_metrics)));
        }
        if keyword != "TYPE" {
            return Ok(Line::Other);
        }
        let word = rest.trim_matches([' ', '\t']);
        let kind = Kind::parse(word, self.format)
            .ok_or_else(|| format!("unknown type {word:?} in `# TYPE {name}`"))?;
        match self.types.get(name) {
            // A repeat says nothing new: Prometheus reads it, and so do we.
            Some(&declared) if declared == kind => Ok(Line::Other),
            Some(&declared) => Err(format!(
                "second `# TYPE` line for {name} says {kind}, the first said {declared}"
            )),
            None => {
                self.types.insert(name.to_owned(), kind);
                Ok(Line::Type(name, kind))
            }
        }
    }

    /// The declared family a sample name belongs to: the family of that
    /// name, or the one whose name is `name` without a suffix its kind
    /// gives its samples (a fixed number of lookups, whatever the name).
    fn family_of<'a>(&'a self, name: &'a str) -> (&'a str, Kind) {
        if let Some((family, kind)) = self.types.get_key_value(name) {
            return (family.as_str(), *kind);
        }
        for suffix in SUFFIXES {
            let Some(base) = name.strip_suffix(suffix) else {
                continue;
            };
            if let Some((family, kind)) = self.types.get_key_value(base) {
                if kind.suffixes().contains(&suffix) {
                    return (family.as_str(), *kind);
                }
            }
        }
        (name, Kind::Untyped)
    }
}

#[cfg(test)]
mod tests;
