//! The Prometheus path: the guard is the recorder and the renderer.

use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder};

use crate::clock::Clock;
use crate::config::Config;
use crate::guard::GuardHandle;
use crate::ingest::Ingest;
use crate::registry::Registry;
use crate::registry::ReloadError;
use crate::report::Report;
use crate::shape::HistogramShapes;
use crate::store::OwnStore;

/// A `PrometheusBuilder` that renders histograms exactly as `config` says
/// (`[histograms]`, `[global] labels`), for a [`GuardLayer`](crate::GuardLayer)
/// around the exporter. Over the exporter nothing expires; prefer
/// [`PrometheusGuard`], which renders the series itself.
///
/// # Errors
/// The exporter refuses a bucket list (never one a [`Config`] holds).
pub fn prometheus_builder(config: &Config) -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new();
    if let Some(buckets) = &config.histograms.buckets {
        builder = builder.set_buckets(buckets.bounds())?;
    }
    for (pattern, buckets) in &config.histograms.per_metric {
        builder = builder.set_buckets_for_metric(pattern.to_matcher(), buckets.bounds())?;
    }
    for (key, value) in &config.global_labels {
        builder = builder.add_global_label(key, value);
    }
    Ok(builder)
}

/// Why a guarded exporter could not be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    /// A global recorder is already installed in this process.
    AlreadyInstalled,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::AlreadyInstalled => {
                f.write_str("a global metrics recorder is already installed in this process")
            }
        }
    }
}

impl std::error::Error for InstallError {}

/// The guard on the Prometheus path, as a handle: it renders the exposition
/// (text format 0.0.4) and reports. [`PrometheusGuard::builder`] gives the
/// recorder ([`GuardRecorder`]) to install with it.
///
/// **Keep it.** Clones share one guard; when the last clone is dropped the
/// background upkeep thread stops, and nothing can render (or expire) the
/// series the installed recorder keeps storing. Hold it for the life of the
/// service, e.g. in your router's state. Dropping it at once is flagged
/// (`#[must_use]`):
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// use cardinality_guard_core::{Config, PrometheusGuard};
/// PrometheusGuard::builder(Config::default()).install().unwrap(); // dropped: upkeep stops
/// ```
///
/// ```
/// let exporter = cardinality_guard_core::PrometheusGuard::builder(
///     cardinality_guard_core::Config::embedded(),
/// )
/// .install()?;
/// metrics::counter!("logins_total", "user" => "ada").increment(1);
/// assert!(exporter.render().contains("logins_total{user=\"ada\"} 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use = "dropping every clone of the PrometheusGuard stops its upkeep thread and loses the render"]
pub struct PrometheusGuard {
    registry: Arc<Registry>,
    guard: GuardHandle,
    _upkeep: Option<Arc<Upkeep>>,
}

