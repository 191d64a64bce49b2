//! The recorder layer: [`GuardLayer`] wraps any [`Recorder`] in a [`Guard`].

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use dashmap::DashMap;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusHandle;
use metrics_util::layers::Layer;

use crate::admission::Global;
use crate::clock::Clock;
use crate::config::Config;
use crate::family::{Counters, Family, Gauges, Histograms};
use crate::names::take_slot;
use crate::reclaim::HiddenSeries;
use crate::report::Report;
use crate::shape::{HistogramShapes, MetricKind};

/// State shared by a [`Guard`] and its [`GuardHandle`]s.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) shapes: HistogramShapes,
    pub(crate) cache_handles: bool,
    pub(crate) global: Global,
    pub(crate) counters: Family<Counters>,
    pub(crate) gauges: Family<Gauges>,
    pub(crate) histograms: Family<Histograms>,
    /// The recorder the guard wraps (to register series it brings back).
    pub(crate) recorder: Arc<dyn Recorder + Send + Sync>,
    /// This very state, for the handles of expiring label sets.
    pub(crate) me: Weak<Shared>,
    clock: Clock,
    epoch: Instant,
    /// Serializes sweeps and filtered renders; counts sweeps.
    reclaim: Mutex<u64>,
    /// Names whose descriptions were passed on (the exporter keeps them
    /// forever), at most three per tracked metric.
    described: DashMap<String, ()>,
    described_count: AtomicUsize,
}

impl Shared {
    /// Whether a description of `name` may reach the inner recorder: bounded
    /// like the metrics themselves, so a flood of names cannot grow it.
    fn may_describe(&self, name: &KeyName) -> bool {
        if self.described.contains_key(name.as_str()) {
            return true;
        }
        let room = self.config.global.max_metrics.get().saturating_mul(3);
        let counted = take_slot(&self.described_count, room);
        if counted {
            self.described.insert(name.as_str().to_owned(), ());
        }
        counted
    }

    /// Now, in ms since the guard started, by its clock.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = self.clock.now().saturating_duration_since(self.epoch);
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    }

    /// One sweep of every table: expires idle label sets and keeps the
    /// rest alive in the exporter. Returns the series to hide from a render.
    fn sweep(&self, sweeps: &mut u64) -> HiddenSeries {
        *sweeps += 1;
        let now_ms = self.now_ms();
        let mut hidden = HiddenSeries::default();
        self.counters.sweep(self, now_ms, *sweeps, &mut hidden);
        self.gauges.sweep(self, now_ms, *sweeps, &mut hidden);
        self.histograms.sweep(self, now_ms, *sweeps, &mut hidden);
        self.global.touch();
        hidden
    }

    fn lock_reclaim(&self) -> MutexGuard<'_, u64> {
        self.reclaim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exposition of `prometheus`, after a sweep, without the series
    /// the guard has expired.
    fn render(&self, prometheus: &PrometheusHandle) -> String {
        if !self.config.expires() {
            return prometheus.render();
        }
        let mut sweeps = self.lock_reclaim();
        let mut hidden = self.sweep(&mut sweeps);
        hidden.filter(prometheus.render())
    }

    /// The exporter's upkeep and a sweep. While expired series wait for
    /// the exporter to forget them, it also renders (and discards) the
    /// exposition: the exporter only forgets idle series during a render.
    fn run_upkeep(&self, prometheus: &PrometheusHandle) {
        if !self.config.expires() {
            prometheus.run_upkeep();
            return;
        }
        // Never beside a render: the exporter's upkeep re-creates (empty,
        // for good) a histogram that a concurrent render forgets.
        let mut sweeps = self.lock_reclaim();
        prometheus.run_upkeep();
        let mut hidden = self.sweep(&mut sweeps);
        if hidden.len() > 0 {
            drop(hidden.filter(prometheus.render()));
        }
    }

    fn tracked_label_sets(&self) -> usize {
        self.counters.tracked_label_sets()
            + self.gauges.tracked_label_sets()
            + self.histograms.tracked_label_sets()
    }

    fn label_sets(&self, kind: MetricKind, name: &str, max: usize) -> Vec<Vec<(String, String)>> {
        match kind {
            MetricKind::Counter => self.counters.label_sets(name, max),
            MetricKind::Gauge => self.gauges.label_sets(name, max),
            MetricKind::Histogram => self.histograms.label_sets(name, max),
        }
    }

    fn report(&self) -> Report {
        let tracked = self.tracked_label_sets();
        let mut metrics = Vec::new();
        self.counters.reports(&mut metrics);
        self.gauges.reports(&mut metrics);
        self.histograms.reports(&mut metrics);
        let mut report = Report {
            global: self.global.report(tracked),
            metrics,
        };
        report.sort();
        report
    }
}

