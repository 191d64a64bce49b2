//! The guard's state, and the registration path from top to bottom.
//!
//! A label set seen before is one read-locked lookup in a sharded map keyed
//! by the `Key`'s precomputed hash, then a reference-count increment: no
//! write lock, no allocation. Anything else goes down [`Registry::register`]:
//!
//! 1. **name**: as it renders; an empty or reserved name is refused;
//! 2. **metric**: found, or created if `max_metrics` allows and no other
//!    kind renders that name;
//! 3. **labels**: as they render (reserved keys removed, over-long values
//!    replaced, empty values absent);
//! 4. **label limits**: a value beyond its label's limit becomes `__overflow__`;
//! 5. **budgets, then storage**: the metric admits the label set, folds it
//!    into its overflow series, or drops it ([`Metric::place`]).
//!
//! Only admitted label sets are stored, so a flood of rejected ones costs
//! no memory: they find their metric closed (a lock-free check) again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Recorder};
use metrics_util::parse_quantiles;

use crate::budget::Global;
use crate::clock::{Clock, Timeline};
use crate::config::Config;
use crate::exposition::{write_metric, write_self_report, Rendered};
use crate::history::History;
use crate::metric::{Env, Metric, MetricParts, Placed};
use crate::normalize::{is_sorted, metric_name, take_slot};
use crate::report::{unix_ms_now, OverflowReason, Reasons, Report};
use crate::self_report::{GlobalGauges, ReloadStatus};
use crate::series::Series;
use crate::shape::{
    HistogramShape, HistogramShapes, HistogramStore, MetricKind, DEFAULT_QUANTILES,
};
use crate::spellings::Spellings;

/// The exporter's default summary quantiles.
const QUANTILES: [f64; DEFAULT_QUANTILES] = [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0];

/// What the guard was configured with; a reload replaces it whole.
pub(crate) struct Settings {
    pub(crate) config: Arc<Config>,
    pub(crate) shapes: HistogramShapes,
}

pub(crate) struct Registry {
    settings: RwLock<Arc<Settings>>,
    /// Serializes reloads.
    pub(crate) reloading: Mutex<()>,
    /// The outcome of the last (re)load, for the self-report.
    reload_status: Mutex<ReloadStatus>,
    pub(crate) env: Arc<Env>,
    /// Metrics by rendered name.
    metrics: DashMap<String, Arc<Metric>, foldhash::fast::RandomState>,
    /// Every sample name a metric renders (`x`, `x_bucket`, `x_sum`,
    /// `x_count`) and the metric it belongs to: one family per name.
    claims: Mutex<HashMap<String, String>>,
    /// Registered keys (as user code spells them) of live series, per kind.
    lookup: [Arc<Spellings>; 3],
    /// Descriptions by rendered name (the first wins), bounded.
    descriptions: DashMap<String, String>,
    described: AtomicUsize,
    /// Serializes sweeps; counts them.
    sweeps: Mutex<u64>,
    render_size: AtomicUsize,
    /// Series over time, per metric (sampled at upkeep and report).
    history: History,
}

impl Registry {
    /// A registry that stores its series itself (`inner: None`, the
    /// Prometheus path) or over `inner`.
    pub(crate) fn new(
        config: Config,
        shapes: HistogramShapes,
        clock: Clock,
        inner: Option<Arc<dyn Recorder + Send + Sync>>,
    ) -> Registry {
        let loaded = ReloadStatus::loaded_now();
        let gauges = inner.as_deref().map(|r| {
            GlobalGauges::register(r, config.global.max_series.get(), loaded.success_timestamp)
        });
        let env = Env {
            global: Global::new(config.global),
            time: Timeline::new(clock),
            global_labels: config
                .global_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            inner,
            gauges,
            admissions: std::sync::atomic::AtomicU64::new(0),
        };
        Registry {
            lookup: [(); 3].map(|()| Arc::new(Spellings::new(config.global.max_series.get()))),
            settings: RwLock::new(Arc::new(Settings {
                config: Arc::new(config),
                shapes,
            })),
            reloading: Mutex::new(()),
            reload_status: Mutex::new(loaded),
            env: Arc::new(env),
            metrics: DashMap::default(),
            claims: Mutex::new(HashMap::new()),
            descriptions: DashMap::new(),
            described: AtomicUsize::new(0),
            sweeps: Mutex::new(0),
            render_size: AtomicUsize::new(0),
            history: History::default(),
        }
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The config in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.settings().config.clone()
    }

