//! The two grammars of the text format, and the family types they declare.

use std::fmt;

/// Which grammar a text follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4: `# HELP`/`# TYPE`, free comments, empty lines,
    /// integer millisecond timestamps.
    Prometheus,
    /// OpenMetrics text 1.0.0: `# UNIT`, exemplars, float second timestamps,
    /// no empty lines, ends with `# EOF`.
    OpenMetrics,
    /// Unknown (a file, stdin): the union of both grammars, with the
    /// stricter OpenMetrics escapes; when a `# EOF` line comes, nothing may
    /// follow it.
    Auto,
}

impl Format {
    /// The format a `Content-Type` header announces: OpenMetrics for
    /// `application/openmetrics-text`, Prometheus text otherwise.
    ///
    /// ```
    /// use cardinality_guard_core::text::Format;
    ///
    /// let header = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    /// assert_eq!(Format::from_content_type(header), Format::OpenMetrics);
    /// assert_eq!(Format::from_content_type("text/plain; version=0.0.4"), Format::Prometheus);
    /// ```
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

    /// Whether the OpenMetrics grammar applies (alone or in the union).
    pub(crate) fn open_metrics(self) -> bool {
        matches!(self, Format::OpenMetrics | Format::Auto)
    }
}

/// A metric family's type, as its `# TYPE` line says (`Untyped` without one).
///
/// Serialized as its lowercase name (`"gaugehistogram"`, `"stateset"`).
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
    /// The kind a `# TYPE` line names in `format`, if that format has it.
    pub(crate) fn parse(text: &str, format: Format) -> Option<Kind> {
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

    /// The name in `# TYPE` lines (Prometheus text's `untyped` for
    /// [`Kind::Untyped`]).
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
    pub(crate) fn suffixes(self) -> &'static [&'static str] {
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

/// Every suffix some kind gives its samples. None is a suffix of another
/// (each starts with `_` and no other ends with it), so a sample name ends
/// with at most one of them.
pub(crate) const SUFFIXES: [&str; 8] = [
    "_total", "_created", "_bucket", "_sum", "_count", "_gsum", "_gcount", "_info",
];

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [Kind; 8] = [
        Kind::Counter,
        Kind::Gauge,
        Kind::Histogram,
        Kind::GaugeHistogram,
        Kind::Summary,
        Kind::Info,
        Kind::StateSet,
        Kind::Untyped,
    ];

    #[test]
    fn suffixes_are_the_kinds_own_and_never_overlap() {
        for kind in KINDS {
            for suffix in kind.suffixes() {
                assert!(SUFFIXES.contains(suffix), "{kind}: {suffix}");
            }
        }
        for a in SUFFIXES {
            assert!(KINDS.iter().any(|k| k.suffixes().contains(&a)), "{a}");
            for b in SUFFIXES {
                assert!(a == b || !a.ends_with(b), "{a} ends with {b}");
            }
        }
    }

    #[test]
    fn type_words_per_format() {
        for kind in KINDS {
            let word = kind.as_str();
            assert_eq!(Kind::parse(word, Format::Auto), Some(kind), "{word}");
        }
        assert_eq!(Kind::parse("untyped", Format::OpenMetrics), None);
        assert_eq!(Kind::parse("unknown", Format::Prometheus), None);
        assert_eq!(Kind::parse("info", Format::Prometheus), None);
        assert_eq!(Kind::parse("Counter", Format::Auto), None);
    }
}
