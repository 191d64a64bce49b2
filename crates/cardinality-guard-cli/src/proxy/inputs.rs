//! The state per input series: what the upstream showed of it last, and
//! its handle in the guard, so that counters, histograms and summaries fold
//! by **deltas** (totals conserved, no resets in the proxy's series).
//!
//! An input is one upstream series as the guard registers it: a counter or
//! a gauge sample, a classic histogram's `_bucket`/`_sum`/`_count` lines of
//! one label set (without `le`), a summary's quantile/`_sum`/`_count` lines
//! of one label set (without `quantile`). It is keyed by a 64-bit keyed hash
//! (SipHash with a per-process random key, so an upstream can't aim
//! collisions) of its kind, name, labels (empty values left out, sorted) and,
//! for histograms and summaries, its `le`/`quantile` texts: other bounds are
//! another input.
//!
//! - A counter's first sight adds its full value; a value below the last
//!   one is the upstream's reset (as Prometheus reads it) and adds the
//!   value; otherwise the difference.
//! - A histogram is judged reset by its `_count` going down (its `_sum` may
//!   go down: observations can be negative), then adds its current values;
//!   otherwise each cumulative bucket adds its increase (at least 0, at most
//!   the count's), turned non-cumulative, and the sum its change (maybe
//!   negative; none while the sum is not finite, as a client's is once it
//!   observed a NaN: the counts still count).
//! - A summary likewise by its `_count`; its quantiles are set each scrape.
//! - A gauge is set.
//!
//! A folded input's handle is kept, so the guard can't count its updates
//! as it counts the repeated registrations of a metrics-rs label set that
//! folds: its increases (a counter's, a histogram's or summary's count's)
//! are told to the guard ([`Sink::folded_updates`]), so that under
//! `keep = "busiest"` a busy folded input outranks an idle admitted one,
//! and once upkeep promotes it, it is registered again: its own series,
//! from zero (its history stays in the overflow series).
//!
//! After a reload (the guard's config replaced), every input is registered
//! again as it is seen: a raised budget or label limit admits folded ones.
//!
//! An input that vanishes upstream keeps its last contribution (the
//! guard's series keeps its value). Its state is forgotten once it has not
//! been seen for the staleness interval: seen again after that, it counts as
//! new (its full value is added again). Beyond `max` tracked inputs, the
//! samples of new inputs are dropped (neither tracked nor forwarded) and
//! counted ([`Inputs::untracked`]). A second sample of an input in one
//! scrape (an upstream that writes a series twice) is ignored and counted
//! ([`Inputs::duplicates`]): the first one counts, as Prometheus keeps the
//! first of duplicate samples, so a duplicate can't read as a reset and
//! inflate a counter at every scrape. A count that can't be one (a counter's
//! value, a histogram's bucket — its `+Inf` bucket is its count, `_count`
//! stands in only without one — or a summary's count that is NaN, infinite
//! or negative) drops its label set's samples of that scrape,
//! counted ([`Inputs::unusable`]): no delta can be read from it.
//!
//! Cost per input: one map entry of [`state::ENTRY_BYTES`] bytes (key, last sight
//! and scrape, a counter's handle and last value) plus the map's control
//! byte and spare room; a histogram's or summary's state is on the heap
//! (its handle, and its last values: a histogram's bounds + 2).

use std::collections::hash_map::{Entry, RandomState};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cardinality_guard_core::{Clock, Config};

use super::sink::Sink;

mod state;

#[cfg(test)]
pub(crate) use state::ENTRY_BYTES;
use state::{HistogramState, Input, State, SummaryState};

/// Kinds, hashed into the key.
const COUNTER: u8 = 1;
const GAUGE: u8 = 2;
const HISTOGRAM: u8 = 3;
const SUMMARY: u8 = 4;

/// The state of every tracked input.
pub(crate) struct Inputs<S: Sink> {
    map: HashMap<u64, Input<S>>,
    keys: RandomState,
    clock: Clock,
    start: Instant,
    staleness: u32,
    max: usize,
    untracked: u64,
    duplicates: u64,
    unusable: u64,
    /// The guard's config at the last scrape: a reload replaces it.
    config: Option<Arc<Config>>,
    /// This scrape follows a reload: inputs are registered again.
    refold: bool,
    now: u32,
    scrape: u32,
    scratch: Vec<f64>,
    /// Bytes the histograms' and summaries' states hold on the heap.
    heap: usize,
}

impl<S: Sink> Inputs<S> {
    /// No inputs yet; forgets an input unseen for `staleness`, tracks at
    /// most `max`, reads the time from `clock`.
    pub(crate) fn new(clock: Clock, staleness: Duration, max: usize) -> Self {
        Inputs {
            map: HashMap::new(),
            keys: RandomState::new(),
            start: clock.now(),
            clock,
            staleness: u32::try_from(staleness.as_secs()).unwrap_or(u32::MAX),
            max,
            untracked: 0,
            duplicates: 0,
            unusable: 0,
            config: None,
            refold: false,
            now: 0,
            scrape: 0,
            scratch: Vec::new(),
            heap: 0,
        }
    }

