//! A strict, streaming parser of the Prometheus text exposition format
//! (0.0.4) and of OpenMetrics text (1.0.0), one line at a time.
//!
//! It keeps nothing but the declared family types, so memory does not grow
//! with the body; every error names its line. What it accepts is what a
//! Prometheus server accepts, and it reads samples the way Prometheus stores
//! them: every sample line is one series (`_bucket`, `_sum`, `_count`,
//! `_created` included); `# HELP`, `# TYPE`, `# UNIT`, comments and exemplars
//! are not.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Which grammar the text follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4: `# HELP`/`# TYPE`, free comments, empty lines,
    /// integer millisecond timestamps.
    Prometheus,
    /// OpenMetrics text 1.0.0: `# UNIT`, exemplars, float second timestamps,
    /// no empty lines, ends with `# EOF`.
    OpenMetrics,
    /// Unknown (a file, stdin): the union of both grammars; when a `# EOF`
    /// line comes, nothing may follow it.
    Auto,
}

impl Format {
    /// The format a `Content-Type` header announces.
    pub fn from_content_type(content_type: &str) -> Format {
        if content_type
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    fn open_metrics(self) -> bool {
        matches!(self, Format::OpenMetrics | Format::Auto)
    }
}

/// A metric family's type, as its `# TYPE` line says (`Untyped` without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics)
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics)
    Info,
    /// `stateset` (OpenMetrics)
    StateSet,
    /// `untyped`, `unknown`, or no `# TYPE` line
    Untyped,
}

impl Kind {
    fn parse(text: &str, format: Format) -> Option<Kind> {
        Some(match text {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" if format != Format::OpenMetrics => Kind::Untyped,
            "unknown" if format.open_metrics() => Kind::Untyped,
            "gaugehistogram" if format.open_metrics() => Kind::GaugeHistogram,
            "info" if format.open_metrics() => Kind::Info,
            "stateset" if format.open_metrics() => Kind::StateSet,
            _ => return None,
        })
    }

    /// The name in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::GaugeHistogram => "gaugehistogram",
            Kind::Summary => "summary",
            Kind::Info => "info",
            Kind::StateSet => "stateset",
            Kind::Untyped => "untyped",
        }
    }

    /// Sample-name suffixes that belong to a family of this kind.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Kind::Counter => &["_total", "_created"],
            Kind::Histogram => &["_bucket", "_sum", "_count", "_created"],
            Kind::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            Kind::Summary => &["_sum", "_count", "_created"],
            Kind::Info => &["_info"],
            Kind::Gauge | Kind::StateSet | Kind::Untyped => &[],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One sample line.
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
    /// The timestamp as written, if any.
    pub timestamp: Option<&'a str>,
}

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
    /// Anything else that is fine: `# HELP`, `# UNIT`, a comment, an empty line, `# EOF`.
    Other,
}

/// The parser's state between lines: the format, the declared types, and
/// whether `# EOF` has been seen.
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

    /// Parses the next line (without its `\n`; a trailing `\r` is refused as
    /// Prometheus does).
    pub fn line<'a>(&'a mut self, text: &'a str) -> Result<Line<'a>, ParseError> {
        self.line += 1;
        let at = self.line;
        let err = |message: String| ParseError { line: at, message };
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
        if keyword != "TYPE" {
            return Ok(Line::Other);
        }
        let word = rest.trim_matches([' ', '\t']);
        let kind = Kind::parse(word, self.format)
            .ok_or_else(|| format!("unknown type {word:?} in `# TYPE {name}`"))?;
        if self.types.insert(name.to_owned(), kind).is_some() {
            return Err(format!("second `# TYPE` line for {name}"));
        }
        Ok(Line::Type(name, kind))
    }

    /// The declared family a sample name belongs to.
    fn family_of<'a>(&'a self, name: &'a str) -> (&'a str, Kind) {
        if let Some((family, kind)) = self.types.get_key_value(name) {
            return (family.as_str(), *kind);
        }
        for (i, _) in name.match_indices('_') {
            let (base, suffix) = name.split_at(i);
            if let Some((family, kind)) = self.types.get_key_value(base) {
                if kind.suffixes().contains(&suffix) {
                    return (family.as_str(), *kind);
                }
            }
        }
        (name, Kind::Untyped)
    }
}

