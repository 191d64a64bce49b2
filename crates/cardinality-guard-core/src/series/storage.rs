//! Where a series keeps its values, and the updates user code makes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn};
use metrics_exporter_prometheus::Distribution;

use super::ingested::{add_f64, BucketValues, SummaryValues};
use super::Series;

/// Where a series keeps its values: in the guard (the Prometheus path), or
/// in the recorder under it.
pub(crate) enum Storage {
    Counter(AtomicU64),
    /// An `f64` as bits.
    Gauge(AtomicU64),
    /// Samples go straight into the distribution, under its lock: exact
    /// (a lock-free sample buffer drained beside writers loses samples:
    /// `metrics_util::storage::AtomicBucket::clear_with` races `push`) and
    /// bounded (nothing piles up between scrapes). Boxed: most series are
    /// not histograms, and pay one pointer for it.
    Histogram(Box<Mutex<Distribution>>),
    /// Over another recorder: its handle.
    Inner(Box<Handle>),
    /// Ingested counter: an `f64` as bits (the sum of the deltas given).
    FloatCounter(AtomicU64),
    /// Ingested classic histogram (boxed, as `Histogram`).
    Buckets(Box<Mutex<BucketValues>>),
    /// Ingested summary (boxed, as `Histogram`).
    Summary(Box<Mutex<SummaryValues>>),
}

/// A handle of another recorder, of any kind.
pub(crate) enum Handle {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

impl Handle {
    pub(crate) fn counter(&self) -> Counter {
        match self {
            Handle::Counter(c) => c.clone(),
            _ => Counter::noop(),
        }
    }

    pub(crate) fn gauge(&self) -> Gauge {
        match self {
            Handle::Gauge(g) => g.clone(),
            _ => Gauge::noop(),
        }
    }

    pub(crate) fn histogram(&self) -> Histogram {
        match self {
            Handle::Histogram(h) => h.clone(),
            _ => Histogram::noop(),
        }
    }
}

impl Series {
    /// Records `count` samples of `value` into its distribution.
    fn record_into(&self, value: f64, count: usize) {
        let Storage::Histogram(distribution) = &self.storage else {
            return;
        };
        let mut distribution = distribution.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *distribution {
            Distribution::Histogram(histogram) => {
                for _ in 0..count {
                    histogram.record(value);
                }
            }
            Distribution::Summary(rolling, _, sum) => {
                let now = quanta::Instant::now();
                for _ in 0..count {
                    rolling.add(value, now);
                    *sum += value;
                }
            }
            // Never created by the guard (the text format can't render them).
            Distribution::NativeHistogram(_) => {}
        }
    }
}

impl CounterFn for Series {
    fn increment(&self, value: u64) {
        if let Storage::Counter(v) = &self.storage {
            v.fetch_add(value, Ordering::SeqCst);
        }
        self.updated(|target| CounterFn::increment(target, value));
    }

    fn absolute(&self, value: u64) {
        if let Storage::Counter(v) = &self.storage {
            v.fetch_max(value, Ordering::SeqCst);
        }
        self.updated(|target| target.absolute(value));
    }
}

impl GaugeFn for Series {
    fn increment(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            add_f64(v, value);
        }
        self.updated(|target| GaugeFn::increment(target, value));
    }

    fn decrement(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            add_f64(v, -value);
        }
        self.updated(|target| GaugeFn::decrement(target, value));
    }

    fn set(&self, value: f64) {
        if let Storage::Gauge(v) = &self.storage {
            v.swap(value.to_bits(), Ordering::SeqCst);
        }
        self.updated(|target| target.set(value));
    }
}

impl HistogramFn for Series {
    fn record(&self, value: f64) {
        self.record_into(value, 1);
        self.updated(|target| target.record(value));
    }

    fn record_many(&self, value: f64, count: usize) {
        self.record_into(value, count);
        self.updated(|target| target.record_many(value, count));
    }
}
