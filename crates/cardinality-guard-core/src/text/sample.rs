//! One sample line: `name{labels} value [timestamp] [# exemplar]`.
//!
//! Each part is read once from left to right, so a line costs time linear
//! in its length, however many labels it has.

use std::borrow::Cow;
use std::collections::HashSet;

use super::escape::unescape_quoted;
use super::format::Kind;
use super::grammar::{is_label_name, is_metric_name, is_name_byte};
use super::number::parse_f64;

/// One sample line, as [`Parser::line`](super::Parser::line) reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The family it belongs to (its `# TYPE` name, or the sample name).
    pub family: &'a str,
    /// The family's kind.
    pub kind: Kind,
    /// The sample name as written (`x_bucket`, `x_total`, ...).
    pub name: &'a str,
    /// Labels in written order, values unescaped.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    /// The value.
    pub value: f64,
    /// The value as written (`1`, `1.0`, `+Inf`).
    pub value_text: &'a str,
    /// The timestamp as written, if any.
    pub timestamp: Option<&'a str>,
}

impl Sample<'_> {
    /// The (unescaped) value of label `name`, if the sample has it.
    ///
    /// ```
    /// use cardinality_guard_core::text::{Format, Line, Parser};
    ///
    /// let mut parser = Parser::new(Format::Prometheus);
    /// let Line::Sample(sample) = parser.line(r#"logins_total{user="a\"b"} 3"#)? else {
    ///     unreachable!()
    /// };
    /// assert_eq!(sample.label("user"), Some("a\"b"));
    /// assert_eq!(sample.label("team"), None);
    /// # Ok::<(), cardinality_guard_core::text::ParseError>(())
    /// ```
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// Below this many labels, a repeated name is found by scanning the labels
/// read so far; from it on, by a set of their names.
const SCANNED_LABELS: usize = 16;

/// Splits off the first token (up to a space or tab) and the text after
/// the blanks that follow it.
pub(crate) fn split_token(text: &str) -> (&str, &str) {
    match text.find([' ', '\t']) {
        Some(i) => (&text[..i], text[i..].trim_start_matches([' ', '\t'])),
        None => (text, ""),
    }
}

/// The start of `text`, for an error message: at most 40 characters.
pub(crate) fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Where the run of name characters (`[a-zA-Z0-9_:]`) at the start of
/// `text` ends.
fn name_end(text: &str) -> usize {
    text.bytes()
        .position(|b| !is_name_byte(b))
        .unwrap_or(text.len())
}

/// Reads a sample line (not a comment, not empty). Its family is the sample
/// name and its kind `Untyped` until the parser knows better.
pub(crate) fn sample(text: &str, open_metrics: bool) -> Result<Sample<'_>, String> {
    let end = name_end(text);
    let name = &text[..end];
    if !is_metric_name(name) {
        return Err(match text.chars().next() {
            Some('{') => {
                "a sample needs a metric name before `{` (quoted UTF-8 names are not supported)"
                    .into()
            }
            _ => format!("expected a metric name, found {:?}", excerpt(text)),
        });
    }
    let mut rest = &text[end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = label_set(after, &mut labels, open_metrics)?;
    }
    let Some(rest) = rest.strip_prefix([' ', '\t']) else {
        return Err(match rest.chars().next() {
            None => format!("{name}: missing value"),
            Some(c) => format!("{name}: unexpected {c:?} after the metric name"),
        });
    };
    let rest = rest.trim_start_matches([' ', '\t']);
    let (value_text, rest) = split_token(rest);
    let value = parse_f64(value_text).ok_or_else(|| {
        if value_text.is_empty() {
            format!("{name}: missing value")
        } else {
            format!("{name}: {value_text:?} is not a number")
        }
    })?;
    let (timestamp, rest) = match rest.split_once('#') {
        Some((before, exemplar)) if open_metrics => {
            check_exemplar(exemplar).map_err(|e| format!("{name}: exemplar: {e}"))?;
            (before.trim_matches([' ', '\t']), "")
        }
        _ => split_token(rest),
    };
    if !rest.is_empty() {
        return Err(format!(
            "{name}: unexpected {:?} after the timestamp",
            excerpt(rest)
        ));
    }
    let timestamp = if timestamp.is_empty() {
        None
    } else {
        let valid = if open_metrics {
            parse_f64(timestamp).is_some_and(f64::is_finite)
        } else {
            timestamp.parse::<i64>().is_ok()
        };
        if !valid {
            return Err(format!("{name}: {timestamp:?} is not a timestamp"));
        }
        Some(timestamp)
    };
    Ok(Sample {
        family: name,
        kind: Kind::Untyped,
        name,
        labels,
        value,
        value_text,
        timestamp,
    })
}

