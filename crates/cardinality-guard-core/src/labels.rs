//! Stage 1 of admission: per-label value limits, pinned values, and the
//! demand (distinct values seen) of each label.
//!
//! When a label of a metric has a limit, at most that many distinct values of
//! it are admitted; a further value is replaced by `__overflow__` in that label
//! only, so `method` and `status` survive when `user` explodes. Pinned values
//! are always admitted and their room is reserved: early junk cannot take it.
//! The rewritten label set then goes through series admission as usual.
//!
//! Every label set the guard has not seen before (and every folded one, again
//! and again) feeds a HyperLogLog sketch per label, so the demand keeps
//! counting while values are folded.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard};

use dashmap::DashMap;
use metrics::{Gauge, Key, Label, Recorder};

use crate::config::{MetricPolicy, PinnedValues};
use crate::normalize::LABEL_OVERFLOW;
use crate::report::LabelReport;
use crate::self_report;
use crate::sketch::Sketch;

/// A label's limit and pinned values.
struct Limit {
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
    name: String,
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
    folded: AtomicU64,
    demand: Sketch,
    gauge: OnceLock<Gauge>,
}

impl LabelState {
    fn new(name: &str, policy: &MetricPolicy) -> Self {
        let state = LabelState::unlimited(name);
        *state.limit.write().unwrap_or_else(|p| p.into_inner()) = Limit::of(name, policy);
        state
    }

