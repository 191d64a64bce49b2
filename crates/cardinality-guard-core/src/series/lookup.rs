//! The hot path's one lookup: from a key, as user code spells it, to its
//! series.
//!
//! Every stored series is in a sharded hash table by the hash of its
//! canonical key, which `metrics` computes once per key and independently
//! of the labels' order, so no key is stored: a key is checked against the
//! series' label text ([`Series::is_key`]). A series is put in it under its
//! metric's lock, so a registration that finds the metric closed and then
//! misses here knows the label set is not admitted.
//!
//! Keys that render otherwise than they are spelled (a name or label key
//! that is sanitized, a label that names a global one) are *aliases*: kept
//! whole, beside the table. Other spellings cost at most
//! `global.max_alias_bytes` (all kinds together, each counted by
//! [`alias_cost`]); the own keys of series whose labels name a global
//! label are bounded by the budgets.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use hashbrown::HashTable;
use metrics::Key;
use metrics_util::KeyHasher;

use super::identity::same_labels;
use super::{Family, Series};
use crate::bounds::Bounds;

const SHARDS: usize = 64;

type Shard = RwLock<HashTable<Arc<Series>>>;

pub(crate) struct Lookup {
    shards: Box<[Shard]>,
    /// Own keys of series whose labels name a global label (bounded by the
    /// budgets).
    naming_globals: Aliases,
    /// Keys that sanitize into a stored label set (another spelling of its
    /// name or of a label key), within `global.max_alias_bytes`.
    sanitized: Aliases,
}

/// Keys kept whole, leading to their series, each with the bytes it was
/// counted for.
#[derive(Default)]
struct Aliases {
    map: DashMap<Key, (Arc<Series>, usize), BuildHasherDefault<KeyHasher>>,
    /// Entries in `map`: a lookup skips the map while it is empty.
    count: AtomicUsize,
}

impl Aliases {
    #[inline]
    fn with<T>(&self, key: &Key, f: impl FnOnce(&Arc<Series>) -> T) -> Option<T> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.map.get(key).map(|entry| f(&entry.0))
    }

    /// Inserts `key` (counted for `cost` bytes) unless it is there; false
    /// if it was.
    fn insert(&self, key: Key, series: &Arc<Series>, cost: usize) -> bool {
        match self.map.entry(key) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(place) => {
                place.insert((series.clone(), cost));
                self.count.fetch_add(1, Ordering::AcqRel);
                true
            }
        }
    }

    /// Forgets the keys `gone` says; the bytes they were counted for.
    fn forget(&self, gone: impl Fn(&Arc<Series>) -> bool) -> usize {
        let (mut keys, mut bytes) = (0, 0);
        self.map.retain(|_, (series, cost)| {
            let keep = !gone(series);
            if !keep {
                keys += 1;
                bytes += *cost;
            }
            keep
        });
        self.count.fetch_sub(keys, Ordering::AcqRel);
        bytes
    }
}

/// What remembering `key` costs at most, in bytes: its name and labels
/// (as if each were an allocation of its own) and a fixed overhead for the
/// table entry (the key, the series pointer and the table's slack).
pub(crate) fn alias_cost(key: &Key) -> usize {
    const ENTRY: usize = 2 * std::mem::size_of::<(Key, (Arc<Series>, usize))>() + 16;
    const LABEL: usize = std::mem::size_of::<metrics::Label>();
    let labels: usize = key
        .labels()
        .map(|l| LABEL + l.key().len() + l.value().len())
        .sum();
    ENTRY + key.name().len() + labels
}

/// A shard held for a new series (see [`Lookup::find_or_vacancy`]).
pub(crate) struct Vacancy<'a> {
    table: std::sync::RwLockWriteGuard<'a, HashTable<Arc<Series>>>,
}

impl Vacancy<'_> {
    /// Stores `series` in its place.
    pub(crate) fn fill(mut self, series: &Arc<Series>) {
        self.table
            .insert_unique(series.hash, series.clone(), |s| s.hash);
    }
}

fn read(shard: &Shard) -> std::sync::RwLockReadGuard<'_, HashTable<Arc<Series>>> {
    shard.read().unwrap_or_else(|p| p.into_inner())
}

fn write(shard: &Shard) -> std::sync::RwLockWriteGuard<'_, HashTable<Arc<Series>>> {
    shard.write().unwrap_or_else(|p| p.into_inner())
}

