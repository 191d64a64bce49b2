//! The recorder layer: [`GuardLayer`] wraps any [`Recorder`] in a [`Guard`],
//! and [`GuardHandle`] reads a guard's state.

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::layers::Layer;

use crate::clock::Clock;
use crate::config::Config;
use crate::registry::ReloadError;
use crate::registry::{MatchedRules, Registry};
use crate::report::{GlobalReport, Report};
use crate::shape::HistogramShapes;
use crate::store::InnerStore;
use crate::vocabulary::MetricKind;

/// A [`metrics_util::layers::Layer`] that puts a cardinality budget around
/// any recorder: it counts, folds, drops and reports (shadow mode included),
/// and hands the inner recorder only what it admits.
///
/// On the Prometheus path prefer [`PrometheusGuard`](crate::PrometheusGuard):
/// it stores and renders the series itself, which also gives idle expiry
/// and an exposition that is valid whatever the input. Over another
/// recorder nothing expires (`idle_timeout` is ignored), and the inner
/// recorder renders what it is given.
///
/// Push it innermost, right around the recorder, so it sees every key
/// exactly as the recorder will:
///
/// ```
/// use cardinality_guard_core::{Config, GuardLayer};
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
/// `[histograms]` section, which must be what the recorder renders: use
/// [`prometheus_builder`](crate::prometheus_builder) to build the exporter
/// from the same config. Over any other recorder, say the shapes explicitly
/// with [`GuardLayer::with_histogram_shapes`].
#[derive(Clone)]
#[must_use = "a layer does nothing until it wraps a recorder (`Stack::push`, `Layer::layer`)"]
pub struct GuardLayer {
    config: Config,
    shapes: HistogramShapes,
    slot: Arc<OnceLock<Arc<Registry>>>,
}

impl GuardLayer {
    /// A layer enforcing `config`.
    pub fn new(config: Config) -> Self {
        GuardLayer {
            shapes: HistogramShapes::from_config(&config.histograms),
            config,
            slot: Arc::default(),
        }
    }

    /// Tells the guard how the inner recorder renders histograms, replacing
    /// what the config's `[histograms]` section says.
    pub fn with_histogram_shapes(mut self, shapes: HistogramShapes) -> Self {
        self.shapes = shapes;
        self
    }

    /// A handle on the state of the first guard this layer builds (through
    /// [`Layer::layer`]), e.g. for [`GuardHandle::report`]. Clones of the layer
    /// share it.
    #[must_use]
    pub fn handle(&self) -> GuardHandle {
        GuardHandle {
            slot: self.slot.clone(),
            fallback: Arc::new(self.config.clone()),
        }
    }
}

impl std::fmt::Debug for GuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardLayer")
            .field("shapes", &self.shapes)
            .field("built", &self.slot.get().is_some())
            .finish_non_exhaustive()
    }
}

impl<R: Recorder + Send + Sync + 'static> Layer<R> for GuardLayer {
    type Output = Guard<R>;

    fn layer(&self, inner: R) -> Guard<R> {
        let inner = Arc::new(inner);
        let registry = Arc::new(Registry::new(
            self.config.clone(),
            self.shapes.clone(),
            Clock::system(),
            Box::new(InnerStore(inner.clone())),
        ));
        let _first_guard_wins = self.slot.set(registry.clone());
        Guard { inner, registry }
    }
}

/// A recorder that enforces cardinality budgets before handing registrations
/// to its inner recorder. Built by [`GuardLayer`].
///
/// ```
/// use cardinality_guard_core::{prometheus_builder, Config, GuardLayer};
/// use metrics_util::layers::Layer;
///
/// let config = Config::default();
/// let exporter = prometheus_builder(&config)?.build_recorder();
/// let guard = GuardLayer::new(config).layer(exporter);
/// metrics::with_local_recorder(&guard, || metrics::counter!("jobs_total").increment(1));
/// assert_eq!(guard.report().metric("jobs_total").unwrap().series, 1);
/// assert!(guard.inner().handle().render().contains("jobs_total 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Guard<R> {
    inner: Arc<R>,
    registry: Arc<Registry>,
}

