//! Admission decided again at upkeep: what a reload would no longer admit,
//! and what the budget keeps (`keep`), are evicted; the traffic the
//! admitted series carry is measured.
//!
//! An eviction follows the rule of idle expiry: a series whose last update
//! no render has shown yet is kept until one has (the next upkeep tries
//! again). Its series ends, its value is moved nowhere, and its label set is
//! not admitted again before a render has shown it absent; a handle user
//! code kept sends its later updates where the config sends the label set
//! now (see `expiry.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use metrics::Key;

use super::{Metric, Table};
use crate::config::Keep;
use crate::heavy::{Busiest, DECAY_SHIFT};
use crate::rank::{rank, Consistent};
use crate::series::Series;
use crate::store::Store;
use crate::vocabulary::{EvictionReason, MetricKind};

/// Upkeeps a series stays before a folded label set may outrank it.
const RESIDENCE: u64 = 5;
/// A folded label set outranks an admitted series when its estimated count
/// is above `MARGIN` times the series' score plus [`MIN_COUNT`] (scores and
/// counts decay alike: an eighth per upkeep, so about one update per
/// upkeep reads 8).
const MARGIN: u64 = 2;
const MIN_COUNT: u64 = 8;
/// At most a fiftieth of the label sets the budget holds (at least one)
/// are swapped per upkeep.
const SWAP_SHARE: u64 = 50;
/// Consistent ranks are evicted a twentieth above the threshold that admits
/// them: the demand estimate's noise does not make series flap.
const RANK_SLACK: u64 = 20;

/// What the admitted and the overflow series counted, at the last upkeep.
#[derive(Default)]
pub(crate) struct Traffic {
    admitted: u64,
    overflow: u64,
    /// Levels of series that are gone (admitted, overflow).
    departed: [u64; 2],
    /// Recent counts (decayed a quarter per upkeep).
    recent_admitted: f64,
    recent_total: f64,
}

impl Metric {
    /// What its budget keeps now.
    pub(crate) fn keep(&self) -> Keep {
        match self.keep.load(Ordering::Acquire) {
            1 => Keep::Busiest,
            2 => Keep::Consistent,
            _ => Keep::First,
        }
    }

    pub(super) fn set_keep(&self, keep: Keep) {
        let keep = effective(keep, &*self.env.store);
        self.keep.store(keep as u8, Ordering::Release);
    }

    pub(super) fn busiest(&self) -> Option<&Busiest> {
        match self.keep() {
            Keep::Busiest => Some(self.busiest.get_or_init(Busiest::new)),
            _ => None,
        }
    }

    /// Under `keep = "busiest"`: `weight` updates of the folded label set
    /// `key` made through a handle kept (an ingested input, registered
    /// once), counted as that many folded registrations would be. Whether
    /// upkeep promoted the label set: its next registration takes it.
    pub(crate) fn folded_updates(&self, key: &Key, weight: u32) -> bool {
        let Some(busiest) = self.busiest() else {
            return false;
        };
        let hash = key.get_hash();
        if busiest.is_promoted(hash) {
            return true;
        }
        busiest.observe_weighted(hash, weight);
        false
    }

    pub(super) fn consistent(&self) -> Option<&Consistent> {
        match self.keep() {
            Keep::Consistent => Some(self.consistent.get_or_init(Consistent::new)),
            _ => None,
        }
    }

    /// A series' level is gone with it (it expired or was evicted).
    pub(super) fn departed(&self, series: &Series) {
        let level = series.level();
        let mut traffic = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        traffic.departed[usize::from(series.overflow)] += level;
    }

    /// The share of the recent traffic its admitted series carry.
    pub(crate) fn admitted_share(&self) -> Option<f64> {
        let traffic = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        (traffic.recent_total > 0.0).then(|| traffic.recent_admitted / traffic.recent_total)
    }

    /// Forgets the label sets evicted before this render (under the
    /// table's lock, as the render reads it): it shows them absent.
    pub(crate) fn rendered(&self) {
        let mut evicted = self
            .evicted_unrendered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !evicted.is_empty() {
            evicted.clear();
        }
    }

    /// Whether the label set of identity `hash` was evicted and no render
    /// has shown it absent yet (under the table's lock).
    pub(super) fn evicted_unrendered(&self, hash: u64) -> bool {
        let evicted = self
            .evicted_unrendered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        !evicted.is_empty() && evicted.contains(&hash)
    }

