//! The words every part of the guard shares: the kinds of metrics, and the
//! reasons a registration is folded or dropped. The one list of reasons is
//! [`OverflowReason::ALL`]; everything else derives from it.

use serde::Serialize;

/// The guard's namespace: user metrics with such names are refused.
pub const RESERVED_PREFIX: &str = "cardinality_guard_";

/// The `metric` label value under which registrations of metric names beyond
/// `global.max_metrics` are counted (their own names are unbounded). A user
/// metric that renders this name is refused, so it is never counted twice.
pub const UNTRACKED_METRIC: &str = "__untracked__";

/// The `metric` label value under which refused names are counted (reason
/// `invalid`): empty, longer than `global.max_metric_name_length`, reserved
/// (`cardinality_guard_*`, this name and [`UNTRACKED_METRIC`]), or rendered
/// by another kind already.
pub const INVALID_METRIC: &str = "__invalid__";

/// The label that marks a metric's overflow series (the OpenTelemetry marker,
/// written the Prometheus way).
pub const OVERFLOW_LABEL: &str = "otel_metric_overflow";

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MetricKind {
    /// A counter: one series per label set.
    Counter,
    /// A gauge: one series per label set.
    Gauge,
    /// A histogram: buckets + 3 or quantiles + 2 series per label set.
    Histogram,
}

impl MetricKind {
    /// Every kind, in the order of their indices.
    #[cfg(test)]
    pub(crate) const ALL: [MetricKind; 3] = [
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Histogram,
    ];

    /// `"counter"`, `"gauge"` or `"histogram"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// Why a registration was folded or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OverflowReason {
    /// The metric's `max_series` was reached.
    SeriesLimit = 0,
    /// `global.max_series` was reached.
    GlobalLimit = 1,
    /// A label's `label_limits` entry was reached: its value became
    /// `__overflow__`, and the rewritten label set reached a series of its
    /// own (when the budget then folded it, the registration counts under
    /// [`SeriesLimit`](OverflowReason::SeriesLimit) or
    /// [`GlobalLimit`](OverflowReason::GlobalLimit) alone).
    LabelLimit = 2,
    /// `global.max_metrics` names were already tracked.
    MaxMetrics = 3,
    /// A label value was longer than `global.max_label_value_length`: it
    /// became `__overflow__` in that label only.
    ValueTooLong = 4,
    /// The name or a label key can't render: an empty, over-long or
    /// reserved name, a name another kind already renders, a reserved or
    /// over-long label key (removed).
    Invalid = 5,
    /// The label set has more labels than `global.max_labels`: it is
    /// folded (or dropped) whole, as a label set beyond the budget is.
    TooManyLabels = 6,
}

impl OverflowReason {
    /// Every reason, in the order of their indices (`ALL[r as usize] == r`).
    pub const ALL: [OverflowReason; 7] = [
        OverflowReason::SeriesLimit,
        OverflowReason::GlobalLimit,
        OverflowReason::LabelLimit,
        OverflowReason::MaxMetrics,
        OverflowReason::ValueTooLong,
        OverflowReason::Invalid,
        OverflowReason::TooManyLabels,
    ];

    pub(crate) const COUNT: usize = OverflowReason::ALL.len();

    /// The `reason` label value: `series_limit`, `global_limit`, `label_limit`,
    /// `max_metrics`, `value_too_long`, `invalid` or `too_many_labels`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OverflowReason::SeriesLimit => "series_limit",
            OverflowReason::GlobalLimit => "global_limit",
            OverflowReason::LabelLimit => "label_limit",
            OverflowReason::MaxMetrics => "max_metrics",
            OverflowReason::ValueTooLong => "value_too_long",
            OverflowReason::Invalid => "invalid",
            OverflowReason::TooManyLabels => "too_many_labels",
        }
    }

    /// Whether it folds a label set the metric could otherwise have held
    /// (what shadow mode counts again at every registration of it).
    fn folds(self) -> bool {
        matches!(
            self,
            OverflowReason::SeriesLimit | OverflowReason::GlobalLimit | OverflowReason::LabelLimit
        )
    }
}