    fn unlimited(name: &str) -> Self {
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

    /// Takes a reloaded policy's limit and pinned values. A label that
    /// gets a limit admits the `values` its live label sets hold (they are
    /// never cut), then new ones while there is room; a limit lowered under
    /// the values admitted admits no new one until it is under it again
    /// (with idle expiry, values no label set uses any more are forgotten).
    fn configure(&self, policy: &MetricPolicy, values: &dyn Fn(&str) -> Vec<String>, epoch: u64) {
        let _serialized = self.decide.lock().unwrap_or_else(|p| p.into_inner());
        let limit = Limit::of(&self.name, policy);
        let was_limited = Limit::limited(&self.limit()).is_some();
        match Limit::limited(&limit) {
            None => self.admitted.clear(),
            Some(limit) if !was_limited => {
                for value in values(&self.name) {
                    // `__overflow__` is what folded label sets carry, not a
                    // value: `admits` never takes room for it, nor does this.
                    if value != LABEL_OVERFLOW && !limit.pinned.contains(&value) {
                        let hash = self.hasher.hash_one(&value);
                        self.admitted.insert(hash, AtomicU64::new(epoch));
                    }
                }
            }
            Some(limit) => {
                // Values pinned now take no room.
                self.admitted.retain(|hash, _| {
                    !limit
                        .pinned
                        .iter()
                        .any(|p| self.hasher.hash_one(p) == *hash)
                });
            }
        }
        let count = self.admitted.len() as u64;
        self.admitted_count.store(count, Ordering::Release);
        let room = limit.as_ref().map_or(0, |l| l.room);
        self.full.store(count >= room, Ordering::Release);
        *self.limit.write().unwrap_or_else(|p| p.into_inner()) = limit;
    }

    /// Whether `value` keeps its place (a decision taken once per value:
    /// values are only ever added, so a refused value stays refused).
    fn admits(&self, value: &str, epoch: u64) -> bool {
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
    fn keep(&self, value: &str, epoch: u64) {
        if Limit::limited(&self.limit()).is_some() {
            self.mark_used(self.hasher.hash_one(value), epoch);
        }
    }

    /// Forgets values no admitted label set used in this sweep or the one
    /// before; reopens a full label once a tenth of its room is free.
    fn reclaim(&self, epoch: u64) {
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
    fn observe(&self, value: &str, metric: &str, inner: Option<&dyn Recorder>) {
        if value == LABEL_OVERFLOW || !self.demand.insert(value) {
            return;
        }
        let Some(inner) = inner else {
            return; // the Prometheus path renders the estimate from the report
        };
        // Published by increments of a monotone maximum, so racing threads
        // can never leave an older, lower estimate showing.
        let estimate = self.demand.estimate();
        let before = self.published.fetch_max(estimate, Ordering::AcqRel);
        if estimate > before {
            self.gauge
                .get_or_init(|| self_report::label_values_gauge(inner, metric, &self.name))
                .increment((estimate - before) as f64);
        }
    }

    fn report(&self) -> LabelReport {
        let limit = self.limit();
        LabelReport {
            name: self.name.clone(),
            demand: self.demand.estimate(),
            limit: limit.as_ref().and_then(|l| l.limit),
            values: Limit::limited(&limit)
                .map(|l| self.admitted_count.load(Ordering::Acquire) + l.pinned.len() as u64),
            pinned: limit.as_ref().map_or(0, |l| l.pinned.len()),
            folded: self.folded.load(Ordering::Relaxed),
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

/// The tracked labels of one metric: those with a limit, then others as
/// they come, at most `max_labels_per_metric`.
pub(crate) struct MetricLabels {
    /// Filled from the front and never emptied: a lookup scans the filled
    /// slots (a handful) without a lock or a hash.
    slots: Box<[OnceLock<LabelState>]>,
    /// Serializes filling a slot.
    fill: Mutex<()>,
    /// The policy new labels take their limits from (replaced by a reload).
    policy: RwLock<MetricPolicy>,
    /// The guard's current sweep number.
    epoch: AtomicU64,
}

impl MetricLabels {
    pub(crate) fn new(policy: &MetricPolicy, max: usize) -> Self {
        let limited: BTreeSet<&String> = policy
            .label_limits
            .keys()
            .chain(policy.pinned.keys())
            .collect();
        let slots: Box<[OnceLock<LabelState>]> = (0..max.max(limited.len()))
            .map(|_| OnceLock::new())
            .collect();
        for (slot, name) in slots.iter().zip(&limited) {
            let _ = slot.set(LabelState::new(name, policy));
        }
        MetricLabels {
            slots,
            fill: Mutex::new(()),
            policy: RwLock::new(policy.clone()),
            epoch: AtomicU64::new(0),
        }
    }

    fn states(&self) -> impl Iterator<Item = &LabelState> {
        self.slots.iter().map_while(OnceLock::get)
    }

    fn find(&self, label: &str) -> Option<&LabelState> {
        self.states().find(|s| s.name == label)
    }

    /// The state of `label`, tracked now if a slot is free.
    fn state(&self, label: &str) -> Option<&LabelState> {
        if let Some(state) = self.find(label) {
            return Some(state);
        }
        if self.slots.last().is_some_and(|s| s.get().is_some()) {
            return None; // all slots taken, for good
        }
        let _serialized = self.fill.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = self.find(label) {
            return Some(state);
        }
        let slot = self.slots.iter().find(|s| s.get().is_none())?;
        let policy = self.policy.read().unwrap_or_else(|p| p.into_inner());
        Some(slot.get_or_init(|| LabelState::new(label, &policy)))
    }

    /// Takes a reloaded policy's label limits and pinned values (under the
    /// metric's lock; `values(label)`: the values of `label` its admitted
    /// label sets hold). Returns the labels that get a limit but can't be
    /// tracked: every slot (`max_labels_per_metric`) is taken by others.
    pub(crate) fn configure(
        &self,
        policy: &MetricPolicy,
        values: &dyn Fn(&str) -> Vec<String>,
    ) -> Vec<String> {
        let _serialized = self.fill.lock().unwrap_or_else(|p| p.into_inner());
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy.clone();
        let epoch = self.epoch.load(Ordering::Relaxed);
        for state in self.states() {
            state.configure(policy, values, epoch);
        }
        let mut untracked = Vec::new();
        for name in policy.label_limits.keys().chain(policy.pinned.keys()) {
            if self.find(name).is_some() {
                continue;
            }
            match self.slots.iter().find(|s| s.get().is_none()) {
                Some(slot) => {
                    let state = slot.get_or_init(|| LabelState::unlimited(name));
                    state.configure(policy, values, epoch);
                }
                None => untracked.push(name.clone()),
            }
        }
        untracked
    }

    /// Observes the demand of every tracked label of `key` (normalized) and
    /// decides its values. Returns the key with refused values replaced by
    /// `__overflow__`, or `None` when all stay.
    pub(crate) fn apply(
        &self,
        key: &Key,
        metric: &str,
        inner: Option<&dyn Recorder>,
    ) -> Option<Key> {
        let mut refused: Vec<usize> = Vec::new();
        for (i, label) in key.labels().enumerate() {
            if let Some(state) = self.state(label.key()) {
                state.observe(label.value(), metric, inner);
                if !state.admits(label.value(), self.epoch.load(Ordering::Relaxed)) {
                    state.folded.fetch_add(1, Ordering::Relaxed);
                    refused.push(i);
                }
            }
        }
        if refused.is_empty() {
            return None;
        }
        let labels: Vec<Label> = key
            .labels()
            .enumerate()
            .map(|(i, l)| match refused.contains(&i) {
                true => Label::new(l.key().to_owned(), LABEL_OVERFLOW),
                false => l.clone(),
            })
            .collect();
        Some(Key::from_parts(key.name().to_owned(), labels))
    }

    /// Notes that the admitted label set `key` is still in use at sweep `epoch`.
    pub(crate) fn keep(&self, key: &Key, epoch: u64) {
        self.epoch.fetch_max(epoch, Ordering::Relaxed);
        for label in key.labels() {
            if let Some(state) = self.find(label.key()) {
                state.keep(label.value(), epoch);
            }
        }
    }

    /// Forgets label values no admitted label set uses any more.
    pub(crate) fn reclaim(&self, epoch: u64) {
        self.epoch.fetch_max(epoch, Ordering::Relaxed);
        for state in self.states() {
            state.reclaim(epoch);
        }
    }

    /// The tracked labels, highest demand first.
    pub(crate) fn report(&self) -> Vec<LabelReport> {
        let mut labels: Vec<LabelReport> = self.states().map(|s| s.report()).collect();
        labels.sort_by(|a, b| b.demand.cmp(&a.demand).then_with(|| a.name.cmp(&b.name)));
        labels
    }
}