    pub(crate) fn set_settings(&self, config: Config, shapes: HistogramShapes) {
        let settings = Arc::new(Settings {
            config: Arc::new(config),
            shapes,
        });
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// Records a reload's outcome (at `now`, Unix seconds).
    pub(crate) fn record_reload(&self, successful: bool, now: f64) {
        let mut status = self.reload_status.lock().unwrap_or_else(|p| p.into_inner());
        status.successful = successful;
        if successful {
            status.success_timestamp = now;
        }
        if let Some(gauges) = &self.env.gauges {
            gauges.reloaded(&status);
        }
    }

    pub(crate) fn reload_status(&self) -> ReloadStatus {
        *self.reload_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while metrics are created (and while a reload applies).
    pub(crate) fn lock_claims(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How often upkeep runs: `every`, or more often when idle timeouts
    /// need it (as the config in force says).
    pub(crate) fn upkeep_interval(&self, every: Duration) -> Duration {
        self.config()
            .sweep_interval()
            .map_or(every, |sweep| every.min(sweep))
    }

    /// The handle (`handle` of the series) for `key` of `kind`: its own
    /// series, the overflow series, or `noop` (dropped).
    #[inline]
    fn register<H>(
        &self,
        kind: MetricKind,
        key: &Key,
        handle: impl Fn(&Arc<Series>) -> H,
        noop: impl FnOnce() -> H,
    ) -> H {
        let admissions = self.env.admissions.load(Ordering::Acquire);
        if let Some(h) = self.lookup[kind as usize].with(key, &handle) {
            return h;
        }
        self.register_new(kind, key, admissions)
            .map_or_else(noop, |s| handle(&s))
    }

    /// The counter handle for `key` (a no-op when dropped).
    pub(crate) fn counter(&self, key: &Key) -> Counter {
        self.register(MetricKind::Counter, key, Series::counter, Counter::noop)
    }

    /// The gauge handle for `key` (a no-op when dropped).
    pub(crate) fn gauge(&self, key: &Key) -> Gauge {
        self.register(MetricKind::Gauge, key, Series::gauge, Gauge::noop)
    }

    /// The histogram handle for `key` (a no-op when dropped).
    pub(crate) fn histogram(&self, key: &Key) -> Histogram {
        self.register(
            MetricKind::Histogram,
            key,
            Series::histogram,
            Histogram::noop,
        )
    }

    /// A key the lookup missed (`admissions` as read before the lookup).
    #[inline(never)]
    fn register_new(&self, kind: MetricKind, key: &Key, admissions: u64) -> Option<Arc<Series>> {
        // 1. The name, as it renders.
        let Some(name) = metric_name(key.name()) else {
            self.refuse_invalid();
            return None;
        };
        // 2. The metric.
        let metric = match self.metric(kind, &name) {
            Ok(metric) => metric,
            Err(OverflowReason::MaxMetrics) => {
                self.env.global.count_untracked();
                if let (Some(g), Some(inner)) = (&self.env.gauges, &self.env.inner) {
                    g.count_untracked(&**inner);
                }
                return None;
            }
            Err(_) => {
                self.refuse_invalid();
                return None;
            }
        };
        // Steps 3 to 5 decide under one generation of the metric's settings;
        // a reload in between makes them decide again.
        loop {
            if let Some(placed) = self.place(&metric, key, admissions) {
                return placed;
            }
        }
    }

    /// Steps 3 to 5 for `key` in `metric`: `None` when a reload changed the
    /// metric's settings meanwhile.
    fn place(&self, metric: &Metric, key: &Key, admissions: u64) -> Option<Option<Arc<Series>>> {
        let generation = metric.generation();
        let kind = metric.kind;
        // 3. The labels, as they render.
        let mut reasons = Reasons::default();
        let (key_rendered, changes) = metric.rules().apply(key, &metric.name);
        if changes.invalid {
            reasons.add(OverflowReason::Invalid);
        }
        if changes.too_long {
            reasons.add(OverflowReason::ValueTooLong);
        }
        // 4. Label limits.
        let inner = self.env.inner.as_deref().map(|r| r as &dyn Recorder);
        let rewritten = metric.labels.apply(&key_rendered, &metric.name, inner);
        let enforces = metric.enforces();
        let mut placed_key = &*key_rendered;
        if let Some(rewritten) = &rewritten {
            reasons.add(OverflowReason::LabelLimit);
            if enforces {
                placed_key = rewritten;
            }
        }
        let would_be = rewritten.as_ref().filter(|_| !enforces);
        // 5. Budgets, then storage. A closed budget folds without a lock or
        // an allocation, unless the label set is one the metric holds
        // (reached through another spelling: its sorted key is remembered).
        if let Some(reason) = metric.closed() {
            if is_sorted(placed_key) {
                // Look again unless it is the key just missed and nothing
                // was admitted since (anywhere): a racing admission is seen.
                let missed = std::ptr::eq(placed_key, key)
                    && self.env.admissions.load(Ordering::Acquire) == admissions;
                let found = (!missed)
                    .then(|| self.lookup[kind as usize].get(placed_key))
                    .flatten();
                if let Some(series) = found {
                    metric.count(reasons);
                    return Some(Some(series));
                }
                if metric.generation() != generation {
                    return None; // reloaded meanwhile
                }
                reasons.add(reason);
                metric.count(reasons);
                return Some(metric.fold_target());
            }
        }
        match metric.place(placed_key, would_be, reasons, generation) {
            Placed::Series(series) => {
                // The spelling user code used, only when nothing was
                // changed or counted, so what is counted is counted at
                // every registration.
                if series.shadow_reasons == 0 && reasons.is_empty() && *key != series.key {
                    self.lookup[kind as usize].remember(key, &series);
                }
                Some(Some(series))
            }
            Placed::Folded(target) => Some(target),
            Placed::Stale => None,
        }
    }

    fn refuse_invalid(&self) {
        self.env.global.count_invalid();
        if let (Some(g), Some(inner)) = (&self.env.gauges, &self.env.inner) {
            g.count_invalid(&**inner);
        }
    }

    /// The metric `name` of `kind`, created if there is room; the reason
    /// when there is none.
    fn metric(&self, kind: MetricKind, name: &str) -> Result<Arc<Metric>, OverflowReason> {
        let found = |m: &Arc<Metric>| match m.kind == kind {
            true => Ok(m.clone()),
            false => Err(OverflowReason::Invalid),
        };
        // A run of new label sets of one metric (a flood) finds it without
        // the map: the thread's last metric, if it is this guard's and this
        // name's.
        let last = LAST_METRIC.with(|last| last.borrow().upgrade());
        if let Some(m) = last.filter(|m| Arc::ptr_eq(&m.env, &self.env) && m.name == name) {
            return found(&m);
        }
        if let Some(m) = self.metrics.get(name) {
            LAST_METRIC.with(|last| *last.borrow_mut() = Arc::downgrade(&m));
            return found(&m);
        }
        let mut claims = self.lock_claims();
        if let Some(m) = self.metrics.get(name) {
            return found(&m);
        }
        let settings = self.settings();
        let config = &settings.config;
        if self.env.global.metrics_full() {
            return Err(OverflowReason::MaxMetrics); // checked again under the lock: exact
        }
        let histogram = (kind == MetricKind::Histogram)
            .then(|| Registry::histogram_store_of(config, &settings.shapes, name));
        let samples = sample_names(name, histogram.as_ref());
        if samples.iter().any(|s| claims.contains_key(s)) {
            return Err(OverflowReason::Invalid); // another family renders one of them
        }
        if !self.env.global.try_add_metric() {
            return Err(OverflowReason::MaxMetrics);
        }
        let own_key = match &histogram {
            Some(HistogramStore::Buckets(_)) => Some("le"),
            Some(HistogramStore::Summary(_)) => Some("quantile"),
            None => None,
        };
        let policy = config.policy_for(name);
        let idle_timeout = match self.env.inner {
            Some(_) => None, // over another recorder, nothing expires
            None => policy.idle_timeout,
        };
        let parts = MetricParts {
            name: name.to_owned(),
            kind,
            policy,
            cost: settings.shapes.series_per_label_set(kind, name),
            own_key,
            idle_timeout,
            histogram: histogram.filter(|_| self.env.inner.is_none()),
            max_labels: config.global.max_labels_per_metric.get(),
        };
        let metric = Metric::new(parts, self.env.clone(), self.lookup[kind as usize].clone());
        for sample in samples {
            claims.insert(sample, name.to_owned());
        }
        self.metrics.insert(name.to_owned(), metric.clone());
        if let Some(g) = &self.env.gauges {
            g.add_metric();
        }
        Ok(metric)
    }

    /// How the histogram `name` renders. Over another recorder only its
    /// shape matters (the bounds are that recorder's).
    pub(crate) fn histogram_store_of(
        config: &Config,
        shapes: &HistogramShapes,
        name: &str,
    ) -> HistogramStore {
        match shapes.shape_for(name) {
            HistogramShape::Buckets(_) => {
                let bounds = config
                    .histograms
                    .buckets_for(name)
                    .map_or_else(|| Arc::from([1.0_f64]), |b| b.bounds().into());
                HistogramStore::Buckets(bounds)
            }
            HistogramShape::Summary(_) => {
                HistogramStore::Summary(Arc::new(parse_quantiles(&QUANTILES)))
            }
        }
    }

    /// Keeps the description of `name` (the first one), for as many names
    /// as three times `max_metrics`. True if it is kept (or was).
    pub(crate) fn describe(&self, name: &KeyName, description: &str) -> bool {
        let Some(rendered) = metric_name(name.as_str()) else {
            return false;
        };
        if self.descriptions.contains_key(&*rendered) {
            return true;
        }
        let room = self.env.global.max_metrics().saturating_mul(3);
        if !take_slot(&self.described, room) {
            return false;
        }
        self.descriptions
            .entry(rendered.into_owned())
            .or_insert_with(|| description.to_owned());
        true
    }

    /// With idle timeouts, one sweep (histogram samples need no draining:
    /// they go straight into their distributions); then a sample of every
    /// metric's series for the history.
    pub(crate) fn upkeep(&self) {
        let metrics = self.all_metrics();
        self.sweep(&metrics);
        let now_ms = self.env.time.now_ms();
        self.history.record(
            now_ms,
            metrics.iter().map(|m| (m.name.as_str(), m.series())),
        );
    }

    fn sweep(&self, metrics: &[Arc<Metric>]) {
        if !self.config().expires() || self.env.inner.is_some() {
            return;
        }
        let mut sweeps = self.sweeps.lock().unwrap_or_else(|p| p.into_inner());
        *sweeps += 1;
        let now_ms = self.env.time.now_ms();
        let mut expired = false;
        for metric in metrics {
            expired |= metric.sweep(now_ms, *sweeps);
        }
        if expired {
            for lookup in &self.lookup {
                lookup.forget_expired();
            }
        }
    }

    pub(crate) fn all_metrics(&self) -> Vec<Arc<Metric>> {
        let mut metrics: Vec<Arc<Metric>> = self.metrics.iter().map(|m| m.clone()).collect();
        metrics.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        metrics
    }

    /// The exposition: a sweep first (with idle timeouts), then every
    /// family sorted by name, then the self-report of exactly that.
    pub(crate) fn render(&self) -> String {
        let metrics = self.all_metrics();
        self.sweep(&metrics);
        let now = quanta::Instant::now();
        let mut out = String::with_capacity(self.render_size.load(Ordering::Relaxed) + 1024);
        let mut rendered = Vec::with_capacity(metrics.len());
        for metric in metrics {
            let help = self.descriptions.get(&metric.name);
            let series = write_metric(&mut out, &metric, help.as_deref().map(|h| h.as_str()), now);
            drop(help);
            rendered.push(Rendered { metric, series });
        }
        let global = self.env.global.report(0);
        let reload = self.reload_status();
        write_self_report(
            &mut out,
            &rendered,
            &global,
            &self.env.global_labels,
            reload,
        );
        self.render_size.store(out.len(), Ordering::Relaxed);
        out
    }

    /// Label sets in the tables (overflow series included): bounded by the
    /// budgets. The keys that lead to them are bounded apart, by twice
    /// `global.max_series`.
    pub(crate) fn tracked_label_sets(&self) -> usize {
        self.metrics.iter().map(|m| m.lock().len()).sum()
    }

    pub(crate) fn label_sets(
        &self,
        kind: MetricKind,
        name: &str,
        max: usize,
    ) -> Vec<Vec<(String, String)>> {
        self.metrics
            .get(name)
            .filter(|m| m.kind == kind)
            .map_or_else(Vec::new, |m| m.label_sets(max))
    }

    pub(crate) fn report(&self) -> Report {
        let metrics = self.all_metrics();
        let mut report = Report {
            generated_at_unix_ms: unix_ms_now(),
            global: self.env.global.report(self.tracked_label_sets()),
            metrics: metrics.iter().map(|m| m.report()).collect(),
        };
        self.history
            .record_report(self.env.time.now_ms(), &mut report.metrics);
        for m in &mut report.metrics {
            m.recommendation = m.recommend();
        }
        report.sort();
        report
    }
}

thread_local! {
    /// The metric this thread last found by name (of any guard).
    static LAST_METRIC: RefCell<Weak<Metric>> = const { RefCell::new(Weak::new()) };
}

/// The sample names a metric renders.
fn sample_names(name: &str, histogram: Option<&HistogramStore>) -> Vec<String> {
    let with = |suffix: &str| format!("{name}{suffix}");
    match histogram {
        None => vec![name.to_owned()],
        Some(HistogramStore::Buckets(_)) => {
            vec![
                name.to_owned(),
                with("_bucket"),
                with("_sum"),
                with("_count"),
            ]
        }
        Some(HistogramStore::Summary(_)) => vec![name.to_owned(), with("_sum"), with("_count")],
    }
}