/// Registrations folded or dropped, by reason. In shadow mode: those that
/// *would* have been.
///
/// A registration counts once among the reasons that fold: one whose label
/// limit rewrote a value (`label_limit`) and whose rewritten label set the
/// series budget then folded into the overflow series counts under
/// `series_limit` (or `global_limit`) only; `label_limit` counts those whose
/// rewritten label set reached a series of its own (`…="__overflow__"`). So
/// `label_limit + series_limit + global_limit + too_many_labels` is the
/// number of registrations that did not reach their own series (in fold
/// mode). `value_too_long` and `invalid` count a label value replaced or a
/// key removed, beside whatever then happened to the label set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OverflowCounts {
    /// Reason `series_limit`.
    pub series_limit: u64,
    /// Reason `global_limit`.
    pub global_limit: u64,
    /// Reason `label_limit`.
    pub label_limit: u64,
    /// Reason `max_metrics`.
    pub max_metrics: u64,
    /// Reason `value_too_long`.
    pub value_too_long: u64,
    /// Reason `invalid`.
    pub invalid: u64,
    /// Reason `too_many_labels`.
    pub too_many_labels: u64,
}

impl OverflowCounts {
    /// All reasons together.
    #[must_use]
    pub fn total(&self) -> u64 {
        OverflowReason::ALL.iter().map(|&r| self.get(r)).sum()
    }

    /// The count of one reason.
    #[must_use]
    pub fn get(&self, reason: OverflowReason) -> u64 {
        let mut copy = *self;
        *copy.slot(reason)
    }

    pub(crate) fn add(&mut self, reason: OverflowReason, n: u64) {
        *self.slot(reason) += n;
    }

    fn slot(&mut self, reason: OverflowReason) -> &mut u64 {
        match reason {
            OverflowReason::SeriesLimit => &mut self.series_limit,
            OverflowReason::GlobalLimit => &mut self.global_limit,
            OverflowReason::LabelLimit => &mut self.label_limit,
            OverflowReason::MaxMetrics => &mut self.max_metrics,
            OverflowReason::ValueTooLong => &mut self.value_too_long,
            OverflowReason::Invalid => &mut self.invalid,
            OverflowReason::TooManyLabels => &mut self.too_many_labels,
        }
    }
}

/// Why a stored series was evicted: its series ends (its value is not moved
/// anywhere), and its label set's later updates go where the config sends
/// them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EvictionReason {
    /// It went without an update for its `idle_timeout`.
    Idle = 0,
    /// A reload (a lower budget, a new or tighter label limit, another
    /// `keep`) would not admit it.
    Reload = 1,
    /// `keep = "busiest"`: a folded label set clearly outranked it.
    Outranked = 2,
    /// `keep = "consistent"`: its rank rose above the threshold as the
    /// metric's demand grew.
    Rank = 3,
}

impl EvictionReason {
    /// Every reason, in the order of their indices.
    pub const ALL: [EvictionReason; 4] = [
        EvictionReason::Idle,
        EvictionReason::Reload,
        EvictionReason::Outranked,
        EvictionReason::Rank,
    ];

    pub(crate) const COUNT: usize = EvictionReason::ALL.len();

    /// The `reason` label value: `idle`, `reload`, `outranked` or `rank`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionReason::Idle => "idle",
            EvictionReason::Reload => "reload",
            EvictionReason::Outranked => "outranked",
            EvictionReason::Rank => "rank",
        }
    }
}

/// Series evicted so far, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EvictedCounts {
    /// Reason `idle` (idle expiry).
    pub idle: u64,
    /// Reason `reload`.
    pub reload: u64,
    /// Reason `outranked` (`keep = "busiest"`).
    pub outranked: u64,
    /// Reason `rank` (`keep = "consistent"`).
    pub rank: u64,
}

