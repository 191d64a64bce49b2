//! Budgets: the per-metric and global accounting behind every admission.
//!
//! Two currencies are kept apart:
//! - *reserved* series decide admission: admitted label sets plus the room
//!   set aside for each fold-mode metric's overflow series, so that folding can
//!   never push a metric or the guard past its budget;
//! - *rendered* series are what the exporter shows now, which the self-report
//!   publishes.
//!
//! Without idle expiry both only grow, so a rejection is final: once a label
//! set of a metric does not fit, no later one of the same metric (same cost)
//! can fit either. That makes decisions sticky without remembering rejected
//! label sets, and lets later registrations skip every lock.
//!
//! With an idle timeout, expired label sets give their budget back, and a
//! closed budget reopens with hysteresis: only once a tenth of it (at least
//! one label set) is free again. A budget at its edge thus admits in batches
//! rather than trading one series for another at every expiry, and a label
//! set folded while the budget is closed is admitted when it is registered
//! again after the reopening.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Key, Label, Recorder};

use crate::config::{GlobalLimits, MetricPolicy, Mode, OnOverflow};
use crate::labels::MetricLabels;
use crate::names::take_slot;
use crate::report::{ratio, GlobalReport, MetricReport, OverflowCounts, OverflowReason};
use crate::self_report::{GlobalGauges, MetricGauges, OVERFLOW_LABEL};
use crate::shape::MetricKind;

/// Budgets and figures over all guarded metrics.
pub(crate) struct Global {
    pub(crate) limits: GlobalLimits,
    /// The guard's start: warning times are kept as milliseconds since then.
    epoch: Instant,
    reserved: AtomicU64,
    series: AtomicU64,
    metrics: AtomicUsize,
    untracked: AtomicU64,
    gauges: GlobalGauges,
}