impl Lookup {
    pub(crate) fn new() -> Lookup {
        Lookup {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            naming_globals: Aliases::default(),
            sanitized: Aliases::default(),
        }
    }

    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[(hash >> 32) as usize % SHARDS]
    }

    /// `f` of the series `key` leads to, under a shard's read lock (for
    /// the hot path: one reference-count increment, the handle's).
    #[inline]
    pub(crate) fn with<T>(&self, key: &Key, f: impl FnOnce(&Arc<Series>) -> T) -> Option<T> {
        let hash = key.get_hash();
        {
            let table = read(self.shard(hash));
            if let Some(series) = table.find(hash, |s| s.hash == hash && s.is_key(key)) {
                return Some(f(series));
            }
        }
        match self.naming_globals.with(key, Arc::clone) {
            Some(series) => Some(f(&series)),
            None => self.sanitized.with(key, f),
        }
    }

    /// The series `key` leads to.
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Series>> {
        self.with(key, Arc::clone)
    }

    /// The stored series of `family` with the labels of `text` (by the
    /// hash of their canonical key), listed or not.
    pub(crate) fn find(&self, hash: u64, family: &Arc<Family>, text: &str) -> Option<Arc<Series>> {
        read(self.shard(hash))
            .find(hash, |s| {
                s.hash == hash && Arc::ptr_eq(&s.family, family) && same_labels(&s.text, text)
            })
            .cloned()
    }

    /// Stores `series` (under its metric's lock).
    pub(crate) fn insert(&self, series: &Arc<Series>) {
        write(self.shard(series.hash)).insert_unique(series.hash, series.clone(), |s| s.hash);
    }

    /// [`find`](Self::find), or the place to store a new series of `family`
    /// with the labels of `text`, held until it is filled or dropped (under
    /// the metric's lock: one probe for both).
    pub(crate) fn find_or_vacancy(
        &self,
        hash: u64,
        family: &Arc<Family>,
        text: &str,
    ) -> Result<Arc<Series>, Vacancy<'_>> {
        let table = write(self.shard(hash));
        let found = table.find(hash, |s| {
            s.hash == hash && Arc::ptr_eq(&s.family, family) && same_labels(&s.text, text)
        });
        match found {
            Some(series) => Ok(series.clone()),
            None => Err(Vacancy { table }),
        }
    }

    /// Makes a registration of the series' own key (`own`, else rebuilt
    /// from its text) find it: always.
    pub(crate) fn list(&self, series: &Arc<Series>, own: Option<&Key>) {
        if series.listed.swap(true, Ordering::AcqRel) || series.plain {
            return;
        }
        let own = own.cloned().unwrap_or_else(|| series.key());
        self.naming_globals.insert(own, series, 0);
    }

    /// Takes `series` out (it expired, under its metric's lock); its
    /// aliases go at the next [`forget_expired`](Self::forget_expired).
    pub(crate) fn remove(&self, series: &Arc<Series>) {
        let mut table = write(self.shard(series.hash));
        if let Ok(entry) = table.find_entry(series.hash, |s| Arc::ptr_eq(s, series)) {
            entry.remove();
        }
        series.listed.store(false, Ordering::Release);
    }

    /// Makes another spelling `key` lead to `series`, if its bytes fit in
    /// `global.max_alias_bytes`.
    pub(crate) fn remember(&self, key: &Key, series: &Arc<Series>, bounds: &Bounds) {
        let sanitized = &self.sanitized;
        if sanitized.map.contains_key(key) {
            return;
        }
        let cost = alias_cost(key);
        if bounds.take_alias(cost) && !sanitized.insert(key.clone(), series, cost) {
            bounds.give_alias(cost); // remembered meanwhile
        }
    }

    /// Forgets every alias of an expired series.
    pub(crate) fn forget_expired(&self, bounds: &Bounds) {
        self.naming_globals.forget(|s| s.is_expired());
        bounds.give_alias(self.sanitized.forget(|s| s.is_expired()));
    }

    /// Forgets every other spelling (a reload lowered
    /// `global.max_alias_bytes` under what they cost): later registrations
    /// of them remember them again, within the new bound.
    pub(crate) fn forget_spellings(&self, bounds: &Bounds) {
        bounds.give_alias(self.sanitized.forget(|_| true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alias_costs_its_bytes_and_a_fixed_overhead() {
        let empty = alias_cost(&Key::from_name("x"));
        let labelled = alias_cost(&Key::from_parts(
            "x",
            vec![metrics::Label::new("ab", "cde")],
        ));
        eprintln!("entry {empty}, label {}", labelled - empty - 5);
        assert!((100..=256).contains(&empty), "{empty}");
        assert_eq!(labelled - empty, std::mem::size_of::<metrics::Label>() + 5);
    }
}