impl<R: std::fmt::Debug> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<R> Guard<R> {
    /// A handle on this guard's state.
    #[must_use]
    pub fn handle(&self) -> GuardHandle {
        GuardHandle::bound(self.registry.clone())
    }

    /// A snapshot of the guard's state.
    #[must_use]
    pub fn report(&self) -> Report {
        self.registry.report()
    }

    /// The wrapped recorder.
    #[must_use]
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// `description` as the guard keeps it (shortened to
    /// `max_description_length`), for the wrapped recorder; `None` when the
    /// name is refused or beyond the descriptions' room.
    fn kept(&self, name: &KeyName, description: SharedString) -> Option<SharedString> {
        let kept = self.registry.describe(name, &description)?.len();
        Some(match kept == description.len() {
            true => description,
            false => SharedString::from(description[..kept].to_owned()),
        })
    }
}

impl<R: Recorder> Recorder for Guard<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(description) = self.kept(&key, description) {
            self.inner.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(description) = self.kept(&key, description) {
            self.inner.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(description) = self.kept(&key, description) {
            self.inner.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry.counter(key)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry.gauge(key)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.registry.histogram(key)
    }
}

/// A cheap, cloneable handle on a guard's state: its report and, where the
/// user opted in, its label sets. From [`GuardLayer::handle`],
/// [`Guard::handle`] or [`PrometheusGuard::guard`](crate::PrometheusGuard::guard).
///
/// ```
/// use cardinality_guard_core::{Config, MetricKind, PrometheusGuard};
///
/// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
/// let handle = exporter.guard().clone(); // e.g. for a report endpoint
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("logins_total", "user" => "ada").increment(1);
/// });
/// assert_eq!(handle.report().global.series, 1);
/// let sets = handle.label_sets(MetricKind::Counter, "logins_total", 10);
/// assert_eq!(sets, vec![vec![("user".to_owned(), "ada".to_owned())]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct GuardHandle {
    slot: Arc<OnceLock<Arc<Registry>>>,
    fallback: Arc<Config>,
}

impl GuardHandle {
    pub(crate) fn bound(registry: Arc<Registry>) -> GuardHandle {
        GuardHandle {
            fallback: registry.config(),
            slot: Arc::new(OnceLock::from(registry)),
        }
    }

    /// A snapshot of the guard's state: global figures and one entry per
    /// metric, sorted by series. Before the layer has built its guard, an
    /// empty report with the configured limits.
    #[must_use]
    pub fn report(&self) -> Report {
        match self.slot.get() {
            Some(registry) => registry.report(),
            None => {
                let limits = self.fallback.global;
                Report {
                    generated_at_unix_ms: crate::report::unix_ms_now(),
                    global: GlobalReport {
                        series: 0,
                        series_limit: limits.max_series.get(),
                        utilization: 0.0,
                        metrics: 0,
                        max_metrics: limits.max_metrics.get(),
                        untracked_registrations: 0,
                        invalid_registrations: 0,
                        tracked_label_sets: 0,
                        alias_bytes: 0,
                    },
                    metrics: Vec::new(),
                    unmatched_rules: MatchedRules::new(&self.fallback, [])
                        .unmatched(&self.fallback),
                    notes: self.fallback.notes().to_vec(),
                }
            }
        }
    }

    /// Label sets the guard keeps in memory (overflow series included). Only
    /// admitted label sets are kept, so in enforce mode this is bounded by
    /// the budgets, whatever the traffic.
    #[must_use]
    pub fn tracked_label_sets(&self) -> usize {
        self.slot.get().map_or(0, |r| r.tracked_label_sets())
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
            .map_or_else(Vec::new, |r| r.label_sets(kind, name, max))
    }

    /// A complete `guard.toml` suggested from what the guard observed
    /// ([`Report::suggested_config`] of [`report`](GuardHandle::report) and
    /// [`config`](GuardHandle::config)): deploy in shadow mode, then apply it.
    #[must_use]
    pub fn suggested_config(&self) -> String {
        self.report().suggested_config(&self.config())
    }

