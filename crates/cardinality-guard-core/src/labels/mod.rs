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

mod state;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};

use metrics::{Key, Label};

use crate::config::MetricPolicy;
use crate::normalize::LABEL_OVERFLOW;
use crate::report::LabelReport;
use crate::store::Store;
use state::LabelState;

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
    /// metric's lock). `values`: for the labels that pick their values
    /// again ([`repicking`](Self::repicking)), the values their stored label
    /// sets hold, the preferred first. Returns the labels that get a limit
    /// but can't be tracked: every slot (`max_labels_per_metric`) is taken
    /// by others.
    pub(crate) fn configure(
        &self,
        policy: &MetricPolicy,
        values: &HashMap<String, Vec<String>>,
    ) -> Vec<String> {
        let _serialized = self.fill.lock().unwrap_or_else(|p| p.into_inner());
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = policy.clone();
        let epoch = self.epoch.load(Ordering::Relaxed);
        let picked = |name: &str| values.get(name).map(Vec::as_slice);
        for state in self.states() {
            state.configure(policy, picked(&state.name), epoch);
        }
        let mut untracked = Vec::new();
        for name in policy.label_limits.keys().chain(policy.pinned.keys()) {
            if self.find(name).is_some() {
                continue;
            }
            match self.slots.iter().find(|s| s.get().is_none()) {
                Some(slot) => {
                    let state = slot.get_or_init(|| LabelState::unlimited(name));
                    state.configure(policy, Some(picked(name).unwrap_or_default()), epoch);
                }
                None => untracked.push(name.clone()),
            }
        }
        untracked
    }

    /// The labels a reload to `policy` makes pick their values again (from
    /// those stored label sets hold): they get a limit, or a room smaller
    /// than the values they admit, or (`keep_changed`) any limit at all.
    pub(crate) fn repicking(&self, policy: &MetricPolicy, keep_changed: bool) -> Vec<String> {
        policy
            .label_limits
            .keys()
            .filter(|name| match self.find(name) {
                None => true,
                Some(state) => keep_changed || state.repicks(policy),
            })
            .cloned()
            .collect()
    }

    /// Whether a stored label set with `labels` keeps its place under the
    /// label limits in force (read only).
    pub(crate) fn hold<'a>(
        &self,
        mut labels: impl Iterator<Item = (&'a str, Cow<'a, str>)>,
    ) -> bool {
        labels.all(|(key, value)| self.find(key).is_none_or(|state| state.holds(&value)))
    }

    /// Observes the demand of every tracked label of `key` (normalized) and
    /// decides its values. Returns the key with refused values replaced by
    /// `__overflow__`, or `None` when all stay.
    pub(crate) fn apply(&self, key: &Key, metric: &str, store: &dyn Store) -> Option<Key> {
        let mut refused: Vec<usize> = Vec::new();
        for (i, label) in key.labels().enumerate() {
            if let Some(state) = self.state(label.key()) {
                state.observe(label.value(), metric, store);
                if !state.admits(label.value(), self.epoch.load(Ordering::Relaxed)) {
                    state.folded.fetch_add(1, Ordering::Relaxed);
                    refused.push(i);
                }
            }
        }
        if refused.is_empty() {
            return None;
        }
        // `refused` is in increasing order: one pass over both.
        let mut refused = refused.into_iter().peekable();
        let labels: Vec<Label> = key
            .labels()
            .enumerate()
            .map(|(i, l)| match refused.next_if_eq(&i) {
                Some(_) => Label::new(l.key().to_owned(), LABEL_OVERFLOW),
                None => l.clone(),
            })
            .collect();
        Some(Key::from_parts(key.name().to_owned(), labels))
    }

    /// Notes that an admitted label set with `labels` is still in use at
    /// sweep `epoch`.
    pub(crate) fn keep<'a>(
        &self,
        labels: impl Iterator<Item = (&'a str, Cow<'a, str>)>,
        epoch: u64,
    ) {
        self.epoch.fetch_max(epoch, Ordering::Relaxed);
        for (key, value) in labels {
            if let Some(state) = self.find(key) {
                state.keep(&value, epoch);
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
