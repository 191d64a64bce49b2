//! Budgets: the per-metric and global accounting behind every admission.
//!
//! *Reserved* series decide admission: admitted label sets plus the room set
//! aside for each fold-mode metric's overflow series, so that folding can
//! never push a metric or the guard past its budget. *Rendered* series are
//! what the render shows now, which the self-report publishes.
//!
//! A metric whose next label set does not fit closes (a lock-free check for
//! later registrations): decisions are sticky without remembering rejected
//! label sets. Without idle expiry a closed budget stays closed. With it,
//! expired label sets give their budget back, and a closed budget reopens
//! with hysteresis: only once a tenth of it (at least one label set) is free,
//! so a budget at its edge admits in batches rather than trading one series
//! for another at every expiry.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::config::{GlobalLimits, MetricPolicy, OnOverflow};
use crate::normalize::take_slot;
use crate::report::{ratio, GlobalReport, OverflowReason};

/// Budgets and figures over all guarded metrics.
pub(crate) struct Global {
    pub(crate) limits: GlobalLimits,
    reserved: AtomicU64,
    series: AtomicU64,
    metrics: AtomicUsize,
    /// Registrations of names beyond `max_metrics`.
    untracked: AtomicU64,
    /// Registrations refused as invalid (empty or reserved names, a name
    /// taken by another kind).
    invalid: AtomicU64,
}

impl Global {
    pub(crate) fn new(limits: GlobalLimits) -> Self {
        Global {
            limits,
            reserved: AtomicU64::new(0),
            series: AtomicU64::new(0),
            metrics: AtomicUsize::new(0),
            untracked: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
        }
    }

    /// Takes `cost` from the global budget if it fits, atomically.
    fn try_reserve(&self, cost: u64) -> bool {
        let max = self.limits.max_series.get();
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                r.checked_add(cost).filter(|&n| n <= max)
            })
            .is_ok()
    }

    fn release(&self, cost: u64) {
        self.reserved.fetch_sub(cost, Ordering::AcqRel);
    }

    pub(crate) fn add_series(&self, cost: u64) {
        self.series.fetch_add(cost, Ordering::AcqRel);
    }

    pub(crate) fn remove_series(&self, cost: u64) {
        self.series.fetch_sub(cost, Ordering::AcqRel);
    }

    /// Whether the global budget has a tenth (at least `cost`) free.
    fn has_slack(&self, cost: u64) -> bool {
        let max = self.limits.max_series.get();
        self.reserved.load(Ordering::Acquire) + slack(max, cost) <= max
    }

    /// Whether `max_metrics` names are tracked already (names are never freed).
    pub(crate) fn metrics_full(&self) -> bool {
        self.metrics.load(Ordering::Acquire) >= self.limits.max_metrics.get()
    }

    pub(crate) fn try_add_metric(&self) -> bool {
        take_slot(&self.metrics, self.limits.max_metrics.get())
    }

    pub(crate) fn count_untracked(&self) {
        self.untracked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_invalid(&self) {
        self.invalid.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn report(&self, tracked_label_sets: usize) -> GlobalReport {
        let series = self.series.load(Ordering::Acquire);
        let limit = self.limits.max_series.get();
        GlobalReport {
            series,
            series_limit: limit,
            utilization: ratio(series, limit),
            metrics: self.metrics.load(Ordering::Acquire),
            max_metrics: self.limits.max_metrics.get(),
            untracked_registrations: self.untracked.load(Ordering::Relaxed),
            invalid_registrations: self.invalid.load(Ordering::Relaxed),
            tracked_label_sets,
        }
    }
}

const OPEN: u8 = u8::MAX;

/// The room a closed budget of `limit` needs free before it reopens: a
/// tenth of it, and at least one label set of `cost`.
fn slack(limit: u64, cost: u64) -> u64 {
    (limit / 10).max(cost)
}

/// One metric's budget. Every method that changes it runs under the
/// metric's lock, so reservations are never undone by a race.
pub(crate) struct Budget {
    pub(crate) cost: u64,
    /// Reserved series regular label sets may take (the budget less the
    /// overflow series' room in fold mode).
    admission_limit: u64,
    /// Whether the overflow series has room (in the metric and globally).
    pub(crate) overflow_room: bool,
    on_overflow: OnOverflow,
    /// `OPEN`, or the reason the budget is closed.
    closed: AtomicU8,
    /// Reserved series of admitted label sets.
    reserved: AtomicU64,
}

impl Budget {
    pub(crate) fn new(policy: &MetricPolicy, cost: u64, global: &Global) -> Self {
        let max = policy.max_series.get();
        let folds = policy.on_overflow == OnOverflow::Fold;
        let overflow_room = folds && cost <= max && global.try_reserve(cost);
        // A fold metric whose overflow room did not fit globally can never
        // admit anything either (it stays closed).
        let closed = if folds && cost <= max && !overflow_room {
            OverflowReason::GlobalLimit as u8
        } else {
            OPEN
        };
        Budget {
            cost,
            admission_limit: if folds { max.saturating_sub(cost) } else { max },
            overflow_room,
            on_overflow: policy.on_overflow,
            closed: AtomicU8::new(closed),
            reserved: AtomicU64::new(0),
        }
    }

    /// The reason the budget is closed, if it is (a lock-free read).
    pub(crate) fn closed(&self) -> Option<OverflowReason> {
        OverflowReason::from_index(self.closed.load(Ordering::Acquire) as usize)
    }

    /// Whether one more label set fits, reserving its cost if so.
    pub(crate) fn decide(&self, global: &Global) -> Result<(), OverflowReason> {
        if let Some(reason) = self.closed() {
            return Err(reason);
        }
        let used = self.reserved.load(Ordering::Acquire);
        let reason = if used + self.cost > self.admission_limit {
            OverflowReason::SeriesLimit
        } else if !global.try_reserve(self.cost) {
            OverflowReason::GlobalLimit
        } else {
            self.reserved.fetch_add(self.cost, Ordering::AcqRel);
            return Ok(());
        };
        self.closed.store(reason as u8, Ordering::Release);
        Err(reason)
    }

    /// Gives back the reservation of one label set.
    pub(crate) fn release(&self, global: &Global) {
        self.reserved.fetch_sub(self.cost, Ordering::AcqRel);
        global.release(self.cost);
    }

    /// Reopens a closed budget once a tenth of it is free again.
    pub(crate) fn maybe_reopen(&self, global: &Global) {
        let used = self.reserved.load(Ordering::Acquire);
        let reopen = match self.closed() {
            None => return,
            Some(OverflowReason::SeriesLimit) => {
                used + slack(self.admission_limit, self.cost) <= self.admission_limit
            }
            // A fold metric without room for its overflow series stays closed.
            Some(OverflowReason::GlobalLimit) => {
                (self.overflow_room || self.on_overflow == OnOverflow::Drop)
                    && global.has_slack(self.cost)
                    && used + self.cost <= self.admission_limit
            }
            Some(_) => false,
        };
        if reopen {
            self.closed.store(OPEN, Ordering::Release);
        }
    }
}