impl PrometheusGuard {
    /// Starts building from `config`.
    ///
    /// ```
    /// use cardinality_guard_core::{Config, PrometheusGuard};
    ///
    /// let (recorder, exporter) = PrometheusGuard::builder(Config::default())
    ///     .upkeep_interval(None) // no thread: you call `run_upkeep`
    ///     .build()?;
    /// metrics::with_local_recorder(&recorder, || metrics::gauge!("queue_depth").set(3.0));
    /// assert!(exporter.render().contains("queue_depth 3"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(config: Config) -> PrometheusGuardBuilder {
        PrometheusGuardBuilder {
            config,
            upkeep_interval: Some(Duration::from_secs(5)),
            clock: Clock::system(),
        }
    }

    /// The Prometheus text exposition of every series, the guard's
    /// self-report included: families sorted by name, series sorted by
    /// labels, so two scrapes of an unchanged service are identical. With
    /// idle timeouts, a sweep runs first; a series counts as scraped once
    /// it has been rendered.
    #[must_use]
    pub fn render(&self) -> String {
        self.registry.render()
    }

    /// The upkeep the background thread runs: with idle timeouts, a sweep;
    /// admission decided again (what a reload no longer admits, and what
    /// [`keep`](crate::Keep) would rather hold, is evicted: see the crate
    /// docs); then a sample of each metric's series for
    /// [`MetricReport::history`](crate::MetricReport::history); for when
    /// [`PrometheusGuardBuilder::upkeep_interval`] is `None` (or a test
    /// drives a [`ManualClock`](crate::ManualClock)).
    pub fn run_upkeep(&self) {
        self.registry.upkeep();
    }

    /// A snapshot of the guard's state.
    #[must_use]
    pub fn report(&self) -> Report {
        self.registry.report()
    }

    /// Puts `config` in force without a restart: see [`GuardHandle::reload`].
    ///
    /// # Errors
    /// A [`ReloadError`] when the config can't apply to this guard; the
    /// running config then stays.
    pub fn reload(&self, config: Config) -> Result<(), ReloadError> {
        self.guard.reload(config)
    }

    /// Reads the config file at `path` and puts it in force: see
    /// [`GuardHandle::reload_file`].
    ///
    /// # Errors
    /// [`ReloadError::Config`] for a file that can't be read or is invalid
    /// (naming file, line and key), and the errors of [`reload`](Self::reload).
    pub fn reload_file(&self, path: impl AsRef<std::path::Path>) -> Result<(), ReloadError> {
        self.guard.reload_file(path)
    }

    /// A complete `guard.toml` suggested from what the guard observed
    /// ([`Report::suggested_config`]): deploy in shadow mode, then apply it.
    #[must_use]
    pub fn suggested_config(&self) -> String {
        self.guard.suggested_config()
    }

    /// The guard's handle (reports and label sets, e.g. for the report endpoint).
    #[must_use]
    pub fn guard(&self) -> &GuardHandle {
        &self.guard
    }
}

impl fmt::Debug for PrometheusGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusGuard")
            .field("upkeep_thread", &self._upkeep.is_some())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`PrometheusGuard`] beyond the config, from
/// [`PrometheusGuard::builder`]; finish with [`build`](Self::build) or
/// [`install`](Self::install).
///
/// ```
/// use cardinality_guard_core::{Config, ManualClock, PrometheusGuard};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let (recorder, exporter) = PrometheusGuard::builder(Config::default())
///     .upkeep_interval(Some(Duration::from_secs(1)))
///     .clock(clock.clone().into())
///     .build()?;
/// # let _ = (recorder, exporter);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` or `install`"]
pub struct PrometheusGuardBuilder {
    config: Config,
    upkeep_interval: Option<Duration>,
    clock: Clock,
}

impl PrometheusGuardBuilder {
    /// How often a background thread runs upkeep: with idle timeouts, a
    /// sweep (at least every [`Config::sweep_interval`]), the evictions of
    /// reloads and [`keep`](crate::Keep), and a sample of each metric's
    /// series for the report's history. Histogram samples
    /// need none: they go straight into their distributions. `None`: you
    /// call [`PrometheusGuard::run_upkeep`] yourself (a render sweeps too).
    /// Default: 5 s. The thread stops when the last clone of the
    /// [`PrometheusGuard`] is dropped.
    pub fn upkeep_interval(mut self, interval: Option<Duration>) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// The clock idle timeouts and warnings are measured by (e.g. a
    /// [`ManualClock`](crate::ManualClock) in tests). Default: the system's.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the recorder and its handle without installing anything,
    /// e.g. to push more layers on top:
    /// `Stack::new(recorder).push(other_layer).install()`.
    ///
    /// # Errors
    /// None today: the config was checked when it was built. The `Result`
    /// leaves room for settings that can fail.
    pub fn build(self) -> Result<(GuardRecorder, PrometheusGuard), InstallError> {
        let shapes = HistogramShapes::from_config(&self.config.histograms);
        let registry = Arc::new(Registry::new(
            self.config,
            shapes,
            self.clock,
            Box::new(OwnStore),
        ));
        let upkeep = self
            .upkeep_interval
            .map(|every| Arc::new(Upkeep::start(Arc::downgrade(&registry), every)));
        let handle = PrometheusGuard {
            guard: GuardHandle::bound(registry.clone()),
            registry: registry.clone(),
            _upkeep: upkeep,
        };
        Ok((GuardRecorder { registry }, handle))
    }

