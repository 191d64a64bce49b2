//! The guard's own metrics. On the Prometheus path they are rendered from
//! the guard's tables at every render (`exposition.rs`), so they can't
//! drift from what renders; over another recorder they are published through
//! that recorder, never re-entering the guard. Their cardinality is bounded
//! by `global.max_metrics`, and their names are reserved: user metrics named
//! `cardinality_guard_*` are refused, so the self-report can't be spoofed,
//! and so are the names under which the self-report counts refused and
//! untracked names ([`INVALID_METRIC`], [`UNTRACKED_METRIC`]): no user name
//! renders a second line of theirs.

use std::sync::OnceLock;

use metrics::{Counter, Gauge, Key, Label};

pub use crate::problem::PROBLEMS;
use crate::problem::{Problem, PROBLEM_LABEL};
use crate::store::Store;
use crate::vocabulary::{MetricKind, OverflowReason};
pub use crate::vocabulary::{INVALID_METRIC, OVERFLOW_LABEL, RESERVED_PREFIX, UNTRACKED_METRIC};

/// The outcome of the last (re)load of the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReloadStatus {
    /// Whether the last reload succeeded (true after the first load).
    pub(crate) successful: bool,
    /// When the running config was loaded: Unix seconds.
    pub(crate) success_timestamp: f64,
}

impl ReloadStatus {
    /// A config loaded now.
    pub(crate) fn loaded_now() -> ReloadStatus {
        ReloadStatus {
            successful: true,
            success_timestamp: unix_seconds(),
        }
    }
}

/// The wall time in Unix seconds (ms precision).
pub(crate) fn unix_seconds() -> f64 {
    crate::report::unix_ms_now() as f64 / 1000.0
}

/// `cardinality_guard_series{metric}`: exported series the metric holds now.
pub const SERIES: &str = "cardinality_guard_series";
/// `cardinality_guard_series_limit{metric}`: the metric's budget in series.
pub const SERIES_LIMIT: &str = "cardinality_guard_series_limit";
/// `cardinality_guard_overflow_total{metric, reason}`: registrations folded or dropped.
pub const OVERFLOW_TOTAL: &str = "cardinality_guard_overflow_total";
/// `cardinality_guard_admitted_total{metric}`: label sets admitted
/// (re-admissions after expiry included): the growth rate.
pub const ADMITTED_TOTAL: &str = "cardinality_guard_admitted_total";
/// `cardinality_guard_evicted_total{metric, reason}`: stored series evicted
/// (reason `idle`, `reload`, `outranked` or `rank`); on the Prometheus path,
/// where the guard stores its series.
pub const EVICTED_TOTAL: &str = "cardinality_guard_evicted_total";
/// `cardinality_guard_global_series`: all guarded series.
pub const GLOBAL_SERIES: &str = "cardinality_guard_global_series";
/// `cardinality_guard_global_series_limit`: `global.max_series`.
pub const GLOBAL_SERIES_LIMIT: &str = "cardinality_guard_global_series_limit";
/// `cardinality_guard_metrics`: distinct metric names tracked.
pub const METRICS: &str = "cardinality_guard_metrics";
/// `cardinality_guard_config_last_reload_successful`: 1 if the last
/// (re)load of the config succeeded, else 0 (Prometheus' own convention).
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "cardinality_guard_config_last_reload_successful";
/// `cardinality_guard_config_last_reload_success_timestamp_seconds`: when
/// the running config was loaded (Unix time, seconds).
pub const CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP: &str =
    "cardinality_guard_config_last_reload_success_timestamp_seconds";

/// `cardinality_guard_config_unmatched_rules`: `[[metrics]]` rules of the
/// running config that decided no tracked metric's policy so far (a typo
/// shows here); always rendered, 0 when every rule matched. The report
/// lists them ([`Report::unmatched_rules`](crate::Report::unmatched_rules)).
pub const CONFIG_UNMATCHED_RULES: &str = "cardinality_guard_config_unmatched_rules";