fn split_token(text: &str) -> (&str, &str) {
    match text.find([' ', '\t']) {
        Some(i) => (&text[..i], text[i..].trim_start_matches([' ', '\t'])),
        None => (text, ""),
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn name_end(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len())
}

fn sample(text: &str, open_metrics: bool) -> Result<Sample<'_>, String> {
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
    let value = parse_value(value_text).ok_or_else(|| {
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
            parse_value(timestamp).is_some_and(f64::is_finite)
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
        timestamp,
    })
}

fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(40) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Go's `strconv.ParseFloat` as Prometheus uses it: decimal, exponent,
/// `NaN`, `[+-]Inf`.
fn parse_value(text: &str) -> Option<f64> {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let ok = !body.is_empty()
        && (body.eq_ignore_ascii_case("inf")
            || body.eq_ignore_ascii_case("infinity")
            || body.eq_ignore_ascii_case("nan")
            || body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')));
    if !ok {
        return None;
    }
    text.parse().ok()
}

/// Parses `name="value",...}` (after the `{`), returns the text after `}`.
fn label_set<'a>(
    mut text: &'a str,
    labels: &mut Vec<(&'a str, Cow<'a, str>)>,
    open_metrics: bool,
) -> Result<&'a str, String> {
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
        if labels.iter().any(|(n, _)| *n == name) {
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
            label_value(text, open_metrics).map_err(|e| format!("label {name}: {e}"))?;
        labels.push((name, value));
        text = rest.trim_start_matches([' ', '\t']);
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err(format!("expected `,` or `}}` after label {name}"));
        }
    }
}

/// Parses a label value after its opening quote; returns it unescaped and
/// the text after the closing quote. `\\`, `\"` and `\n` are escapes; in
/// Prometheus text any other `\x` is kept as written (as Prometheus does),
/// in OpenMetrics it is an error.
fn label_value(text: &str, open_metrics: bool) -> Result<(Cow<'_, str>, &str), String> {
    let bytes = text.as_bytes();
    let mut owned: Option<String> = None;
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[start..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[..i]),
                };
                return Ok((value, &text[i + 1..]));
            }
            b'\\' => {
                let escaped = match bytes.get(i + 1) {
                    Some(b'\\') => "\\",
                    Some(b'"') => "\"",
                    Some(b'n') => "\n",
                    None => return Err("unterminated value".into()),
                    Some(_) if open_metrics => {
                        return Err(format!(
                            "invalid escape {:?} (only \\\\, \\\" and \\n)",
                            excerpt(&text[i..]).chars().take(2).collect::<String>()
                        ))
                    }
                    Some(_) => {
                        i += 1;
                        continue;
                    }
                };
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&text[start..i]);
                s.push_str(escaped);
                i += 2;
                start = i;
            }
            _ => i += 1,
        }
    }
    Err("unterminated value (missing `\"`)".into())
}

/// ` {labels} value [timestamp]` after a sample's `#`.
fn check_exemplar(text: &str) -> Result<(), String> {
    let text = text.trim_start_matches([' ', '\t']);
    let text = text
        .strip_prefix('{')
        .ok_or("expected `{` after `#`".to_owned())?;
    let mut labels = Vec::new();
    let rest = label_set(text, &mut labels, true)?;
    let rest = rest.trim_start_matches([' ', '\t']);
    let (value, rest) = split_token(rest);
    parse_value(value).ok_or_else(|| format!("{value:?} is not a number"))?;
    let (timestamp, rest) = split_token(rest);
    if !timestamp.is_empty() && parse_value(timestamp).is_none() {
        return Err(format!("{timestamp:?} is not a timestamp"));
    }
    if !rest.is_empty() {
        return Err(format!("unexpected {:?}", excerpt(rest)));
    }
    Ok(())
}

