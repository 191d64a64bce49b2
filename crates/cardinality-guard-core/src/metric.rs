//! One metric (a kind and a rendered name): its budget, its label rules and
//! its table of series, which admission, expiry, revival and render share
//! under one lock.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::time::Duration;

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::Distribution;

use crate::budget::{Budget, Global};
use crate::clock::Timeline;
use crate::config::{MetricPolicy, Mode, OnOverflow};
use crate::labels::MetricLabels;
use crate::normalize::{LabelRules, LabelTexts};
use crate::report::{ratio, MetricReport, OverflowCounts, OverflowReason, Reasons};
use crate::self_report::{GlobalGauges, MetricGauges, OVERFLOW_LABEL};
use crate::series::{Handle, Revive, Series, SeriesParts, Storage};
use crate::shape::{HistogramStore, MetricKind};
use crate::spellings::Spellings;

/// A metric's series by identity (sorted label text): the render order.
pub(crate) type Table = BTreeMap<Arc<str>, Arc<Series>>;

/// What all metrics of one guard share.
pub(crate) struct Env {
    pub(crate) global: Global,
    pub(crate) time: Timeline,
    /// Labels every series renders with (`[global] labels`).
    pub(crate) global_labels: Vec<(String, String)>,
    /// Over another recorder: that recorder (it stores the series and
    /// receives the self-report). `None` on the Prometheus path.
    pub(crate) inner: Option<Arc<dyn Recorder + Send + Sync>>,
    /// Over another recorder: the global self-report handles.
    pub(crate) gauges: Option<GlobalGauges>,
    /// Label sets admitted so far (all metrics; re-admissions included),
    /// bumped under the metric's lock once the label set's key leads to it:
    /// a registration that saw no change since before its first lookup, and
    /// then finds the metric closed, knows its label set is not admitted.
    pub(crate) admissions: AtomicU64,
}

/// Where a registration goes.
pub(crate) enum Placed {
    /// A series of its own (admitted now or before).
    Series(Arc<Series>),
    /// Folded into the overflow series, or dropped (`None`).
    Folded(Option<Arc<Series>>),
    /// A reload changed the metric's settings since the registration read
    /// them: decide again.
    Stale,
}

pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    /// Its policy; a reload replaces it (under the table's lock).
    policy: RwLock<Arc<MetricPolicy>>,
    /// `policy.mode == Enforce`, for lock-free reads.
    enforce: AtomicBool,
    /// Bumped (under the table's lock) by every reload: a registration
    /// decided under older settings decides again.
    generation: AtomicU64,
    /// The label key its kind renders itself (`le`, `quantile`).
    own_key: Option<&'static str>,
    /// Stage 1: label limits, pinned values, demand.
    pub(crate) labels: MetricLabels,
    /// Its idle timeout in ms; 0: its label sets do not expire.
    idle_timeout_ms: AtomicU64,
    /// On the Prometheus path, for histograms: how they render.
    pub(crate) histogram: Option<HistogramStore>,
    pub(crate) budget: Budget,
    pub(crate) env: Arc<Env>,
    table: Mutex<Table>,
    /// In shadow mode: the label sets rewritten by label limits that
    /// enforce would have admitted (by identity). Taken under `table`.
    shadow_admitted: Mutex<HashSet<String>>,
    overflow: OnceLock<Arc<Series>>,
    label_sets: AtomicU64,
    overflow_live: AtomicBool,
    admitted: AtomicU64,
    expired: AtomicU64,
    revived: AtomicU64,
    pub(crate) overflow_counts: [AtomicU64; OverflowReason::COUNT],
    /// When the last warning about this metric was logged (ms by the
    /// guard's clock, plus one); 0: never.
    pub(crate) warned_at: AtomicU64,
    /// Over another recorder: the self-report handles of this metric.
    gauges: Option<MetricGauges>,
    /// The hot path's keys of this metric's kind.
    pub(crate) spellings: Arc<Spellings>,
    me: Weak<Metric>,
}

