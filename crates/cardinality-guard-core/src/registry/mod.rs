//! The guard's state: its metrics by name, and a registration from the
//! recorder down to its metric.
//!
//! A label set seen before is one read-locked lookup keyed by the `Key`'s
//! precomputed hash, then a reference-count increment: no write lock, no
//! allocation. Anything else goes down [`Registry::register_new`]:
//!
//! 1. **name**: as it renders; an empty, over-long or reserved name is
//!    refused;
//! 2. **metric**: found, or created if `max_metrics` allows and no other
//!    kind renders that name;
//! 3. **admission**: the metric decides ([`Metric::admit`]): labels, label
//!    limits, budgets, storage.

mod ingested;
mod matched;
mod reload;
mod render;

pub(crate) use matched::MatchedRules;
pub use reload::ReloadError;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, KeyName};

use crate::bounds::Bounds;
use crate::budget::Global;
use crate::clock::{Clock, Timeline};
use crate::config::Config;
use crate::flavor::Flavor;
use crate::history::History;
use crate::metric::{Env, Metric, MetricParts};
use crate::normalize::{metric_name, take_slot};
use crate::problem::{Problem, Problems};
use crate::self_report::{GlobalGauges, ReloadStatus};
use crate::series::identity::GlobalLabels;
use crate::series::lookup::Lookup;
use crate::series::Series;
use crate::shape::{HistogramShapes, HistogramStore};
use crate::store::Store;
use crate::vocabulary::OverflowReason;

/// What the guard was configured with; a reload replaces it whole.
pub(crate) struct Settings {
    pub(crate) config: Arc<Config>,
    /// How the recorder under the guard renders histograms (over another
    /// recorder; on the Prometheus path the config says it).
    pub(crate) shapes: HistogramShapes,
    /// Which of `config`'s `[[metrics]]` rules matched a tracked metric.
    pub(crate) matched: MatchedRules,
}

pub(crate) struct Registry {
    settings: RwLock<Arc<Settings>>,
    /// Serializes reloads.
    reloading: Mutex<()>,
    /// The outcome of the last (re)load, for the self-report.
    reload_status: Mutex<ReloadStatus>,
    env: Arc<Env>,
    /// Metrics by rendered name.
    metrics: DashMap<String, Arc<Metric>, foldhash::fast::RandomState>,
    /// Every sample name a metric renders (`x`, `x_bucket`, `x_sum`,
    /// `x_count`) and the metric it belongs to: one family per name.
    claims: Mutex<HashMap<String, String>>,
    /// Descriptions by rendered name (the first wins), bounded.
    descriptions: DashMap<String, String>,
    described: AtomicUsize,
    /// Serializes sweeps; counts them.
    sweeps: Mutex<u64>,
    render_size: AtomicUsize,
    /// Series over time, per metric (sampled at upkeep and report).
    history: History,
    /// Run-time problems reported (through the reserved `PROBLEMS` name).
    problems: Problems,
}