impl EvictedCounts {
    /// All reasons together.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.idle + self.reload + self.outranked + self.rank
    }

    /// The count of one reason.
    #[must_use]
    pub fn get(&self, reason: EvictionReason) -> u64 {
        match reason {
            EvictionReason::Idle => self.idle,
            EvictionReason::Reload => self.reload,
            EvictionReason::Outranked => self.outranked,
            EvictionReason::Rank => self.rank,
        }
    }

    pub(crate) fn from_fn(count: impl Fn(EvictionReason) -> u64) -> Self {
        EvictedCounts {
            idle: count(EvictionReason::Idle),
            reload: count(EvictionReason::Reload),
            outranked: count(EvictionReason::Outranked),
            rank: count(EvictionReason::Rank),
        }
    }
}

/// The reasons of one registration, as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reasons(u8);

impl Reasons {
    pub(crate) fn add(&mut self, reason: OverflowReason) {
        self.0 |= 1 << reason as u8;
    }

    pub(crate) fn merge(&mut self, other: Reasons) {
        self.0 |= other.0;
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = OverflowReason> {
        OverflowReason::ALL
            .into_iter()
            .filter(move |&r| self.0 & (1 << r as u8) != 0)
    }

    /// The reasons counted for one registration: a label limit's rewrite
    /// is left out when the series budget (its own or the global one) then
    /// folded the rewritten label set, so the registration counts once,
    /// under the reason that decided where it ended (the overflow series).
    /// `value_too_long` and `invalid`, which report a label rewritten or
    /// removed for what it was, are counted beside whatever folded it.
    pub(crate) fn decided(self) -> Reasons {
        let budget =
            (1 << OverflowReason::SeriesLimit as u8) | (1 << OverflowReason::GlobalLimit as u8);
        if self.0 & budget != 0 {
            Reasons(self.0 & !(1 << OverflowReason::LabelLimit as u8))
        } else {
            self
        }
    }

    /// Only the reasons that fold a label set ([`OverflowReason::folds`]).
    pub(crate) fn folding(self) -> Reasons {
        let mut out = Reasons::default();
        self.iter().filter(|r| r.folds()).for_each(|r| out.add(r));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_list_of_reasons_is_complete_and_in_index_order() {
        for (i, reason) in OverflowReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i);
        }
        let mut counts = OverflowCounts::default();
        for (i, &reason) in OverflowReason::ALL.iter().enumerate() {
            counts.add(reason, 1 << i);
            assert_eq!(counts.get(reason), 1 << i);
        }
        assert_eq!(counts.total(), (1 << OverflowReason::COUNT) - 1);
        for (i, reason) in EvictionReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i);
            let counts = EvictedCounts::from_fn(|r| 1 << r as u64);
            assert_eq!(counts.get(*reason), 1 << i);
        }
        for (i, kind) in MetricKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
        }
    }

    #[test]
    fn reasons_keep_what_is_added_and_fold_only_budget_reasons() {
        let mut reasons = Reasons::default();
        assert!(reasons.is_empty());
        reasons.add(OverflowReason::ValueTooLong);
        reasons.add(OverflowReason::LabelLimit);
        let listed: Vec<_> = reasons.iter().collect();
        assert_eq!(
            listed,
            [OverflowReason::LabelLimit, OverflowReason::ValueTooLong]
        );
        let folding: Vec<_> = reasons.folding().iter().collect();
        assert_eq!(folding, [OverflowReason::LabelLimit]);
        // Alone, the label limit decided; with a budget, the budget did.
        assert_eq!(reasons.decided(), reasons);
        for budget in [OverflowReason::SeriesLimit, OverflowReason::GlobalLimit] {
            let mut both = reasons;
            both.add(budget);
            let decided: Vec<_> = both.decided().iter().collect();
            assert_eq!(decided, [budget, OverflowReason::ValueTooLong]);
        }
    }
}
