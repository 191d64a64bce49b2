//! What the proxy keeps of one input (a counter's handle and last value in
//! the map entry itself; a histogram's or summary's state, larger and rarer,
//! boxed, so that a counter's entry does not pay for it), and how a scrape's
//! values advance it: the deltas to add, a decrease read as a reset.

use super::Sink;

/// What the state of one input holds.
pub(super) enum State<S: Sink> {
    Counter { handle: S::Counter, last: f64 },
    Gauge(S::Gauge),
    Histogram(Box<HistogramState<S>>),
    Summary(Box<SummaryState<S>>),
}

/// A histogram's state, boxed.
pub(super) struct HistogramState<S: Sink> {
    pub(super) handle: S::Histogram,
    /// Cumulative per bucket (`+Inf`, the count, last but one), then the sum.
    pub(super) last: Box<[f64]>,
}

/// A summary's state, boxed.
pub(super) struct SummaryState<S: Sink> {
    pub(super) handle: S::Summary,
    pub(super) sum: f64,
    pub(super) count: f64,
}

impl<S: Sink> State<S> {
    /// What it holds on the heap.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            State::Histogram(h) => {
                std::mem::size_of::<HistogramState<S>>() + std::mem::size_of_val::<[f64]>(&h.last)
            }
            State::Summary(_) => std::mem::size_of::<SummaryState<S>>(),
            State::Counter { .. } | State::Gauge(_) => 0,
        }
    }
}

/// One tracked input.
pub(super) struct Input<S: Sink> {
    /// When it was seen last: seconds since the state began.
    pub(super) seen: u32,
    /// The scrape it was seen last in (wrapping): a second sample of it in
    /// the same scrape is a duplicate.
    pub(super) scrape: u32,
    pub(super) state: State<S>,
}

/// Bytes of one map entry (key and input) with the guard's handles.
#[cfg_attr(not(test), allow(dead_code))] // measured by a unit test
pub(crate) const ENTRY_BYTES: usize =
    std::mem::size_of::<(u64, Input<cardinality_guard_core::Ingest>)>();

/// A counter's delta from `last` to `value` (a decrease is a reset: all of
/// `value`); `last` becomes `value`.
pub(super) fn advance_counter(last: &mut f64, value: f64) -> f64 {
    let delta = if value < *last { value } else { value - *last };
    *last = value;
    delta
}

/// A histogram's deltas from `last` (cumulative per bucket, `+Inf` last,
/// then the sum) to `cumulative` and `sum`: the non-cumulative bucket
/// deltas into `out` (each at least 0, together the count's), and the sum's
/// and count's deltas; a count below the last is a reset. `None` (and
/// nothing changed) when the bucket counts differ from `last`'s.
pub(super) fn advance_histogram(
    last: &mut [f64],
    cumulative: &[f64],
    sum: f64,
    out: &mut Vec<f64>,
) -> Option<(f64, f64)> {
    if last.len() != cumulative.len() + 1 {
        return None;
    }
    let (last_counts, last_sum) = last.split_at_mut(cumulative.len());
    let count = cumulative[cumulative.len() - 1];
    let reset = count < last_counts[last_counts.len() - 1];
    let base = |i: usize| if reset { 0.0 } else { last_counts[i] };
    let count_delta = count - base(cumulative.len() - 1);
    out.clear();
    let mut below = 0.0;
    for (i, &c) in cumulative[..cumulative.len() - 1].iter().enumerate() {
        let through = (c - base(i)).max(below).min(count_delta);
        out.push(through - below);
        below = through;
    }
    out.push(count_delta - below);
    let sum_delta = sum_delta(sum, last_sum[0], reset);
    last_counts.copy_from_slice(cumulative);
    if sum.is_finite() {
        last_sum[0] = sum;
    }
    Some((sum_delta, count_delta))
}

/// A summary's sum and count deltas from `last_sum` and `last_count`
/// (`count` `None`: no `_count` line, which OpenMetrics allows: the count
/// stays as it was, and is no reset).
pub(super) fn advance_summary(
    last_sum: &mut f64,
    last_count: &mut f64,
    sum: f64,
    count: Option<f64>,
) -> (f64, f64) {
    let count = count.unwrap_or(*last_count);
    let reset = count < *last_count;
    let count_delta = if reset { count } else { count - *last_count };
    let sum_delta = sum_delta(sum, *last_sum, reset);
    if sum.is_finite() {
        *last_sum = sum;
    }
    *last_count = count;
    (sum_delta, count_delta)
}

/// What a histogram's or summary's `sum` adds, its last one `last`: all
/// of it after a reset, else the change; nothing when it is not finite (a
/// client that observed a NaN keeps a NaN sum while its counts grow: they
/// still count, the sum stays at its last finite value).
fn sum_delta(sum: f64, last: f64, reset: bool) -> f64 {
    match (sum.is_finite(), reset) {
        (false, _) => 0.0,
        (true, true) => sum,
        (true, false) => sum - last,
    }
}
