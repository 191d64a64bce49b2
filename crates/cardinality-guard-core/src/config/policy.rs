//! Budgets and behaviour per metric: [`MetricPolicy`], [`MetricRule`]
//! (the limits over all metrics are `global.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::Pattern;

/// What happens to a label set that does not fit in the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OnOverflow {
    /// Send its updates to the metric's overflow series
    /// (`otel_metric_overflow="true"`); totals are conserved. The default.
    #[default]
    Fold,
    /// Discard its updates (a no-op handle), and count them.
    Drop,
}

impl OnOverflow {
    /// `"fold"` or `"drop"`, as in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OnOverflow::Fold => "fold",
            OnOverflow::Drop => "drop",
        }
    }
}

/// Whether budgets are enforced or only evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Mode {
    /// Fold or drop what exceeds the budget. The default.
    #[default]
    Enforce,
    /// Alter nothing; report what `enforce` would have done.
    Shadow,
}

impl Mode {
    /// `"enforce"` or `"shadow"`, as in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}

/// What a metric's budget holds when more label sets want in than it has
/// room for (`keep = "..."`, in `[defaults]` or a `[[metrics]]` entry).
/// Hot-reloadable; on the Prometheus path only (over another recorder every
/// metric keeps [`Keep::First`]). See the crate docs' section on what the
/// budget keeps, and eviction.
///
/// ```
/// use cardinality_guard_core::{Config, Keep};
///
/// let config = Config::from_toml(
///     "[defaults]\nkeep = \"busiest\"\n\n[[metrics]]\nmatch = \"app_*\"\nkeep = \"consistent\"\n",
///     "guard.toml",
/// )?;
/// assert_eq!(config.policy_for("app_logins_total").keep, Keep::Consistent);
/// assert_eq!(config.policy_for("jobs_total").keep, Keep::Busiest);
/// assert_eq!(Config::default().policy_for("jobs_total").keep, Keep::First);
/// assert_eq!(Keep::Consistent.as_str(), "consistent");
/// # Ok::<(), cardinality_guard_core::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Keep {
    /// The label sets that came first (until they expire, or a reload
    /// evicts them). The default.
    #[default]
    First,
    /// The label sets with the most updates recently: at upkeep, an
    /// admitted series that a folded label set clearly outranks gives it
    /// its place. Admitted series are measured by their increments and
    /// observations, folded label sets by their registrations; a gauge's
    /// series count no updates, so prefer another `keep` for gauges.
    Busiest,
    /// The label sets whose hash ranks lowest (a fixed seed): every replica
    /// that sees the same population keeps the same subset, with no
    /// coordination.
    Consistent,
}

impl Keep {
    /// `"first"`, `"busiest"` or `"consistent"`, as in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Keep::First => "first",
            Keep::Busiest => "busiest",
            Keep::Consistent => "consistent",
        }
    }
}

/// Pinned values of one label. Shared (an [`Arc`]), not copied, by every
/// metric whose policy holds them: a long `[defaults] pinned` list costs its
/// memory once, however many metrics there are.
pub type PinnedValues = Arc<BTreeSet<String>>;

/// The budget and behaviour that apply to one metric (`[defaults]`, or what
/// [`Config::policy_for`](super::Config::policy_for) resolves for a name).
///
/// ```
/// use cardinality_guard_core::{MetricPolicy, OnOverflow};
/// use std::num::NonZeroU64;
///
/// let policy = MetricPolicy::default()
///     .with_max_series(NonZeroU64::new(500).unwrap())
///     .with_on_overflow(OnOverflow::Drop)
///     .with_label_limit("user", NonZeroU64::new(100).unwrap())
///     .with_pinned("user", ["admin"]);
/// assert_eq!(policy.max_series.get(), 500);
/// assert!(policy.pinned["user"].contains("admin"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricPolicy {
    /// The most exported series the metric may hold, overflow series included.
    /// Default: 2000.
    pub max_series: NonZeroU64,
    /// What to do with label sets beyond the budget. Default: [`OnOverflow::Fold`].
    pub on_overflow: OnOverflow,
    /// Enforce or only evaluate. Default: [`Mode::Enforce`].
    pub mode: Mode,
    /// At most this many distinct values per label key (`label_limits = { user
    /// = 100 }`); a further value is replaced by `__overflow__` in that label
    /// only. Default: none.
    pub label_limits: BTreeMap<String, NonZeroU64>,
    /// Values always admitted for a label (`pinned = { route = ["/login"] }`).
    /// They count toward its label limit, their places reserved: the other
    /// values share the rest. Default: none.
    pub pinned: BTreeMap<String, PinnedValues>,
    /// How long a label set may go without an update before it expires: its
    /// series is deleted and its budget frees. `None`: never (the default).
    /// Only on the Prometheus path ([`PrometheusGuard`](crate::PrometheusGuard)),
    /// which stores the series itself.
    pub idle_timeout: Option<Duration>,
    /// What the budget holds when demand exceeds it. Default: [`Keep::First`].
    pub keep: Keep,
}

