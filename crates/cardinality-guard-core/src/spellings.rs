//! The keys user code registers, as it spells them, leading to their series:
//! the hot path's one lookup.
//!
//! Every admitted label set's own key (its labels sorted) is here from the
//! moment its series is in its metric's table: it is written under the
//! metric's lock, so a registration that finds the metric closed and then
//! misses here knows the label set is not admitted. Other spellings (raw
//! names, other label orders) are added after the fact, at most twice the
//! global budget of them per kind; the own keys are bounded by the budgets.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use metrics::Key;
use metrics_util::KeyHasher;

use crate::normalize::take_slot;
use crate::series::Series;

pub(crate) struct Spellings {
    map: DashMap<Key, Arc<Series>, BuildHasherDefault<KeyHasher>>,
    entries: AtomicUsize,
    room: usize,
}

impl Spellings {
    pub(crate) fn new(max_series: u64) -> Spellings {
        Spellings {
            map: DashMap::default(),
            entries: AtomicUsize::new(0),
            room: usize::try_from(max_series)
                .unwrap_or(usize::MAX)
                .saturating_mul(2),
        }
    }

    /// The series `key` leads to (a reference-count increment, no lock
    /// held after it returns).
    #[inline]
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Series>> {
        self.map.get(key).map(|series| series.clone())
    }

    /// `f` of the series `key` leads to, under the map's read lock (for
    /// the hot path: one reference-count increment, the handle's).
    #[inline]
    pub(crate) fn with<T>(&self, key: &Key, f: impl FnOnce(&Arc<Series>) -> T) -> Option<T> {
        self.map.get(key).map(|series| f(&series))
    }

    /// Makes the series' own key (its labels sorted) lead to it: always.
    pub(crate) fn remember_own(&self, series: &Arc<Series>) {
        self.map.insert(series.key.clone(), series.clone());
    }

    /// Makes another spelling `key` lead to `series`, if there is room.
    pub(crate) fn remember(&self, key: &Key, series: &Arc<Series>) {
        if self.map.contains_key(key) || !take_slot(&self.entries, self.room) {
            return;
        }
        if self.map.insert(key.clone(), series.clone()).is_some() {
            self.entries.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Forgets every key of an expired series.
    pub(crate) fn forget_expired(&self) {
        self.map.retain(|key, series| {
            let keep = !series.is_expired();
            if !keep && *key != series.key {
                self.entries.fetch_sub(1, Ordering::AcqRel);
            }
            keep
        });
    }
}
