//! Budgets: the per-metric and global accounting behind every admission.
//!
//! *Reserved* series decide admission: admitted label sets plus the room set
//! aside for each fold-mode metric's overflow series, so that folding can
//! never push a metric or the guard past its budget. *Rendered* series are
//! what the render shows now, which the self-report publishes.
//!
//! A metric whose next label set does not fit closes (a lock-free check for
//! later registrations): decisions are sticky without remembering rejected
//! label sets. Without idle expiry or evictions a closed budget stays
//! closed. Expired and evicted label sets give their budget back, and a
//! closed budget reopens with hysteresis: only once a tenth of it (at least
//! one label set) is free, so a budget at its edge admits in batches rather
//! than trading one series for another at every expiry (under
//! `keep = "consistent"`, where the rank decides, as soon as one fits).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::config::{GlobalLimits, MetricPolicy, OnOverflow};
use crate::normalize::take_slot;
use crate::report::{ratio, GlobalReport};
use crate::vocabulary::OverflowReason;

/// Budgets and figures over all guarded metrics.
pub(crate) struct Global {
    /// `global.max_series` (changed by a reload).
    max_series: AtomicU64,
    /// `global.max_metrics` (changed by a reload).
    max_metrics: AtomicUsize,
    /// `global.warn_interval` in ms (changed by a reload).
    warn_interval_ms: AtomicU64,
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
        let global = Global {
            max_series: AtomicU64::new(0),
            max_metrics: AtomicUsize::new(0),
            warn_interval_ms: AtomicU64::new(0),
            reserved: AtomicU64::new(0),
            series: AtomicU64::new(0),
            metrics: AtomicUsize::new(0),
            untracked: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
        };
        global.set_limits(&limits);
        global
    }

    /// Takes the limits of a (re)loaded config. A lower `max_series` admits
    /// nothing new until the guard is under it; what is admitted stays.
    pub(crate) fn set_limits(&self, limits: &GlobalLimits) {
        self.max_series
            .store(limits.max_series.get(), Ordering::Release);
        self.max_metrics
            .store(limits.max_metrics.get(), Ordering::Release);
        self.warn_interval_ms.store(
            u64::try_from(limits.warn_interval.as_millis()).unwrap_or(u64::MAX),
            Ordering::Release,
        );
    }

    pub(crate) fn max_series(&self) -> u64 {
        self.max_series.load(Ordering::Acquire)
    }

    pub(crate) fn max_metrics(&self) -> usize {
        self.max_metrics.load(Ordering::Acquire)
    }

    pub(crate) fn warn_interval_ms(&self) -> u64 {
        self.warn_interval_ms.load(Ordering::Relaxed)
    }

    /// Takes `cost` from the global budget if it fits, atomically.
    fn try_reserve(&self, cost: u64) -> bool {
        let max = self.max_series();
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
        let max = self.max_series();
        self.reserved.load(Ordering::Acquire) + slack(max, cost) <= max
    }

    /// Whether `max_metrics` names are tracked already (names are never freed).
    pub(crate) fn metrics_full(&self) -> bool {
        self.metrics.load(Ordering::Acquire) >= self.max_metrics()
    }

    pub(crate) fn try_add_metric(&self) -> bool {
        take_slot(&self.metrics, self.max_metrics())
    }

    pub(crate) fn count_untracked(&self) {
        self.untracked.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_invalid(&self) {
        self.invalid.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn report(&self, tracked_label_sets: usize) -> GlobalReport {
        let series = self.series.load(Ordering::Acquire);
        let limit = self.max_series();
        GlobalReport {
            series,
            series_limit: limit,
            utilization: ratio(series, limit),
            metrics: self.metrics.load(Ordering::Acquire),
            max_metrics: self.max_metrics(),
            untracked_registrations: self.untracked.load(Ordering::Relaxed),
            invalid_registrations: self.invalid.load(Ordering::Relaxed),
            tracked_label_sets,
            alias_bytes: 0, // the registry's to fill in
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
    /// What one label set costs.
    pub(crate) cost: u64,
    /// What the overflow series costs (`cost`, but for an ingested
    /// summary's, which renders only `_sum` and `_count`).
    pub(crate) overflow_cost: u64,
    /// `max_series` (changed by a reload).
    max: AtomicU64,
    /// Reserved series regular label sets may take (the budget less the
    /// overflow series' room in fold mode).
    admission_limit: AtomicU64,
    /// Whether the overflow series has room (in the metric and globally).
    overflow_room: AtomicBool,
    /// Whether the policy drops what does not fit (else it folds).
    drops: AtomicBool,
    /// `OPEN`, or the reason the budget is closed.
    closed: AtomicU8,
    /// Reserved series of admitted label sets.
    reserved: AtomicU64,
}

impl Budget {
    pub(crate) fn new(
        policy: &MetricPolicy,
        cost: u64,
        overflow_cost: u64,
        global: &Global,
    ) -> Self {
        let budget = Budget {
            cost,
            overflow_cost,
            max: AtomicU64::new(0),
            admission_limit: AtomicU64::new(0),
            overflow_room: AtomicBool::new(false),
            drops: AtomicBool::new(false),
            closed: AtomicU8::new(OPEN),
            reserved: AtomicU64::new(0),
        };
        budget.configure(policy, global, false);
        budget
    }

    /// Takes `policy`'s budget and overflow policy (at creation, and at a
    /// reload, under the metric's lock). `overflow_live`: whether the
    /// overflow series renders now (its room is then kept).
    ///
    /// Nothing admitted is given back here: a budget lowered under what the
    /// metric holds closes; the next upkeep evicts the series beyond it
    /// (`metric/keep.rs`; a series with an update no render has shown yet
    /// ends at the next render), and it
    /// admits again once it is a tenth under it. A raised budget opens at
    /// once if one more label set fits. A metric turned from drop to fold gets its overflow
    /// series' room only once the room fits beside what it holds; until
    /// then it admits nothing and drops (the metric never exceeds its budget).
    pub(crate) fn configure(&self, policy: &MetricPolicy, global: &Global, overflow_live: bool) {
        let max = policy.max_series.get();
        let folds = policy.on_overflow == OnOverflow::Fold;
        self.max.store(max, Ordering::Release);
        self.drops.store(!folds, Ordering::Release);
        let had_room = self.overflow_room();
        if !folds && had_room && !overflow_live {
            // Drop: the room is given back unless the overflow series renders.
            global.release(self.overflow_cost);
            self.overflow_room.store(false, Ordering::Release);
        }
        let room = self.take_room(global);
        let limit = if folds || room {
            max.saturating_sub(self.overflow_cost)
        } else {
            max
        };
        self.admission_limit.store(limit, Ordering::Release);
        let used = self.reserved.load(Ordering::Acquire);
        let closed = if folds && !room {
            // No room for the overflow series: nothing is admitted either.
            Some(
                match self.overflow_cost <= max && used + self.overflow_cost <= max {
                    true => OverflowReason::GlobalLimit,
                    false => OverflowReason::SeriesLimit,
                },
            )
        } else if used + self.cost > limit {
            Some(OverflowReason::SeriesLimit)
        } else {
            None
        };
        match closed {
            Some(reason) => self.closed.store(reason as u8, Ordering::Release),
            // Open if one more label set fits; a global closure stays for
            // `maybe_reopen` to judge.
            None => {
                if self.closed() == Some(OverflowReason::SeriesLimit)
                    || (self.closed() == Some(OverflowReason::GlobalLimit)
                        && global.has_slack(self.cost))
                {
                    self.closed.store(OPEN, Ordering::Release);
                }
            }
        }
    }

    /// In fold mode, reserves the overflow series' room if it has none and
    /// it fits, in the metric (beside what it holds) and globally. Whether
    /// the metric has the room now.
    fn take_room(&self, global: &Global) -> bool {
        if self.overflow_room() {
            return true;
        }
        let max = self.max.load(Ordering::Acquire);
        let used = self.reserved.load(Ordering::Acquire);
        let fits = !self.drops.load(Ordering::Acquire)
            && self.overflow_cost <= max
            && used + self.overflow_cost <= max
            && global.try_reserve(self.overflow_cost);
        self.overflow_room.store(fits, Ordering::Release);
        fits
    }

    /// The overflow series stopped rendering (it expired): under drop, the
    /// room it kept since a reload turned the metric from fold to drop is
    /// given back (a drop metric then fills exactly to its budget, as one
    /// reloaded to drop with no overflow series does). Under the metric's lock.
    pub(crate) fn overflow_gone(&self, global: &Global) {
        if self.drops.load(Ordering::Acquire) && self.overflow_room() {
            global.release(self.overflow_cost);
            self.overflow_room.store(false, Ordering::Release);
            self.admission_limit
                .store(self.max.load(Ordering::Acquire), Ordering::Release);
        }
    }

    /// Whether the overflow series has room (fold mode).
    pub(crate) fn overflow_room(&self) -> bool {
        self.overflow_room.load(Ordering::Acquire)
    }

    /// The reason the budget is closed, if it is (a lock-free read).
    pub(crate) fn closed(&self) -> Option<OverflowReason> {
        OverflowReason::ALL
            .get(self.closed.load(Ordering::Acquire) as usize)
            .copied()
    }

    /// Whether one more label set fits, reserving its cost if so.
    pub(crate) fn decide(&self, global: &Global) -> Result<(), OverflowReason> {
        if let Some(reason) = self.closed() {
            return Err(reason);
        }
        let used = self.reserved.load(Ordering::Acquire);
        let reason = if used + self.cost > self.admission_limit.load(Ordering::Acquire) {
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

    /// A promoted label set (`keep = "busiest"`) takes room the upkeep
    /// freed for it: decided like [`decide`](Self::decide) but past a
    /// closed budget, which stays closed for the others.
    pub(crate) fn decide_promoted(&self, global: &Global) -> Result<(), OverflowReason> {
        let used = self.reserved.load(Ordering::Acquire);
        if used + self.cost > self.admission_limit.load(Ordering::Acquire) {
            return Err(OverflowReason::SeriesLimit);
        }
        if !global.try_reserve(self.cost) {
            return Err(OverflowReason::GlobalLimit);
        }
        self.reserved.fetch_add(self.cost, Ordering::AcqRel);
        Ok(())
    }

    /// The label sets the budget holds (the overflow series' room aside).
    pub(crate) fn label_sets_allowed(&self) -> u64 {
        self.admission_limit.load(Ordering::Acquire) / self.cost
    }

    /// The label sets it holds now.
    pub(crate) fn label_sets_held(&self) -> u64 {
        self.reserved.load(Ordering::Acquire) / self.cost
    }

    /// Reopens a budget closed by its own limit as soon as one label set
    /// fits (`keep = "consistent"`, where the rank decides admission and
    /// first-come churn does not arise, needs no hysteresis).
    pub(crate) fn reopen_if_room(&self) {
        let used = self.reserved.load(Ordering::Acquire);
        if self.closed() == Some(OverflowReason::SeriesLimit)
            && used + self.cost <= self.admission_limit.load(Ordering::Acquire)
        {
            self.closed.store(OPEN, Ordering::Release);
        }
    }

    /// Sets the reservations to those of `label_sets` label sets, the global
    /// budget's with them (even past it: nothing stored is cut).
    pub(crate) fn set_reserved(&self, label_sets: u64, global: &Global) {
        let new = label_sets * self.cost;
        let old = self.reserved.swap(new, Ordering::AcqRel);
        if new >= old {
            global.reserved.fetch_add(new - old, Ordering::AcqRel);
        } else {
            global.release(old - new);
        }
    }

    /// Gives back the reservation of one label set.
    pub(crate) fn release(&self, global: &Global) {
        self.reserved.fetch_sub(self.cost, Ordering::AcqRel);
        global.release(self.cost);
    }

    /// Reopens a closed budget once a tenth of it is free again (a fold
    /// metric without its overflow series' room first takes the room).
    pub(crate) fn maybe_reopen(&self, global: &Global) {
        let Some(reason) = self.closed() else {
            return;
        };
        let folds = !self.drops.load(Ordering::Acquire);
        if folds && !self.take_room(global) {
            return; // a fold metric without room for its overflow series stays closed
        }
        let used = self.reserved.load(Ordering::Acquire);
        let limit = self.admission_limit.load(Ordering::Acquire);
        let reopen = match reason {
            OverflowReason::SeriesLimit => used + slack(limit, self.cost) <= limit,
            OverflowReason::GlobalLimit => global.has_slack(self.cost) && used + self.cost <= limit,
            _ => false,
        };
        if reopen {
            self.closed.store(OPEN, Ordering::Release);
        }
    }
}
