//! The handle the guard gives out for a label set of a metric with an idle
//! timeout: a small wrapper that notes activity, and brings its series back
//! when it is updated after expiring.
//!
//! Hot path (a live series): one load of a flag that is already set, one load
//! of the state, then the exporter's own handle. Everything else is cold:
//!
//! - `LIVE`: forwards to the handle it was created with.
//! - `EXPIRED`: the guard expired it (its series no longer renders, its budget
//!   is free). The next update re-admits it through the guard first.
//! - `SWAPPED`: re-admitted after expiring; forwards to a handle registered
//!   anew with the exporter (which may have forgotten the first one).
//! - `REDIRECT`: re-admission found no room; forwards to the metric's
//!   overflow series (or nowhere, under `on_overflow = "drop"`), for good.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use metrics::{CounterFn, GaugeFn, HistogramFn, Key};

use crate::admission::MetricState;
use crate::family::{Counters, Gauges, Histograms, Kind};
use crate::guard::Shared;
use crate::reclaim::Hidden;

const LIVE: u8 = 0;
const SWAPPED: u8 = 1;
const EXPIRED: u8 = 2;
const REDIRECT: u8 = 3;

/// What a sweep found a cell to be.
pub(crate) enum Swept {
    /// Updated within its timeout (or re-admitted).
    Live,
    /// Idle past its timeout: expired by this sweep.
    Expired,
    /// Expired before; `gone` once the exporter no longer renders it.
    StillExpired { gone: bool },
    /// Folded for good: no longer a series of its own.
    Redirected,
}

pub(crate) struct Cell<K: Kind> {
    /// The exporter's handle the series was admitted with.
    inner: K::Handle,
    state: AtomicU8,
    /// Set by an update; cleared by each sweep.
    touched: AtomicBool,
    /// When a sweep last found it touched (ms since the guard's epoch).
    last_active: AtomicU64,
    /// `SWAPPED`: the handle registered anew; `REDIRECT`: the target.
    replacement: RwLock<Option<K::Handle>>,
    /// Serializes expiry and re-admission.
    lock: Mutex<()>,
    /// The exporter no longer renders the series of `inner`.
    gone: AtomicBool,
    /// Whether the label set holds reserved budget (shadow mode: only those
    /// enforce would have admitted).
    pub(crate) reserved: AtomicBool,
    /// The label set, as rendered.
    pub(crate) key: Key,
    /// The metric's overflow series.
    pub(crate) overflow: bool,
    pub(crate) metric: Weak<MetricState<K::Handle>>,
    guard: Weak<Shared>,
}

impl<K: Kind> Cell<K> {
    pub(crate) fn new(
        inner: K::Handle,
        key: Key,
        overflow: bool,
        metric: &Arc<MetricState<K::Handle>>,
        guard: Weak<Shared>,
        now_ms: u64,
    ) -> Cell<K> {
        Cell {
            inner,
            state: AtomicU8::new(LIVE),
            touched: AtomicBool::new(false),
            last_active: AtomicU64::new(now_ms),
            replacement: RwLock::new(None),
            lock: Mutex::new(()),
            gone: AtomicBool::new(false),
            reserved: AtomicBool::new(true),
            key,
            overflow,
            metric: Arc::downgrade(metric),
            guard,
        }
    }

    /// Applies an update: the hot path.
    #[inline]
    fn apply(&self, op: impl Fn(&K::Handle)) {
        // Sequentially consistent on both sides: an update either sets
        // `touched` before a sweep's last look (which then keeps the series),
        // or sees `EXPIRED` (and re-admits it). It is never lost in between.
        if !self.touched.load(Ordering::SeqCst) {
            self.touched.store(true, Ordering::SeqCst);
        }
        if self.state.load(Ordering::SeqCst) == LIVE {
            op(&self.inner);
        } else {
            self.apply_cold(&op);
        }
    }

    #[cold]
    #[inline(never)]
    fn apply_cold(&self, op: &dyn Fn(&K::Handle)) {
        if self.state.load(Ordering::SeqCst) == EXPIRED {
            self.revive();
        }
        match self.state.load(Ordering::SeqCst) {
            SWAPPED | REDIRECT => {
                let replacement = self.replacement.read().unwrap_or_else(|p| p.into_inner());
                if let Some(handle) = replacement.as_ref() {
                    op(handle);
                }
            }
            // Live again, or the guard is gone: the series' own handle.
            _ => op(&self.inner),
        }
    }

