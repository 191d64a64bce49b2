//! Hot reload: a new config for a running guard, applied all at once or
//! not at all.
//!
//! Budgets, label limits, pinned values, modes, overflow policies, idle
//! timeouts, global limits and bounds (name, label key and value lengths,
//! `max_labels`, `max_description_length`, `max_alias_bytes`) change in
//! place; a bound applies to what is registered next (what is stored
//! stays; a lower `max_alias_bytes` forgets the remembered spellings, a
//! cache, at once). Each metric takes its new
//! policy under its table's lock and bumps its generation, so every
//! registration is decided wholly under the old settings or wholly under
//! the new (one that raced the reload decides again).
//!
//! A reload applies at once: a metric whose new settings would not admit
//! all it stores (a lower `max_series`, a new or tighter label limit,
//! pinned values that leave its other values less room, another `keep`,
//! shadow turned to enforce) decides new label sets under them at once,
//! and its next upkeep evicts the stored series it would not admit (reason
//! `reload`),
//! keeping the ones `keep` prefers (`first`: the earliest admitted;
//! `busiest`: the busiest; `consistent`: the lowest ranks). A label that
//! gets a limit keeps the values of the preferred series. As with idle
//! expiry, no update is hidden: a series whose last update no render has
//! shown yet is retired, and the next render shows that update and ends
//! it; an evicted label set comes back only after a render has shown it
//! absent. See the crate docs. A lower
//! `global.max_series` evicts nothing: no metric admits a new label set
//! until the guard is under it. Over another recorder nothing is evicted.
//!
//! Refused, with nothing changed: new `[global] labels` (every series'
//! identity would change), and new buckets (or summary quantiles) for a
//! histogram the guard already stores, whose series would then mix two
//! shapes. Over another recorder, that recorder's buckets are fixed when it
//! is built, so `[histograms]` can't change at all.

use std::fmt;
use std::path::Path;

use super::Registry;
use crate::config::{Config, ConfigError};
use crate::self_report::unix_seconds;
use crate::shape::{HistogramShapes, HistogramStore};
use crate::vocabulary::MetricKind;

/// Why a reload was refused. The running config stays in force, untouched.
///
/// ```
/// use cardinality_guard_core::{Config, PrometheusGuard, ReloadError};
///
/// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("latency_seconds").record(0.2);
/// });
/// let other = Config::from_toml("[histograms]\nbuckets = [0.1, 1.0]\n", "guard.toml")?;
/// let refused = exporter.reload(other).unwrap_err();
/// assert!(matches!(refused, ReloadError::HistogramChanged { ref metric, .. } if metric == "latency_seconds"));
/// assert!(refused.to_string().contains("latency_seconds"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// The config file could not be read or parsed (the error names file,
    /// line and key).
    Config(ConfigError),
    /// The new config gives a histogram the guard already stores other
    /// buckets (or turns it into a summary, or back): its series would mix
    /// two shapes. Restart to change them, or give the histogram a new name.
    HistogramChanged {
        /// The histogram, as it renders.
        metric: String,
        /// How it renders now (`buckets [..]` or `summary`).
        running: String,
        /// How the new config would render it.
        new: String,
    },
    /// Over another recorder, `[histograms]` can't change: that recorder's
    /// buckets were fixed when it was built.
    HistogramsOverAnotherRecorder,
    /// `[global] labels` changed: every series' identity would change.
    /// Restart to change them.
    GlobalLabelsChanged,
    /// The handle's [`GuardLayer`](crate::GuardLayer) has not wrapped a
    /// recorder yet: there is no guard to reload.
    NotBuilt,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Config(e) => write!(f, "config not reloaded: {e}"),
            ReloadError::HistogramChanged {
                metric,
                running,
                new,
            } => write!(
                f,
                "config not reloaded: histogram `{metric}` already has series with {running}; \
                 the new config gives it {new} (restart to change a histogram's buckets)"
            ),
            ReloadError::HistogramsOverAnotherRecorder => f.write_str(
                "config not reloaded: [histograms] changed, but the recorder under the guard \
                 fixed its buckets when it was built (restart to change them)",
            ),
            ReloadError::GlobalLabelsChanged => f.write_str(
                "config not reloaded: [global] labels changed, which would change every \
                 series' identity (restart to change them)",
            ),
            ReloadError::NotBuilt => {
                f.write_str("config not reloaded: the guard layer has not wrapped a recorder yet")
            }
        }
    }
}

impl std::error::Error for ReloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReloadError::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for ReloadError {
    fn from(e: ConfigError) -> Self {
        ReloadError::Config(e)
    }
}

impl Registry {
    /// Applies `config` (see the module docs), and records the outcome for
    /// the self-report.
    pub(crate) fn reload(&self, config: Result<Config, ConfigError>) -> Result<(), ReloadError> {
        // One reload at a time, its outcome recorded before the next starts:
        // the self-report shows the outcome of the reload applied last, and
        // its timestamp never goes back.
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = config
            .map_err(ReloadError::from)
            .and_then(|config| self.apply(config));
        self.record_reload(outcome.is_ok(), unix_seconds());
        if let Err(e) = &outcome {
            tracing::warn!("cardinality guard: {e}; the running config stays");
        }
        outcome
    }

    /// Reads `path` and applies it.
    pub(crate) fn reload_file(&self, path: &Path) -> Result<(), ReloadError> {
        self.reload(Config::from_file(path))
    }

    /// Applies `config` (under the `reloading` lock).
    fn apply(&self, config: Config) -> Result<(), ReloadError> {
        let running = self.settings();
        if config.global_labels != running.config.global_labels {
            return Err(ReloadError::GlobalLabelsChanged);
        }
        let over_another = !self.env.store.owns_series();
        let shapes = if over_another {
            if config.histograms != running.config.histograms {
                return Err(ReloadError::HistogramsOverAnotherRecorder);
            }
            running.shapes.clone()
        } else {
            HistogramShapes::from_config(&config.histograms)
        };
        // No metric is created while the settings change: creation reads
        // them under the same lock.
        let claims = self.lock_claims();
        let metrics = self.all_metrics();
        if !over_another {
            for metric in metrics.iter().filter(|m| m.kind == MetricKind::Histogram) {
                let new = HistogramStore::for_metric(&config.histograms, &metric.name);
                if let Some(store) = &metric.histogram {
                    if !store.same_shape(&new) {
                        return Err(ReloadError::HistogramChanged {
                            metric: metric.name.clone(),
                            running: store.describe(),
                            new: new.describe(),
                        });
                    }
                }
            }
        }
        self.env.global.set_limits(&config.global);
        self.env.bounds.set(&config.global);
        if self.env.bounds.aliases_over() {
            for lookup in &self.env.lookup {
                lookup.forget_spellings(&self.env.bounds);
            }
        }
        self.env.gauges.set_limit(config.global.max_series.get());
        for metric in &metrics {
            let policy = config.policy_for(&metric.name);
            let idle_timeout = policy.idle_timeout.filter(|_| !over_another);
            metric.reconfigure(policy, idle_timeout);
        }
        self.set_settings(config, shapes, &metrics);
        drop(claims);
        Ok(())
    }
}
