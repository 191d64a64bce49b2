//! The label-set table of one metric kind, and the registration path.
//!
//! Hot path (a label set seen before): one read-locked lookup in a sharded
//! map keyed by the `Key`'s precomputed hash, then a clone of the stored
//! handle (a reference-count increment). No write lock, no allocation.
//!
//! Only admitted label sets are stored, so rejected ones cost no memory: a
//! rejected label set finds its metric closed (a lock-free check) and goes to
//! the overflow series (or a no-op handle) again.
//!
//! A metric with an idle timeout hands out wrappers ([`Cell`]) instead of the
//! exporter's handles, and [`Family::sweep`] expires the idle ones. An expired
//! entry stays in the table (hidden from the render) until the exporter has
//! forgotten its series and no one holds it.

use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::formatting::sanitize_metric_name;
use metrics_util::KeyHasher;

use crate::admission::MetricState;
use crate::cell::{Cell, Swept};
use crate::guard::Shared;
use crate::names::{is_rendered_name, take_slot};
use crate::reclaim::HiddenSeries;
use crate::report::{MetricReport, OverflowReason};
use crate::self_report::OVERFLOW_LABEL;
use crate::shape::MetricKind;

/// A metric kind: how to register its handles with a recorder.
pub(crate) trait Kind: Sized + Send + Sync + 'static {
    type Handle: Clone + Send + Sync + 'static;
    const KIND: MetricKind;
    fn register(inner: &dyn Recorder, key: &Key, metadata: &Metadata<'_>) -> Self::Handle;
    fn noop() -> Self::Handle;
    /// The handle of an expiring label set.
    fn wrap(cell: Arc<Cell<Self>>) -> Self::Handle;
    /// Marks the series active in the exporter without changing its value,
    /// so the exporter's idle timeout never forgets it (not possible for a
    /// histogram: it has no update that leaves it unchanged).
    fn touch(handle: &Self::Handle);
    fn family(shared: &Shared) -> &Family<Self>;
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
    fn wrap(cell: Arc<Cell<Self>>) -> Counter {
        Counter::from_arc(cell)
    }
    fn touch(handle: &Counter) {
        handle.increment(0);
    }
    fn family(shared: &Shared) -> &Family<Self> {
        &shared.counters
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
    fn wrap(cell: Arc<Cell<Self>>) -> Gauge {
        Gauge::from_arc(cell)
    }
    fn touch(handle: &Gauge) {
        handle.increment(0.0);
    }
    fn family(shared: &Shared) -> &Family<Self> {
        &shared.gauges
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
    fn wrap(cell: Arc<Cell<Self>>) -> Histogram {
        Histogram::from_arc(cell)
    }
    fn touch(_: &Histogram) {}
    fn family(shared: &Shared) -> &Family<Self> {
        &shared.histograms
    }
}

type Metric<K> = Arc<MetricState<<K as Kind>::Handle>>;

/// A label set that renders in the exporter.
struct Admitted<K: Kind> {
    /// What is handed out: the exporter's handle, or for an expiring label
    /// set the wrapper over `cell`.
    handle: K::Handle,
    /// For a label set of a metric with an idle timeout.
    cell: Option<Arc<Cell<K>>>,
    /// For a raw spelling (`http.requests`): the key the exporter renders it as.
    rendered: Option<Key>,
    /// In shadow mode: the metric and the reasons enforce would have folded
    /// each registration of this label set for (counted again on each).
    shadow_over: Option<(Metric<K>, Reasons)>,
}

pub(crate) struct Family<K: Kind> {
    table: DashMap<Key, Admitted<K>, BuildHasherDefault<KeyHasher>>,
    /// Metrics by sanitized name.
    metrics: DashMap<String, Metric<K>>,
    /// Shadow mode: rewritten label sets (stage 1) that enforce would have
    /// admitted at stage 2.
    shadow_rewritten: DashMap<Key, (), BuildHasherDefault<KeyHasher>>,
    /// Table entries under a raw spelling (`http.requests`) of an admitted
    /// rendered key (`http_requests`); bounded.
    aliases: AtomicUsize,
    /// Expired label sets folded when they came back: out of the table, but
    /// their old series is hidden until the exporter forgets it.
    redirected: Mutex<Vec<Arc<Cell<K>>>>,
}

impl<K: Kind> Default for Family<K> {
    fn default() -> Self {
        Family {
            table: DashMap::with_hasher(BuildHasherDefault::default()),
            metrics: DashMap::new(),
            shadow_rewritten: DashMap::with_hasher(BuildHasherDefault::default()),
            aliases: AtomicUsize::new(0),
            redirected: Mutex::new(Vec::new()),
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
        match self.lookup(shared, inner, key, metadata) {
            Some(handle) => handle,
            None => self.register_new(shared, inner, key, metadata),
        }
    }

    /// The handle of a label set already in the table (the hot path).
    fn lookup(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        key: &Key,
        metadata: &Metadata<'_>,
    ) -> Option<K::Handle> {
        let entry = self.table.get(key)?;
        if let Some(cell) = &entry.cell {
            // An expiring label set is always handed out wrapped, so the
            // guard sees its activity (cells in the table are never
            // redirected); an expired one comes back first.
            if !cell.is_expired() {
                return Some(entry.handle.clone());
            }
            let (cell, handle) = (cell.clone(), entry.handle.clone());
            drop(entry);
            self.revive(shared, &cell);
            return Some(cell.handle_for(&handle));
        }
        let handle = entry.handle.clone();
        let shadow_over = entry.shadow_over.clone();
        // The rendered key is only needed to re-register or to replay stage 1:
        // the common (cached, enforced) hit does not clone it.
        let rendered = if shadow_over.is_some() || !shared.cache_handles {
            entry.rendered.clone()
        } else {
            None
        };
        // No lock of the table is held past here: counting may log, and a
        // subscriber may record a metric of its own through this guard.
        drop(entry);
        if let Some((metric, reasons)) = shadow_over {
            let rendered_key = rendered.as_ref().unwrap_or(key);
            for reason in reasons.iter() {
                if reason == OverflowReason::LabelLimit {
                    // Per-label fold counts too, as enforce's stage 1 would.
                    let _ = metric.labels.apply(rendered_key, &metric.name, inner);
                }
                metric.count_overflow(reason, &shared.global, inner);
            }
        }
        if shared.cache_handles {
            return Some(handle);
        }
        // Only ever the rendered key reaches the exporter: two spellings
        // registered apart would render as one line and lose updates.
        Some(K::register(
            inner,
            rendered.as_ref().unwrap_or(key),
            metadata,
        ))
    }

    fn register_new(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        key: &Key,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        if let Some(rendered) = rendered_form(key) {
            return self.register_spelling(shared, inner, key, &rendered, metadata);
        }
        let Some(metric) = self.metric(shared, inner, key.name()) else {
            shared.global.count_untracked(inner);
            return match shared.config.policy_for(key.name()).mode {
                crate::Mode::Shadow => K::register(inner, key, metadata),
                crate::Mode::Enforce => K::noop(),
            };
        };
        // Stage 1: label limits (and the demand of every tracked label).
        let (rewritten, refused) = metric.labels.apply(key, &metric.name, inner);
        if refused > 0 {
            metric.count_overflow(OverflowReason::LabelLimit, &shared.global, inner);
        }
        if !metric.enforces() {
            return self.register_shadow(shared, inner, &metric, key, rewritten, metadata);
        }
        if let Some(rewritten) = rewritten {
            return self.register(shared, inner, &rewritten, metadata);
        }
        // Stage 2: the series budgets.
        if let Some(reason) = metric.closed() {
            // Another thread may be admitting this very label set: it took
            // the table entry before the budget closed, and holds it while
            // deciding. Looking again waits for it, so both threads agree.
            if let Some(handle) = self.lookup(shared, inner, key, metadata) {
                return handle;
            }
            return self.reject(shared, inner, &metric, reason, metadata);
        }
        if key.labels().any(|l| l.key() == OVERFLOW_LABEL) {
            // Someone registered the overflow series' own label set: it is
            // the overflow series, not a new label set.
            if let Some(h) = self.fold_target(shared, inner, &metric, metadata) {
                return h;
            }
        }
        match self.table.entry(key.to_retained()) {
            Entry::Occupied(entry) => {
                drop(entry);
                // Admitted meanwhile by another thread: its entry decides.
                self.lookup(shared, inner, key, metadata)
                    .unwrap_or_else(|| self.register_new(shared, inner, key, metadata))
            }
            Entry::Vacant(slot) => match metric.decide(&shared.global) {
                Ok(()) => {
                    let exported = K::register(inner, key, metadata);
                    metric.admitted(&shared.global);
                    let (handle, cell) = self.expiring(shared, &metric, key, exported, false);
                    slot.insert(Admitted {
                        handle: handle.clone(),
                        cell,
                        rendered: None,
                        shadow_over: None,
                    });
                    handle
                }
                Err(reason) => {
                    drop(slot);
                    self.reject(shared, inner, &metric, reason, metadata)
                }
            },
        }
    }

    /// Shadow mode: every label set is admitted as it is, and the guard
    /// remembers what enforce would have done with it — stage 1's rewrite and
    /// stage 2's decision on the rewritten label set — to count it again at
    /// every registration, as enforce would.
    fn register_shadow(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        metric: &Metric<K>,
        key: &Key,
        rewritten: Option<Key>,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        let slot = match self.table.entry(key.to_retained()) {
            Entry::Occupied(entry) => {
                drop(entry);
                return self
                    .lookup(shared, inner, key, metadata)
                    .unwrap_or_else(|| self.register_new(shared, inner, key, metadata));
            }
            Entry::Vacant(slot) => slot,
        };
        let mut reasons = Reasons::default();
        let stage_two = match &rewritten {
            Some(rewritten) => {
                reasons.add(OverflowReason::LabelLimit);
                match self.shadow_rewritten.entry(rewritten.to_retained()) {
                    Entry::Occupied(_) => Ok(()),
                    Entry::Vacant(virtual_slot) => {
                        let decision = metric.decide(&shared.global);
                        if decision.is_ok() {
                            virtual_slot.insert(());
                        }
                        decision
                    }
                }
            }
            None => metric.decide(&shared.global),
        };
        if let Err(reason) = stage_two {
            reasons.add(reason);
        }
        let exported = K::register(inner, key, metadata);
        metric.admitted(&shared.global);
        let (handle, cell) = self.expiring(shared, metric, key, exported, false);
        if let Some(cell) = &cell {
            // Its expiry frees reserved budget only if enforce would have
            // admitted it (a rewritten label set's room stays taken).
            let reserved = stage_two.is_ok() && rewritten.is_none();
            cell.reserved.store(reserved, Ordering::Release);
        }
        slot.insert(Admitted {
            handle: handle.clone(),
            cell,
            rendered: None,
            shadow_over: (!reasons.is_empty()).then(|| (metric.clone(), reasons)),
        });
        // Counted (and perhaps logged) once the table's lock is released.
        if let Err(reason) = stage_two {
            metric.count_overflow(reason, &shared.global, inner);
        }
        handle
    }

    /// A key the exporter renders as another (`http.requests` as
    /// `http_requests`; `{a="1",a="2"}` as `{a="2"}`): the guard works on the
    /// rendered key, so every spelling shares one series, one cost and one
    /// decision.
    fn register_spelling(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        raw: &Key,
        rendered: &Key,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        let handle = self.register(shared, inner, rendered, metadata);
        // Remember an admitted spelling, so that it takes the hot path next time.
        // Not for an expiring label set: its entry must stay the only one
        // holding its cell, so the guard can tell when user code holds it.
        let admitted = self
            .table
            .get(rendered)
            .filter(|entry| entry.cell.is_none())
            .map(|entry| Admitted::<K> {
                handle: entry.handle.clone(),
                cell: None,
                rendered: Some(rendered.clone()),
                shadow_over: entry.shadow_over.clone(),
            });
        if let Some(alias) = admitted {
            let room = shared.global.limits.max_series.get() as usize;
            if take_slot(&self.aliases, room) {
                self.table.insert(raw.to_retained(), alias);
            }
        }
        handle
    }

    fn reject(
        &self,
        shared: &Shared,
        inner: &dyn Recorder,
        metric: &Metric<K>,
        reason: OverflowReason,
        metadata: &Metadata<'_>,
    ) -> K::Handle {
        metric.count_overflow(reason, &shared.global, inner);
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
        let register = || K::register(inner, &metric.overflow_key, metadata);
        let handle = metric.fold_target(&shared.global, || {
            let exported = register();
            let (handle, cell) =
                self.expiring(shared, metric, &metric.overflow_key, exported, true);
            if let Some(cell) = cell {
                // In the table, so that sweeps find it.
                self.table.insert(
                    metric.overflow_key.clone(),
                    Admitted {
                        handle: handle.clone(),
                        cell: Some(cell),
                        rendered: None,
                        shadow_over: None,
                    },
                );
            }
            handle
        })?;
        if shared.cache_handles || metric.idle_timeout_ms.is_some() {
            Some(handle)
        } else {
            Some(register())
        }
    }

    /// For a metric with an idle timeout: the wrapper to hand out over the
    /// exporter's handle, and its cell. Otherwise the exporter's handle.
    fn expiring(
        &self,
        shared: &Shared,
        metric: &Metric<K>,
        key: &Key,
        exported: K::Handle,
        overflow: bool,
    ) -> (K::Handle, Option<Arc<Cell<K>>>) {
        if metric.idle_timeout_ms.is_none() {
            return (exported, None);
        }
        let cell = Arc::new(Cell::new(
            exported,
            key.to_retained(),
            overflow,
            metric,
            shared.me.clone(),
            shared.now_ms(),
        ));
        (K::wrap(cell.clone()), Some(cell))
    }

    /// Brings back an expired label set, updated again (through a handle
    /// user code kept, or registered again): admitted again if there is
    /// room, folded (or dropped) otherwise. The overflow series always has
    /// its room.
    pub(crate) fn revive(&self, shared: &Shared, cell: &Cell<K>) {
        let inner = &*shared.recorder;
        // Counted (and perhaps logged) once the cell's lock is released: a
        // subscriber may record a metric of its own through this very cell.
        let Some((metric, overflowed)) = self.revive_locked(shared, cell) else {
            return;
        };
        for reason in overflowed.iter() {
            metric.count_overflow(reason, &shared.global, inner);
        }
    }

    fn revive_locked(&self, shared: &Shared, cell: &Cell<K>) -> Option<(Metric<K>, Reasons)> {
        let _serialized = cell.lock();
        if !cell.is_expired() {
            return None; // another thread brought it back
        }
        let metric = cell.metric.upgrade()?;
        let inner = &*shared.recorder;
        let register = || {
            // The exporter may still hold the series (then this is its old
            // handle) or have forgotten it (a new one). Touched at once, so
            // a render cannot forget it in between.
            let handle = K::register(inner, &cell.key, &METADATA);
            K::touch(&handle);
            handle
        };
        let mut overflowed = Reasons::default();
        if cell.overflow {
            metric.overflow_revived(&shared.global);
            cell.revived(register());
            return Some((metric, overflowed));
        }
        // Label values it held may have been given to others meanwhile.
        let (rewritten, _) = metric.labels.apply(&cell.key, &metric.name, inner);
        if let Some(rewritten) = rewritten {
            overflowed.add(OverflowReason::LabelLimit);
            if metric.enforces() {
                cell.redirect(self.register(shared, inner, &rewritten, &METADATA));
                self.forget_redirected(cell);
                return Some((metric, overflowed));
            }
        }
        let decision = metric.decide(&shared.global);
        cell.reserved.store(decision.is_ok(), Ordering::Release);
        if let Err(reason) = decision {
            overflowed.add(reason);
        }
        if decision.is_ok() || !metric.enforces() {
            metric.admitted(&shared.global);
            metric.revived();
            cell.revived(register());
            return Some((metric, overflowed));
        }
        let target = self
            .fold_target(shared, inner, &metric, &METADATA)
            .unwrap_or_else(K::noop);
        cell.redirect(target);
        self.forget_redirected(cell);
        Some((metric, overflowed))
    }

    /// Takes a redirected cell out of the table, into the list of those
    /// whose old series stays hidden until the exporter forgets it.
    fn forget_redirected(&self, cell: &Cell<K>) {
        if let Some((_, entry)) = self
            .table
            .remove_if(&cell.key, |_, entry| is_cell(entry, cell))
        {
            if let Some(cell) = entry.cell {
                self.redirected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(cell);
            }
        }
    }

    /// One upkeep pass at `now_ms` (sweep number `epoch`): expires idle
    /// label sets, keeps the rest alive in the exporter, drops the entries
    /// of expired series the exporter has forgotten and no one holds, and
    /// reopens budgets that freed up. Costs one visit per table entry and
    /// per metric, with no lock held across entries.
    pub(crate) fn sweep(
        &self,
        shared: &Shared,
        now_ms: u64,
        epoch: u64,
        hidden: &mut HiddenSeries,
    ) {
        let mut cells = Vec::new();
        for entry in self.table.iter() {
            match &entry.cell {
                Some(cell) => cells.push(cell.clone()),
                None => K::touch(&entry.handle),
            }
        }
        for cell in cells {
            let Some(metric) = cell.metric.upgrade() else {
                continue;
            };
            let Some(timeout_ms) = metric.idle_timeout_ms else {
                continue;
            };
            // Accounted under the cell's lock, so a concurrent return of
            // the label set sees its budget already given back.
            let expire = |reserved: bool| {
                if cell.overflow {
                    metric.overflow_expired(&shared.global);
                } else {
                    metric.expired(&shared.global, reserved);
                }
            };
            match cell.sweep(now_ms, timeout_ms, expire) {
                Swept::Live => metric.labels.keep(&cell.key, epoch),
                Swept::Expired => hidden.add(&cell.key, cell.clone(), K::KIND),
                Swept::StillExpired { gone: false } => hidden.add(&cell.key, cell.clone(), K::KIND),
                Swept::StillExpired { gone: true } => {
                    let key = cell.key.clone();
                    // Held by the table's two references only: nothing can
                    // reach it again, so the entry goes.
                    self.table.remove_if(&key, |_, entry| {
                        is_cell(entry, &cell) && Arc::strong_count(&cell) == 3 && cell.is_expired()
                    });
                }
                Swept::Redirected => {}
            }
        }
        // Folded label sets' old series: hidden until the exporter forgets them.
        let mut redirected = self.redirected.lock().unwrap_or_else(|p| p.into_inner());
        // A label set admitted again since shares its series: that is no
        // longer hidden, nor theirs to wait for.
        redirected.retain(|cell| !self.table.contains_key(&cell.key) && !cell.is_gone());
        for cell in redirected.iter() {
            hidden.add(&cell.key, cell.clone(), K::KIND);
        }
        drop(redirected);
        for metric in self.metrics.iter() {
            metric.upkeep(&shared.global, epoch, K::touch);
        }
    }

    /// The metric named `name` (as rendered), created if there is room.
    fn metric(&self, shared: &Shared, inner: &dyn Recorder, name: &str) -> Option<Metric<K>> {
        if let Some(m) = self.metrics.get(name) {
            return Some(m.clone());
        }
        if shared.global.metrics_full() {
            // The last slot may have just gone to this very name: its creator
            // holds the map entry until inserted, so this lookup waits for it.
            return self.metrics.get(name).map(|m| m.clone());
        }
        match self.metrics.entry(name.to_owned()) {
            Entry::Occupied(entry) => Some(entry.get().clone()),
            Entry::Vacant(slot) => {
                if !shared.global.try_add_metric() {
                    return None;
                }
                let policy = shared.config.policy_for(name);
                let cost = shared.shapes.series_per_label_set(K::KIND, name);
                let idle_timeout = shared.config.idle_timeout_for(K::KIND, name);
                let state = MetricState::new(
                    name.to_owned(),
                    K::KIND,
                    policy,
                    cost,
                    idle_timeout,
                    &shared.global,
                    inner,
                );
                Some(slot.insert(Arc::new(state)).clone())
            }
        }
    }

    pub(crate) fn reports(&self, out: &mut Vec<MetricReport>) {
        out.extend(self.metrics.iter().map(|m| m.report()));
    }

    /// Up to `max` admitted label sets of the metric named `name`.
    pub(crate) fn label_sets(&self, name: &str, max: usize) -> Vec<Vec<(String, String)>> {
        self.table
            .iter()
            .filter(|entry| entry.rendered.is_none() && entry.key().name() == name)
            .filter(|entry| {
                entry
                    .cell
                    .as_ref()
                    .map_or(true, |c| !c.is_expired() && !c.overflow)
            })
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

    /// Table entries: admitted label sets, plus raw spellings of them
    /// (`http.requests` for `http_requests`; at most `global.max_series`).
    pub(crate) fn tracked_label_sets(&self) -> usize {
        self.table.len()
    }
}

fn is_cell<K: Kind>(entry: &Admitted<K>, cell: &Cell<K>) -> bool {
    entry
        .cell
        .as_ref()
        .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), cell))
}

/// Metadata for registrations the guard makes on its own (bringing an
/// expired series back); the exporter does not use it.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The key as the exporter renders it, when that differs from `key`: the
/// name sanitized, and a label name given twice kept once with its last value
/// (in the place of its first), as the exporter's label sets do.
fn rendered_form(key: &Key) -> Option<Key> {
    let labels = key.labels().as_slice();
    let repeated = labels
        .iter()
        .enumerate()
        .any(|(i, l)| labels[..i].iter().any(|m| m.key() == l.key()));
    if is_rendered_name(key.name()) && !repeated {
        return None;
    }
    let mut merged: Vec<Label> = Vec::with_capacity(labels.len());
    for label in labels {
        match merged.iter_mut().find(|m| m.key() == label.key()) {
            Some(slot) => *slot = label.clone(),
            None => merged.push(label.clone()),
        }
    }
    Some(Key::from_parts(sanitize_metric_name(key.name()), merged))
}

/// A set of overflow reasons.
#[derive(Clone, Copy, Default)]
struct Reasons(u8);

impl Reasons {
    fn add(&mut self, reason: OverflowReason) {
        self.0 |= 1 << reason as u8;
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn iter(self) -> impl Iterator<Item = OverflowReason> {
        (0..OverflowReason::COUNT)
            .filter(move |i| self.0 & (1 << i) != 0)
            .filter_map(OverflowReason::from_index)
    }
}