    /// One upkeep (when the guard stores its series): measures the traffic,
    /// then, enforcing, evicts what a reload would no longer admit and what
    /// `keep` prefers to hold instead. True if any series was evicted.
    pub(crate) fn redecide(&self) -> bool {
        let upkeep = self.upkeeps.fetch_add(1, Ordering::AcqRel) + 1;
        let keep = self.keep();
        let mut table = self.lock();
        self.measure(&table);
        if !self.enforces() {
            return false;
        }
        let mut evicted: Vec<(Arc<Series>, EvictionReason)> = Vec::new();
        if self.redeciding.load(Ordering::Acquire)
            && self.evict_for_reload(&table, keep, &mut evicted)
        {
            self.redeciding.store(false, Ordering::Release);
        }
        match keep {
            Keep::Consistent => self.evict_by_rank(&table, &mut evicted),
            Keep::Busiest => self.outrank(&table, upkeep, &mut evicted),
            Keep::First => {}
        }
        if evicted.is_empty() {
            return false;
        }
        self.remove_evicted(&mut table, &evicted);
        // As after idle expiry: a budget a tenth free reopens (under
        // `consistent`, as soon as one label set fits: the rank decides).
        self.budget.maybe_reopen(&self.env.global);
        if keep == Keep::Consistent {
            self.budget.reopen_if_room();
        }
        true
    }

    /// Evicts `series` for `reason` now if a render has shown its last
    /// update; else retires it: the next render shows its last value and
    /// evicts it then ([`remove_retired`](Self::remove_retired)), so a
    /// series whose updates never pause is evicted too. True if evicted now.
    fn evict_or_retire(
        &self,
        series: &Arc<Series>,
        reason: EvictionReason,
        evicted: &mut Vec<(Arc<Series>, EvictionReason)>,
    ) -> bool {
        if series.evict() {
            evicted.push((series.clone(), reason));
            return true;
        }
        if !series.retiring.swap(true, Ordering::AcqRel) {
            let mut retiring = self.retiring.lock().unwrap_or_else(|p| p.into_inner());
            retiring.push((series.clone(), reason));
        }
        false
    }

    /// After a render (under the table's lock): the retiring series it
    /// evicted leave as upkeep's evictions do.
    pub(crate) fn remove_retired(&self, table: &mut Table) {
        let gone: Vec<(Arc<Series>, EvictionReason)> = {
            let mut retiring = self.retiring.lock().unwrap_or_else(|p| p.into_inner());
            let (gone, staying) = retiring.drain(..).partition(|(s, _)| s.is_evicted());
            *retiring = staying;
            gone
        };
        self.remove_evicted(table, &gone);
        self.env.retired.store(true, Ordering::Release);
        self.budget.maybe_reopen(&self.env.global);
        if self.keep() == Keep::Consistent {
            self.budget.reopen_if_room();
        }
    }

    /// Takes the evicted series out of the table, the lookup and the
    /// budget; their label sets wait for a render before they come back.
    fn remove_evicted(&self, table: &mut Table, evicted: &[(Arc<Series>, EvictionReason)]) {
        table.retain(|s| !s.is_evicted());
        let lookup = self.env.lookup(self.flavor);
        let mut unrendered = self
            .evicted_unrendered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for (series, reason) in evicted {
            series.retiring.store(false, Ordering::Release);
            lookup.remove(series);
            unrendered.insert(series.hash);
            self.removed(series, *reason);
        }
    }

    /// Updates the traffic share and (under `busiest`) the series' scores.
    fn measure(&self, table: &Table) {
        let scored = self.keep() == Keep::Busiest;
        let (mut admitted, mut overflow) = (0u64, 0u64);
        for series in table.iter() {
            let level = series.level();
            if series.overflow {
                overflow += level;
                continue;
            }
            admitted += level;
            if scored {
                let activity = &series.activity;
                let delta = level.saturating_sub(activity.level.swap(level, Ordering::Relaxed));
                let score = activity.score.load(Ordering::Relaxed);
                let decayed = score - (score >> DECAY_SHIFT);
                let delta = u32::try_from(delta).unwrap_or(u32::MAX);
                activity
                    .score
                    .store(decayed.saturating_add(delta), Ordering::Relaxed);
            }
        }
        let mut traffic = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        let admitted = admitted + traffic.departed[0];
        let overflow = overflow + traffic.departed[1];
        let new_admitted = admitted.saturating_sub(traffic.admitted) as f64;
        let new_overflow = overflow.saturating_sub(traffic.overflow) as f64;
        traffic.admitted = admitted;
        traffic.overflow = overflow;
        traffic.recent_admitted = traffic.recent_admitted * 0.75 + new_admitted;
        traffic.recent_total = traffic.recent_total * 0.75 + new_admitted + new_overflow;
    }

    /// `series`, the ones `keep` prefers first.
    pub(super) fn preferred_first(&self, series: &mut [&Arc<Series>], keep: Keep) {
        match keep {
            Keep::First => {} // the table is in admission order
            Keep::Busiest => {
                series.sort_by_key(|s| std::cmp::Reverse(s.activity.score.load(Ordering::Relaxed)));
            }
            Keep::Consistent => series.sort_by_cached_key(|s| series_rank(s)),
        }
    }