impl Global {
    pub(crate) fn new(limits: GlobalLimits, inner: &dyn Recorder) -> Self {
        crate::self_report::describe(inner);
        Global {
            limits,
            epoch: Instant::now(),
            reserved: AtomicU64::new(0),
            series: AtomicU64::new(0),
            metrics: AtomicUsize::new(0),
            untracked: AtomicU64::new(0),
            gauges: GlobalGauges::register(inner, limits.max_series.get()),
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

    fn add_series(&self, cost: u64) {
        self.series.fetch_add(cost, Ordering::AcqRel);
        self.gauges.add_series(cost);
    }

    fn remove_series(&self, cost: u64) {
        self.series.fetch_sub(cost, Ordering::AcqRel);
        self.gauges.remove_series(cost);
    }

    fn release(&self, cost: u64) {
        self.reserved.fetch_sub(cost, Ordering::AcqRel);
    }

    /// Whether the global budget has a tenth (at least `cost`) free.
    fn has_slack(&self, cost: u64) -> bool {
        let max = self.limits.max_series.get();
        self.reserved.load(Ordering::Acquire) + slack(max, cost) <= max
    }

    /// Keeps the self-report's own series alive in the exporter.
    pub(crate) fn touch(&self) {
        self.gauges.touch();
    }

    /// Whether `max_metrics` names are already tracked (final: names are never freed).
    pub(crate) fn metrics_full(&self) -> bool {
        self.metrics.load(Ordering::Acquire) >= self.limits.max_metrics.get()
    }

    pub(crate) fn try_add_metric(&self) -> bool {
        let max = self.limits.max_metrics.get();
        let added = take_slot(&self.metrics, max);
        if added {
            self.gauges.add_metric();
        }
        added
    }

    pub(crate) fn count_untracked(&self, inner: &dyn Recorder) {
        self.untracked.fetch_add(1, Ordering::Relaxed);
        self.gauges.count_untracked(inner);
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

/// One metric (kind + sanitized name): its budget, its figures, and its
/// overflow series handle `H`.
pub(crate) struct MetricState<H> {
    pub(crate) name: String,
    /// `name{otel_metric_overflow="true"}`.
    pub(crate) overflow_key: Key,
    kind: MetricKind,
    pub(crate) policy: MetricPolicy,
    cost: u64,
    /// Reserved series regular label sets may take (the budget less the
    /// overflow series' room in fold mode).
    admission_limit: u64,
    /// Whether the overflow series has room (in the metric and globally).
    overflow_room: bool,
    /// Serializes the admission decision so reservations are never undone.
    decide: Mutex<()>,
    /// `OPEN`, or the reason the budget is closed for good.
    closed: AtomicU8,
    /// Reserved series of label sets admitted under the rules (in shadow
    /// mode: those enforce would have admitted).
    reserved: AtomicU64,
    /// Rendered series of admitted label sets.
    admitted: AtomicU64,
    label_sets: AtomicU64,
    overflow_live: AtomicBool,
    overflow_counts: [AtomicU64; OverflowReason::COUNT],
    gauges: MetricGauges,
    fold_target: OnceLock<H>,
    /// Stage 1: label limits, pinned values, demand.
    pub(crate) labels: MetricLabels,
    /// When the last warning about this metric was logged (ms since the
    /// guard's epoch, plus one); 0: never.
    warned_at: AtomicU64,
    /// Its idle timeout, if its label sets expire.
    pub(crate) idle_timeout_ms: Option<u64>,
    expired: AtomicU64,
    revived: AtomicU64,
}

impl<H: Clone> MetricState<H> {
    pub(crate) fn new(
        name: String,
        kind: MetricKind,
        policy: MetricPolicy,
        cost: u64,
        idle_timeout: Option<Duration>,
        global: &Global,
        inner: &dyn Recorder,
    ) -> Self {
        let max = policy.max_series.get();
        let folds = policy.on_overflow == OnOverflow::Fold;
        let overflow_room = folds && cost <= max && global.try_reserve(cost);
        let admission_limit = if folds { max.saturating_sub(cost) } else { max };
        // A fold metric whose overflow room did not fit globally can never
        // admit anything either (the global budget only grows fuller).
        let closed = if folds && cost <= max && !overflow_room {
            OverflowReason::GlobalLimit as u8
        } else {
            OPEN
        };
        MetricState {
            labels: MetricLabels::new(&policy, global.limits.max_labels_per_metric.get()),
            warned_at: AtomicU64::new(0),
            gauges: MetricGauges::register(inner, &name, max),
            overflow_key: Key::from_parts(name.clone(), vec![Label::new(OVERFLOW_LABEL, "true")]),
            name,
            kind,
            policy,
            cost,
            admission_limit,
            overflow_room,
            decide: Mutex::new(()),
            closed: AtomicU8::new(closed),
            reserved: AtomicU64::new(0),
            admitted: AtomicU64::new(0),
            label_sets: AtomicU64::new(0),
            overflow_live: AtomicBool::new(false),
            overflow_counts: Default::default(),
            fold_target: OnceLock::new(),
            idle_timeout_ms: idle_timeout.map(|t| t.as_millis().max(1) as u64),
            expired: AtomicU64::new(0),
            revived: AtomicU64::new(0),
        }
    }

    /// The reason the budget is closed, if it is (a lock-free read).
    pub(crate) fn closed(&self) -> Option<OverflowReason> {
        OverflowReason::from_index(self.closed.load(Ordering::Acquire) as usize)
    }

    /// Decides whether one more label set fits, reserving its cost if so.
    /// Exact under concurrency: the metric's reservation happens under its
    /// lock, the global one by compare-and-swap, and neither is ever undone.
    pub(crate) fn decide(&self, global: &Global) -> Result<(), OverflowReason> {
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Accounts a label set that now renders in the exporter.
    pub(crate) fn admitted(&self, global: &Global) {
        self.label_sets.fetch_add(1, Ordering::AcqRel);
        self.admitted.fetch_add(self.cost, Ordering::AcqRel);
        self.gauges.add_series(self.cost);
        global.add_series(self.cost);
    }

    /// Accounts a label set that expired: it no longer renders, and gives
    /// back its reserved budget if it held some.
    pub(crate) fn expired(&self, global: &Global, reserved: bool) {
        self.label_sets.fetch_sub(1, Ordering::AcqRel);
        self.admitted.fetch_sub(self.cost, Ordering::AcqRel);
        self.gauges.remove_series(self.cost);
        global.remove_series(self.cost);
        if reserved {
            let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
            self.reserved.fetch_sub(self.cost, Ordering::AcqRel);
            global.release(self.cost);
        }
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a label set brought back after expiring.
    pub(crate) fn revived(&self) {
        self.revived.fetch_add(1, Ordering::Relaxed);
    }

    /// The overflow series expired (its room stays reserved).
    pub(crate) fn overflow_expired(&self, global: &Global) {
        if self.overflow_live.swap(false, Ordering::AcqRel) {
            self.gauges.remove_series(self.cost);
            global.remove_series(self.cost);
        }
    }

    /// The overflow series renders again.
    pub(crate) fn overflow_revived(&self, global: &Global) {
        if !self.overflow_live.swap(true, Ordering::AcqRel) {
            self.gauges.add_series(self.cost);
            global.add_series(self.cost);
        }
    }

    /// Upkeep of the metric at sweep `epoch`: its self-report series and
    /// (without expiry) its overflow series are kept alive in the exporter
    /// with `touch`; freed label values are reclaimed; a closed budget
    /// reopens once a tenth of it is free.
    pub(crate) fn upkeep(&self, global: &Global, epoch: u64, touch: impl Fn(&H)) {
        self.gauges.touch();
        self.labels.touch();
        if self.idle_timeout_ms.is_none() {
            if let Some(handle) = self.fold_target.get() {
                touch(handle);
            }
            return;
        }
        self.labels.reclaim(epoch);
        if self.closed().is_none() {
            return;
        }
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
        let reopen = match self.closed() {
            Some(OverflowReason::SeriesLimit) => {
                self.reserved.load(Ordering::Acquire) + slack(self.admission_limit, self.cost)
                    <= self.admission_limit
            }
            // A fold metric without room for its overflow series stays closed.
            Some(OverflowReason::GlobalLimit) => {
                (self.overflow_room || self.policy.on_overflow == OnOverflow::Drop)
                    && global.has_slack(self.cost)
                    && self.reserved.load(Ordering::Acquire) + self.cost <= self.admission_limit
            }
            _ => false,
        };
        if reopen {
            self.closed.store(OPEN, Ordering::Release);
        }
    }

    pub(crate) fn count_overflow(
        &self,
        reason: OverflowReason,
        global: &Global,
        inner: &dyn Recorder,
    ) {
        self.overflow_counts[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.gauges.count_overflow(inner, &self.name, reason);
        self.warn(reason, global);
    }

    /// One `warn!` the first time the metric folds, then at most one
    /// reminder per `global.warn_interval` — never one per call.
    fn warn(&self, reason: OverflowReason, global: &Global) {
        let now = global.epoch.elapsed().as_millis() as u64 + 1;
        let last = self.warned_at.load(Ordering::Relaxed);
        let interval = global.limits.warn_interval.as_millis() as u64;
        if last != 0 && now.saturating_sub(last) < interval {
            return;
        }
        if self
            .warned_at
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return; // another thread is logging this one
        }
        let labels = self.labels.report();
        let (blame, demand) = labels
            .first()
            .map_or(("", 0), |l| (l.name.as_str(), l.demand));
        let total: u64 = self
            .overflow_counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        let action = match (self.policy.mode, reason, self.policy.on_overflow) {
            (Mode::Shadow, _, _) => "would fold or drop (shadow mode)",
            (Mode::Enforce, OverflowReason::LabelLimit, _) => "folds label values of",
            (Mode::Enforce, _, OnOverflow::Fold) => "folds",
            (Mode::Enforce, _, OnOverflow::Drop) => "drops",
        };
        if last == 0 {
            tracing::warn!(
                metric = %self.name,
                reason = reason.as_str(),
                label = blame,
                label_demand = demand,
                "cardinality guard: metric {} {action} new label sets ({}); \
                 label with the highest demand: {blame:?} (~{demand} distinct values)",
                self.name,
                reason.as_str(),
            );
        } else {
            tracing::warn!(
                metric = %self.name,
                reason = reason.as_str(),
                label = blame,
                label_demand = demand,
                overflowed = total,
                "cardinality guard: metric {} still {action} new label sets ({total} registrations \
                 so far); label with the highest demand: {blame:?} (~{demand} distinct values)",
                self.name,
            );
        }
    }

    /// The overflow series handle when the policy folds and it has room;
    /// `register` creates it with the exporter the first time.
    pub(crate) fn fold_target(&self, global: &Global, register: impl FnOnce() -> H) -> Option<H> {
        if self.policy.on_overflow != OnOverflow::Fold || !self.overflow_room {
            return None;
        }
        let handle = self.fold_target.get_or_init(|| {
            let handle = register();
            self.overflow_live.store(true, Ordering::Release);
            self.gauges.add_series(self.cost);
            global.add_series(self.cost);
            handle
        });
        Some(handle.clone())
    }

    pub(crate) fn enforces(&self) -> bool {
        self.policy.mode == Mode::Enforce
    }

    pub(crate) fn report(&self) -> MetricReport {
        let overflow_live = self.overflow_live.load(Ordering::Acquire);
        let series =
            self.admitted.load(Ordering::Acquire) + if overflow_live { self.cost } else { 0 };
        let mut overflow = OverflowCounts::default();
        for (i, count) in self.overflow_counts.iter().enumerate() {
            if let Some(reason) = OverflowReason::from_index(i) {
                overflow.add(reason, count.load(Ordering::Relaxed));
            }
        }
        let limit = self.policy.max_series.get();
        let labels = self.labels.report();
        let blame = (overflow.total() > 0)
            .then(|| labels.first().map(|l| l.name.clone()))
            .flatten();
        MetricReport {
            labels,
            blame,
            name: self.name.clone(),
            kind: self.kind,
            series,
            limit,
            utilization: ratio(series, limit),
            label_sets: self.label_sets.load(Ordering::Acquire),
            series_per_label_set: self.cost,
            overflow_series: overflow_live,
            overflow,
            on_overflow: self.policy.on_overflow,
            mode: self.policy.mode,
            idle_timeout_seconds: self.idle_timeout_ms.map(|ms| ms as f64 / 1000.0),
            expired: self.expired.load(Ordering::Relaxed),
            revived: self.revived.load(Ordering::Relaxed),
        }
    }
}