    /// Brings an expired series back through the guard.
    pub(crate) fn revive(&self) {
        if let Some(shared) = self.guard.upgrade() {
            K::family(&shared).revive(&shared, self);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exporter no longer renders the series it was admitted with.
    pub(crate) fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    pub(crate) fn is_expired(&self) -> bool {
        self.state.load(Ordering::SeqCst) == EXPIRED
    }

    /// The handle to give out for this label set now: the wrapper itself,
    /// or the overflow series once redirected.
    pub(crate) fn handle_for(&self, wrapper: &K::Handle) -> K::Handle {
        if self.state.load(Ordering::SeqCst) == REDIRECT {
            if let Some(target) = self
                .replacement
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                return target.clone();
            }
        }
        wrapper.clone()
    }

    /// Under [`Cell::lock`]: the series comes back with `handle`, registered
    /// anew with the exporter.
    pub(crate) fn revived(&self, handle: K::Handle) {
        *self.replacement.write().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        self.gone.store(false, Ordering::Release);
        // Back because it was used: its idle time starts over.
        self.touched.store(true, Ordering::SeqCst);
        self.state.store(SWAPPED, Ordering::SeqCst);
    }

    /// Under [`Cell::lock`]: updates go to `target` from now on.
    pub(crate) fn redirect(&self, target: K::Handle) {
        *self.replacement.write().unwrap_or_else(|p| p.into_inner()) = Some(target);
        self.state.store(REDIRECT, Ordering::SeqCst);
    }

    /// One sweep over the cell at `now_ms`: expires it when it has not been
    /// updated for `timeout_ms`, accounting the expiry with `on_expire`
    /// (given whether it held reserved budget) under the cell's lock.
    pub(crate) fn sweep(
        &self,
        now_ms: u64,
        timeout_ms: u64,
        on_expire: impl FnOnce(bool),
    ) -> Swept {
        let _serialized = self.lock();
        let state = self.state.load(Ordering::SeqCst);
        match state {
            EXPIRED => {
                return Swept::StillExpired {
                    gone: self.gone.load(Ordering::Acquire),
                }
            }
            REDIRECT => return Swept::Redirected,
            _ => {}
        }
        if self.touched.swap(false, Ordering::SeqCst) {
            self.last_active.store(now_ms, Ordering::Release);
            return Swept::Live;
        }
        if now_ms.saturating_sub(self.last_active.load(Ordering::Acquire)) < timeout_ms {
            return Swept::Live;
        }
        self.state.store(EXPIRED, Ordering::SeqCst);
        if self.touched.load(Ordering::SeqCst) {
            // An update raced the decision: it was not idle after all.
            self.state.store(state, Ordering::SeqCst);
            self.last_active.store(now_ms, Ordering::Release);
            return Swept::Live;
        }
        on_expire(self.reserved.load(Ordering::Acquire));
        Swept::Expired
    }
}

impl<K: Kind> Hidden for Cell<K> {
    fn hidden(&self) -> bool {
        // Expired, or folded for good: its own series is no longer the guard's.
        matches!(self.state.load(Ordering::SeqCst), EXPIRED | REDIRECT)
    }

    fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
    }
}

impl CounterFn for Cell<Counters> {
    fn increment(&self, value: u64) {
        self.apply(|h| h.increment(value));
    }

    fn absolute(&self, value: u64) {
        self.apply(|h| h.absolute(value));
    }
}

impl GaugeFn for Cell<Gauges> {
    fn increment(&self, value: f64) {
        self.apply(|h| h.increment(value));
    }

    fn decrement(&self, value: f64) {
        self.apply(|h| h.decrement(value));
    }

    fn set(&self, value: f64) {
        self.apply(|h| h.set(value));
    }
}

impl HistogramFn for Cell<Histograms> {
    fn record(&self, value: f64) {
        self.apply(|h| h.record(value));
    }

    fn record_many(&self, value: f64, count: usize) {
        self.apply(|h| h.record_many(value, count));
    }
}