/// A [`metrics_util::layers::Layer`] that puts a cardinality budget around a recorder.
///
/// Push it innermost, right around the exporter, so it sees every key exactly
/// as the exporter will render it:
///
/// ```
/// use cardinality_guard_core::{Config, GuardLayer};
/// use metrics_exporter_prometheus::PrometheusBuilder;
/// use metrics_util::layers::Stack;
///
/// let config = Config::embedded();
/// let prometheus = cardinality_guard_core::prometheus_builder(&config)?.build_recorder();
/// let render = prometheus.handle();
/// let layer = GuardLayer::new(config);
/// let guard = layer.handle();
/// let stack = Stack::new(prometheus).push(layer); // then `.install()`
/// metrics::with_local_recorder(&stack, || metrics::counter!("jobs_total").increment(1));
/// assert!(render.render().contains("cardinality_guard_series{metric=\"jobs_total\"} 1"));
/// assert_eq!(guard.report().metric("jobs_total").unwrap().series, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With [`GuardLayer::new`] the guard takes histogram shapes from the config's
/// `[histograms]` section, which must be what the exporter renders: use
/// [`prometheus_builder`](crate::prometheus_builder) (or
/// [`PrometheusGuard`](crate::PrometheusGuard)) to build the exporter from the
/// same config. Over any other recorder, say the shapes explicitly with
/// [`GuardLayer::with_histogram_shapes`].
#[derive(Clone)]
pub struct GuardLayer {
    config: Config,
    shapes: HistogramShapes,
    cache_handles: bool,
    clock: Clock,
    slot: Arc<OnceLock<Arc<Shared>>>,
}

impl GuardLayer {
    /// A layer enforcing `config`.
    pub fn new(config: Config) -> Self {
        GuardLayer {
            shapes: HistogramShapes::from_config(&config.histograms),
            config,
            cache_handles: true,
            clock: Clock::system(),
            slot: Arc::default(),
        }
    }

    /// The clock idle timeouts are measured by. Default: the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Tells the guard how the inner recorder renders histograms, replacing
    /// what the config's `[histograms]` section says.
    pub fn with_histogram_shapes(mut self, shapes: HistogramShapes) -> Self {
        self.shapes = shapes;
        self
    }

    /// Whether the guard keeps the inner recorder's handle of each admitted
    /// label set (and of each overflow series) and hands out clones of it,
    /// skipping the inner lookup. Off, every registration goes to the inner
    /// recorder again. Default: `true`.
    ///
    /// Label sets of metrics with an idle timeout are always handed out as
    /// the guard's own wrappers, whatever this says.
    pub fn cache_handles(mut self, enabled: bool) -> Self {
        self.cache_handles = enabled;
        self
    }

    /// A handle on the state of the first guard this layer builds (through
    /// [`Layer::layer`]), e.g. for [`GuardHandle::report`]. Clones of the layer
    /// share it.
    pub fn handle(&self) -> GuardHandle {
        GuardHandle {
            slot: self.slot.clone(),
            fallback: Arc::new(self.config.clone()),
        }
    }
}

impl<R: Recorder + Send + Sync + 'static> Layer<R> for GuardLayer {
    type Output = Guard<R>;

    fn layer(&self, inner: R) -> Guard<R> {
        let inner = Arc::new(inner);
        let shared = Arc::new_cyclic(|me| Shared {
            global: Global::new(self.config.global, &*inner),
            config: self.config.clone(),
            shapes: self.shapes.clone(),
            cache_handles: self.cache_handles,
            counters: Family::default(),
            gauges: Family::default(),
            histograms: Family::default(),
            recorder: inner.clone(),
            me: me.clone(),
            clock: self.clock.clone(),
            epoch: self.clock.now(),
            reclaim: Mutex::new(0),
            described: DashMap::new(),
            described_count: AtomicUsize::new(0),
        });
        let _first_guard_wins = self.slot.set(shared.clone());
        Guard { inner, shared }
    }
}