    /// The configuration the guard enforces now (the last one reloaded).
    #[must_use]
    pub fn config(&self) -> Arc<Config> {
        match self.slot.get() {
            Some(registry) => registry.config(),
            None => self.fallback.clone(),
        }
    }

    /// Puts `config` in force without a restart: budgets, label limits,
    /// pinned values, modes, overflow policies, `keep`, idle timeouts and
    /// global limits. All of it or, on an error, none of it.
    ///
    /// - A raised budget reopens its metric at once.
    /// - A lowered one folds new label sets at once, and the next upkeep
    ///   evicts the series beyond it, keeping the ones
    ///   [`keep`](crate::Keep) prefers (on the Prometheus path; a series
    ///   with an update no render has shown yet ends at the next render,
    ///   which shows it). A lowered `global.max_series`
    ///   evicts nothing: no metric admits until the guard is under it.
    /// - A new or tighter label limit keeps the values of the series `keep`
    ///   prefers; the series holding other values are evicted the same way,
    ///   and those values fold to `__overflow__` in that label.
    /// - Registrations racing the reload are decided wholly under the old
    ///   config or wholly under the new: budgets stay exact.
    /// - Handles user code keeps go on updating the series they were given
    ///   (an overflow series included) until they are registered again; a
    ///   handle of an evicted series folds its updates until a render has
    ///   shown the series absent, then sends them where a registration of
    ///   its label set goes.
    ///
    /// Over another recorder nothing is evicted: what is admitted stays.
    ///
    /// The self-report publishes the outcome:
    /// `cardinality_guard_config_last_reload_successful` (1 or 0) and
    /// `cardinality_guard_config_last_reload_success_timestamp_seconds`.
    ///
    /// ```
    /// use cardinality_guard_core::{Config, PrometheusGuard};
    ///
    /// let tight = Config::from_toml("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 3\n", "guard.toml")?;
    /// let (recorder, exporter) = PrometheusGuard::builder(tight).build()?;
    /// let login = |user: u32| metrics::with_local_recorder(&recorder, || {
    ///     metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
    /// });
    /// (0..5).for_each(login);
    /// assert_eq!(exporter.report().metric("logins_total").unwrap().label_sets, 2); // + overflow
    ///
    /// let roomy = Config::from_toml("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 10\n", "guard.toml")?;
    /// exporter.guard().reload(roomy)?;
    /// (5..8).for_each(login);
    /// assert_eq!(exporter.report().metric("logins_total").unwrap().label_sets, 5);
    /// assert!(exporter.render().contains("cardinality_guard_config_last_reload_successful 1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// A [`ReloadError`] when the config can't apply to this guard (new
    /// histogram buckets for a histogram that has series, new global
    /// labels), or when the layer has not built its guard yet. The running
    /// config then stays, and the self-report's
    /// `cardinality_guard_config_last_reload_successful` turns 0.
    pub fn reload(&self, config: Config) -> Result<(), ReloadError> {
        self.built()?.reload(Ok(config))
    }

    /// Reads the config file at `path` and puts it in force, as
    /// [`reload`](Self::reload) does; e.g. on `SIGHUP`.
    ///
    /// # Errors
    /// [`ReloadError::Config`] when the file can't be read or is invalid
    /// (naming file, line and key), and the errors of
    /// [`reload`](Self::reload). The running config then stays, and the
    /// self-report's `cardinality_guard_config_last_reload_successful`
    /// turns 0.
    pub fn reload_file(&self, path: impl AsRef<std::path::Path>) -> Result<(), ReloadError> {
        self.built()?.reload_file(path.as_ref())
    }

    /// The guard's registry, for a reload; refused, and said at `WARN` as
    /// the registry says its own refusals, while the layer has built none.
    fn built(&self) -> Result<&Registry, ReloadError> {
        self.slot.get().map(|r| &**r).ok_or_else(|| {
            let e = ReloadError::NotBuilt;
            tracing::warn!("cardinality guard: {e}; the running config stays");
            e
        })
    }
}

impl std::fmt::Debug for GuardHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardHandle")
            .field("bound", &self.slot.get().is_some())
            .finish()
    }
}