impl Default for MetricPolicy {
    /// The embedded default's `[defaults]`: 2000 series, fold, enforce.
    fn default() -> Self {
        MetricPolicy {
            max_series: super::nonzero_u64(2000),
            on_overflow: OnOverflow::Fold,
            mode: Mode::Enforce,
            label_limits: BTreeMap::new(),
            pinned: BTreeMap::new(),
            idle_timeout: None,
            keep: Keep::First,
        }
    }
}

impl MetricPolicy {
    /// Sets [`MetricPolicy::max_series`].
    #[must_use]
    pub fn with_max_series(mut self, max_series: NonZeroU64) -> Self {
        self.max_series = max_series;
        self
    }

    /// Sets [`MetricPolicy::on_overflow`].
    #[must_use]
    pub fn with_on_overflow(mut self, on_overflow: OnOverflow) -> Self {
        self.on_overflow = on_overflow;
        self
    }

    /// Sets [`MetricPolicy::mode`].
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Limits the distinct values of `label` ([`MetricPolicy::label_limits`]).
    #[must_use]
    pub fn with_label_limit(mut self, label: impl Into<String>, limit: NonZeroU64) -> Self {
        self.label_limits.insert(label.into(), limit);
        self
    }

    /// Pins `values` of `label` ([`MetricPolicy::pinned`]), replacing any
    /// values pinned for it before.
    #[must_use]
    pub fn with_pinned<V: Into<String>>(
        mut self,
        label: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.pinned.insert(label.into(), Arc::new(values));
        self
    }

    /// Sets [`MetricPolicy::keep`].
    #[must_use]
    pub fn with_keep(mut self, keep: Keep) -> Self {
        self.keep = keep;
        self
    }

    /// Sets [`MetricPolicy::idle_timeout`] (`None`: never expire).
    #[must_use]
    pub fn with_idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }
}

/// A `[[metrics]]` entry: settings for the metrics its pattern matches.
/// Settings left `None` come from `[defaults]`.
///
/// ```
/// use cardinality_guard_core::{Config, MetricRule, OnOverflow, Pattern};
/// use std::num::NonZeroU64;
///
/// let rule = MetricRule::new(Pattern::parse("app_*")?)
///     .with_max_series(NonZeroU64::new(300).unwrap())
///     .with_on_overflow(OnOverflow::Drop);
/// let config = Config::default().with_rule(rule);
/// assert_eq!(config.policy_for("app_logins_total").max_series.get(), 300);
/// # Ok::<(), cardinality_guard_core::config::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricRule {
    /// Which metrics the entry applies to.
    pub pattern: Pattern,
    /// Overrides [`MetricPolicy::max_series`].
    pub max_series: Option<NonZeroU64>,
    /// Overrides [`MetricPolicy::on_overflow`].
    pub on_overflow: Option<OnOverflow>,
    /// Overrides [`MetricPolicy::mode`].
    pub mode: Option<Mode>,
    /// Label limits, each overriding `[defaults]`' limit of the same label.
    pub label_limits: BTreeMap<String, NonZeroU64>,
    /// Pinned values, each label's list replacing `[defaults]`' list.
    pub pinned: BTreeMap<String, PinnedValues>,
    /// Overrides [`MetricPolicy::idle_timeout`]: `Some(None)` turns expiry
    /// off for the matched metrics (`idle_timeout = "off"`).
    pub idle_timeout: Option<Option<Duration>>,
    /// Overrides [`MetricPolicy::keep`].
    pub keep: Option<Keep>,
}

impl MetricRule {
    /// A rule for `pattern` that overrides nothing yet.
    #[must_use]
    pub fn new(pattern: Pattern) -> Self {
        MetricRule {
            pattern,
            max_series: None,
            on_overflow: None,
            mode: None,
            label_limits: BTreeMap::new(),
            pinned: BTreeMap::new(),
            idle_timeout: None,
            keep: None,
        }
    }

    /// Overrides [`MetricPolicy::keep`].
    #[must_use]
    pub fn with_keep(mut self, keep: Keep) -> Self {
        self.keep = Some(keep);
        self
    }

    /// Overrides [`MetricPolicy::max_series`].
    #[must_use]
    pub fn with_max_series(mut self, max_series: NonZeroU64) -> Self {
        self.max_series = Some(max_series);
        self
    }

    /// Overrides [`MetricPolicy::on_overflow`].
    #[must_use]
    pub fn with_on_overflow(mut self, on_overflow: OnOverflow) -> Self {
        self.on_overflow = Some(on_overflow);
        self
    }

    /// Overrides [`MetricPolicy::mode`].
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Limits the distinct values of `label`, over `[defaults]`' limit.
    #[must_use]
    pub fn with_label_limit(mut self, label: impl Into<String>, limit: NonZeroU64) -> Self {
        self.label_limits.insert(label.into(), limit);
        self
    }

    /// Pins `values` of `label`, replacing `[defaults]`' list for it.
    #[must_use]
    pub fn with_pinned<V: Into<String>>(
        mut self,
        label: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.pinned.insert(label.into(), Arc::new(values));
        self
    }

    /// Overrides [`MetricPolicy::idle_timeout`]; `None` turns expiry off
    /// for the matched metrics.
    #[must_use]
    pub fn with_idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.idle_timeout = Some(idle_timeout);
        self
    }
}
