//! One label key of one metric: its limit and pinned values, the values
//! admitted under the limit (by keyed hash), and its demand.

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard};

use dashmap::DashMap;
use metrics::Gauge;

use crate::config::{MetricPolicy, PinnedValues};
use crate::normalize::LABEL_OVERFLOW;
use crate::report::LabelReport;
use crate::self_report;
use crate::sketch::Sketch;
use crate::store::Store;

/// A label's limit and pinned values.
pub(super) struct Limit {
    /// Distinct values allowed, pinned ones included; `None`: pinned values
    /// alone, no limit.
    limit: Option<u64>,
    /// Shared with the policy (and every other metric it applies to).
    pinned: PinnedValues,
    /// Room for values that are not pinned.
    room: u64,
}

impl Limit {
    fn of(name: &str, policy: &MetricPolicy) -> Option<Limit> {
        let limit = policy.label_limits.get(name).map(|l| l.get());
        let pinned = policy.pinned.get(name).cloned();
        if limit.is_none() && pinned.is_none() {
            return None;
        }
        let pinned = pinned.unwrap_or_default();
        Some(Limit {
            room: limit.map_or(0, |l| l.saturating_sub(pinned.len() as u64)),
            limit,
            pinned,
        })
    }

    /// The limit, if the label has one.
    fn limited(limit: &Option<Limit>) -> Option<&Limit> {
        limit.as_ref().filter(|l| l.limit.is_some())
    }
}

/// One label key of one metric.
pub(crate) struct LabelState {
    pub(super) name: String,
    /// `None`: no limit. Replaced by a reload (under `decide`).
    limit: RwLock<Option<Limit>>,
    /// Admitted values (of a label with a limit), by a keyed 64-bit hash:
    /// 16 bytes each, whatever the value's size. Each with the sweep number
    /// it was last used at (for reclaim).
    admitted: DashMap<u64, AtomicU64, BuildHasherDefault<PassThrough>>,
    hasher: RandomState,
    /// The highest demand estimate published to the gauge.
    published: AtomicU64,
    admitted_count: AtomicU64,
    full: AtomicBool,
    decide: Mutex<()>,
    pub(super) folded: AtomicU64,
    demand: Sketch,
    gauge: OnceLock<Gauge>,
}

impl LabelState {
    pub(super) fn new(name: &str, policy: &MetricPolicy) -> Self {
        let state = LabelState::unlimited(name);
        *state.limit.write().unwrap_or_else(|p| p.into_inner()) = Limit::of(name, policy);
        state
    }

    pub(super) fn unlimited(name: &str) -> Self {
        LabelState {
            name: name.to_owned(),
            limit: RwLock::new(None),
            admitted: DashMap::with_capacity_and_hasher_and_shard_amount(0, Default::default(), 4),
            hasher: RandomState::default(),
            published: AtomicU64::new(0),
            admitted_count: AtomicU64::new(0),
            full: AtomicBool::new(false),
            decide: Mutex::new(()),
            folded: AtomicU64::new(0),
            demand: Sketch::new(),
            gauge: OnceLock::new(),
        }
    }

    fn limit(&self) -> RwLockReadGuard<'_, Option<Limit>> {
        self.limit.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a reloaded policy's limit and pinned values. `values`: for a
    /// label that gets a limit, or a lower one, or another `keep`, the
    /// values its stored label sets hold, the preferred first: it admits
    /// the first that fit in its room (the stored label sets holding others
    /// are evicted at upkeep). Otherwise (`None`) the values admitted stay.
    pub(super) fn configure(&self, policy: &MetricPolicy, values: Option<&[String]>, epoch: u64) {
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
        let limit = Limit::of(&self.name, policy);
        match (Limit::limited(&limit), values) {
            (None, _) => self.admitted.clear(),
            (Some(limit), Some(values)) => {
                self.admitted.clear();
                self.adopt(limit, values, epoch);
            }
            (Some(limit), None) => {
                // Values pinned now take no room: one removal per pinned
                // value, whatever the number of values admitted.
                for pinned in limit.pinned.iter() {
                    self.admitted.remove(&self.hasher.hash_one(pinned));
                }
            }
        }
        let count = self.admitted.len() as u64;
        self.admitted_count.store(count, Ordering::Release);
        let room = limit.as_ref().map_or(0, |l| l.room);
        self.full.store(count >= room, Ordering::Release);
        *self.limit.write().unwrap_or_else(|p| p.into_inner()) = limit;
    }

    /// Admits the first distinct `values` that fit in `limit`'s room (but
    /// `__overflow__`, which folded label sets carry, and values `limit`
    /// pins, which take no room).
    fn adopt(&self, limit: &Limit, values: &[String], epoch: u64) {
        for value in values {
            if self.admitted.len() as u64 >= limit.room {
                break;
            }
            if value != LABEL_OVERFLOW && !limit.pinned.contains(value) {
                let hash = self.hasher.hash_one(value);
                self.admitted.insert(hash, AtomicU64::new(epoch));
            }
        }
    }