    /// Builds and installs the recorder as the global recorder.
    ///
    /// # Errors
    /// [`InstallError::AlreadyInstalled`] when this process has one.
    pub fn install(self) -> Result<PrometheusGuard, InstallError> {
        let (recorder, exporter) = self.build()?;
        metrics::set_global_recorder(recorder).map_err(|_| InstallError::AlreadyInstalled)?;
        Ok(exporter)
    }
}

/// Builds the guarded recorder from `config` and installs it globally:
/// `PrometheusGuard::builder(config).install()`.
///
/// ```
/// let exporter = cardinality_guard_core::install(cardinality_guard_core::Config::default())?;
/// metrics::counter!("jobs_total").increment(2);
/// assert!(exporter.render().contains("jobs_total 2"));
/// # Ok::<(), cardinality_guard_core::InstallError>(())
/// ```
///
/// # Errors
/// [`InstallError::AlreadyInstalled`] when this process has one.
pub fn install(config: Config) -> Result<PrometheusGuard, InstallError> {
    PrometheusGuard::builder(config).install()
}

/// The recorder of the Prometheus path: admits, stores and hands out
/// series; its [`PrometheusGuard`] renders them. Built by
/// [`PrometheusGuardBuilder::build`]; install it with
/// [`metrics::set_global_recorder`], or push layers on top of it.
///
/// ```
/// use cardinality_guard_core::{Config, PrometheusGuard};
/// use metrics_util::layers::{PrefixLayer, Stack};
///
/// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
/// let stack = Stack::new(recorder).push(PrefixLayer::new("shop")); // then `.install()`
/// metrics::with_local_recorder(&stack, || metrics::counter!("orders_total").increment(1));
/// assert!(exporter.render().contains("shop_orders_total 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GuardRecorder {
    registry: Arc<Registry>,
}

impl GuardRecorder {
    /// Registers samples from outside metrics-rs (another process's
    /// exposition, as the proxy reads it) with this guard: the same
    /// admission, budgets, folding, eviction, self-report and render as
    /// the metrics `metrics` registers. Cheap: the [`Ingest`] shares the
    /// guard. See [`ingest`](crate::ingest).
    ///
    /// ```
    /// use cardinality_guard_core::{Config, PrometheusGuard};
    ///
    /// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
    /// recorder.ingest().counter("process_cpu_seconds_total", &[]).add(12.5);
    /// assert!(exporter.render().contains("process_cpu_seconds_total 12.5\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ingest(&self) -> Ingest {
        Ingest::new(self.registry.clone())
    }
}

impl fmt::Debug for GuardRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardRecorder").finish_non_exhaustive()
    }
}

impl Recorder for GuardRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        let _kept = self.registry.describe(&key, &description);
    }

    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        let _kept = self.registry.describe(&key, &description);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        let _kept = self.registry.describe(&key, &description);
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

/// A background thread that runs the guard's upkeep until dropped.
struct Upkeep {
    stop: Mutex<Option<Sender<()>>>,
}

impl Upkeep {
    /// Runs upkeep every `every`, or as often as the idle timeouts in force
    /// need (a reload may shorten them).
    fn start(registry: std::sync::Weak<Registry>, every: Duration) -> Upkeep {
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("cardinality-guard-upkeep".into())
            .spawn(move || loop {
                let next = match registry.upgrade() {
                    Some(registry) => registry.upkeep_interval(every),
                    None => return,
                };
                if !matches!(stopped.recv_timeout(next), Err(RecvTimeoutError::Timeout)) {
                    return; // stopped
                }
                match registry.upgrade() {
                    Some(registry) => registry.upkeep(),
                    None => return,
                }
            });
        // Without a thread, a render still sweeps.
        let stop = spawned.ok().map(|_| stop);
        Upkeep {
            stop: Mutex::new(stop),
        }
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        if let Ok(mut stop) = self.stop.lock() {
            stop.take();
        }
    }
}
