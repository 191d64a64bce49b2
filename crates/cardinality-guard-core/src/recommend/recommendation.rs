//! What a recommendation says: the change, the budget, the line of advice.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::config::Keep;

/// What to do about one metric: an entry of
/// [`MetricReport::recommendation`](crate::MetricReport::recommendation).
/// Its [`Display`](fmt::Display) (and [`text`](Recommendation::text)) is
/// the one-line advice. The rules that choose it: [the
/// module](crate::recommend).
///
/// ```
/// use cardinality_guard_core::{Action, Config, PrometheusGuard};
///
/// let config = Config::from_toml("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 10\nmode = \"shadow\"\n", "guard.toml")?;
/// let (recorder, exporter) = PrometheusGuard::builder(config).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     for queue in 0..4 {
///         for outcome in ["ok", "retry", "failed"] {
///             metrics::counter!("jobs_total", "queue" => queue.to_string(), "outcome" => outcome).increment(1);
///         }
///     }
/// });
/// let jobs = exporter.report().metric("jobs_total").cloned().unwrap();
/// let advice = jobs.recommendation.unwrap();
/// assert_eq!(advice.action, Action::RaiseMaxSeries);
/// assert_eq!(advice.max_series, 16); // 12 label sets × 1.25, + 1 for the overflow series
/// assert_eq!(advice.to_string(), advice.text);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Recommendation {
    /// What to change (serialized flat: `"kind": "raise_max_series"`, ...).
    #[serde(flatten)]
    pub action: Action,
    /// The `max_series` to configure.
    pub max_series: u64,
    /// The series the metric would hold on the same workload with the
    /// change (an upper estimate; `max_series` adds headroom to it).
    pub expected_series: u64,
    /// The advice in one line.
    pub text: String,
    /// The `keep` to set too, if any: `busiest` when the label sets that
    /// came first carry little of the traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<Keep>,
    /// Every label limit the advice holds the metric to (the suggested
    /// `guard.toml` writes them): the running ones, the one its action sets,
    /// and, in shadow mode, a running one raised where it would fold values
    /// the advice counts on (its text says so). A `max_series` the advice
    /// raises is never more than these let the metric hold (when every
    /// label has one), and they let through the label sets it expects.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub label_limits: BTreeMap<String, u64>,
}

/// The change a [`Recommendation`] advises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Raise `max_series`: the demand is bounded and close to the budget.
    RaiseMaxSeries,
    /// Add `label_limits = { label = limit }`: one label explodes while
    /// the others are small; its values past the limit fold into
    /// `__overflow__`.
    LimitLabel {
        /// The label to limit.
        label: String,
        /// Its demand (estimated distinct values).
        demand: u64,
        /// The limit to give it.
        label_limit: u64,
    },
    /// Remove the label from the code: its demand dwarfs everything. Until
    /// then, `label_limits = { label = limit }` folds it.
    RemoveLabel {
        /// The label to remove.
        label: String,
        /// Its demand (estimated distinct values).
        demand: u64,
        /// The limit that folds it meanwhile.
        label_limit: u64,
    },
}

impl Action {
    /// `raise_max_series`, `limit_label` or `remove_label` (as in the JSON).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Action::RaiseMaxSeries => "raise_max_series",
            Action::LimitLabel { .. } => "limit_label",
            Action::RemoveLabel { .. } => "remove_label",
        }
    }

    /// The label limit it adds, if any: (label, limit).
    #[must_use]
    pub fn label_limit(&self) -> Option<(&str, u64)> {
        match self {
            Action::RaiseMaxSeries => None,
            Action::LimitLabel {
                label, label_limit, ..
            }
            | Action::RemoveLabel {
                label, label_limit, ..
            } => Some((label, *label_limit)),
        }
    }
}

impl fmt::Display for Recommendation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Recommendation {
    /// An advice with no `keep` and no label limits yet.
    pub(crate) fn new(action: Action, max_series: u64, expected_series: u64, text: String) -> Self {
        Recommendation {
            action,
            max_series,
            expected_series,
            text,
            keep: None,
            label_limits: BTreeMap::new(),
        }
    }

    /// A metric whose demand is at most this share of its budget gets no
    /// recommendation: nothing to do. The report page's utilization bar
    /// turns amber above it.
    pub const COMFORTABLE_UTILIZATION: f64 = 0.8;

    /// A label with more than this many distinct values per update of its
    /// metric is an id: on average each of its values was seen fewer than
    /// 1.7 times (0.5, each value seen twice, is a dimension seen twice, so
    /// the threshold leaves room for the error of the demand estimate). An
    /// id gets [`Action::RemoveLabel`] at any multiple of the budget (once
    /// its demand exceeds what the budget comfortably holds). Updates are
    /// counter values, not calls: a counter incremented by more than one at
    /// a time looks less like an id than it is.
    pub const ID_VALUES_PER_UPDATE: f64 = 0.6;

    /// A running label limit whose `__overflow__` label sets carry more
    /// than this share of the metric's updates is the problem, whatever the
    /// budget: most of the traffic lands where no value tells it apart. It
    /// is raised to fit its label's demand ([`Action::LimitLabel`]), or, on
    /// an id, the label is to be removed.
    pub const FOLDING_SHARE: f64 = 0.5;
}

/// `""` for one, else `"s"`: `{n} label set{plural(n)}`.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