    /// Whether a reload to `policy` must pick the values it admits again:
    /// it gets a limit, or a room smaller than the values it admits.
    pub(super) fn repicks(&self, policy: &MetricPolicy) -> bool {
        let Some(new) = Limit::of(&self.name, policy) else {
            return false;
        };
        if new.limit.is_none() {
            return false;
        }
        !self.limited() || self.admitted_count.load(Ordering::Acquire) > new.room
    }

    /// Whether a stored label set holding `value` keeps its place: no
    /// limit, or the value is admitted (read only).
    pub(super) fn holds(&self, value: &str) -> bool {
        let limit = self.limit();
        let Some(limit) = Limit::limited(&limit) else {
            return true;
        };
        value == LABEL_OVERFLOW
            || limit.pinned.contains(value)
            || self.admitted.contains_key(&self.hasher.hash_one(value))
    }

    /// Whether it has a limit now.
    pub(super) fn limited(&self) -> bool {
        Limit::limited(&self.limit()).is_some()
    }

    /// Whether `value` keeps its place (a decision taken once per value:
    /// values are only ever added, so a refused value stays refused).
    pub(super) fn admits(&self, value: &str, epoch: u64) -> bool {
        {
            let limit = self.limit();
            let Some(limit) = Limit::limited(&limit) else {
                return true;
            };
            if value == LABEL_OVERFLOW || limit.pinned.contains(value) {
                return true;
            }
        }
        let hash = self.hasher.hash_one(value);
        if self.mark_used(hash, epoch) {
            return true;
        }
        if self.full.load(Ordering::Acquire) {
            // The value that filled the last place was inserted before `full`
            // was set: look once more, so a racing admission is seen.
            return self.mark_used(hash, epoch);
        }
        // Lock order: `decide`, then `limit` (as `configure` and `reclaim`
        // take them). Holding the limit's read lock while waiting for
        // `decide` deadlocked against a reload, which holds `decide` while
        // it waits for the limit's write lock. So the limit is read again
        // here: a reload may have replaced it meanwhile.
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
        let limit = self.limit();
        let Some(limit) = Limit::limited(&limit) else {
            return true;
        };
        if limit.pinned.contains(value) || self.mark_used(hash, epoch) {
            return true;
        }
        let count = self.admitted_count.load(Ordering::Acquire);
        if count >= limit.room {
            self.full.store(true, Ordering::Release);
            return false;
        }
        self.admitted.insert(hash, AtomicU64::new(epoch));
        self.admitted_count.store(count + 1, Ordering::Release);
        if count + 1 == limit.room {
            self.full.store(true, Ordering::Release);
        }
        true
    }

    /// Stamps an admitted value (by hash) as used at sweep `epoch`; false
    /// when it is not admitted.
    fn mark_used(&self, hash: u64, epoch: u64) -> bool {
        self.admitted
            .get(&hash)
            .map(|last| last.store(epoch, Ordering::Relaxed))
            .is_some()
    }

    /// Notes that an admitted label set still uses `value`.
    pub(super) fn keep(&self, value: &str, epoch: u64) {
        if Limit::limited(&self.limit()).is_some() {
            self.mark_used(self.hasher.hash_one(value), epoch);
        }
    }

    /// Forgets values no admitted label set used in this sweep or the one
    /// before; reopens a full label once a tenth of its room is free.
    pub(super) fn reclaim(&self, epoch: u64) {
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
        let limit = self.limit();
        let Some(limit) = Limit::limited(&limit) else {
            return;
        };
        self.admitted
            .retain(|_, last| last.load(Ordering::Relaxed) + 1 >= epoch);
        let count = self.admitted.len() as u64;
        self.admitted_count.store(count, Ordering::Release);
        let slack = (limit.room / 10).max(1);
        if self.full.load(Ordering::Acquire) && count + slack <= limit.room {
            self.full.store(false, Ordering::Release);
        }
    }

    /// Counts `value` in the demand; over another recorder, publishes the
    /// estimate through it.
    pub(super) fn observe(&self, value: &str, metric: &str, store: &dyn Store) {
        if value == LABEL_OVERFLOW || !self.demand.insert(value) {
            return;
        }
        if store.owns_series() {
            return; // the Prometheus path renders the estimate from the report
        }
        // Published by increments of a monotone maximum, so racing threads
        // can never leave an older, lower estimate showing.
        let estimate = self.demand.estimate();
        let before = self.published.fetch_max(estimate, Ordering::AcqRel);
        if estimate > before {
            self.gauge
                .get_or_init(|| self_report::label_values_gauge(store, metric, &self.name))
                .increment((estimate - before) as f64);
        }
    }

    pub(super) fn report(&self) -> LabelReport {
        let limit = self.limit();
        LabelReport {
            name: self.name.clone(),
            demand: self.demand.estimate(),
            limit: limit.as_ref().and_then(|l| l.limit),
            values: Limit::limited(&limit)
                .map(|l| self.admitted_count.load(Ordering::Acquire) + l.pinned.len() as u64),
            pinned: limit.as_ref().map_or(0, |l| l.pinned.len()),
            folded: self.folded.load(Ordering::Relaxed),
            folded_updates: None, // the metric's to fill in, from its series
        }
    }
}

/// A hasher for keys that are already keyed hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are u64); fold anything else in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