impl Registry {
    /// A registry whose series live in `store`.
    pub(crate) fn new(
        config: Config,
        shapes: HistogramShapes,
        clock: Clock,
        store: Box<dyn Store>,
    ) -> Registry {
        let loaded = ReloadStatus::loaded_now();
        let max_series = config.global.max_series.get();
        let gauges = GlobalGauges::register(&*store, max_series, loaded.success_timestamp);
        let matched = MatchedRules::new(&config, []);
        gauges.set_unmatched_rules(matched.unmatched_count());
        let env = Env {
            global: Global::new(config.global),
            bounds: Bounds::new(&config.global),
            time: Timeline::new(clock),
            global_labels: Arc::new(GlobalLabels::new(
                config
                    .global_labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )),
            store,
            gauges,
            lookup: std::array::from_fn(|_| Lookup::new()),
            admissions: AtomicU64::new(0),
            retired: std::sync::atomic::AtomicBool::new(false),
        };
        Registry {
            settings: RwLock::new(Arc::new(Settings {
                config: Arc::new(config),
                shapes,
                matched,
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
            problems: Problems::default(),
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

    /// Puts `config` in force (under the claims lock), with its rules
    /// matched against the metrics tracked now.
    fn set_settings(&self, config: Config, shapes: HistogramShapes, metrics: &[Arc<Metric>]) {
        let matched = MatchedRules::new(&config, metrics.iter().map(|m| m.name.as_str()));
        self.env
            .gauges
            .set_unmatched_rules(matched.unmatched_count());
        let settings = Arc::new(Settings {
            config: Arc::new(config),
            shapes,
            matched,
        });
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    /// Records a reload's outcome (at `now`, Unix seconds).
    fn record_reload(&self, successful: bool, now: f64) {
        let mut status = self.reload_status.lock().unwrap_or_else(|p| p.into_inner());
        status.successful = successful;
        if successful {
            status.success_timestamp = now;
        }
        self.env.gauges.reloaded(&status);
    }

    fn reload_status(&self) -> ReloadStatus {
        *self.reload_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while metrics are created (and while a reload applies).
    fn lock_claims(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How often upkeep runs: `every`, or more often when idle timeouts
    /// need it (as the config in force says).
    pub(crate) fn upkeep_interval(&self, every: Duration) -> Duration {
        self.config()
            .sweep_interval()
            .map_or(every, |sweep| every.min(sweep))
    }

    /// The handle (`handle` of the series) for `key` of `flavor` (an
    /// ingested histogram or summary: with `texts`): its own series, the
    /// overflow series, or `noop` (dropped).
    #[inline]
    fn register<H>(
        &self,
        (flavor, texts): (Flavor, &[&str]),
        key: &Key,
        handle: impl Fn(&Arc<Series>) -> H,
        noop: impl FnOnce() -> H,
    ) -> H {
        let admissions = self.env.admissions.load(Ordering::Acquire);
        if let Some(h) = self.env.lookup(flavor).with(key, &handle) {
            return h;
        }
        self.register_new((flavor, texts), key, admissions)
            .map_or_else(noop, |s| handle(&s))
    }

    /// The counter handle for `key` (a no-op when dropped).
    pub(crate) fn counter(&self, key: &Key) -> Counter {
        self.register((Flavor::Counter, &[]), key, Series::counter, Counter::noop)
    }

    /// The gauge handle for `key` (a no-op when dropped).
    pub(crate) fn gauge(&self, key: &Key) -> Gauge {
        self.register((Flavor::Gauge, &[]), key, Series::gauge, Gauge::noop)
    }

    /// The histogram handle for `key` (a no-op when dropped).
    pub(crate) fn histogram(&self, key: &Key) -> Histogram {
        self.register(
            (Flavor::Histogram, &[]),
            key,
            Series::histogram,
            Histogram::noop,
        )
    }

    /// A key the lookup missed (`admissions` as read before the lookup).
    #[inline(never)]
    fn register_new(
        &self,
        (flavor, texts): (Flavor, &[&str]),
        key: &Key,
        admissions: u64,
    ) -> Option<Arc<Series>> {
        // 1. The name, as it renders.
        let Some(name) = metric_name(key.name(), self.env.bounds.name_length()) else {
            match Problem::reported_by(key) {
                Some(problem) => self.count_problem(problem),
                None => self.refuse_invalid(),
            }
            return None;
        };
        // 2. The metric.
        let metric = match self.metric((flavor, texts), &name) {
            Ok(metric) => metric,
            Err(OverflowReason::MaxMetrics) => {
                self.env.global.count_untracked();
                self.env.gauges.count_untracked(&*self.env.store);
                return None;
            }
            Err(_) => {
                self.refuse_invalid();
                return None;
            }
        };
        // 3. Admission.
        metric.admit(key, admissions)
    }

    /// One report of `problem` (see [`Problem::report`]).
    fn count_problem(&self, problem: Problem) {
        self.problems.count(problem);
        self.env.gauges.count_problem(problem);
    }

    /// Counts a registration refused as invalid (under `__invalid__`).
    pub(crate) fn refuse_invalid(&self) {
        self.env.global.count_invalid();
        self.env.gauges.count_invalid(&*self.env.store);
    }

    /// Keeps the description of `name` (the first one), shortened to
    /// `max_description_length`, for as many names as three times
    /// `max_metrics`. The description as kept (or as it would be, when one
    /// was kept before), or `None` when it is not.
    pub(crate) fn describe<'d>(&self, name: &KeyName, description: &'d str) -> Option<&'d str> {
        let rendered = metric_name(name.as_str(), self.env.bounds.name_length())?;
        let description = self.env.bounds.description(description);
        if self.descriptions.contains_key(&*rendered) {
            return Some(description);
        }
        let room = self.env.global.max_metrics().saturating_mul(3);
        if !take_slot(&self.described, room) {
            return None;
        }
        self.descriptions
            .entry(rendered.into_owned())
            .or_insert_with(|| description.to_owned());
        Some(description)
    }

    /// The metric `name` of `flavor` (created with `texts` if there is
    /// room); the reason when there is none (`invalid`: another flavor
    /// renders that name).
    fn metric(
        &self,
        (flavor, texts): (Flavor, &[&str]),
        name: &str,
    ) -> Result<Arc<Metric>, OverflowReason> {
        let found = |m: &Arc<Metric>| match m.flavor == flavor {
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
        let owns = self.env.store.owns_series();
        let (histogram, shape) = match flavor {
            Flavor::Histogram if owns => {
                let store = HistogramStore::for_metric(&config.histograms, name);
                let shape = store.shape();
                (Some(store), Some(shape))
            }
            Flavor::Histogram => (None, Some(settings.shapes.shape_for(name))),
            _ => (None, flavor.shape(texts.len())),
        };
        let samples = match shape {
            Some(shape) => shape.sample_names(name),
            None => vec![name.to_owned()],
        };
        if samples.iter().any(|s| claims.contains_key(s)) {
            return Err(OverflowReason::Invalid); // another family renders one of them
        }
        if !self.env.global.try_add_metric() {
            return Err(OverflowReason::MaxMetrics);
        }
        let rule = config.rule_index(name);
        if settings.matched.mark(rule) {
            let unmatched = settings.matched.unmatched_count();
            self.env.gauges.set_unmatched_rules(unmatched);
        }
        let parts = MetricParts {
            name: name.to_owned(),
            flavor,
            texts: texts.iter().map(|&t| Box::from(t)).collect(),
            policy: config.policy_of_rule(rule),
            cost: shape.map_or(1, |s| s.series_per_label_set()),
            own_key: shape.map(|s| s.own_key()),
            histogram,
            max_labels: config.global.max_labels_per_metric.get(),
        };
        let metric = Metric::new(parts, self.env.clone());
        for sample in samples {
            claims.insert(sample, name.to_owned());
        }
        self.metrics.insert(name.to_owned(), metric.clone());
        self.env.gauges.add_metric();
        Ok(metric)
    }
}

thread_local! {
    /// The metric this thread last found by name (of any guard).
    static LAST_METRIC: RefCell<Weak<Metric>> = const { RefCell::new(Weak::new()) };
}