/// Every self-report gauge, with its `# HELP` text.
pub(crate) const GAUGES: [(&str, &str); 11] = [
    (
        SERIES,
        "Exported series the metric holds now, its overflow series included.",
    ),
    (
        SERIES_LIMIT,
        "The metric's cardinality budget, in exported series.",
    ),
    (
        GLOBAL_SERIES,
        "Exported series of all guarded metrics together.",
    ),
    (
        GLOBAL_SERIES_LIMIT,
        "The global cardinality budget, in exported series.",
    ),
    (METRICS, "Distinct metrics the cardinality guard tracks."),
    (
        LABEL_VALUES,
        "Estimated distinct values seen per label of a metric (demand, folded values included).",
    ),
    (
        LABEL_LIMIT,
        "The running label limit of a label of a metric (distinct values admitted, the rest fold into __overflow__).",
    ),
    (
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        "Whether the last reload of the cardinality guard's config succeeded (1) or not (0).",
    ),
    (
        CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
        "When the cardinality guard's running config was loaded, in Unix seconds.",
    ),
    (
        CONFIG_UNMATCHED_RULES,
        "[[metrics]] rules of the running config that matched no metric so far (see the report).",
    ),
    (
        PROBLEMS,
        "Misconfigurations seen at run time, by problem: times reported (see the report's notes).",
    ),
];

/// Every self-report counter, with its `# HELP` text.
pub(crate) const COUNTERS: [(&str, &str); 3] = [
    (
        OVERFLOW_TOTAL,
        "Registrations the cardinality guard folded into the overflow series or dropped, by reason.",
    ),
    (
        ADMITTED_TOTAL,
        "Label sets the cardinality guard admitted (new series, re-admissions after expiry included).",
    ),
    (
        EVICTED_TOTAL,
        "Stored series the cardinality guard evicted (their series ended), by reason.",
    ),
];

/// Gives every self-report metric its `# HELP` text.
fn describe(store: &dyn Store) {
    for (name, help) in GAUGES {
        store.describe(MetricKind::Gauge, name, help);
    }
    for (name, help) in COUNTERS {
        store.describe(MetricKind::Counter, name, help);
    }
}

fn gauge(store: &dyn Store, name: &'static str, labels: Vec<Label>) -> Gauge {
    store.gauge(&Key::from_parts(name, labels))
}

fn gauge_set(store: &dyn Store, name: &'static str, labels: Vec<Label>, value: f64) -> Gauge {
    let gauge = gauge(store, name, labels);
    gauge.set(value);
    gauge
}

fn overflow_counter(store: &dyn Store, metric: &str, reason: OverflowReason) -> Counter {
    let labels = vec![
        Label::new("metric", metric.to_owned()),
        Label::new("reason", reason.as_str()),
    ];
    store.counter(&Key::from_parts(OVERFLOW_TOTAL, labels))
}

/// The self-report handles of one metric (no-ops where the guard renders
/// its self-report itself).
pub(crate) struct MetricGauges {
    series: Gauge,
    /// Set at registration and at every reload.
    limit: Gauge,
    admitted: Counter,
    overflow: [OnceLock<Counter>; OverflowReason::COUNT],
}

impl MetricGauges {
    pub(crate) fn register(store: &dyn Store, metric: &str, limit: u64) -> Self {
        let label = || vec![Label::new("metric", metric.to_owned())];
        MetricGauges {
            limit: gauge_set(store, SERIES_LIMIT, label(), limit as f64),
            // Registration alone renders it (as 0); series only move by
            // `increment`, applied atomically, so concurrent admissions
            // cannot publish a stale value.
            series: gauge(store, SERIES, label()),
            admitted: store.counter(&Key::from_parts(ADMITTED_TOTAL, label())),
            overflow: Default::default(),
        }
    }

    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.set(limit as f64);
    }

    pub(crate) fn add_series(&self, cost: u64, admitted: bool) {
        self.series.increment(cost as f64);
        if admitted {
            self.admitted.increment(1);
        }
    }

    pub(crate) fn count_overflow(&self, store: &dyn Store, metric: &str, reason: OverflowReason) {
        self.overflow[reason as usize]
            .get_or_init(|| overflow_counter(store, metric, reason))
            .increment(1);
    }
}