    /// Evicts what the settings in force would not admit: label sets
    /// holding a value their label limit no longer admits, then the least
    /// preferred beyond the budget. True once nothing is left to evict.
    fn evict_for_reload(
        &self,
        table: &Table,
        keep: Keep,
        evicted: &mut Vec<(Arc<Series>, EvictionReason)>,
    ) -> bool {
        let mut done = true;
        let mut held: Vec<&Arc<Series>> = Vec::with_capacity(table.len());
        for series in table.iter().filter(|s| !s.overflow) {
            if self.labels.hold(series.labels()) {
                held.push(series);
            } else if !self.evict_or_retire(series, EvictionReason::Reload, evicted) {
                done = false; // retiring: the next render evicts it
            }
        }
        let allowed = self.budget.label_sets_allowed() as usize;
        if held.len() > allowed {
            self.preferred_first(&mut held, keep);
            for series in &held[allowed..] {
                if !self.evict_or_retire(series, EvictionReason::Reload, evicted) {
                    done = false;
                }
            }
        }
        done
    }

    /// `keep = "consistent"`: the threshold from the demand; the series
    /// ranked well above it are evicted.
    fn evict_by_rank(&self, table: &Table, evicted: &mut Vec<(Arc<Series>, EvictionReason)>) {
        let Some(consistent) = self.consistent() else {
            return;
        };
        let live = || {
            (table.iter())
                .filter(|s| !s.overflow && !s.is_evicted() && !s.retiring.load(Ordering::Relaxed))
        };
        let ranks: Vec<u64> = live().map(|s| series_rank(s)).collect();
        let threshold = consistent.update(self.budget.label_sets_allowed(), ranks.iter().copied());
        let evict_above = threshold.saturating_add(threshold / RANK_SLACK);
        for (series, rank) in live().zip(ranks).collect::<Vec<_>>() {
            if rank >= evict_above {
                self.evict_or_retire(series, EvictionReason::Rank, evicted);
            }
        }
    }

    /// `keep = "busiest"`: with the budget full, promotes the folded label
    /// sets that clearly outrank the quietest admitted series, which are
    /// evicted to make room (free room is given first).
    fn outrank(
        &self,
        table: &Table,
        upkeep: u64,
        evicted: &mut Vec<(Arc<Series>, EvictionReason)>,
    ) {
        let Some(busiest) = self.busiest() else {
            return;
        };
        let (candidates, waiting) = busiest.upkeep();
        if self.kind == MetricKind::Gauge {
            // Upkeep measures no activity of a gauge (its value is no
            // count): nothing would tell a busy one from a quiet one.
            return;
        }
        if self.budget.closed().is_none() {
            return; // room for all: nothing to choose
        }
        let allowed = self.budget.label_sets_allowed();
        let mut swaps = (allowed / SWAP_SHARE).max(1) as usize;
        let mut candidates = candidates
            .into_iter()
            .filter(|c| u64::from(c.estimate) > MIN_COUNT)
            .peekable();
        // Free room first (left by evictions, or promotions that lapsed).
        let free = allowed.saturating_sub(self.budget.label_sets_held() + waiting as u64);
        for _ in 0..free.min(swaps as u64) {
            let Some(candidate) = candidates.next() else {
                return;
            };
            busiest.promote(candidate);
            swaps -= 1;
        }
        let mut quietest: Vec<&Arc<Series>> = table
            .iter()
            .filter(|s| !s.overflow && !s.is_evicted() && !s.retiring.load(Ordering::Relaxed))
            .filter(|s| u64::from(s.activity.since.load(Ordering::Relaxed)) + RESIDENCE <= upkeep)
            .collect();
        quietest.sort_by_key(|s| s.activity.score.load(Ordering::Relaxed));
        let mut quietest = quietest.into_iter();
        while swaps > 0 {
            let (Some(candidate), Some(series)) = (candidates.peek(), quietest.next()) else {
                return;
            };
            let score = u64::from(series.activity.score.load(Ordering::Relaxed));
            if u64::from(candidate.estimate) <= MARGIN * score + MIN_COUNT {
                return; // the quietest left are not outranked either
            }
            // A retiring series' room is promoted from once it is free.
            if self.evict_or_retire(series, EvictionReason::Outranked, evicted) {
                busiest.promote(*candidate);
                candidates.next();
            }
            swaps -= 1;
        }
    }
}

/// What a metric keeps where its series live: `keep` re-decides at
/// upkeep, which only the Prometheus path runs (over another recorder, as
/// with idle expiry, what is admitted stays: `first`).
pub(super) fn effective(keep: Keep, store: &dyn Store) -> Keep {
    match store.owns_series() {
        true => keep,
        false => Keep::First,
    }
}

/// A stored series' rank (`keep = "consistent"`).
fn series_rank(series: &Series) -> u64 {
    rank(series.labels())
}
