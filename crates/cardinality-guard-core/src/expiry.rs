//! Idle expiry: a sweep deletes the series that went idle (and whose last
//! update a render has seen), giving their budget back at once; a handle
//! user code kept brings its series back when it is updated again.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::metric::{Metric, Placed, Table};
use crate::normalize::LabelTexts;
use crate::report::{OverflowReason, Reasons};
use metrics::Recorder;

use crate::series::{Revive, Series};

impl Metric {
    /// One upkeep pass at `now_ms` (sweep number `epoch`): expires idle
    /// series, gives their budget back, reclaims label values no series
    /// uses, and reopens a budget that freed up. True if any expired.
    pub(crate) fn sweep(&self, now_ms: u64, epoch: u64) -> bool {
        let Some(timeout_ms) = self.idle_timeout_ms() else {
            return false;
        };
        let mut table = self.lock();
        let mut expired: Vec<Arc<str>> = Vec::new();
        for (identity, series) in table.iter() {
            if series.sweep(now_ms, timeout_ms) {
                expired.push(identity.clone());
            } else if !series.overflow {
                self.labels.keep(&series.key, epoch);
            }
        }
        for identity in &expired {
            if let Some(series) = table.remove(identity) {
                self.removed(&series);
            }
        }
        self.labels.reclaim(epoch);
        self.budget.maybe_reopen(&self.env.global);
        !expired.is_empty()
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
        if let Some(live) = table.get(&series.identity) {
            return series.redirect(Some(live.clone()));
        }
        // Its label values may have been given to others meanwhile.
        let inner = self.env.inner.as_deref().map(|r| r as &dyn Recorder);
        if let Some(rewritten) = self.labels.apply(&series.key, &self.name, inner) {
            reasons.add(OverflowReason::LabelLimit);
            if self.enforces() {
                let texts = LabelTexts::of(&rewritten, &self.env.global_labels);
                let target = match self.place_locked(table, texts, None, reasons) {
                    Placed::Series(s) => Some(s),
                    Placed::Folded(target) => target,
                    Placed::Stale => None, // `place_locked` decides under the lock: never stale
                };
                return series.redirect(target);
            }
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
        table.insert(series.identity.clone(), series.clone());
        series.revived(self.env.time.now_ms());
        if series.shadow_reasons == 0 {
            self.spellings.remember_own(series);
        }
        self.env.admissions.fetch_add(1, Ordering::Release);
        self.added(false);
        self.count_revived();
        None
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
