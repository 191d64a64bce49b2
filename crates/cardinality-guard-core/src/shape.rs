//! How many exported series one label set costs.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::Distribution;
use metrics_util::{parse_quantiles, Quantile};

use crate::config::{HistogramConfig, Pattern};
use crate::vocabulary::MetricKind;

/// The exporter's default number of summary quantiles
/// (`0, 0.5, 0.9, 0.95, 0.99, 0.999, 1`).
pub const DEFAULT_QUANTILES: usize = 7;

/// How one histogram renders in the Prometheus text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistogramShape {
    /// A classic histogram with this many bucket bounds: `_bucket` × (N + 1, `+Inf`
    /// included), `_sum` and `_count`, so N + 3 series per label set.
    Buckets(usize),
    /// A summary with this many quantiles: Q quantile lines, `_sum` and
    /// `_count`, so Q + 2 series per label set.
    Summary(usize),
}

impl HistogramShape {
    /// Exported series per label set.
    #[must_use]
    pub fn series_per_label_set(self) -> u64 {
        match self {
            HistogramShape::Buckets(n) => n as u64 + 3,
            HistogramShape::Summary(q) => q as u64 + 2,
        }
    }

    /// The label key it renders itself (`le`, `quantile`).
    pub(crate) fn own_key(self) -> &'static str {
        match self {
            HistogramShape::Buckets(_) => "le",
            HistogramShape::Summary(_) => "quantile",
        }
    }

    /// The sample names a histogram `name` of this shape renders.
    pub(crate) fn sample_names(self, name: &str) -> Vec<String> {
        let suffixes: &[&str] = match self {
            HistogramShape::Buckets(_) => &["", "_bucket", "_sum", "_count"],
            HistogramShape::Summary(_) => &["", "_sum", "_count"],
        };
        suffixes.iter().map(|s| format!("{name}{s}")).collect()
    }
}

/// The histogram shape of every metric name: a default and per-name overrides.
///
/// Overrides are tried in the order `metrics-exporter-prometheus` tries them
/// (exact names, then prefixes, then suffixes, each group in text order; the
/// first match wins), so the guard counts what the exporter renders.
///
/// ```
/// use cardinality_guard_core::{HistogramShape, HistogramShapes, MetricKind, Pattern};
///
/// // What a recorder renders: summaries, but 4 buckets for `db_*`.
/// let shapes = HistogramShapes::new(HistogramShape::Summary(7))
///     .with_override(Pattern::parse("db_*")?, HistogramShape::Buckets(4));
/// assert_eq!(shapes.series_per_label_set(MetricKind::Histogram, "db_query_seconds"), 4 + 3);
/// assert_eq!(shapes.series_per_label_set(MetricKind::Histogram, "http_seconds"), 7 + 2);
/// assert_eq!(shapes.series_per_label_set(MetricKind::Counter, "db_total"), 1);
/// # Ok::<(), cardinality_guard_core::config::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramShapes {
    default: HistogramShape,
    overrides: Vec<(Pattern, HistogramShape)>,
}

impl Default for HistogramShapes {
    /// The exporter's default: summaries with 7 quantiles.
    fn default() -> Self {
        HistogramShapes::new(HistogramShape::Summary(DEFAULT_QUANTILES))
    }
}

impl HistogramShapes {
    /// Every histogram renders as `default` until overridden.
    #[must_use]
    pub fn new(default: HistogramShape) -> Self {
        HistogramShapes {
            default,
            overrides: Vec::new(),
        }
    }

    /// Metrics matching `pattern` render as `shape`. A second override for the
    /// same pattern replaces the first, as in the exporter.
    #[must_use]
    pub fn with_override(mut self, pattern: Pattern, shape: HistogramShape) -> Self {
        self.overrides.retain(|(p, _)| p != &pattern);
        self.overrides.push((pattern, shape));
        self.overrides.sort_by(|a, b| a.0.cmp(&b.0));
        self
    }

    /// The shapes a [`HistogramConfig`] gives the exporter this guard builds.
    #[must_use]
    pub fn from_config(config: &HistogramConfig) -> Self {
        let default = match &config.buckets {
            Some(b) => HistogramShape::Buckets(b.bounds().len()),
            None => HistogramShape::Summary(DEFAULT_QUANTILES),
        };
        config
            .per_metric
            .iter()
            .fold(HistogramShapes::new(default), |shapes, (p, b)| {
                shapes.with_override(p.clone(), HistogramShape::Buckets(b.bounds().len()))
            })
    }

