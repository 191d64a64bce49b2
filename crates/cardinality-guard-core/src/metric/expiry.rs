//! Idle expiry: a sweep deletes the series that went idle (and whose last
//! update a render has seen), giving their budget back at once; a handle
//! user code kept brings its series back when it is updated again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::admit::{Admission, Placed};
use super::{Metric, Table};
use crate::series::identity::Identity;
use crate::series::{Revive, Series};
use crate::vocabulary::{EvictionReason, OverflowReason, Reasons};

impl Metric {
    /// One upkeep pass at `now_ms` (sweep number `epoch`): expires idle
    /// series, gives their budget back, reclaims label values no series
    /// uses, and reopens a budget that freed up. True if any expired.
    pub(crate) fn sweep(&self, now_ms: u64, epoch: u64) -> bool {
        let Some(timeout_ms) = self.idle_timeout_ms() else {
            return false;
        };
        let mut table = self.lock();
        let lookup = self.env.lookup(self.flavor);
        let before = table.len();
        table.retain(|series| {
            if series.sweep(now_ms, timeout_ms) {
                lookup.remove(series);
                self.removed(series, EvictionReason::Idle);
                return false;
            }
            if !series.overflow {
                self.labels.keep(series.labels(), epoch);
            }
            true
        });
        let expired = table.len() < before;
        self.labels.reclaim(epoch);
        self.budget.maybe_reopen(&self.env.global);
        expired
    }

    /// Brings back `series`, expired and updated again: see [`Revive`].
    fn revive_locked(
        &self,
        table: &mut Table,
        series: &Arc<Series>,
        reasons: &mut Reasons,
    ) -> Option<Arc<Series>> {
        if let Some(target) = series.redirected() {
            return target; // another thread found it no room
        }
        if !series.is_expired() {
            return None; // another thread brought it back
        }
        if series.overflow {
            self.fold_target_locked(table);
            return None;
        }
        // Registered again meanwhile: that series is the one that renders.
        let lookup = self.env.lookup(self.flavor);
        if let Some(live) = lookup.find(series.hash, &self.family, series.text()) {
            return series.redirect(Some(live));
        }
        // Its label values may have been given to others meanwhile.
        let key = series.key();
        if let Some(rewritten) = self.labels.apply(&key, &self.name, &*self.env.store) {
            reasons.add(OverflowReason::LabelLimit);
            if self.enforces() {
                let target = self.place_key(table, &rewritten, reasons);
                return series.redirect(target);
            }
        }
        if series.is_evicted() && self.evicted_unrendered(series.hash) {
            // Evicted, and no render has shown it absent yet: this update
            // folds (not for good: once a render has, the label set is
            // decided again, as an expired one is).
            reasons.add(OverflowReason::SeriesLimit);
            return self.fold_target_locked(table);
        }
        if series.is_evicted() {
            // Shown absent since: its label set goes where a registration
            // of it would, a new series (from zero) if admitted.
            let target = self.place_key(table, &key, reasons);
            return series.redirect(target);
        }
        let reserved = match self.budget.decide(&self.env.global) {
            Ok(()) => true,
            Err(reason) => {
                reasons.add(reason);
                if self.enforces() {
                    let target = self.fold_target_locked(table);
                    return series.redirect(target);
                }
                false
            }
        };
        series.reserved.store(reserved, Ordering::Relaxed);
        self.push(table, series);
        lookup.insert(series);
        series.revived(self.env.time.now_ms());
        if series.shadow_reasons.is_empty() {
            lookup.list(series, None);
        }
        self.env.admissions.fetch_add(1, Ordering::Release);
        self.added(false);
        self.counts.revived.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl Metric {
    /// Where a registration of `key` (normalized, perhaps rewritten by the
    /// label limits) goes, decided under the table's lock (so never stale).
    fn place_key(
        &self,
        table: &mut Table,
        key: &metrics::Key,
        reasons: &mut Reasons,
    ) -> Option<Arc<Series>> {
        let identity = Identity::of(key, &self.env.global_labels);
        let admission = Admission {
            key: Some(key),
            ..Admission::default()
        };
        match self.place_locked(table, identity, admission, reasons) {
            Placed::Series(s) => Some(s),
            Placed::Folded(target) => target,
            Placed::Stale => None,
        }
    }
}

impl Revive for Metric {
    fn revive(&self, series: &Arc<Series>) -> Option<Arc<Series>> {
        let mut reasons = Reasons::default();
        let target = {
            let mut table = self.lock();
            self.revive_locked(&mut table, series, &mut reasons)
        };
        self.count(reasons);
        target
    }
}