/// The self-report handles of the whole guard (no-ops where the guard
/// renders its self-report itself).
pub(crate) struct GlobalGauges {
    series: Gauge,
    limit: Gauge,
    metrics: Gauge,
    reload_successful: Gauge,
    reload_timestamp: Gauge,
    untracked: OnceLock<Counter>,
    invalid: OnceLock<Counter>,
    unmatched_rules: Gauge,
    problems: [Gauge; Problem::COUNT],
}

impl GlobalGauges {
    pub(crate) fn register(store: &dyn Store, series_limit: u64, loaded_at: f64) -> Self {
        describe(store);
        GlobalGauges {
            limit: gauge_set(store, GLOBAL_SERIES_LIMIT, vec![], series_limit as f64),
            series: gauge(store, GLOBAL_SERIES, vec![]),
            metrics: gauge(store, METRICS, vec![]),
            reload_successful: gauge_set(store, CONFIG_LAST_RELOAD_SUCCESSFUL, vec![], 1.0),
            reload_timestamp: gauge_set(
                store,
                CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
                vec![],
                loaded_at,
            ),
            untracked: OnceLock::new(),
            invalid: OnceLock::new(),
            unmatched_rules: gauge(store, CONFIG_UNMATCHED_RULES, vec![]),
            problems: Problem::ALL
                .map(|p| gauge(store, PROBLEMS, vec![Label::new(PROBLEM_LABEL, p.as_str())])),
        }
    }

    pub(crate) fn set_unmatched_rules(&self, rules: usize) {
        self.unmatched_rules.set(rules as f64);
    }

    pub(crate) fn count_problem(&self, problem: Problem) {
        self.problems[problem as usize].increment(1.0);
    }

    pub(crate) fn add_series(&self, cost: u64) {
        self.series.increment(cost as f64);
    }

    /// Publishes the outcome of a reload (and the new limit if it succeeded).
    pub(crate) fn reloaded(&self, status: &ReloadStatus) {
        self.reload_successful
            .set(if status.successful { 1.0 } else { 0.0 });
        self.reload_timestamp.set(status.success_timestamp);
    }

    pub(crate) fn set_limit(&self, series_limit: u64) {
        self.limit.set(series_limit as f64);
    }

    pub(crate) fn add_metric(&self) {
        self.metrics.increment(1.0);
    }

    pub(crate) fn count_untracked(&self, store: &dyn Store) {
        self.untracked
            .get_or_init(|| overflow_counter(store, UNTRACKED_METRIC, OverflowReason::MaxMetrics))
            .increment(1);
    }

    pub(crate) fn count_invalid(&self, store: &dyn Store) {
        self.invalid
            .get_or_init(|| overflow_counter(store, INVALID_METRIC, OverflowReason::Invalid))
            .increment(1);
    }
}

/// `cardinality_guard_label_values{metric, label}`: the estimated distinct
/// values seen of a label (the demand, kept while folding).
pub const LABEL_VALUES: &str = "cardinality_guard_label_values";

/// `cardinality_guard_label_limit{metric, label}`: the running
/// `label_limits` entry of a label of a metric, one line per label that has
/// one, so that `cardinality-guard audit` reads the limits a service runs
/// under from its scrape. On the Prometheus path (where the guard renders
/// its self-report).
pub const LABEL_LIMIT: &str = "cardinality_guard_label_limit";

pub(crate) fn label_values_gauge(store: &dyn Store, metric: &str, label: &str) -> Gauge {
    let labels = vec![
        Label::new("metric", metric.to_owned()),
        Label::new("label", label.to_owned()),
    ];
    store.gauge(&Key::from_parts(LABEL_VALUES, labels))
}
