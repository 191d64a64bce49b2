//! Metric-name patterns: `name` (exact), `prefix*` and `*suffix`.

use std::fmt;

use metrics_exporter_prometheus::Matcher;

/// Which metric names a `[[metrics]]` or `[[histograms.per_metric]]` entry applies to.
///
/// Patterns are matched against the metric name *as the exporter renders it*
/// (after Prometheus sanitization, so `http.requests` is matched as
/// `http_requests`). The derived order (exact, then prefix, then suffix, each by
/// text) is the order in which `metrics-exporter-prometheus` tries bucket
/// overrides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// `name`: exactly this metric name.
    Exact(String),
    /// `prefix*`: every name that starts with the prefix.
    Prefix(String),
    /// `*suffix`: every name that ends with the suffix.
    Suffix(String),
}

/// Why a pattern string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    /// Parses `name`, `prefix*` or `*suffix`.
    ///
    /// The name part must be a valid Prometheus metric name fragment
    /// (`[a-zA-Z_:][a-zA-Z0-9_:]*`; a suffix may also start with a digit,
    /// as in `*2xx_total`), because names are matched after sanitization: a
    /// pattern with `.` or `-` could never match.
    ///
    /// ```
    /// use cardinality_guard_core::Pattern;
    ///
    /// assert_eq!(Pattern::parse("app_*")?, Pattern::Prefix("app_".into()));
    /// assert!(Pattern::parse("*2xx_total")?.matches("http_2xx_total"));
    /// assert!(Pattern::parse("http.requests").is_err()); // never matches a rendered name
    /// # Ok::<(), cardinality_guard_core::config::PatternError>(())
    /// ```
    ///
    /// # Errors
    /// [`PatternError`] for a bare or misplaced `*`, an empty name part, or
    /// a character a rendered metric name can't hold.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let fail = |reason| {
            Err(PatternError {
                pattern: text.to_owned(),
                reason,
            })
        };
        let stars = text.matches('*').count();
        let pattern = match stars {
            0 => Pattern::Exact(text.to_owned()),
            1 if text.len() > 1 && text.ends_with('*') => {
                Pattern::Prefix(text[..text.len() - 1].to_owned())
            }
            1 if text.len() > 1 && text.starts_with('*') => Pattern::Suffix(text[1..].to_owned()),
            1 if text.len() == 1 => {
                return fail("a bare `*` matches everything: put those settings in [defaults]")
            }
            _ => {
                return fail(
                    "use `name`, `prefix*` or `*suffix`: one `*`, at the start or at the end",
                )
            }
        };
        let fragment = pattern.fragment();
        if fragment.is_empty() {
            return fail("the name part is empty");
        }
        let first = fragment.chars().next().unwrap_or('_');
        let valid_start = first.is_ascii_alphabetic() || first == '_' || first == ':';
        // A suffix is the end of a name, so it may start with a digit (`*2xx_total`).
        if !valid_start && !matches!(pattern, Pattern::Suffix(_)) {
            return fail("a metric name (or pattern prefix) must start with a letter, `_` or `:`");
        }
        if !fragment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return fail(
                "only letters, digits, `_` and `:` can match a rendered metric name \
                 (names are sanitized: write `http_requests`, not `http.requests`)",
            );
        }
        Ok(pattern)
    }

    /// The name part, without the `*`.
    pub fn fragment(&self) -> &str {
        match self {
            Pattern::Exact(s) | Pattern::Prefix(s) | Pattern::Suffix(s) => s,
        }
    }

    /// Whether `name` (a sanitized metric name) matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Exact(s) => name == s,
            Pattern::Prefix(s) => name.starts_with(s.as_str()),
            Pattern::Suffix(s) => name.ends_with(s.as_str()),
        }
    }

    /// The exporter's equivalent matcher.
    pub fn to_matcher(&self) -> Matcher {
        match self {
            Pattern::Exact(s) => Matcher::Full(s.clone()),
            Pattern::Prefix(s) => Matcher::Prefix(s.clone()),
            Pattern::Suffix(s) => Matcher::Suffix(s.clone()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(s) => f.write_str(s),
            Pattern::Prefix(s) => write!(f, "{s}*"),
            Pattern::Suffix(s) => write!(f, "*{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(Pattern::parse("a_b").unwrap(), Pattern::Exact("a_b".into()));
        assert_eq!(
            Pattern::parse("app_*").unwrap(),
            Pattern::Prefix("app_".into())
        );
        assert_eq!(
            Pattern::parse("*_total").unwrap(),
            Pattern::Suffix("_total".into())
        );
    }

    #[test]
    fn refuses_malformed_patterns() {
        for bad in [
            "",
            "*",
            "**",
            "a*b",
            "*a*",
            "http.requests",
            "9lives",
            "a-b*",
            "*",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_suffix_may_start_with_a_digit() {
        let p = Pattern::parse("*2xx_total").unwrap();
        assert_eq!(p, Pattern::Suffix("2xx_total".into()));
        assert!(p.matches("http_2xx_total"));
        assert!(Pattern::parse("2xx_*").is_err());
        assert!(Pattern::parse("2xx_total").is_err());
    }

    #[test]
    fn matches_sanitized_names() {
        let p = Pattern::parse("*_seconds").unwrap();
        assert!(p.matches("db_query_seconds"));
        assert!(!p.matches("db_query_seconds_total"));
    }
}
