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
//! whole, beside the table, at most twice the global budget of them per
//! kind (but the own keys of series whose labels name a global label,
//! which the budgets bound).

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use hashbrown::HashTable;
use metrics::Key;
use metrics_util::KeyHasher;

use super::identity::same_labels;
use super::{Family, Series};

const SHARDS: usize = 64;

type Shard = RwLock<HashTable<Arc<Series>>>;

pub(crate) struct Lookup {
    shards: Box<[Shard]>,
    /// Own keys of series whose labels name a global label (bounded by the
    /// budgets).
    naming_globals: Aliases,
    /// Keys that sanitize into a stored label set (another spelling of its
    /// name or of a label key), at most `room`.
    sanitized: Aliases,
    room: usize,
}

/// Keys kept whole, leading to their series.
#[derive(Default)]
struct Aliases {
    map: DashMap<Key, Arc<Series>, BuildHasherDefault<KeyHasher>>,
    /// Entries in `map`: a lookup skips the map while it is empty.
    count: AtomicUsize,
}

impl Aliases {
    #[inline]
    fn with<T>(&self, key: &Key, f: impl FnOnce(&Arc<Series>) -> T) -> Option<T> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.map.get(key).map(|series| f(&series))
    }

    /// Inserts `key` unless it is there; false if it was.
    fn insert(&self, key: Key, series: &Arc<Series>) -> bool {
        if self.map.insert(key, series.clone()).is_some() {
            return false;
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Forgets the keys of expired series; how many went.
    fn forget_expired(&self) -> usize {
        let mut gone = 0;
        self.map.retain(|_, series| {
            let keep = !series.is_expired();
            gone += usize::from(!keep);
            keep
        });
        self.count.fetch_sub(gone, Ordering::AcqRel);
        gone
    }
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
    pub(crate) fn new(max_series: u64) -> Lookup {
        Lookup {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            naming_globals: Aliases::default(),
            sanitized: Aliases::default(),
            room: usize::try_from(max_series)
                .unwrap_or(usize::MAX)
                .saturating_mul(2),
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
        self.naming_globals.insert(own, series);
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

    /// Makes another spelling `key` lead to `series`, if there is room.
    pub(crate) fn remember(&self, key: &Key, series: &Arc<Series>) {
        let sanitized = &self.sanitized;
        if sanitized.map.contains_key(key) || sanitized.count.load(Ordering::Acquire) >= self.room {
            return;
        }
        sanitized.insert(key.clone(), series);
    }

    /// Forgets every alias of an expired series.
    pub(crate) fn forget_expired(&self) {
        self.naming_globals.forget_expired();
        self.sanitized.forget_expired();
    }
}
