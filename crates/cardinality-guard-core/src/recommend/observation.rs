//! What the suggestion engine reads of one metric: an [`Observation`], made
//! by the guard from its own report ([`MetricReport::observation`]) or by
//! `cardinality-guard audit` from a scrape, so that both give the same
//! advice for the same observations.
//!
//! [`MetricReport::observation`]: crate::MetricReport::observation

use crate::config::{Keep, Mode, OnOverflow};

/// What was observed of one metric, and the settings it ran under: the
/// input of [`Observation::recommend`] and of
/// [`SuggestedConfig::from_observations`](crate::SuggestedConfig::from_observations).
///
/// ```
/// use cardinality_guard_core::{Action, Observation, ObservedLabel};
///
/// // 4,827 user ids over 5,000 increments, against a budget of 500.
/// let logins = Observation::new("logins_total", 500, 1)
///     .label_sets(499)
///     .folded(4_501)
///     .updates(5_000)
///     .label(ObservedLabel::new("user", 4_827));
/// let advice = logins.recommend().unwrap();
/// assert_eq!(advice.action.kind(), "remove_label");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Observation {
    /// The metric name (a counter's `_total` sample name).
    pub name: String,
    /// Its budget in series (`max_series`).
    pub limit: u64,
    /// Exported series one label set costs (1, buckets + 3, quantiles + 2).
    pub series_per_label_set: u64,
    /// Distinct label sets stored (admitted), the overflow series left out.
    pub label_sets: u64,
    /// Registrations folded or dropped for lack of budget (its own, or the
    /// global one).
    pub folded: u64,
    /// Its updates so far: the sum of its counters' values (or of its
    /// histograms' and summaries' counts) over every series it exports,
    /// the overflow series included; `None` for a gauge, or when unknown.
    pub updates: Option<u64>,
    /// Its overflow policy.
    pub on_overflow: OnOverflow,
    /// Enforce or shadow.
    pub mode: Mode,
    /// What its budget keeps.
    pub keep: Keep,
    /// The share (0 to 1) of its traffic that its admitted series carry
    /// rather than the overflow series, if measured.
    pub admitted_share: Option<f64>,
    /// Its labels (any order).
    pub labels: Vec<ObservedLabel>,
}

/// What was observed of one label of a metric: an entry of
/// [`Observation::labels`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObservedLabel {
    /// The label key.
    pub name: String,
    /// Estimated distinct values seen, folded ones included (`__overflow__`
    /// itself left out): the demand.
    pub demand: u64,
    /// Its pinned values.
    pub pinned: u64,
    /// Its running `label_limits` entry, if any (the guard's report fills
    /// it from the running config; an audit from the self-report's
    /// `cardinality_guard_label_limit`). The suggestion writes it, raised
    /// where the advice needs more values.
    pub limit: Option<u64>,
    /// The updates (as [`Observation::updates`]) carried by the label sets
    /// whose value of this label is `__overflow__`: what its label limit
    /// folds; `None` when unknown.
    pub folded_updates: Option<u64>,
}

impl Observation {
    /// A metric named `name` with a budget of `limit` series, each label
    /// set costing `series_per_label_set`; nothing observed yet, enforced,
    /// folding, keeping the first label sets.
    #[must_use]
    pub fn new(name: impl Into<String>, limit: u64, series_per_label_set: u64) -> Self {
        Observation {
            name: name.into(),
            limit,
            series_per_label_set: series_per_label_set.max(1),
            label_sets: 0,
            folded: 0,
            updates: None,
            on_overflow: OnOverflow::Fold,
            mode: Mode::Enforce,
            keep: Keep::First,
            admitted_share: None,
            labels: Vec::new(),
        }
    }

    /// Distinct label sets stored.
    #[must_use]
    pub fn label_sets(mut self, label_sets: u64) -> Self {
        self.label_sets = label_sets;
        self
    }

    /// Registrations folded or dropped for lack of budget.
    #[must_use]
    pub fn folded(mut self, folded: u64) -> Self {
        self.folded = folded;
        self
    }

    /// Its updates so far (counter values, histogram counts).
    #[must_use]
    pub fn updates(mut self, updates: u64) -> Self {
        self.updates = Some(updates);
        self
    }

    /// Its overflow policy.
    #[must_use]
    pub fn on_overflow(mut self, on_overflow: OnOverflow) -> Self {
        self.on_overflow = on_overflow;
        self
    }

    /// Enforce or shadow.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// What its budget keeps.
    #[must_use]
    pub fn keep(mut self, keep: Keep) -> Self {
        self.keep = keep;
        self
    }

    /// The share of its traffic its admitted series carry.
    #[must_use]
    pub fn admitted_share(mut self, share: f64) -> Self {
        self.admitted_share = Some(share);
        self
    }

    /// One of its labels.
    #[must_use]
    pub fn label(mut self, label: ObservedLabel) -> Self {
        self.labels.push(label);
        self
    }
}

impl ObservedLabel {
    /// A label named `name` with `demand` distinct values seen.
    #[must_use]
    pub fn new(name: impl Into<String>, demand: u64) -> Self {
        ObservedLabel {
            name: name.into(),
            demand,
            pinned: 0,
            limit: None,
            folded_updates: None,
        }
    }

    /// Its pinned values.
    #[must_use]
    pub fn pinned(mut self, pinned: u64) -> Self {
        self.pinned = pinned;
        self
    }

    /// Its running label limit.
    #[must_use]
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The updates carried by its `__overflow__` label sets.
    #[must_use]
    pub fn folded_updates(mut self, updates: u64) -> Self {
        self.folded_updates = Some(updates);
        self
    }
}