    /// The shape of a (sanitized) metric name.
    #[must_use]
    pub fn shape_for(&self, name: &str) -> HistogramShape {
        self.overrides
            .iter()
            .find(|(p, _)| p.matches(name))
            .map_or(self.default, |(_, s)| *s)
    }

    /// Exported series per label set of a metric of `kind` named `name`.
    #[must_use]
    pub fn series_per_label_set(&self, kind: MetricKind, name: &str) -> u64 {
        match kind {
            MetricKind::Counter | MetricKind::Gauge => 1,
            MetricKind::Histogram => self.shape_for(name).series_per_label_set(),
        }
    }
}

/// The exporter's default summary quantiles.
const QUANTILES: [f64; DEFAULT_QUANTILES] = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

/// How a histogram renders, on the Prometheus path.
#[derive(Clone, Debug)]
pub(crate) enum HistogramStore {
    Buckets(Arc<[f64]>),
    Summary(Arc<Vec<Quantile>>),
}

impl HistogramStore {
    /// How the histogram `name` renders under `config`: the one place
    /// that decides it (`[histograms]` buckets, per-metric ones first, else
    /// the exporter's default summary).
    pub(crate) fn for_metric(config: &HistogramConfig, name: &str) -> HistogramStore {
        match config.buckets_for(name) {
            Some(buckets) => HistogramStore::Buckets(buckets.bounds().into()),
            None => HistogramStore::summary(),
        }
    }

    /// The exporter's default: a summary of its default quantiles.
    pub(crate) fn summary() -> HistogramStore {
        HistogramStore::Summary(Arc::new(parse_quantiles(&QUANTILES)))
    }

    /// Its shape.
    pub(crate) fn shape(&self) -> HistogramShape {
        match self {
            HistogramStore::Buckets(bounds) => HistogramShape::Buckets(bounds.len()),
            HistogramStore::Summary(quantiles) => HistogramShape::Summary(quantiles.len()),
        }
    }

    /// Whether both render the same lines.
    pub(crate) fn same_shape(&self, other: &HistogramStore) -> bool {
        match (self, other) {
            (HistogramStore::Buckets(a), HistogramStore::Buckets(b)) => a == b,
            (HistogramStore::Summary(_), HistogramStore::Summary(_)) => true,
            _ => false,
        }
    }

    /// How it renders, in words (`buckets [..]` or `summary quantiles`).
    pub(crate) fn describe(&self) -> String {
        match self {
            HistogramStore::Buckets(bounds) => format!("buckets {bounds:?}"),
            HistogramStore::Summary(_) => "summary quantiles".to_owned(),
        }
    }

    pub(crate) fn distribution(&self) -> Distribution {
        match self {
            HistogramStore::Buckets(bounds) => Distribution::new_histogram(bounds),
            // The exporter's defaults: three 20 s windows.
            HistogramStore::Summary(quantiles) => Distribution::new_summary(
                quantiles.clone(),
                Duration::from_secs(20),
                NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN),
            ),
        }
    }

    /// The `# TYPE` of the family.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            HistogramStore::Buckets(_) => "histogram",
            HistogramStore::Summary(_) => "summary",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_follow_the_exposition_format() {
        assert_eq!(HistogramShape::Buckets(11).series_per_label_set(), 14);
        assert_eq!(HistogramShape::Summary(7).series_per_label_set(), 9);
        let shapes = HistogramShapes::default();
        assert_eq!(shapes.series_per_label_set(MetricKind::Counter, "x"), 1);
        assert_eq!(shapes.series_per_label_set(MetricKind::Histogram, "x"), 9);
    }

    #[test]
    fn overrides_follow_the_exporter_order() {
        let p = |s| Pattern::parse(s).unwrap();
        let shapes = HistogramShapes::new(HistogramShape::Buckets(1))
            .with_override(p("*_seconds"), HistogramShape::Buckets(2))
            .with_override(p("http_*"), HistogramShape::Buckets(3))
            .with_override(p("http_lat_seconds"), HistogramShape::Buckets(4));
        assert_eq!(
            shapes.shape_for("http_lat_seconds"),
            HistogramShape::Buckets(4)
        );
        assert_eq!(
            shapes.shape_for("http_x_seconds"),
            HistogramShape::Buckets(3)
        );
        assert_eq!(shapes.shape_for("db_seconds"), HistogramShape::Buckets(2));
        assert_eq!(shapes.shape_for("db"), HistogramShape::Buckets(1));
    }
}