/// Escapes a label value as the text format writes it.
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (family, sample name, labels)
    type Parsed = (String, String, Vec<(String, String)>);

    fn samples(text: &str, format: Format) -> Result<Vec<Parsed>, ParseError> {
        let mut parser = Parser::new(format);
        let mut out = Vec::new();
        for line in text.split('\n') {
            if let Line::Sample(s) = parser.line(line)? {
                let labels = s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                out.push((s.family.to_owned(), s.name.to_owned(), labels));
            }
        }
        parser.finish()?;
        Ok(out)
    }

    fn error(text: &str, format: Format) -> ParseError {
        samples(text, format).expect_err("must be refused")
    }

    #[test]
    fn histogram_lines_belong_to_their_family() {
        let text = "# HELP h help text\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\nother 1\n";
        let got = samples(text, Format::Prometheus).unwrap();
        let families: Vec<_> = got.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(families, ["h", "h", "h", "h", "other"]);
    }

    #[test]
    fn escapes_in_label_values_are_unescaped() {
        let text = r#"m{a="x\\y",b="q\"r",c="l\nm"} 1"#;
        let got = samples(text, Format::Prometheus).unwrap();
        assert_eq!(
            got[0].2,
            [
                ("a".into(), "x\\y".into()),
                ("b".into(), "q\"r".into()),
                ("c".into(), "l\nm".into())
            ]
        );
    }

    #[test]
    fn values_and_timestamps() {
        let text = "a NaN\nb +Inf\nc -Inf 1700000000000\nd 1.5e3\ne{x=\"1\",} 2 -5\n";
        assert_eq!(samples(text, Format::Prometheus).unwrap().len(), 5);
        assert_eq!(error("a 1 1.5", Format::Prometheus).line, 1);
        assert_eq!(error("ok 1\na 0x1p3", Format::Prometheus).line, 2);
    }

    #[test]
    fn open_metrics_with_exemplars_and_eof() {
        let text = "# TYPE c counter\n# UNIT c seconds\n# HELP c h\nc_total{a=\"b\"} 1 # {trace_id=\"abc\"} 1.0 1700000000.5\nc_created{a=\"b\"} 1700000000.0\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF";
        let got = samples(text, Format::OpenMetrics).unwrap();
        let families: Vec<_> = got.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
        assert_eq!(
            families,
            [("c", "c_total"), ("c", "c_created"), ("i", "i_info")]
        );
    }

    #[test]
    fn open_metrics_needs_eof_and_no_empty_lines() {
        assert!(error("# TYPE c counter\nc_total 1", Format::OpenMetrics)
            .message
            .contains("# EOF"));
        assert_eq!(error("a 1\n\nb 1\n# EOF", Format::OpenMetrics).line, 2);
        assert_eq!(error("a 1\n# EOF\nb 1", Format::Auto).line, 3);
        assert_eq!(error(r#"a{x="\t"} 1"#, Format::OpenMetrics).line, 1);
        // Prometheus text keeps an unknown escape as written.
        let got = samples(r#"a{x="\t"} 1"#, Format::Prometheus).unwrap();
        assert_eq!(got[0].2[0].1, "\\t");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("ok 1\nbad{a=\"b\" 1\n", 2, "expected `,`"),
            ("ok 1\nok 2\nbad{a=b} 1\n", 3, "quoted"),
            ("bad{a=\"b} 1\n", 1, "unterminated"),
            ("x\n", 1, "missing value"),
            ("x one\n", 1, "not a number"),
            ("# TYPE x countr\n", 1, "unknown type"),
            ("# TYPE x counter\n# TYPE x counter\n", 2, "second"),
            ("x{a=\"1\",a=\"2\"} 1\n", 1, "twice"),
            ("{a=\"1\"} 1\n", 1, "metric name"),
            ("9x 1\n", 1, "metric name"),
            ("x 1 2 3\n", 1, "unexpected"),
            ("x{1a=\"1\"} 1\n", 1, "label name"),
        ];
        for (text, line, words) in cases {
            let e = error(text, Format::Prometheus);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(words), "{text:?}: {e}");
        }
    }

    #[test]
    fn comments_and_blank_lines_in_prometheus_text() {
        let text = "# just a comment\n\n#\n# HELP x with spaces   and \\n escapes\nx 1\n";
        assert_eq!(samples(text, Format::Prometheus).unwrap().len(), 1);
    }

    #[test]
    fn suffix_without_declared_family_is_its_own_family() {
        let text = "# TYPE g gauge\ng_sum 1\nh_bucket{le=\"1\"} 1\n";
        let got = samples(text, Format::Prometheus).unwrap();
        assert_eq!(got[0].0, "g_sum");
        assert_eq!(got[1].0, "h_bucket");
    }
}
