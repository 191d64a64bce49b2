//! Samples from outside metrics-rs: what another process exposes (a
//! Prometheus or OpenMetrics text, read by `cardinality-guard proxy`), fed
//! through the same admission, budgets, folding, eviction, self-report and
//! exposition as the library.
//!
//! A metrics-rs handle can't carry what an upstream has: counters with float
//! values, classic histograms with the upstream's own bucket bounds,
//! summaries whose quantiles the upstream computed. [`Ingest`] registers
//! them ([`GuardRecorder::ingest`](crate::GuardRecorder::ingest)), and its
//! handles take **deltas** (the caller keeps the state per input series):
//!
//! ```
//! use cardinality_guard_core::{Config, PrometheusGuard};
//!
//! let config = Config::from_toml("[[metrics]]\nmatch = \"cpu_seconds_total\"\nmax_series = 2\n", "guard.toml")?;
//! let (recorder, exporter) = PrometheusGuard::builder(config).build()?;
//! let ingest = recorder.ingest();
//! ingest.describe("cpu_seconds_total", "CPU time.");
//! ingest.counter("cpu_seconds_total", &[("core", "0")]).add(12.5);
//! ingest.counter("cpu_seconds_total", &[("core", "1")]).add(0.25); // folded: the budget holds 1 + overflow
//! let text = exporter.render();
//! assert!(text.contains("cpu_seconds_total{core=\"0\"} 12.5\n"));
//! assert!(text.contains("cpu_seconds_total{otel_metric_overflow=\"true\"} 0.25\n"));
//!
//! let latency = ingest.histogram("latency_seconds", &[("path", "/")], &["0.1", "1.0"]);
//! latency.add(&[3.0, 1.0, 0.0], 0.75, 4.0); // per bucket, then +Inf: not cumulative
//! let text = exporter.render();
//! assert!(text.contains("latency_seconds_bucket{path=\"/\",le=\"1.0\"} 4\n"));
//! assert!(text.contains("latency_seconds_count{path=\"/\"} 4\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What each storage is
//!
//! - a counter: an `f64`, the sum of the deltas given (`# TYPE counter`);
//! - a gauge: the library's gauge storage (a metrics-rs gauge of the same
//!   name is the same metric);
//! - a classic histogram: the upstream's `le` texts, kept as written, fixed
//!   by the metric's first registration; per label set, cumulative counts
//!   and a sum (`f64`), rendered `_bucket` per bound, `le="+Inf"`, `_sum`
//!   and `_count` (the `+Inf` bucket's count, so the two always agree);
//!   cost bounds + 3 per label set;
//! - a summary: the upstream's `quantile` texts, fixed likewise; per label
//!   set, the quantile values as last set, a sum and a count; cost
//!   quantiles + 2 per label set. The overflow series folds sums and counts
//!   only: it renders `_sum` and `_count` (and costs 2).
//!
//! A name is one metric: a registration of another storage (a metrics-rs
//! counter of an ingested counter's name, or the reverse; a summary of a
//! histogram's name) is refused, counted as `invalid` under
//! `metric="__invalid__"`, and its handle does nothing. So is a histogram
//! whose bounds are not finite, strictly increasing numbers (at most 1024
//! of 64 bytes each), or a summary whose quantiles are not distinct numbers
//! in [0, 1].
//!
//! A metric keeps the bounds (or quantiles) of its first registration. A
//! histogram registered later with other bounds (an upstream whose new
//! version changed its buckets, or writes `1.0` where it wrote `1`) counts
//! each of its buckets in the metric's bucket of the smallest bound at or
//! above its own (`+Inf` if none): its counts, sum and count stay true,
//! only coarser where the bounds differ. A summary registered with other
//! quantiles adds its sum and count; its quantile values are dropped.
//!
//! Handles follow evictions and idle expiry as metrics-rs handles do: an
//! update of a series that was evicted or expired goes where its label set
//! belongs now (the overflow series, or a new series from zero), so no
//! update is lost. Dropped registrations (`on_overflow = "drop"`,
//! `max_metrics`, an invalid name) give handles that do nothing.

mod texts;

use std::fmt;
use std::sync::Arc;

use metrics::{GaugeFn, Key, KeyName, Label};

use crate::flavor::Flavor;
use crate::registry::Registry;
use crate::series::Series;

/// Registers samples from outside metrics-rs with a guard: see the
/// [module docs](self). From [`GuardRecorder::ingest`](crate::GuardRecorder::ingest);
/// clones share the guard.
#[derive(Clone)]
pub struct Ingest {
    registry: Arc<Registry>,
}

impl fmt::Debug for Ingest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest").finish_non_exhaustive()
    }
}

