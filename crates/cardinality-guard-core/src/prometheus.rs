//! One call from a config to a guarded Prometheus exporter.

use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_exporter_prometheus::{
    BuildError, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use metrics_util::layers::Layer;
use metrics_util::MetricKindMask;

use crate::clock::Clock;
use crate::config::Config;
use crate::guard::{Guard, GuardHandle, GuardLayer};
use crate::report::Report;

/// A `PrometheusBuilder` that renders histograms exactly as `config` says
/// (`[histograms]`), so the guard's series counts match the render.
///
/// Add your own settings (global labels, quantiles are not supported: keep
/// the default seven) before `build_recorder()`.
///
/// With an `idle_timeout` in the config, the exporter is given its own idle
/// timeout ([`Config::exporter_idle_timeout`]), longer than the guard's:
/// serve the exposition through [`GuardHandle::render`] (or
/// [`PrometheusGuard::render`]), which hides what the guard has expired
/// until the exporter forgets it.
pub fn prometheus_builder(config: &Config) -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new();
    if let Some(buckets) = &config.histograms.buckets {
        builder = builder.set_buckets(buckets.bounds())?;
    }
    for (pattern, buckets) in &config.histograms.per_metric {
        builder = builder.set_buckets_for_metric(pattern.to_matcher(), buckets.bounds())?;
    }
    if let Some(timeout) = config.exporter_idle_timeout() {
        let mut kinds = MetricKindMask::COUNTER | MetricKindMask::GAUGE;
        if config.histograms_expire() {
            kinds = kinds | MetricKindMask::HISTOGRAM;
        }
        builder = builder.idle_timeout(kinds, Some(timeout));
    }
    Ok(builder)
}

/// Why a guarded exporter could not be built or installed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InstallError {
    /// The exporter refused its settings.
    Build(BuildError),
    /// A global recorder is already installed in this process.
    AlreadyInstalled,
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::Build(e) => write!(f, "cannot build the Prometheus exporter: {e}"),
            InstallError::AlreadyInstalled => {
                f.write_str("a global metrics recorder is already installed in this process")
            }
        }
    }
}

impl std::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InstallError::Build(e) => Some(e),
            InstallError::AlreadyInstalled => None,
        }
    }
}

impl From<BuildError> for InstallError {
    fn from(e: BuildError) -> Self {
        InstallError::Build(e)
    }
}

/// The Prometheus exporter and the guard around it, built from one config:
/// render the exposition text and read the guard's report from here.
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
pub struct PrometheusGuard {
    prometheus: PrometheusHandle,
    guard: GuardHandle,
    _upkeep: Option<Arc<Upkeep>>,
}

impl PrometheusGuard {
    /// Starts building from `config`.
    pub fn builder(config: Config) -> PrometheusGuardBuilder {
        PrometheusGuardBuilder {
            config,
            upkeep_interval: Some(Duration::from_secs(5)),
            clock: Clock::system(),
        }
    }

    /// The Prometheus text exposition of every series, the guard's
    /// self-report included. With idle timeouts, it sweeps first and leaves
    /// out expired series (see [`GuardHandle::render`]).
    pub fn render(&self) -> String {
        self.guard.render(&self.prometheus)
    }

    /// The exporter's upkeep and the guard's sweep, as the background
    /// thread runs them; for when [`PrometheusGuardBuilder::upkeep_interval`]
    /// is `None`.
    pub fn run_upkeep(&self) {
        self.guard.run_upkeep(&self.prometheus);
    }

    /// A snapshot of the guard's state.
    pub fn report(&self) -> Report {
        self.guard.report()
    }

    /// The guard's handle.
    pub fn guard(&self) -> &GuardHandle {
        &self.guard
    }

    /// The exporter's handle.
    pub fn prometheus(&self) -> &PrometheusHandle {
        &self.prometheus
    }
}

/// Settings of a [`PrometheusGuard`] beyond the config.
pub struct PrometheusGuardBuilder {
    config: Config,
    upkeep_interval: Option<Duration>,
    clock: Clock,
}

impl PrometheusGuardBuilder {
    /// How often a background thread drains histogram samples
    /// (`PrometheusHandle::run_upkeep`); without it they pile up between
    /// scrapes. With idle timeouts, the thread also sweeps, at least every
    /// [`Config::sweep_interval`]. `None`: you call
    /// [`PrometheusGuard::run_upkeep`] yourself. Default: 5 s.
    pub fn upkeep_interval(mut self, interval: Option<Duration>) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// The clock idle timeouts are measured by (e.g. a [`ManualClock`](crate::ManualClock)
    /// in tests). Default: the system's.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the exporter and the guard around it without installing
    /// anything, e.g. to push more layers on top:
    /// `Stack::new(guard).push(other_layer).install()`.
    pub fn build(self) -> Result<(Guard<PrometheusRecorder>, PrometheusGuard), InstallError> {
        let recorder = prometheus_builder(&self.config)?.build_recorder();
        let prometheus = recorder.handle();
        let sweep = self.config.sweep_interval();
        let guard = GuardLayer::new(self.config)
            .with_clock(self.clock)
            .layer(recorder);
        let handle = guard.handle();
        let upkeep = self.upkeep_interval.map(|every| {
            let every = sweep.map_or(every, |sweep| every.min(sweep));
            Arc::new(Upkeep::start(prometheus.clone(), handle.clone(), every))
        });
        Ok((
            guard,
            PrometheusGuard {
                prometheus,
                guard: handle,
                _upkeep: upkeep,
            },
        ))
    }

    /// Builds and installs the guarded exporter as the global recorder.
    pub fn install(self) -> Result<PrometheusGuard, InstallError> {
        let (recorder, exporter) = self.build()?;
        metrics::set_global_recorder(recorder).map_err(|_| InstallError::AlreadyInstalled)?;
        Ok(exporter)
    }
}

/// Builds the guarded exporter from `config` and installs it globally.
pub fn install(config: Config) -> Result<PrometheusGuard, InstallError> {
    PrometheusGuard::builder(config).install()
}

/// A background thread that runs the exporter's upkeep until dropped.
struct Upkeep {
    stop: Mutex<Option<Sender<()>>>,
}

impl Upkeep {
    fn start(prometheus: PrometheusHandle, guard: GuardHandle, every: Duration) -> Upkeep {
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("cardinality-guard-upkeep".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    guard.run_upkeep(&prometheus);
                }
            });
        // Without a thread, samples are still drained at every render.
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
