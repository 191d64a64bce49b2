//! The label-set table of one metric kind, and the registration path.
//!
//! Hot path (a label set seen before): one read-locked lookup in a sharded
//! map keyed by the `Key`'s precomputed hash, then a clone of the stored
//! handle (a reference-count increment). No write lock, no allocation.
//!
//! Only admitted label sets are stored, so rejected ones cost no memory: a
//! rejected label set finds its metric closed (a lock-free check) and goes to
//! the overflow series (or a no-op handle) again.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::formatting::sanitize_metric_name;
use metrics_util::KeyHasher;

use crate::admission::MetricState;
use crate::guard::Shared;
use crate::report::{MetricReport, OverflowReason};
use crate::self_report::OVERFLOW_LABEL;
use crate::shape::MetricKind;

/// A metric kind: how to register its handles with a recorder.
pub(crate) trait Kind {
    type Handle: Clone + Send + Sync + 'static;
    const KIND: MetricKind;
    fn register(inner: &dyn Recorder, key: &Key, metadata: &Metadata<'_>) -> Self::Handle;
    fn noop() -> Self::Handle;
}

pub(crate) struct Counters;
pub(crate) struct Gauges;
pub(crate) struct Histograms;

impl Kind for Counters {
    type Handle = Counter;
    const KIND: MetricKind = MetricKind::Counter;
    fn register(inner: &dyn Recorder, key: &Key, metadata: &Metadata<'_>) -> Counter {
        inner.register_counter(key, metadata)
    }
    fn noop() -> Counter {
        Counter::noop()
    }
}

impl Kind for Gauges {
    type Handle = Gauge;
    const KIND: MetricKind = MetricKind::Gauge;
    fn register(inner: &dyn Recorder, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        inner.register_gauge(key, metadata)
    }
    fn noop() -> Gauge {
        Gauge::noop()
    }
}

impl Kind for Histograms {
    type Handle = Histogram;
    const KIND: MetricKind = MetricKind::Histogram;
    fn register(inner: &dyn Recorder, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        inner.register_histogram(key, metadata)
    }
    fn noop() -> Histogram {
        Histogram::noop()
    }
}

type Metric<K> = Arc<MetricState<<K as Kind>::Handle>>;

/// A label set that renders in the exporter.
struct Admitted<K: Kind> {
    handle: K::Handle,
    /// In shadow mode: the metric and the reason enforce would have rejected it.
    shadow_over: Option<(Metric<K>, OverflowReason)>,
}

pub(crate) struct Family<K: Kind> {
    table: DashMap<Key, Admitted<K>, BuildHasherDefault<KeyHasher>>,
    /// Metrics by sanitized name.
    metrics: DashMap<String, Metric<K>>,
    /// Raw names that sanitize to a tracked metric (`http.requests`), bounded.
    aliases: DashMap<String, Metric<K>>,
    alias_count: AtomicUsize,
}

impl<K: Kind> Default for Family<K> {
    fn default() -> Self {
        Family {
            table: DashMap::with_hasher(BuildHasherDefault::default()),
            metrics: DashMap::new(),
            aliases: DashMap::new(),
            alias_count: AtomicUsize::new(0),
        }
    }
}

impl<K: Kind> Family<K> {
    pub(crate) fn register(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        key: &Key,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        if let Some(entry) = self.table.get(key) {
            if let Some((metric, reason)) = &entry.shadow_over {
                metric.count_overflow(*reason, inner);
            }
            if shared.cache_handles {
                return entry.handle.clone();
            }
            drop(entry);
            return K::register(inner, key, metadata);
        }
        self.register_new(shared, inner, key, metadata)
    }