    /// Tracked inputs.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Samples dropped since the start, their input new when `max` inputs
    /// were tracked.
    pub(crate) fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Samples ignored since the start because their input had been seen
    /// already in the same scrape (the first one counts, as Prometheus keeps
    /// the first of duplicate samples).
    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Samples dropped since the start because a count in them can't be
    /// one (NaN, infinite, negative).
    pub(crate) fn unusable(&self) -> u64 {
        self.unusable
    }

    /// Counts `lines` ignored as duplicates before they reached an input
    /// (a histogram's or summary's line repeated within its label set).
    pub(crate) fn duplicated(&mut self, lines: u64) {
        self.duplicates += lines;
    }

    /// Bytes the state holds: the map's entries and spare room (a control
    /// byte each), and the histograms' values on the heap.
    pub(crate) fn bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, Input<S>)>() + 1;
        self.map.capacity() * entry + self.heap + self.scratch.capacity() * 8
    }

    /// Starts a scrape: reads the clock (what "seen" means until the next).
    pub(crate) fn begin(&mut self) {
        let elapsed = self.clock.now().saturating_duration_since(self.start);
        self.now = u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX);
        self.scrape = self.scrape.wrapping_add(1);
    }

    /// Notes the guard's config in force for this scrape: when a reload
    /// replaced it since the last one, every input is registered again as
    /// it is seen (a raised budget or label limit may admit a folded one;
    /// in the library, a label set registered again gets a fresh decision
    /// too; an admitted one finds its series). Otherwise an input keeps its
    /// handle.
    pub(crate) fn config_in_force(&mut self, config: Option<Arc<Config>>) {
        self.refold = matches!((&self.config, &config), (Some(a), Some(b)) if !Arc::ptr_eq(a, b));
        self.config = config;
    }

    /// Forgets the inputs not seen for longer than the staleness interval;
    /// returns how many.
    pub(crate) fn forget_stale(&mut self) -> usize {
        let (now, staleness) = (self.now, self.staleness);
        let before = self.map.len();
        let mut freed = 0;
        self.map.retain(|_, input| {
            let keep = now.saturating_sub(input.seen) <= staleness;
            if !keep {
                freed += input.state.heap_bytes();
            }
            keep
        });
        self.heap -= freed;
        before - self.map.len()
    }

    fn key(&self, kind: u8, name: &str, labels: &[(&str, &str)], texts: &[&str]) -> u64 {
        let mut hasher = self.keys.build_hasher();
        kind.hash(&mut hasher);
        name.hash(&mut hasher);
        labels.hash(&mut hasher);
        texts.hash(&mut hasher);
        hasher.finish()
    }

    /// The counter sample `name` (labels sorted by name, no empty value)
    /// at `value`; `help` describes it when it is new.
    pub(crate) fn counter(
        &mut self,
        sink: &S,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        help: Option<&str>,
    ) {
        if !is_count(value) {
            self.unusable += 1;
            return;
        }
        let key = self.key(COUNTER, name, labels, &[]);
        let register = || State::Counter {
            handle: registered(sink, name, help, || sink.counter(name, labels)),
            last: 0.0,
        };
        let refold = self.refold;
        let Some(State::Counter { handle, last }) = self.entry(key, 1, register) else {
            return;
        };
        let again = || sink.counter(name, labels);
        if refold {
            *handle = again();
        }
        let delta = state::advance_counter(last, value);
        S::add_counter(handle, delta);
        promote(
            sink,
            handle,
            S::counter_folded,
            (name, labels),
            delta,
            again,
        );
    }

    /// The gauge sample `name` (labels as for [`Inputs::counter`]) at `value`.
    pub(crate) fn gauge(
        &mut self,
        sink: &S,
        name: &str,
        labels: &[(&str, &str)],
        value: f64,
        help: Option<&str>,
    ) {
        let key = self.key(GAUGE, name, labels, &[]);
        let register = || State::Gauge(registered(sink, name, help, || sink.gauge(name, labels)));
        if let Some(State::Gauge(handle)) = self.entry(key, 1, register) {
            S::set_gauge(handle, value);
        }
    }

    /// The histogram `name` of one label set (no `le`): its finite `bounds`
    /// (`le` texts, ascending), `cumulative` counts per bound then the
    /// count (`+Inf`), its `sum`; `lines` the sample lines it came from.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn histogram(
        &mut self,
        sink: &S,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[&str],
        cumulative: &[f64],
        sum: f64,
        help: Option<&str>,
        lines: u64,
    ) {
        if cumulative.len() != bounds.len() + 1 {
            return;
        }
        if !cumulative.iter().all(|&c| is_count(c)) {
            self.unusable += lines;
            return;
        }
        let key = self.key(HISTOGRAM, name, labels, bounds);
        let register = || {
            State::Histogram(Box::new(HistogramState {
                handle: registered(sink, name, help, || sink.histogram(name, labels, bounds)),
                last: vec![0.0; cumulative.len() + 1].into_boxed_slice(),
            }))
        };
        let mut out = std::mem::take(&mut self.scratch);
        let refold = self.refold;
        if let Some(State::Histogram(state)) = self.entry(key, lines, register) {
            let HistogramState { handle, last } = &mut **state;
            let again = || sink.histogram(name, labels, bounds);
            if refold {
                *handle = again();
            }
            if let Some((sum_delta, count_delta)) =
                state::advance_histogram(last, cumulative, sum, &mut out)
            {
                S::add_histogram(handle, &out, sum_delta, count_delta);
                let input = (name, labels);
                promote(sink, handle, S::histogram_folded, input, count_delta, again);
            }
        }
        self.scratch = out;
    }

    /// The summary `name` of one label set (no `quantile`): its
    /// `quantiles` texts and their `values`, its `sum` and `count` (`None`:
    /// no `_count` line, which OpenMetrics allows: no reset then, and the
    /// count stays as it was, so that a scrape without it can't read as a
    /// reset and the next one add the full count again).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn summary(
        &mut self,
        sink: &S,
        name: &str,
        labels: &[(&str, &str)],
        quantiles: &[&str],
        values: &[f64],
        sum: f64,
        count: Option<f64>,
        help: Option<&str>,
        lines: u64,
    ) {
        if !count.is_none_or(is_count) {
            self.unusable += lines;
            return;
        }
        let key = self.key(SUMMARY, name, labels, quantiles);
        let register = || {
            State::Summary(Box::new(SummaryState {
                handle: registered(sink, name, help, || sink.summary(name, labels, quantiles)),
                sum: 0.0,
                count: 0.0,
            }))
        };
        let refold = self.refold;
        let Some(State::Summary(state)) = self.entry(key, lines, register) else {
            return;
        };
        let SummaryState {
            handle,
            sum: last_sum,
            count: last_count,
        } = &mut **state;
        let again = || sink.summary(name, labels, quantiles);
        if refold {
            *handle = again();
        }
        let (sum_delta, count_delta) = state::advance_summary(last_sum, last_count, sum, count);
        if !quantiles.is_empty() {
            S::set_quantiles(handle, values);
        }
        S::add_summary(handle, sum_delta, count_delta);
        promote(
            sink,
            handle,
            S::summary_folded,
            (name, labels),
            count_delta,
            again,
        );
    }

    /// The state of input `key`, seen now; registered with `register` if
    /// new and there is room, else `None` (its `lines` counted untracked);
    /// `None` too when this scrape has seen it already (counted duplicates).
    fn entry(
        &mut self,
        key: u64,
        lines: u64,
        register: impl FnOnce() -> State<S>,
    ) -> Option<&mut State<S>> {
        let full = self.map.len() >= self.max;
        match self.map.entry(key) {
            Entry::Occupied(input) => {
                let input = input.into_mut();
                if input.scrape == self.scrape {
                    self.duplicates += lines;
                    return None;
                }
                input.seen = self.now;
                input.scrape = self.scrape;
                Some(&mut input.state)
            }
            Entry::Vacant(_) if full => {
                self.untracked += lines;
                None
            }
            Entry::Vacant(vacant) => {
                let state = register();
                self.heap += state.heap_bytes();
                let (seen, scrape) = (self.now, self.scrape);
                Some(
                    &mut vacant
                        .insert(Input {
                            seen,
                            scrape,
                            state,
                        })
                        .state,
                )
            }
        }
    }
}

/// A new input's handle, its metric described first when there is help.
fn registered<S: Sink, H>(
    sink: &S,
    name: &str,
    help: Option<&str>,
    register: impl FnOnce() -> H,
) -> H {
    if let Some(help) = help {
        sink.describe(name, help);
    }
    register()
}

/// After `updates` of `input` (name, labels) went through `handle`: when
/// they went to the overflow series (`folded`), they are told to the guard
/// (`keep = "busiest"` counts them), and if upkeep promoted the input it is
/// registered `again`: its own series, from zero.
fn promote<S: Sink, H>(
    sink: &S,
    handle: &mut H,
    folded: fn(&H) -> bool,
    (name, labels): (&str, &[(&str, &str)]),
    updates: f64,
    again: impl FnOnce() -> H,
) {
    if updates > 0.0 && folded(handle) && sink.folded_updates(name, labels, updates) {
        *handle = again();
    }
}

/// Finite and not negative.
fn is_count(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

#[cfg(test)]
mod tests;