/// The key of `name` and `labels`, as metrics-rs would make it.
fn key_of(name: &str, labels: &[(&str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new((*k).to_owned(), (*v).to_owned()))
        .collect();
    Key::from_parts(name.to_owned(), labels)
}

impl Ingest {
    pub(crate) fn new(registry: Arc<Registry>) -> Ingest {
        Ingest { registry }
    }

    /// The config in force: a reload replaces it (a new `Arc`), so a
    /// caller that keeps handles can tell when to register folded label
    /// sets again (a raised budget may admit them).
    pub fn config(&self) -> Arc<crate::config::Config> {
        self.registry.config()
    }

    /// `# HELP` of a family (first one kept, bounded like describe_*).
    pub fn describe(&self, name: &str, help: &str) {
        let _kept = self
            .registry
            .describe(&KeyName::from(name.to_owned()), help);
    }

    /// The counter `name` with `labels` (in any order): its own series, the
    /// overflow series, or nothing, as the config decides.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> IngestedCounter {
        let key = key_of(name, labels);
        IngestedCounter(self.registry.ingested(Flavor::FloatCounter, &[], &key))
    }

    /// The gauge `name` with `labels`, in the library's gauge storage.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> IngestedGauge {
        let key = key_of(name, labels);
        IngestedGauge(self.registry.ingested(Flavor::Gauge, &[], &key))
    }

    /// The classic histogram `name` with `labels` (without `le`).
    /// `bounds`: the upstream's `le` texts as written, in order, WITHOUT "+Inf".
    pub fn histogram(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[&str],
    ) -> IngestedHistogram {
        if !texts::valid_bounds(bounds) {
            self.registry.refuse_invalid();
            return IngestedHistogram {
                series: None,
                remap: None,
            };
        }
        let key = key_of(name, labels);
        let series = self.registry.ingested(Flavor::Buckets, bounds, &key);
        let remap = series
            .as_ref()
            .and_then(|s| texts::remap(bounds, &s.family.texts))
            .map(|to| Arc::new(Remap(to)));
        IngestedHistogram { series, remap }
    }

    /// `updates` (increments, observations) made since the last call to the
    /// folded handle of `name` with `labels` (see the handles' `is_folded`),
    /// for `keep = "busiest"`: a handle kept is registered once, so the
    /// guard can't count its updates as it counts repeated registrations
    /// that fold. Counted likewise, they let a busy folded label set
    /// outrank an admitted series at upkeep. Returns whether upkeep
    /// promoted it: then register it again ([`counter`](Self::counter),
    /// [`histogram`](Self::histogram), [`summary`](Self::summary)) for a
    /// series of its own, starting at zero (what it sent before stays in
    /// the overflow series). Does nothing, and returns `false`, unless
    /// the metric keeps `busiest` and `updates` is above 0.
    pub fn folded_updates(&self, name: &str, labels: &[(&str, &str)], updates: f64) -> bool {
        if updates.is_nan() || updates <= 0.0 {
            return false;
        }
        let weight = updates.ceil().min(f64::from(u32::MAX)) as u32;
        self.registry
            .folded_updates(name, || key_of(name, labels), weight)
    }

    /// The summary `name` with `labels` (without `quantile`).
    /// `quantiles`: the upstream's `quantile` texts as written, in order.
    pub fn summary(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        quantiles: &[&str],
    ) -> IngestedSummary {
        if !texts::valid_quantiles(quantiles) {
            self.registry.refuse_invalid();
            return IngestedSummary {
                series: None,
                quantiles: false,
            };
        }
        let key = key_of(name, labels);
        let series = self.registry.ingested(Flavor::Summary, quantiles, &key);
        let quantiles = series
            .as_ref()
            .is_some_and(|s| texts::same_quantiles(quantiles, &s.family.texts));
        IngestedSummary { series, quantiles }
    }
}

/// Whether updates through a handle of `series` go to an overflow series
/// (it was folded, or evicted since).
fn folded(series: Option<&Arc<Series>>) -> bool {
    series.is_some_and(|s| {
        s.overflow
            || s.redirected()
                .flatten()
                .is_some_and(|target| target.overflow)
    })
}