    fn register_new(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        key: &Key,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        let Some(metric) = self.metric(shared, inner, key.name()) else {
            shared.global.count_untracked(inner);
            let name = sanitize_metric_name(key.name());
            return match shared.config.policy_for(&name).mode {
                crate::Mode::Shadow => K::register(inner, key, metadata),
                crate::Mode::Enforce => K::noop(),
            };
        };
        if metric.enforces() {
            if let Some(reason) = metric.closed() {
                return self.reject(shared, inner, &metric, reason, metadata);
            }
            if key.labels().any(|l| l.key() == OVERFLOW_LABEL) {
                // Someone registered the overflow series' own label set: it is
                // the overflow series, not a new label set.
                if let Some(h) = self.fold_target(shared, inner, &metric, metadata) {
                    return h;
                }
            }
        }
        match self.table.entry(key.to_retained()) {
            Entry::Occupied(entry) => {
                let handle = entry.get().handle.clone();
                drop(entry);
                if shared.cache_handles {
                    handle
                } else {
                    K::register(inner, key, metadata)
                }
            }
            Entry::Vacant(slot) => match metric.decide(&shared.global) {
                Ok(()) => {
                    let handle = K::register(inner, key, metadata);
                    metric.admitted(&shared.global);
                    slot.insert(Admitted {
                        handle: handle.clone(),
                        shadow_over: None,
                    });
                    handle
                }
                Err(reason) if metric.enforces() => {
                    drop(slot);
                    self.reject(shared, inner, &metric, reason, metadata)
                }
                Err(reason) => {
                    // Shadow: alter nothing, remember what enforce would have done.
                    metric.count_overflow(reason, inner);
                    let handle = K::register(inner, key, metadata);
                    metric.admitted(&shared.global);
                    slot.insert(Admitted {
                        handle: handle.clone(),
                        shadow_over: Some((metric.clone(), reason)),
                    });
                    handle
                }
            },
        }
    }

    fn reject(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        metric: &Metric<K>,
        reason: OverflowReason,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        metric.count_overflow(reason, inner);
        self.fold_target(shared, inner, metric, metadata)
            .unwrap_or_else(K::noop)
    }

    fn fold_target(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        metric: &Metric<K>,
        metadata: &Metadata<'_>,
    ) -> Option<K::Handle> {
        metric.fold_target(&shared.global, || {
            let key = Key::from_parts(
                metric.name.clone(),
                vec![Label::new(OVERFLOW_LABEL, "true")],
            );
            K::register(inner, &key, metadata)
        })
    }

    /// The metric a raw name belongs to, created if there is room.
    fn metric(&self, shared: &Shared, inner: &dyn Recorder, raw: &str) -> Option<Metric<K>> {
        if let Some(m) = self.metrics.get(raw) {
            return Some(m.clone());
        }
        if let Some(m) = self.aliases.get(raw) {
            return Some(m.clone());
        }
        let name = sanitize_metric_name(raw);
        let existing = if name != raw {
            self.metrics.get(&name).map(|m| m.clone())
        } else {
            None
        };
        let metric = match existing {
            Some(m) => m,
            None => {
                if shared.global.metrics_full() {
                    return None;
                }
                match self.metrics.entry(name.clone()) {
                    Entry::Occupied(entry) => entry.get().clone(),
                    Entry::Vacant(slot) => {
                        if !shared.global.try_add_metric() {
                            return None;
                        }
                        let policy = shared.config.policy_for(&name);
                        let cost = shared.shapes.series_per_label_set(K::KIND, &name);
                        let state = MetricState::new(
                            name.clone(),
                            K::KIND,
                            policy,
                            cost,
                            &shared.global,
                            inner,
                        );
                        slot.insert(Arc::new(state)).clone()
                    }
                }
            }
        };
        if name != raw {
            let room = shared.global.limits.max_metrics.get() * 4;
            let counted = self
                .alias_count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < room).then_some(n + 1)
                })
                .is_ok();
            if counted {
                self.aliases.insert(raw.to_owned(), metric.clone());
            }
        }
        Some(metric)
    }

    pub(crate) fn reports(&self, out: &mut Vec<MetricReport>) {
        out.extend(self.metrics.iter().map(|m| m.report()));
    }

    /// Up to `max` admitted label sets of the metric named `name`.
    pub(crate) fn label_sets(&self, name: &str, max: usize) -> Vec<Vec<(String, String)>> {
        self.table
            .iter()
            .filter(|entry| sanitize_metric_name(entry.key().name()) == name)
            .take(max)
            .map(|entry| {
                entry
                    .key()
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect()
            })
            .collect()
    }

    pub(crate) fn tracked_label_sets(&self) -> usize {
        self.table.len()
    }
}
