//! How a metric stores its series: the three kinds `metrics` registers, and
//! the storages [`Ingest`](crate::Ingest) creates for samples from outside
//! metrics-rs. A name is one metric of one flavor.

use crate::series::{BucketValues, Storage, SummaryValues};
use crate::shape::HistogramShape;
use crate::vocabulary::MetricKind;

/// What a metric stores per series; one lookup table per flavor, so a
/// registration only ever finds series of its own flavor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `metrics` counters: a `u64`.
    Counter = 0,
    /// Gauges, registered by `metrics` or ingested: an `f64`.
    Gauge = 1,
    /// `metrics` histograms: a distribution shaped by `[histograms]`.
    Histogram = 2,
    /// Ingested counters: an `f64` (deltas of the upstream's values).
    FloatCounter = 3,
    /// Ingested classic histograms, with the upstream's bounds.
    Buckets = 4,
    /// Ingested summaries, with the upstream's quantiles.
    Summary = 5,
}

impl Flavor {
    /// Every flavor, in the order of their indices.
    pub(crate) const COUNT: usize = 6;

    /// The kind the report and the self-report give it.
    pub(crate) fn kind(self) -> MetricKind {
        match self {
            Flavor::Counter | Flavor::FloatCounter => MetricKind::Counter,
            Flavor::Gauge => MetricKind::Gauge,
            Flavor::Histogram | Flavor::Buckets | Flavor::Summary => MetricKind::Histogram,
        }
    }

    /// How an ingested histogram or summary with `texts` renders.
    pub(crate) fn shape(self, texts: usize) -> Option<HistogramShape> {
        match self {
            Flavor::Buckets => Some(HistogramShape::Buckets(texts)),
            Flavor::Summary => Some(HistogramShape::Summary(texts)),
            _ => None,
        }
    }

    /// The storage of a new ingested series (`texts`: the metric's `le` or
    /// `quantile` texts); `None` for the kinds `metrics` registers, whose
    /// storage the guard's store chooses.
    pub(crate) fn storage(self, texts: usize) -> Option<Storage> {
        Some(match self {
            Flavor::FloatCounter => Storage::FloatCounter(0.0_f64.to_bits().into()),
            Flavor::Buckets => Storage::Buckets(Box::new(BucketValues::new(texts).into())),
            Flavor::Summary => Storage::Summary(Box::new(SummaryValues::new(texts).into())),
            Flavor::Counter | Flavor::Gauge | Flavor::Histogram => return None,
        })
    }

    /// What its overflow series costs, given what a label set costs: an
    /// ingested summary's overflow series renders `_sum` and `_count` only.
    pub(crate) fn overflow_cost(self, cost: u64) -> u64 {
        match self {
            Flavor::Summary => 2,
            _ => cost,
        }
    }
}

impl From<MetricKind> for Flavor {
    fn from(kind: MetricKind) -> Flavor {
        match kind {
            MetricKind::Counter => Flavor::Counter,
            MetricKind::Gauge => Flavor::Gauge,
            MetricKind::Histogram => Flavor::Histogram,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summarys_overflow_series_costs_its_sum_and_count() {
        assert_eq!(Flavor::Summary.overflow_cost(9), 2);
        assert_eq!(Flavor::Buckets.overflow_cost(5), 5);
        assert_eq!(Flavor::Buckets.shape(2).unwrap().series_per_label_set(), 5);
        assert_eq!(Flavor::Summary.shape(3).unwrap().series_per_label_set(), 5);
        assert_eq!(Flavor::FloatCounter.kind(), MetricKind::Counter);
    }
}
