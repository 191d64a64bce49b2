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
//! # What the budget keeps, and eviction
//!
//! When more label sets want in than a metric's budget holds, its
//! [`Keep`] (`keep = "first" | "busiest" | "consistent"`, per metric,
//! hot-reloadable) says which ones the budget holds:
//!
//! - [`Keep::First`] (the default): the label sets admitted first keep their
//!   series until they expire (`idle_timeout`) or a reload evicts them.
//! - [`Keep::Busiest`]: at each upkeep, an admitted series that a folded
//!   label set clearly outranks in recent updates (a margin, a minimum
//!   residence, at most a fiftieth of the budget per upkeep) is evicted, and
//!   that label set is admitted at its next registration, starting at zero.
//! - [`Keep::Consistent`]: a label set is admitted when its rank (a hash of
//!   its labels with a fixed seed, independent of label order and of
//!   `[global] labels`) is below a threshold of about *room / demand*;
//!   admitted series ranked clearly above a threshold that fell are evicted.
//!   Replicas that see the same population keep the same label sets.
//!
//! Upkeep ([`PrometheusGuard::run_upkeep`], every 5 s on the upkeep thread)
//! also evicts, after a reload, the stored series the new config would not
//! admit (a lower `max_series`, a new or tighter label limit, another
//! `keep`, shadow turned to enforce), keeping the ones `keep` prefers. A
//! lower `global.max_series` evicts nothing: no metric admits until the
//! guard is under it. Every eviction, whatever its
//! [`EvictionReason`] (`idle`, `reload`, `outranked`, `rank`):
//!
//! - ends the series: it leaves the storage, its budget is given back, its
//!   value is moved nowhere (Prometheus' `rate()` and `increase()` over the
//!   remaining series stay right);
//! - hides no update: every render marks the series it shows as scraped,
//!   and a series whose last update no render has shown yet is retired
//!   instead: the next render shows its last value and ends it (so a busy
//!   series is evicted too, within one upkeep and one render);
//! - is not undone silently: the label set is not admitted again before a
//!   render has shown it absent (its registrations fold meanwhile, counted
//!   as [`OverflowReason::SeriesLimit`]);
//! - loses nothing: a handle user code kept sends its later updates where
//!   the config sends the label set now: the overflow series (or
//!   `__overflow__` in a label whose limit refuses the value) until a render
//!   has shown the series absent, then wherever a registration of the label
//!   set goes (a new series from zero if admitted), never to the evicted
//!   series and its old value;
//! - reopens a budget freed by a tenth, as idle expiry does (under
//!   `consistent`, as soon as one label set fits).
//!
//! Only the Prometheus path ([`PrometheusGuard`]) evicts, as only it
//! expires: over another recorder ([`GuardLayer`]) every metric keeps
//! `first`. The self-report counts evictions in
//! `cardinality_guard_evicted_total{metric, reason}`, and
//! [`MetricReport`] carries `keep`, `evicted` and `admitted_share` (the
//! share of the recent traffic the admitted series carry).
//!
//! # Advice, and nothing silent
//!
//! Each [`MetricReport`] carries a [`Recommendation`] (`raise_max_series`,
//! `limit_label` or `remove_label`; the rules in [`recommend`]), and
//! [`Report::suggested_config`] writes a `guard.toml` that applies them
//! through [`SuggestedConfig::from_observations`], the one engine that
//! `cardinality-guard audit --suggest` uses too. What loads or runs without
//! an error but is likely not meant is in the report, not only in `tracing`
//! events (an app without a subscriber prints none):
//! [`Report::unmatched_rules`] (`[[metrics]]` rules that matched no metric,
//! counted by `cardinality_guard_config_unmatched_rules`) and
//! [`Report::notes`] ([`Config::notes`], then the [`Problem`]s seen at run
//! time, counted by `cardinality_guard_problems{problem}`). A per-metric
//! budget that a file sets above the `[global] max_series` it sets is
//! refused ([`ConfigError`], naming file, line and key). A registration
//! counts once in `cardinality_guard_overflow_total`, under the reason that
//! decided where it ended (see [`OverflowReason::LabelLimit`]).
//!
//! # Samples from outside metrics-rs
//!
//! [`GuardRecorder::ingest`] gives an [`Ingest`]: it registers what another
//! process exposes (what `cardinality-guard proxy` reads) with the guard,
//! through the same admission, budgets, folding, eviction, self-report and
//! render as `metrics` registrations. Its handles take deltas:
//! [`IngestedCounter`] (a float counter), [`IngestedGauge`],
//! [`IngestedHistogram`] (a classic histogram with the upstream's `le`
//! texts, costing bounds + 3 per label set) and [`IngestedSummary`] (the
//! upstream's quantiles, costing quantiles + 2; its overflow series renders
//! only `_sum` and `_count`). A name is one metric of one storage: a
//! registration of another storage is refused as `invalid`; one of other
//! bounds counts in the metric's own (each bucket in the smallest bound at
//! or above it), one of other quantiles adds its sum and count. Under
//! `keep = "busiest"`, [`Ingest::folded_updates`] tells the guard what a
//! folded handle kept by the caller counted. See [`ingest`] for the details.
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
mod flavor;
mod guard;
mod heavy;
mod history;
pub mod ingest;
mod labels;
mod metric;
mod normalize;
pub mod problem;
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
pub use ingest::{Ingest, IngestedCounter, IngestedGauge, IngestedHistogram, IngestedSummary};
pub use normalize::LABEL_OVERFLOW;
pub use problem::Problem;
pub use prometheus::{
    install, prometheus_builder, GuardRecorder, InstallError, PrometheusGuard,
    PrometheusGuardBuilder,
};
pub use recommend::{
    Action, Observation, ObservedLabel, Recommendation, SuggestedConfig, SuggestedGlobal,
    SuggestedHistograms, SuggestedPolicy,
};
pub use registry::ReloadError;
pub use report::{GlobalReport, LabelReport, MetricReport, Report};
pub use shape::{HistogramShape, HistogramShapes, DEFAULT_QUANTILES};
pub use vocabulary::{EvictedCounts, EvictionReason, MetricKind, OverflowCounts, OverflowReason};
