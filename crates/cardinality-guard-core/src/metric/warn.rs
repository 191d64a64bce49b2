//! The guard's log line when a metric overflows: one `warn!` the first time,
//! then at most one reminder per `global.warn_interval` per metric, never one
//! per call. Timed by the guard's own clock.

use std::sync::atomic::Ordering;

use super::Metric;
use crate::config::{Mode, OnOverflow};
use crate::vocabulary::OverflowReason;

/// After the first warning, the clock is read at every this many folds
/// of a metric only (a fold is then a few atomic operations): a reminder
/// comes within this many folds past its interval.
const CHECK_EVERY: u64 = 32;

impl Metric {
    /// `count` is the metric's overflow count with this one.
    pub(super) fn warn(&self, reason: OverflowReason, count: u64) {
        let last = self.warned_at.load(Ordering::Relaxed);
        if last != 0 && !count.is_multiple_of(CHECK_EVERY) {
            return;
        }
        let now = self.env.time.now_ms().saturating_add(1);
        let interval = self.env.global.warn_interval_ms();
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
        let total = self.overflow_counts().total();
        let policy = self.policy();
        let action = match (policy.mode, reason, policy.on_overflow) {
            // Bounds apply in shadow mode too.
            (_, OverflowReason::TooManyLabels, OnOverflow::Fold) => {
                "folds label sets with more than max_labels labels of"
            }
            (_, OverflowReason::TooManyLabels, OnOverflow::Drop) => {
                "drops label sets with more than max_labels labels of"
            }
            (Mode::Shadow, _, _) => "would fold or drop (shadow mode)",
            (Mode::Enforce, OverflowReason::LabelLimit, _) => "folds label values of",
            (Mode::Enforce, OverflowReason::ValueTooLong, _) => {
                "replaces over-long label values (by __overflow__) of"
            }
            (Mode::Enforce, OverflowReason::Invalid, _) => {
                "removes label keys that can't render (empty, over-long, `__`-prefixed, reserved) from"
            }
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
}
