//! The values of ingested series (samples from outside metrics-rs, see
//! [`Ingest`](crate::ingest::Ingest)), and their updates.
//!
//! Each update writes its own storage, then takes the path every update
//! takes ([`Series::updated`]): a series that expired or was evicted
//! meanwhile replays it where its label set now belongs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{Series, Storage};

/// A classic histogram's counts, under one lock so a render reads them
/// consistent: cumulative per bound, then `+Inf` (the `_count`), and the sum.
#[derive(Debug)]
pub(crate) struct BucketValues {
    /// Cumulative counts: one per bound, then `+Inf`.
    cumulative: Box<[f64]>,
    sum: f64,
}

impl BucketValues {
    /// Zero counts for `bounds` bounds (and `+Inf`).
    pub(crate) fn new(bounds: usize) -> BucketValues {
        BucketValues {
            cumulative: vec![0.0; bounds + 1].into_boxed_slice(),
            sum: 0.0,
        }
    }

    /// The cumulative counts, `+Inf` last.
    pub(crate) fn cumulative(&self) -> &[f64] {
        &self.cumulative
    }

    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }

    /// The `+Inf` bucket: the `_count`.
    pub(crate) fn count(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }
}

/// A summary's values: the quantiles as the upstream computed them (`NaN`
/// until set, as clients render an empty summary), the sum and the count.
#[derive(Debug)]
pub(crate) struct SummaryValues {
    quantiles: Box<[f64]>,
    sum: f64,
    count: f64,
}

impl SummaryValues {
    pub(crate) fn new(quantiles: usize) -> SummaryValues {
        SummaryValues {
            quantiles: vec![f64::NAN; quantiles].into_boxed_slice(),
            sum: 0.0,
            count: 0.0,
        }
    }

    pub(crate) fn quantiles(&self) -> &[f64] {
        &self.quantiles
    }

    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }

    pub(crate) fn count(&self) -> f64 {
        self.count
    }
}

/// Adds `delta` to the `f64` held as bits.
pub(super) fn add_f64(bits: &AtomicU64, delta: f64) {
    let _ = bits.fetch_update(Ordering::SeqCst, Ordering::Relaxed, |old| {
        Some((f64::from_bits(old) + delta).to_bits())
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A count as a level (saturating; `NaN` is 0).
pub(super) fn level_of(count: f64) -> u64 {
    count as u64
}

impl Series {
    /// Adds `delta` (finite, not negative: checked by the caller) to an
    /// ingested counter.
    pub(crate) fn add_float(&self, delta: f64) {
        if let Storage::FloatCounter(bits) = &self.storage {
            add_f64(bits, delta);
        }
        self.updated(|target| target.add_float(delta));
    }

    /// Adds non-cumulative bucket counts (one per bound, then `+Inf`) and a
    /// sum to an ingested classic histogram (checked by the caller: finite,
    /// counts not negative, as many as the metric's bounds and one).
    pub(crate) fn add_buckets(&self, buckets: &[f64], sum: f64) {
        if let Storage::Buckets(values) = &self.storage {
            let mut values = lock(values);
            if values.cumulative.len() == buckets.len() {
                let mut running = 0.0;
                for (total, delta) in values.cumulative.iter_mut().zip(buckets) {
                    running += delta;
                    *total += running;
                }
                values.sum += sum;
            }
        }
        self.updated(|target| target.add_buckets(buckets, sum));
    }

    /// Sets an ingested summary's quantile values (as many as its
    /// quantiles: checked by the caller). The overflow series keeps none.
    pub(crate) fn set_quantiles(&self, quantiles: &[f64]) {
        if self.overflow {
            return;
        }
        if let Storage::Summary(values) = &self.storage {
            let mut values = lock(values);
            if values.quantiles.len() == quantiles.len() {
                values.quantiles.copy_from_slice(quantiles);
            }
        }
        self.updated(|target| target.set_quantiles(quantiles));
    }

    /// Adds to an ingested summary's sum and count (checked by the caller:
    /// finite, the count not negative).
    pub(crate) fn add_summary(&self, sum: f64, count: f64) {
        if let Storage::Summary(values) = &self.storage {
            let mut values = lock(values);
            values.sum += sum;
            values.count += count;
        }
        self.updated(|target| target.add_summary(sum, count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn ingested_storage_keeps_a_series_as_small_as_before() {
        // One word and a tag: the float counter is inline, the histogram
        // and summary one thin pointer, as `metrics`' histograms are.
        assert_eq!(size_of::<Storage>(), 16);
        let buckets = size_of::<Mutex<BucketValues>>();
        let summary = size_of::<Mutex<SummaryValues>>();
        eprintln!(
            "per series beside the series itself: float counter 0 B; classic histogram \
             {buckets} B + 8 B per bound and 8 B (+Inf); summary {summary} B + 8 B per quantile"
        );
        assert!(buckets <= 40 && summary <= 48, "{buckets} {summary}");
    }

    #[test]
    fn levels_are_counts_rounded_down() {
        assert_eq!(BucketValues::new(2).cumulative(), [0.0; 3]);
        assert!(SummaryValues::new(2).quantiles().iter().all(|q| q.is_nan()));
        assert_eq!(level_of(f64::NAN), 0);
        assert_eq!(level_of(2.9), 2);
        assert_eq!(level_of(1e300), u64::MAX);
    }
}
