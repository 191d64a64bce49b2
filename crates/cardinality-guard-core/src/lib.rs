//! The cardinality-guard recorder layer for [`metrics`]: per-metric and global
//! budgets counted in exported series, folding (or dropping) what exceeds
//! them with totals conserved, and a self-report of it all.
//!
//! ```
//! use cardinality_guard_core::{Config, PrometheusGuard};
//!
//! let config = Config::from_toml(
//!     "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 3\n",
//!     "guard.toml",
//! )?;
//! let (guard, exporter) = PrometheusGuard::builder(config).build()?;
//! metrics::with_local_recorder(&guard, || {
//!     for user in 0..100 {
//!         metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
//!     }
//! });
//! let logins = exporter.report().metric("logins_total").cloned().unwrap();
//! assert_eq!((logins.series, logins.limit), (3, 3)); // 2 users + the overflow series
//! assert!(exporter.render().contains("logins_total{otel_metric_overflow=\"true\"} 98"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`GuardLayer`] to put the guard around a recorder of your own (it is a
//! [`metrics_util::layers::Layer`]), [`Config`] for the TOML schema, and
//! [`Report`] for what the guard tells about itself.
//!
//! # Which guard you hold
//!
//! `metrics` owns the recorder it installs, so each path splits in two: a
//! recorder that `metrics` holds and a handle that you keep.
//!
//! - [`PrometheusGuard`]: the Prometheus path's handle, what **you** keep for
//!   the life of the service: it renders `/metrics`, reports, reloads and
//!   keeps the upkeep thread alive (dropping every clone stops it).
//! - [`GuardRecorder`]: the Prometheus path's recorder, admitting and storing
//!   the series; [`PrometheusGuardBuilder::install`] gives it to `metrics`,
//!   [`PrometheusGuardBuilder::build`] to you (to install it yourself or
//!   push layers on it).
//! - [`GuardLayer`]: the guard as a layer, for a recorder of your own; it
//!   becomes a [`Guard<R>`](Guard), the recorder `metrics` then holds.
//! - [`GuardHandle`]: a cheap clone of either guard's state (report, reload,
//!   suggested config, label sets), for whatever serves the report: from
//!   [`PrometheusGuard::guard`], [`GuardLayer::handle`] or [`Guard::handle`].
//!
//! [`PrometheusGuard::builder`] returns a [`PrometheusGuardBuilder`], consumed
//! by `build` or `install`.
//!
//! The crates whose types appear in this crate's API are re-exported, so a
//! user names one version of each: [`metrics`] (its macros work as
//! `cardinality_guard_core::metrics::counter!`), [`metrics_util`] (for
//! [`Stack`](metrics_util::layers::Stack) and the [`Layer`](metrics_util::layers::Layer)
//! trait) and the exporter types in [`prometheus_exporter`].

mod bounds;
mod budget;
mod clock;
pub mod config;
mod exposition;
mod guard;
mod heavy;
mod history;
mod labels;
mod metric;
mod normalize;
mod prometheus;
mod rank;
pub mod recommend;
mod registry;
mod report;
pub mod self_report;
mod series;
mod shape;
mod sketch;
mod store;
pub mod text;
mod vocabulary;

pub use metrics;
pub use metrics_util;

/// The types of `metrics-exporter-prometheus` that appear in this crate's
/// API ([`prometheus_builder`], [`Pattern::to_matcher`]), re-exported so
/// that they are the exact version the guard was built with.
///
/// ```
/// use cardinality_guard_core::prometheus_exporter::{PrometheusHandle, PrometheusRecorder};
/// use cardinality_guard_core::{prometheus_builder, Config};
///
/// let recorder: PrometheusRecorder = prometheus_builder(&Config::default())?.build_recorder();
/// let handle: PrometheusHandle = recorder.handle();
/// assert_eq!(handle.render(), "");
/// # Ok::<(), cardinality_guard_core::prometheus_exporter::BuildError>(())
/// ```
pub mod prometheus_exporter {
    pub use metrics_exporter_prometheus::{
        BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
    };
}

pub use clock::{Clock, ManualClock};
pub use config::{
    Buckets, BucketsError, Config, ConfigError, GlobalLimits, HistogramConfig, Keep, MetricPolicy,
    MetricRule, Mode, OnOverflow, Pattern,
};
pub use guard::{Guard, GuardHandle, GuardLayer};
pub use history::{HISTORY_POINTS, HISTORY_STEP};
pub use normalize::LABEL_OVERFLOW;
pub use prometheus::{
    install, prometheus_builder, GuardRecorder, InstallError, PrometheusGuard,
    PrometheusGuardBuilder,
};
pub use recommend::{
    Action, Recommendation, SuggestedConfig, SuggestedGlobal, SuggestedHistograms, SuggestedPolicy,
};
pub use registry::ReloadError;
pub use report::{GlobalReport, LabelReport, MetricReport, Report};
pub use shape::{HistogramShape, HistogramShapes, DEFAULT_QUANTILES};
pub use vocabulary::{EvictedCounts, EvictionReason, MetricKind, OverflowCounts, OverflowReason};
