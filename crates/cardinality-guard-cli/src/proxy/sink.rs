//! Where the proxy's deltas go: the guard's [`Ingest`] in the binary, a
//! recording fake in the unit tests of the delta state.

use std::sync::Arc;

use cardinality_guard_core::{
    Config, Ingest, IngestedCounter, IngestedGauge, IngestedHistogram, IngestedSummary,
};

/// The four kinds of series the proxy feeds, registered once per input and
/// then updated through their handles.
pub(crate) trait Sink {
    /// A counter's handle.
    type Counter;
    /// A gauge's handle.
    type Gauge;
    /// A classic histogram's handle.
    type Histogram;
    /// A summary's handle.
    type Summary;

    /// The `# HELP` text of metric `name`.
    fn describe(&self, name: &str, help: &str);
    /// The counter `name` with `labels`.
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Self::Counter;
    /// The gauge `name` with `labels`.
    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Self::Gauge;
    /// The histogram `name` with `labels` (no `le`) and the upstream's
    /// finite `le` texts.
    fn histogram(&self, name: &str, labels: &[(&str, &str)], bounds: &[&str]) -> Self::Histogram;
    /// The summary `name` with `labels` (no `quantile`) and its quantile texts.
    fn summary(&self, name: &str, labels: &[(&str, &str)], quantiles: &[&str]) -> Self::Summary;

    /// Adds `delta` to a counter.
    fn add_counter(counter: &Self::Counter, delta: f64);
    /// Sets a gauge.
    fn set_gauge(gauge: &Self::Gauge, value: f64);
    /// Adds non-cumulative bucket deltas (`+Inf` last), a sum delta and a
    /// count delta to a histogram.
    fn add_histogram(histogram: &Self::Histogram, buckets: &[f64], sum: f64, count: f64);
    /// Sets a summary's quantile values.
    fn set_quantiles(summary: &Self::Summary, values: &[f64]);
    /// Adds a sum delta and a count delta to a summary.
    fn add_summary(summary: &Self::Summary, sum: f64, count: f64);

    /// Whether a counter's updates go to the overflow series.
    fn counter_folded(_counter: &Self::Counter) -> bool {
        false
    }
    /// Whether a histogram's updates go to the overflow series.
    fn histogram_folded(_histogram: &Self::Histogram) -> bool {
        false
    }
    /// Whether a summary's updates go to the overflow series.
    fn summary_folded(_summary: &Self::Summary) -> bool {
        false
    }
    /// The guard's config in force (a reload replaces it).
    fn config(&self) -> Option<Arc<Config>> {
        None
    }
    /// `updates` (increments, observations) of a folded input, counted for
    /// `keep = "busiest"`; whether upkeep promoted it (register it again).
    fn folded_updates(&self, _name: &str, _labels: &[(&str, &str)], _updates: f64) -> bool {
        false
    }
}

impl Sink for Ingest {
    type Counter = IngestedCounter;
    type Gauge = IngestedGauge;
    type Histogram = IngestedHistogram;
    type Summary = IngestedSummary;

    fn describe(&self, name: &str, help: &str) {
        Ingest::describe(self, name, help);
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> IngestedCounter {
        Ingest::counter(self, name, labels)
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> IngestedGauge {
        Ingest::gauge(self, name, labels)
    }

    fn histogram(&self, name: &str, labels: &[(&str, &str)], bounds: &[&str]) -> IngestedHistogram {
        Ingest::histogram(self, name, labels, bounds)
    }

    fn summary(&self, name: &str, labels: &[(&str, &str)], quantiles: &[&str]) -> IngestedSummary {
        Ingest::summary(self, name, labels, quantiles)
    }

    fn add_counter(counter: &IngestedCounter, delta: f64) {
        counter.add(delta);
    }

    fn set_gauge(gauge: &IngestedGauge, value: f64) {
        gauge.set(value);
    }

    fn add_histogram(histogram: &IngestedHistogram, buckets: &[f64], sum: f64, count: f64) {
        histogram.add(buckets, sum, count);
    }

    fn set_quantiles(summary: &IngestedSummary, values: &[f64]) {
        summary.set_quantiles(values);
    }

    fn add_summary(summary: &IngestedSummary, sum: f64, count: f64) {
        summary.add(sum, count);
    }

    fn counter_folded(counter: &IngestedCounter) -> bool {
        counter.is_folded()
    }

    fn histogram_folded(histogram: &IngestedHistogram) -> bool {
        histogram.is_folded()
    }

    fn summary_folded(summary: &IngestedSummary) -> bool {
        summary.is_folded()
    }

    fn folded_updates(&self, name: &str, labels: &[(&str, &str)], updates: f64) -> bool {
        Ingest::folded_updates(self, name, labels, updates)
    }

    fn config(&self) -> Option<Arc<Config>> {
        Some(Ingest::config(self))
    }
}