/// Metadata for the guard's own registrations with an inner recorder.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// What a new metric is made of.
pub(crate) struct MetricParts {
    pub(crate) name: String,
    pub(crate) kind: MetricKind,
    pub(crate) policy: MetricPolicy,
    pub(crate) cost: u64,
    pub(crate) own_key: Option<&'static str>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) histogram: Option<HistogramStore>,
    pub(crate) max_labels: usize,
}

impl Metric {
    pub(crate) fn new(parts: MetricParts, env: Arc<Env>, spellings: Arc<Spellings>) -> Arc<Metric> {
        let gauges = env
            .inner
            .as_deref()
            .map(|inner| MetricGauges::register(inner, &parts.name, parts.policy.max_series.get()));
        Arc::new_cyclic(|me| Metric {
            labels: MetricLabels::new(&parts.policy, parts.max_labels),
            budget: Budget::new(&parts.policy, parts.cost, &env.global),
            name: parts.name,
            kind: parts.kind,
            enforce: AtomicBool::new(parts.policy.mode == Mode::Enforce),
            policy: RwLock::new(Arc::new(parts.policy)),
            generation: AtomicU64::new(0),
            own_key: parts.own_key,
            idle_timeout_ms: AtomicU64::new(timeout_ms(parts.idle_timeout)),
            histogram: parts.histogram,
            env,
            table: Mutex::new(Table::new()),
            shadow_admitted: Mutex::new(HashSet::new()),
            overflow: OnceLock::new(),
            label_sets: AtomicU64::new(0),
            overflow_live: AtomicBool::new(false),
            admitted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            revived: AtomicU64::new(0),
            overflow_counts: Default::default(),
            warned_at: AtomicU64::new(0),
            gauges,
            spellings,
            me: me.clone(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn enforces(&self) -> bool {
        self.enforce.load(Ordering::Acquire)
    }

    /// Its policy as it is now.
    pub(crate) fn policy(&self) -> Arc<MetricPolicy> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Its idle timeout in ms, if its label sets expire.
    pub(crate) fn idle_timeout_ms(&self) -> Option<u64> {
        Some(self.idle_timeout_ms.load(Ordering::Acquire)).filter(|&ms| ms > 0)
    }

    /// Its settings' generation (read before the settings a registration
    /// decides by).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How its labels render (the global value-length limit as it is now).
    pub(crate) fn rules(&self) -> LabelRules {
        LabelRules {
            own_key: self.own_key,
            max_value_length: self.env.global.max_value_length(),
        }
    }

    /// Takes a reloaded `policy` (`idle_timeout`: `None` over another
    /// recorder): all at once under the table's lock, so every admission
    /// is decided wholly under the old settings or wholly under the new.
    /// Admitted series stay; see [`Budget::configure`].
    pub(crate) fn reconfigure(&self, policy: MetricPolicy, idle_timeout: Option<Duration>) {
        let table = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let values = |label: &str| -> Vec<String> {
            table
                .values()
                .filter(|s| !s.overflow && s.shadow_reasons == 0)
                .filter_map(|s| {
                    s.key
                        .labels()
                        .find(|l| l.key() == label)
                        .map(|l| l.value().to_owned())
                })
                .collect()
        };
        let untracked = self.labels.configure(&policy, &values);
        if !untracked.is_empty() {
            tracing::warn!(
                metric = %self.name,
                labels = ?untracked,
                "cardinality guard: reloaded label limits can't apply to labels {untracked:?} \
                 of metric {}: it already tracks `max_labels_per_metric` other labels",
                self.name
            );
        }
        let enforce = policy.mode == Mode::Enforce;
        if enforce && !self.enforces() {
            // Shadow mode stored label sets enforce would have folded, without
            // a reservation and without remembering their keys. Enforce counts
            // what is stored, exactly: each stored label set holds one
            // reservation (the shadow reservations of rewritten label sets
            // are given back), and its own key leads to it (the closed fast
            // path relies on that).
            let mut stored = 0;
            for series in table.values().filter(|s| !s.overflow) {
                series.reserved.store(true, Ordering::Relaxed);
                self.spellings.remember_own(series);
                stored += 1;
            }
            self.budget.set_reserved(stored, &self.env.global);
            self.shadow_admitted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        // After the reservations are exact: the budget decides whether it is
        // closed by what it holds now (judged by shadow's reservations, which
        // may outlive the series that made them, it could stay closed while
        // holding nothing).
        let overflow_live = self.overflow_live.load(Ordering::Acquire);
        self.budget
            .configure(&policy, &self.env.global, overflow_live);
        self.enforce.store(enforce, Ordering::Release);
        self.idle_timeout_ms
            .store(timeout_ms(idle_timeout), Ordering::Release);
        if let Some(gauges) = &self.gauges {
            gauges.set_limit(policy.max_series.get());
        }
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
        drop(table);
    }

    /// Budget, then storage, for a normalized `key` (in enforce mode
    /// already rewritten by the label limits): the series it goes to.
    /// `reasons` already holds what normalizing and the label limits did;
    /// every reason is counted once the lock is released. In shadow mode,
    /// `rewritten` is the label set enforce would have made of `key`.
    /// `generation`: of the settings the registration was decided by so
    /// far (`Placed::Stale` if a reload changed them since).
    pub(crate) fn place(
        &self,
        key: &Key,
        rewritten: Option<&Key>,
        mut reasons: Reasons,
        generation: u64,
    ) -> Placed {
        let texts = LabelTexts::of(key, &self.env.global_labels);
        let placed = {
            let mut table = self.lock();
            if self.generation.load(Ordering::Acquire) != generation {
                return Placed::Stale;
            }
            self.place_locked(&mut table, texts, rewritten, &mut reasons)
        };
        self.count(reasons);
        placed
    }

    pub(crate) fn place_locked(
        &self,
        table: &mut Table,
        texts: LabelTexts,
        rewritten: Option<&Key>,
        reasons: &mut Reasons,
    ) -> Placed {
        if let Some(series) = table.get(texts.identity.as_str()) {
            // Another spelling, or a race; in shadow mode, counted again.
            if !self.enforces() {
                reasons.0 |= series.shadow_reasons;
            }
            return Placed::Series(series.clone());
        }
        if self.enforces() {
            return match self.budget.decide(&self.env.global) {
                Ok(()) => Placed::Series(self.insert(table, texts, true, Reasons::default())),
                Err(reason) => {
                    reasons.add(reason);
                    Placed::Folded(self.fold_target_locked(table))
                }
            };
        }
        // Shadow mode stores every label set, and counts what enforce would
        // have done with the label set it would have made of it.
        let mut decide = || match self.budget.decide(&self.env.global) {
            Ok(()) => true,
            Err(reason) => {
                reasons.add(reason);
                false
            }
        };
        let reserved = match rewritten {
            None => decide(),
            Some(rewritten) => {
                let identity = LabelTexts::of(rewritten, &[]).identity;
                let mut would = self
                    .shadow_admitted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if !would.contains(&identity) && decide() {
                    would.insert(identity);
                }
                false // the reservation is the rewritten label set's
            }
        };
        let shadow = folds_only(*reasons);
        Placed::Series(self.insert(table, texts, reserved, shadow))
    }

    /// A new series in the table, accounted.
    fn insert(
        &self,
        table: &mut Table,
        texts: LabelTexts,
        reserved: bool,
        shadow: Reasons,
    ) -> Arc<Series> {
        let series = self.new_series(texts, false, shadow);
        series.reserved.store(reserved, Ordering::Relaxed);
        table.insert(series.identity.clone(), series.clone());
        if shadow.is_empty() {
            self.spellings.remember_own(&series);
        }
        self.env.admissions.fetch_add(1, Ordering::Release);
        self.added(false);
        series
    }

    /// Accounts a series that expired.
    pub(crate) fn removed(&self, series: &Series) {
        if series.overflow {
            self.overflow_live.store(false, Ordering::Release);
            self.budget.overflow_gone(&self.env.global);
        } else {
            self.label_sets.fetch_sub(1, Ordering::AcqRel);
            self.expired.fetch_add(1, Ordering::Relaxed);
            if series.reserved.swap(false, Ordering::Relaxed) {
                self.budget.release(&self.env.global);
            }
        }
        self.env.global.remove_series(self.budget.cost);
    }

    pub(crate) fn count_revived(&self) {
        self.revived.fetch_add(1, Ordering::Relaxed);
    }

    /// Accounts a series that renders now.
    pub(crate) fn added(&self, overflow: bool) {
        if overflow {
            self.overflow_live.store(true, Ordering::Release);
        } else {
            self.label_sets.fetch_add(1, Ordering::AcqRel);
            self.admitted.fetch_add(1, Ordering::Relaxed);
        }
        self.env.global.add_series(self.budget.cost);
        if let (Some(gauges), Some(global)) = (&self.gauges, &self.env.gauges) {
            gauges.add_series(self.budget.cost, !overflow);
            global.add_series(self.budget.cost);
        }
    }

    fn new_series(&self, texts: LabelTexts, overflow: bool, shadow: Reasons) -> Arc<Series> {
        let key = texts.sorted;
        let storage = match (&self.env.inner, self.kind) {
            (Some(inner), MetricKind::Counter) => {
                Storage::Inner(Handle::Counter(inner.register_counter(&key, &METADATA)))
            }
            (Some(inner), MetricKind::Gauge) => {
                Storage::Inner(Handle::Gauge(inner.register_gauge(&key, &METADATA)))
            }
            (Some(inner), MetricKind::Histogram) => {
                Storage::Inner(Handle::Histogram(inner.register_histogram(&key, &METADATA)))
            }
            (None, MetricKind::Counter) => Storage::Counter(AtomicU64::new(0)),
            (None, MetricKind::Gauge) => Storage::Gauge(AtomicU64::new(0.0_f64.to_bits())),
            (None, MetricKind::Histogram) => Storage::Histogram(Mutex::new(
                self.histogram
                    .as_ref()
                    .map_or_else(|| Distribution::new_histogram(&[1.0]), |h| h.distribution()),
            )),
        };
        let owner: Weak<dyn Revive> = self.me.clone();
        let parts = SeriesParts {
            storage,
            key,
            text: texts.rendered.map(String::into_boxed_str),
            identity: texts.identity.into(),
            overflow,
            shadow_reasons: shadow.0,
            now_ms: self.env.time.now_ms(),
        };
        Series::new(parts, owner)
    }

    /// The overflow series, created (or brought back) if needed; `None`
    /// under `drop`, or when the overflow series has no room.
    pub(crate) fn fold_target(&self) -> Option<Arc<Series>> {
        if let Some(series) = self.overflow.get() {
            if self.overflow_live.load(Ordering::Acquire) {
                return Some(series.clone()); // live: no lock needed
            }
        }
        self.fold_target_locked(&mut self.lock())
    }

    /// Whether the metric enforces and its budget is closed: a label set
    /// it does not hold yet is folded (or dropped), for this reason.
    pub(crate) fn closed(&self) -> Option<OverflowReason> {
        self.budget.closed().filter(|_| self.enforces())
    }

    pub(crate) fn fold_target_locked(&self, table: &mut Table) -> Option<Arc<Series>> {
        if self.policy().on_overflow == OnOverflow::Drop || !self.budget.overflow_room() {
            return None;
        }
        let series = self.overflow.get_or_init(|| {
            let key = Key::from_parts(self.name.clone(), vec![Label::new(OVERFLOW_LABEL, "true")]);
            let texts = LabelTexts::of(&key, &self.env.global_labels);
            self.new_series(texts, true, Reasons::default())
        });
        if !table.contains_key(&series.identity) {
            // Its first fold, or its first since it expired (its room stays reserved).
            table.insert(series.identity.clone(), series.clone());
            series.revived(self.env.time.now_ms());
            self.added(true);
        }
        Some(series.clone())
    }

    /// Counts the reasons of one registration (and perhaps warns), with no
    /// lock held: a log subscriber may record metrics of its own.
    pub(crate) fn count(&self, reasons: Reasons) {
        for reason in reasons.iter() {
            let count = self.overflow_counts[reason as usize].fetch_add(1, Ordering::Relaxed) + 1;
            if let (Some(gauges), Some(inner)) = (&self.gauges, &self.env.inner) {
                gauges.count_overflow(&**inner, &self.name, reason);
            }
            self.warn(reason, count);
        }
    }

    /// Up to `max` admitted label sets (not the overflow series).
    pub(crate) fn label_sets(&self, max: usize) -> Vec<Vec<(String, String)>> {
        self.lock()
            .values()
            .filter(|s| !s.overflow)
            .take(max)
            .map(|s| {
                s.key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect()
            })
            .collect()
    }

    /// Exported series it holds now, overflow series included.
    pub(crate) fn series(&self) -> u64 {
        let overflow_live = self.overflow_live.load(Ordering::Acquire);
        (self.label_sets.load(Ordering::Acquire) + u64::from(overflow_live)) * self.budget.cost
    }

    pub(crate) fn report_admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    pub(crate) fn overflow_counts(&self) -> OverflowCounts {
        let mut overflow = OverflowCounts::default();
        for (i, count) in self.overflow_counts.iter().enumerate() {
            if let Some(reason) = OverflowReason::from_index(i) {
                overflow.add(reason, count.load(Ordering::Relaxed));
            }
        }
        overflow
    }

    pub(crate) fn report(&self) -> MetricReport {
        let overflow_live = self.overflow_live.load(Ordering::Acquire);
        let label_sets = self.label_sets.load(Ordering::Acquire);
        let series = (label_sets + u64::from(overflow_live)) * self.budget.cost;
        let overflow = self.overflow_counts();
        let policy = self.policy();
        let limit = policy.max_series.get();
        let labels = self.labels.report();
        let blame = (overflow.total() > 0)
            .then(|| labels.first().map(|l| l.name.clone()))
            .flatten();
        MetricReport {
            history: Vec::new(), // the registry's to fill in
            labels,
            blame,
            name: self.name.clone(),
            kind: self.kind,
            series,
            limit,
            utilization: ratio(series, limit),
            label_sets,
            series_per_label_set: self.budget.cost,
            overflow_series: overflow_live,
            overflow,
            admitted: self.admitted.load(Ordering::Relaxed),
            on_overflow: policy.on_overflow,
            mode: policy.mode,
            idle_timeout_seconds: self.idle_timeout_ms().map(|ms| ms as f64 / 1000.0),
            expired: self.expired.load(Ordering::Relaxed),
            revived: self.revived.load(Ordering::Relaxed),
            recommendation: None,
        }
    }
}

/// An idle timeout in ms (at least 1); 0 for none.
fn timeout_ms(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |t| {
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

/// The reasons that fold a label set (what shadow mode counts again at
/// every registration of it).
fn folds_only(reasons: Reasons) -> Reasons {
    let mut out = Reasons::default();
    for reason in reasons.iter() {
        if matches!(
            reason,
            OverflowReason::SeriesLimit | OverflowReason::GlobalLimit | OverflowReason::LabelLimit
        ) {
            out.add(reason);
        }
    }
    out
}