/// Reads `name="value",...}` (after the `{`) into `labels`; returns the
/// text after the `}`.
fn label_set<'a>(
    mut text: &'a str,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
    open_metrics: bool,
) -> Result<&'a str, String> {
    let mut names: Option<HashSet<&'a str>> = None;
    loop {
        text = text.trim_start_matches([' ', '\t']);
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let end = name_end(text);
        let name = &text[..end];
        if !is_label_name(name) {
            return Err(match text.chars().next() {
                None => "unterminated label set (missing `}`)".into(),
                Some('"') => "quoted UTF-8 label names are not supported".into(),
                Some(_) => format!("expected a label name, found {:?}", excerpt(text)),
            });
        }
        let twice = if labels.len() < SCANNED_LABELS {
            labels.iter().any(|(n, _)| *n == name)
        } else {
            let names = names.get_or_insert_with(|| labels.iter().map(|(n, _)| *n).collect());
            !names.insert(name)
        };
        if twice {
            return Err(format!("label {name} appears twice"));
        }
        text = text[end..].trim_start_matches([' ', '\t']);
        text = text
            .strip_prefix('=')
            .ok_or_else(|| format!("expected `=` after label {name}"))?;
        text = text.trim_start_matches([' ', '\t']);
        text = text
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of label {name} must be quoted"))?;
        let (value, rest) =
            unescape_quoted(text, open_metrics).map_err(|e| format!("label {name}: {e}"))?;
        labels.push((name, value));
        text = rest.trim_start_matches([' ', '\t']);
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label {name}"));
        }
    }
}

/// Checks ` {labels} value [timestamp]` after a sample's `#`.
fn check_exemplar(text: &str) -> Result<(), String> {
    let text = text.trim_start_matches([' ', '\t']);
    let text = text
        .strip_prefix('{')
        .ok_or("expected `{` after `#`".to_owned())?;
    let mut labels = Vec::new();
    let rest = label_set(text, &mut labels, true)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let (value, rest) = split_token(rest);
    parse_f64(value).ok_or_else(|| format!("{value:?} is not a number"))?;
    let (timestamp, rest) = split_token(rest);
    if !timestamp.is_empty() && parse_f64(timestamp).is_none() {
        return Err(format!("{timestamp:?} is not a timestamp"));
    }
    if !rest.is_empty() {
        return Err(format!("unexpected {:?}", excerpt(rest)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_line() {
        let s = sample(r#"m{a="x\\y", b = "q\"r",c="l\nm",} 1.5e3 -5"#, false).unwrap();
        assert_eq!((s.name, s.value, s.value_text), ("m", 1500.0, "1.5e3"));
        assert_eq!(s.timestamp, Some("-5"));
        let labels: Vec<(&str, &str)> = s.labels.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        assert_eq!(labels, [("a", "x\\y"), ("b", "q\"r"), ("c", "l\nm")]);
        assert_eq!(s.label("b"), Some("q\"r"));
    }

    #[test]
    fn a_repeated_label_is_found_among_many() {
        for n in [
            2,
            SCANNED_LABELS - 1,
            SCANNED_LABELS,
            SCANNED_LABELS + 1,
            500,
        ] {
            let mut line: String = (0..n).map(|i| format!("l{i}=\"v\",")).collect();
            assert!(sample(&format!("m{{{line}}} 1"), false).is_ok(), "{n}");
            line.push_str("l1=\"again\"");
            let error = sample(&format!("m{{{line}}} 1"), false).unwrap_err();
            assert_eq!(error, "label l1 appears twice", "{n}");
        }
    }

    #[test]
    fn a_line_with_many_labels_reads_in_linear_time() {
        // 200,000 labels: a quadratic check would take minutes.
        let labels: String = (0..200_000).map(|i| format!("l{i}=\"v{i}\",")).collect();
        let line = format!("m{{{labels}}} 1");
        assert_eq!(sample(&line, true).unwrap().labels.len(), 200_000);
    }

    #[test]
    fn timestamps_and_exemplars_per_grammar() {
        assert!(sample("a 1 1.5", false).is_err());
        assert_eq!(sample("a 1 1.5", true).unwrap().timestamp, Some("1.5"));
        assert!(sample("a 1 1 # {t=\"x\"} 1", false).is_err());
        let with_exemplar = sample("a 1 17 # {t=\"x\"} 0.5 17.5", true).unwrap();
        assert_eq!(with_exemplar.timestamp, Some("17"));
        let bad = sample("a 1 # {t=\"x\"} zero", true).unwrap_err();
        assert!(bad.starts_with("a: exemplar:"), "{bad}");
    }
}
