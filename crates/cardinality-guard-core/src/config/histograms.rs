//! How histograms render (`[histograms]`): bucket bounds or summaries.

use std::fmt;

use super::Pattern;

/// The bucket bounds of the embedded default (seconds-scale, 11 bounds:
/// 14 series per label set).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Histogram bucket bounds: non-empty, finite, strictly increasing.
///
/// ```
/// use cardinality_guard_core::Buckets;
///
/// let buckets = Buckets::new(vec![0.01, 0.1, 1.0])?;
/// assert_eq!(buckets.bounds(), &[0.01, 0.1, 1.0]);
/// assert!(Buckets::new(vec![1.0, 0.5]).is_err());
/// # Ok::<(), cardinality_guard_core::config::BucketsError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Vec<f64>);

/// Why [`Buckets::new`] refused a list of bounds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BucketsError {
    /// The list is empty.
    Empty,
    /// A bound is NaN or infinite.
    NotFinite(f64),
    /// A bound is not greater than the one before it.
    NotIncreasing {
        /// The earlier bound.
        before: f64,
        /// The bound that follows it.
        after: f64,
    },
}

impl fmt::Display for BucketsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketsError::Empty => f.write_str(
                "bucket list is empty (write `buckets = \"summary\"` to render summaries)",
            ),
            BucketsError::NotFinite(bad) => write!(
                f,
                "bucket bound {bad} is not finite (`+Inf` is always added by the exporter)"
            ),
            BucketsError::NotIncreasing { before, after } => write!(
                f,
                "buckets must be strictly increasing, but {before} is followed by {after}"
            ),
        }
    }
}

impl std::error::Error for BucketsError {}

impl Buckets {
    /// Checks and wraps bucket upper bounds.
    ///
    /// # Errors
    /// [`BucketsError`] when the list is empty, holds a NaN or infinite
    /// bound, or is not strictly increasing.
    pub fn new(bounds: Vec<f64>) -> Result<Buckets, BucketsError> {
        if bounds.is_empty() {
            return Err(BucketsError::Empty);
        }
        if let Some(bad) = bounds.iter().find(|b| !b.is_finite()) {
            return Err(BucketsError::NotFinite(*bad));
        }
        if let Some(pair) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            return Err(BucketsError::NotIncreasing {
                before: pair[0],
                after: pair[1],
            });
        }
        Ok(Buckets(bounds))
    }

    /// The bounds.
    #[must_use]
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }
}

impl Default for Buckets {
    /// [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        Buckets(DEFAULT_BUCKETS.to_vec())
    }
}

/// How histograms render: global buckets (or summaries) plus per-metric overrides.
///
/// The default is the embedded default's: [`DEFAULT_BUCKETS`] for every
/// histogram, no overrides. [`HistogramConfig::summaries`] renders summaries.
///
/// ```
/// use cardinality_guard_core::{Buckets, HistogramConfig, Pattern};
///
/// let histograms = HistogramConfig::default()
///     .with_override(Pattern::parse("db_*")?, Buckets::new(vec![0.001, 0.01, 0.1])?);
/// assert_eq!(histograms.buckets_for("db_query_seconds").unwrap().bounds().len(), 3);
/// assert_eq!(histograms.buckets_for("http_seconds").unwrap().bounds().len(), 11);
/// assert!(HistogramConfig::summaries().buckets_for("http_seconds").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramConfig {
    /// Buckets for every histogram without an override; `None` renders summaries.
    pub buckets: Option<Buckets>,
    /// Per-metric bucket overrides. Precedence is the exporter's: exact names,
    /// then prefixes, then suffixes, each group in text order; the first match wins.
    pub per_metric: Vec<(Pattern, Buckets)>,
}

impl Default for HistogramConfig {
    /// [`DEFAULT_BUCKETS`] for every histogram, as the embedded default.
    fn default() -> Self {
        HistogramConfig {
            buckets: Some(Buckets::default()),
            per_metric: Vec::new(),
        }
    }
}

impl HistogramConfig {
    /// Every histogram renders as a summary (the exporter's 7 quantiles),
    /// until overridden.
    #[must_use]
    pub fn summaries() -> Self {
        HistogramConfig {
            buckets: None,
            per_metric: Vec::new(),
        }
    }

    /// Sets the buckets of every histogram without an override (`None`:
    /// summaries).
    #[must_use]
    pub fn with_buckets(mut self, buckets: Option<Buckets>) -> Self {
        self.buckets = buckets;
        self
    }

    /// Histograms matching `pattern` render with `buckets`; a second
    /// override of the same pattern replaces the first.
    #[must_use]
    pub fn with_override(mut self, pattern: Pattern, buckets: Buckets) -> Self {
        self.per_metric.retain(|(p, _)| p != &pattern);
        self.per_metric.push((pattern, buckets));
        self
    }

    /// The buckets of the histogram `name` (`None`: it renders as a summary).
    #[must_use]
    pub fn buckets_for(&self, name: &str) -> Option<&Buckets> {
        let mut overrides: Vec<&(Pattern, Buckets)> = self.per_metric.iter().collect();
        overrides.sort_by(|a, b| a.0.cmp(&b.0));
        overrides
            .into_iter()
            .find(|(p, _)| p.matches(name))
            .map(|(_, b)| b)
            .or(self.buckets.as_ref())
    }
}