/// A recorder that enforces cardinality budgets before handing registrations
/// to its inner recorder. Built by [`GuardLayer`].
pub struct Guard<R> {
    inner: Arc<R>,
    shared: Arc<Shared>,
}

impl<R> Guard<R> {
    /// A handle on this guard's state.
    pub fn handle(&self) -> GuardHandle {
        GuardHandle {
            slot: Arc::new(OnceLock::from(self.shared.clone())),
            fallback: Arc::new(self.shared.config.clone()),
        }
    }

    /// A snapshot of the guard's state.
    pub fn report(&self) -> Report {
        self.shared.report()
    }

    /// The wrapped recorder.
    pub fn inner(&self) -> &R {
        &self.inner
    }
}

impl<R: Recorder> Recorder for Guard<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.shared.may_describe(&key) {
            self.inner.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.shared.may_describe(&key) {
            self.inner.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.shared.may_describe(&key) {
            self.inner.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let shared = &*self.shared;
        shared
            .counters
            .register(shared, &*self.inner, key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        let shared = &*self.shared;
        shared.gauges.register(shared, &*self.inner, key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let shared = &*self.shared;
        shared
            .histograms
            .register(shared, &*self.inner, key, metadata)
    }
}

/// A cheap, cloneable handle on a guard's state.
#[derive(Clone)]
pub struct GuardHandle {
    slot: Arc<OnceLock<Arc<Shared>>>,
    fallback: Arc<Config>,
}

impl GuardHandle {
    /// A snapshot of the guard's state: global figures and one entry per
    /// metric, sorted by series. Before the layer has built its guard, an
    /// empty report with the configured limits.
    pub fn report(&self) -> Report {
        match self.slot.get() {
            Some(shared) => shared.report(),
            None => {
                let limits = self.fallback.global;
                Report {
                    global: crate::report::GlobalReport {
                        series: 0,
                        series_limit: limits.max_series.get(),
                        utilization: 0.0,
                        metrics: 0,
                        max_metrics: limits.max_metrics.get(),
                        untracked_registrations: 0,
                        tracked_label_sets: 0,
                    },
                    metrics: Vec::new(),
                }
            }
        }
    }

    /// Label-set entries the guard keeps in memory. Only admitted label sets
    /// are kept, so in enforce mode this is bounded by the budgets, whatever
    /// the traffic.
    pub fn tracked_label_sets(&self) -> usize {
        self.slot
            .get()
            .map_or(0, |shared| shared.tracked_label_sets())
    }

    /// Up to `max` label sets admitted for the metric `name` of `kind`, as
    /// (key, value) pairs. They may hold personal data: show them only where
    /// the user opted in.
    pub fn label_sets(
        &self,
        kind: MetricKind,
        name: &str,
        max: usize,
    ) -> Vec<Vec<(String, String)>> {
        self.slot
            .get()
            .map_or_else(Vec::new, |shared| shared.label_sets(kind, name, max))
    }

    /// The exposition of `prometheus` (the recorder this guard wraps), as
    /// it must be served when label sets expire: a sweep first expires idle
    /// label sets, then the series expired but not yet forgotten by the
    /// exporter are left out, so the render holds exactly what the
    /// self-report counts. Without any `idle_timeout`, just
    /// `prometheus.render()`.
    pub fn render(&self, prometheus: &PrometheusHandle) -> String {
        match self.slot.get() {
            Some(shared) => shared.render(prometheus),
            None => prometheus.render(),
        }
    }

    /// `prometheus.run_upkeep()`, and with idle timeouts a sweep (see
    /// [`GuardHandle::render`]). Run it at least every
    /// [`Config::sweep_interval`] when nothing renders that often.
    pub fn run_upkeep(&self, prometheus: &PrometheusHandle) {
        match self.slot.get() {
            Some(shared) => shared.run_upkeep(prometheus),
            None => prometheus.run_upkeep(),
        }
    }

    /// The configuration the guard enforces.
    pub fn config(&self) -> &Config {
        match self.slot.get() {
            Some(shared) => &shared.config,
            None => &self.fallback,
        }
    }
}

impl std::fmt::Debug for GuardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardHandle")
            .field("bound", &self.slot.get().is_some())
            .finish()
    }
}
