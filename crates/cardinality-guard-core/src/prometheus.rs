//! One call from a config to a guarded Prometheus exporter.

use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_exporter_prometheus::{
    BuildError, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use metrics_util::layers::Layer;

use crate::config::Config;
use crate::guard::{Guard, GuardHandle, GuardLayer};
use crate::report::Report;

/// A `PrometheusBuilder` that renders histograms exactly as `config` says
/// (`[histograms]`), so the guard's series counts match the render.
///
/// Add your own settings (global labels, quantiles are not supported: keep
/// the default seven) before `build_recorder()`.
pub fn prometheus_builder(config: &Config) -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new();
    if let Some(buckets) = &config.histograms.buckets {
        builder = builder.set_buckets(buckets.bounds())?;
    }
    for (pattern, buckets) in &config.histograms.per_metric {
        builder = builder.set_buckets_for_metric(pattern.to_matcher(), buckets.bounds())?;
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
        }
    }

    /// The Prometheus text exposition of every series, the guard's
    /// self-report included.
    pub fn render(&self) -> String {
        self.prometheus.render()
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
}

impl PrometheusGuardBuilder {
    /// How often a background thread drains histogram samples
    /// (`PrometheusHandle::run_upkeep`); without it they pile up between
    /// scrapes. `None`: you call `run_upkeep` yourself. Default: 5 s.
    pub fn upkeep_interval(mut self, interval: Option<Duration>) -> Self {
        self.upkeep_interval = interval;
        self
    }

    /// Builds the exporter and the guard around it without installing
    /// anything, e.g. to push more layers on top:
    /// `Stack::new(guard).push(other_layer).install()`.
    pub fn build(self) -> Result<(Guard<PrometheusRecorder>, PrometheusGuard), InstallError> {
        let recorder = prometheus_builder(&self.config)?.build_recorder();
        let prometheus = recorder.handle();
        let guard = GuardLayer::new(self.config).layer(recorder);
        let handle = guard.handle();
        let upkeep = self
            .upkeep_interval
            .map(|every| Arc::new(Upkeep::start(prometheus.clone(), every)));
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
    fn start(handle: PrometheusHandle, every: Duration) -> Upkeep {
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("cardinality-guard-upkeep".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    handle.run_upkeep();
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