/// Whether `value` is a count: finite and not negative.
fn is_count(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

/// An ingested counter's handle (a no-op when its registration was dropped).
#[derive(Clone)]
pub struct IngestedCounter(Option<Arc<Series>>);

impl IngestedCounter {
    /// Whether its updates go to the metric's overflow series (its label
    /// set was folded, or evicted since): see [`Ingest::folded_updates`].
    pub fn is_folded(&self) -> bool {
        folded(self.0.as_ref())
    }

    /// Adds `delta`; ignores NaN, negative and infinite deltas.
    pub fn add(&self, delta: f64) {
        if let (Some(series), true) = (&self.0, is_count(delta)) {
            series.add_float(delta);
        }
    }
}

/// An ingested gauge's handle (a no-op when its registration was dropped).
#[derive(Clone)]
pub struct IngestedGauge(Option<Arc<Series>>);

impl IngestedGauge {
    /// Sets the gauge to `value` (any value, as a metrics-rs gauge takes).
    pub fn set(&self, value: f64) {
        if let Some(series) = &self.0 {
            GaugeFn::set(&**series, value);
        }
    }
}

/// An ingested classic histogram's handle (a no-op when its registration
/// was dropped).
#[derive(Clone)]
pub struct IngestedHistogram {
    series: Option<Arc<Series>>,
    /// Registered with other bounds than the metric's: where each of its
    /// buckets goes.
    remap: Option<Arc<Remap>>,
}

/// For each bucket of a registration's bounds (then `+Inf`), the metric's
/// bucket it counts in.
struct Remap(Box<[u16]>);

impl IngestedHistogram {
    /// Whether its updates go to the metric's overflow series (its label
    /// set was folded, or evicted since): see [`Ingest::folded_updates`].
    pub fn is_folded(&self) -> bool {
        folded(self.series.as_ref())
    }

    /// Non-cumulative count deltas, one per bound of the registration then
    /// one for +Inf (bounds.len()+1 values); `sum` may be negative
    /// (observations can be negative); `count` = sum of `buckets`.
    ///
    /// Registered with other bounds than the metric's first registration,
    /// each count goes to the metric's bucket of the smallest bound at or
    /// above its own (`+Inf` if none): counts, sum and count stay true,
    /// only coarser. Ignored whole when a count is negative or not finite,
    /// `sum` is not finite, or `buckets` has another length. The render's
    /// `_count` is the `+Inf` bucket's: the sum of the `buckets` added.
    pub fn add(&self, buckets: &[f64], sum: f64, count: f64) {
        let Some(series) = &self.series else {
            return;
        };
        if !(sum.is_finite() && is_count(count) && buckets.iter().all(|&b| is_count(b))) {
            return;
        }
        let metric_buckets = series.family.texts.len() + 1;
        match &self.remap {
            None if buckets.len() == metric_buckets => series.add_buckets(buckets, sum),
            Some(remap) if buckets.len() == remap.0.len() => {
                let mut counts = vec![0.0; metric_buckets];
                for (&count, &to) in buckets.iter().zip(remap.0.iter()) {
                    counts[usize::from(to)] += count;
                }
                series.add_buckets(&counts, sum);
            }
            _ => {}
        }
    }
}

/// An ingested summary's handle (a no-op when its registration was dropped).
#[derive(Clone)]
pub struct IngestedSummary {
    series: Option<Arc<Series>>,
    /// Registered with the metric's quantiles (else its quantile values
    /// are dropped: they can't be mapped).
    quantiles: bool,
}

impl IngestedSummary {
    /// Whether its updates go to the metric's overflow series (its label
    /// set was folded, or evicted since): see [`Ingest::folded_updates`].
    pub fn is_folded(&self) -> bool {
        folded(self.series.as_ref())
    }

    /// The quantile values now (ignored on the overflow series: a folded series' quantiles are dropped).
    ///
    /// One value per quantile the metric was registered with (any value,
    /// `NaN` included, as clients render an empty summary); ignored
    /// otherwise, and when this handle was registered with other quantiles
    /// than the metric's first registration.
    pub fn set_quantiles(&self, values: &[f64]) {
        if let (Some(series), true) = (&self.series, self.quantiles) {
            if values.len() == series.family.texts.len() {
                series.set_quantiles(values);
            }
        }
    }

    /// Adds to the sum (which may go down) and the count; ignored when
    /// `sum` is not finite or `count` is negative or not finite.
    pub fn add(&self, sum: f64, count: f64) {
        if let (Some(series), true) = (&self.series, sum.is_finite() && is_count(count)) {
            series.add_summary(sum, count);
        }
    }
}

macro_rules! debug_handle {
    ($($handle:ident . $series:tt),*) => {$(
        impl fmt::Debug for $handle {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Not its labels: they may hold personal data.
                f.debug_struct(stringify!($handle))
                    .field("registered", &self.$series.is_some())
                    .field("overflow", &self.$series.as_ref().is_some_and(|s| s.overflow))
                    .finish()
            }
        }
    )*};
}

debug_handle!(
    IngestedCounter.0,
    IngestedGauge.0,
    IngestedHistogram.series,
    IngestedSummary.series
);

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Clone + Send + Sync + fmt::Debug + 'static>() -> usize {
        std::mem::size_of::<T>()
    }

    #[test]
    fn handles_are_shareable_and_one_or_two_words() {
        let pointer = std::mem::size_of::<usize>();
        assert_eq!(shareable::<Ingest>(), pointer);
        assert_eq!(shareable::<IngestedCounter>(), pointer);
        assert_eq!(shareable::<IngestedGauge>(), pointer);
        // And what maps another registration's bounds or quantiles.
        assert_eq!(shareable::<IngestedHistogram>(), 2 * pointer);
        assert_eq!(shareable::<IngestedSummary>(), 2 * pointer);
    }
}
