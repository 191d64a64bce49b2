//! The guard's configuration: budgets, overflow policy, histogram shapes.
//!
//! Usually loaded from TOML ([`Config::from_file`], [`Config::from_toml`]) or
//! taken from the embedded default ([`Config::embedded`]); every value can also
//! be set in code. Budgets are [`NonZeroU64`]/[`NonZeroUsize`], bucket lists
//! are [`Buckets`] and patterns are [`Pattern`]s, so an invalid configuration
//! cannot be built in code either.

mod error;
mod locate;
mod pattern;
mod toml_file;

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

pub use error::{ConfigError, ErrorKind};
pub use pattern::{Pattern, PatternError};

/// The embedded default configuration, used when no file is given.
pub const EMBEDDED_CONFIG: &str = include_str!("default.toml");

/// What happens to a label set that does not fit in the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
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
pub enum Mode {
    /// Fold or drop what exceeds the budget. The default.
    #[default]
    Enforce,
    /// Alter nothing; report what `enforce` would have done.
    Shadow,
}

impl Mode {
    /// `"enforce"` or `"shadow"`, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}

/// The budget and behaviour that apply to one metric.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Values always admitted for a label, whose room under its label limit
    /// is reserved (`pinned = { route = ["/login"] }`). Default: none.
    pub pinned: BTreeMap<String, BTreeSet<String>>,
    /// How long a label set may go without an update before it expires: its
    /// series is deleted and its budget frees. `None`: never (the default).
    /// Only on the Prometheus path ([`PrometheusGuard`](crate::PrometheusGuard)),
    /// which stores the series itself.
    pub idle_timeout: Option<Duration>,
}

impl Default for MetricPolicy {
    fn default() -> Self {
        MetricPolicy {
            max_series: nonzero_u64(2000),
            on_overflow: OnOverflow::Fold,
            mode: Mode::Enforce,
            label_limits: BTreeMap::new(),
            pinned: BTreeMap::new(),
            idle_timeout: None,
        }
    }
}

/// Limits over all guarded metrics together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalLimits {
    /// The most exported series all guarded metrics may hold together. Default: 50,000.
    pub max_series: NonZeroU64,
    /// The most distinct metric names the guard tracks; registrations of
    /// further names are dropped (reason `max_metrics`). Default: 1000.
    pub max_metrics: NonZeroUsize,
    /// The most label keys per metric whose demand (distinct values) the
    /// guard estimates, each in a 2 KiB sketch; labels with a `label_limits`
    /// entry come first. Default: 8.
    pub max_labels_per_metric: NonZeroUsize,
    /// After the first warning that a metric folds, at most one reminder
    /// per metric per this interval. Default: 10 minutes.
    pub warn_interval: Duration,
    /// The longest label value (in bytes) that renders; a longer one becomes
    /// `__overflow__` in that label only (reason `value_too_long`), so memory
    /// and scrape size are bounded by the budgets. Default: 1024.
    pub max_label_value_length: NonZeroUsize,
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits {
            max_series: nonzero_u64(50_000),
            max_metrics: NonZeroUsize::new(1000).unwrap_or(NonZeroUsize::MIN),
            max_labels_per_metric: NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
            warn_interval: Duration::from_secs(600),
            max_label_value_length: NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// A `[[metrics]]` entry: settings for the metrics its pattern matches.
/// Settings left `None` come from `[defaults]`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub pinned: BTreeMap<String, BTreeSet<String>>,
    /// Overrides [`MetricPolicy::idle_timeout`]: `Some(None)` turns expiry
    /// off for the matched metrics (`idle_timeout = "off"`).
    pub idle_timeout: Option<Option<Duration>>,
}

impl MetricRule {
    /// A rule for `pattern` that overrides nothing yet.
    pub fn new(pattern: Pattern) -> Self {
        MetricRule {
            pattern,
            max_series: None,
            on_overflow: None,
            mode: None,
            label_limits: BTreeMap::new(),
            pinned: BTreeMap::new(),
            idle_timeout: None,
        }
    }
}

/// Histogram bucket bounds: non-empty, finite, strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets(Vec<f64>);

impl Buckets {
    /// Checks and wraps bucket upper bounds.
    pub fn new(bounds: Vec<f64>) -> Result<Buckets, String> {
        if bounds.is_empty() {
            return Err("bucket list is empty (omit the key to render summaries)".into());
        }
        if let Some(bad) = bounds.iter().find(|b| !b.is_finite()) {
            return Err(format!(
                "bucket bound {bad} is not finite (`+Inf` is always added by the exporter)"
            ));
        }
        if let Some(pair) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            return Err(format!(
                "buckets must be strictly increasing, but {} is followed by {}",
                pair[0], pair[1]
            ));
        }
        Ok(Buckets(bounds))
    }

    /// The bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.0
    }
}

/// How histograms render: global buckets (or summaries) plus per-metric overrides.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramConfig {
    /// Buckets for every histogram without an override; `None` renders summaries.
    pub buckets: Option<Buckets>,
    /// Per-metric bucket overrides. Precedence is the exporter's: exact names,
    /// then prefixes, then suffixes, each group in text order; the first match wins.
    pub per_metric: Vec<(Pattern, Buckets)>,
}

impl HistogramConfig {
    /// The buckets of the histogram `name` (`None`: it renders as a summary).
    pub fn buckets_for(&self, name: &str) -> Option<&Buckets> {
        let mut overrides: Vec<&(Pattern, Buckets)> = self.per_metric.iter().collect();
        overrides.sort_by(|a, b| a.0.cmp(&b.0));
        overrides
            .into_iter()
            .find(|(p, _)| p.matches(name))
            .map(|(_, b)| b)
            .or(self.buckets.as_ref())
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// `[global]`.
    pub global: GlobalLimits,
    /// `[defaults]`: the policy of every metric that no rule matches.
    pub defaults: MetricPolicy,
    /// `[histograms]`.
    pub histograms: HistogramConfig,
    /// `[[metrics]]`, in file order.
    pub metrics: Vec<MetricRule>,
    /// `[global] labels`: labels every series renders with (e.g. `region`),
    /// as the exporter's global labels. A key label of the same name wins.
    pub global_labels: BTreeMap<String, String>,
}

impl Config {
    /// The embedded default configuration ([`EMBEDDED_CONFIG`]).
    pub fn embedded() -> Config {
        // The embedded file is checked by a unit test; should it ever fail,
        // fall back to the built-in defaults rather than panic in a user's process.
        Config::from_toml(EMBEDDED_CONFIG, "<embedded>").unwrap_or_default()
    }

    /// Parses TOML text; `origin` names the source in errors (a path, or `<string>`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml_file::parse(text, origin)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// The policy for a (sanitized) metric name: an exact `[[metrics]]` match
    /// wins, then the longest matching pattern (the first in file order on a
    /// tie), then `[defaults]`.
    pub fn policy_for(&self, name: &str) -> MetricPolicy {
        let exact = self
            .metrics
            .iter()
            .find(|r| matches!(&r.pattern, Pattern::Exact(s) if s == name));
        let rule = exact.or_else(|| {
            self.metrics
                .iter()
                .filter(|r| !matches!(r.pattern, Pattern::Exact(_)) && r.pattern.matches(name))
                .fold(None::<&MetricRule>, |best, r| match best {
                    Some(b) if b.pattern.fragment().len() >= r.pattern.fragment().len() => Some(b),
                    _ => Some(r),
                })
        });
        let d = &self.defaults;
        match rule {
            None => d.clone(),
            Some(r) => MetricPolicy {
                max_series: r.max_series.unwrap_or(d.max_series),
                on_overflow: r.on_overflow.unwrap_or(d.on_overflow),
                mode: r.mode.unwrap_or(d.mode),
                label_limits: merged(&d.label_limits, &r.label_limits),
                pinned: merged(&d.pinned, &r.pinned),
                idle_timeout: r.idle_timeout.unwrap_or(d.idle_timeout),
            },
        }
    }

    /// Every idle timeout the config can give a metric.
    fn idle_timeouts(&self) -> impl Iterator<Item = Duration> + '_ {
        let rules = self.metrics.iter().filter_map(|r| r.idle_timeout.flatten());
        self.defaults.idle_timeout.into_iter().chain(rules)
    }

    /// Whether any metric can expire.
    pub fn expires(&self) -> bool {
        self.idle_timeouts().next().is_some()
    }

    /// The idle timeout of the metric `name` (of any kind).
    pub fn idle_timeout_for(&self, name: &str) -> Option<Duration> {
        self.policy_for(name).idle_timeout
    }

    /// The longest idle timeout of any metric.
    pub fn longest_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeouts().max()
    }

    /// The shortest idle timeout of any metric.
    pub fn shortest_idle_timeout(&self) -> Option<Duration> {
        self.idle_timeouts().min()
    }

    /// How often the guard sweeps for idle label sets when any can expire: a
    /// quarter of the shortest idle timeout, between 10 ms and 5 s. A label
    /// set expires between its timeout and its timeout plus this.
    pub fn sweep_interval(&self) -> Option<Duration> {
        let shortest = self.shortest_idle_timeout()?;
        Some((shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(5)))
    }

    /// Adds a `[[metrics]]` rule (builder style).
    pub fn with_rule(mut self, rule: MetricRule) -> Self {
        self.metrics.push(rule);
        self
    }

    /// Sets `[defaults]` (builder style).
    pub fn with_defaults(mut self, defaults: MetricPolicy) -> Self {
        self.defaults = defaults;
        self
    }

    /// Sets `[global]` (builder style).
    pub fn with_global(mut self, global: GlobalLimits) -> Self {
        self.global = global;
        self
    }

    /// Sets `[histograms]` (builder style).
    pub fn with_histograms(mut self, histograms: HistogramConfig) -> Self {
        self.histograms = histograms;
        self
    }
}

/// `base` with every entry of `over` put over it.
fn merged<V: Clone>(base: &BTreeMap<String, V>, over: &BTreeMap<String, V>) -> BTreeMap<String, V> {
    let mut all = base.clone();
    all.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

pub(crate) const fn nonzero_u64(n: u64) -> NonZeroU64 {
    match NonZeroU64::new(n) {
        Some(n) => n,
        None => NonZeroU64::MIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pattern: &str, max: u64) -> MetricRule {
        MetricRule {
            max_series: NonZeroU64::new(max),
            ..MetricRule::new(Pattern::parse(pattern).unwrap())
        }
    }

    #[test]
    fn embedded_config_parses() {
        Config::from_toml(EMBEDDED_CONFIG, "<embedded>").expect("embedded config is valid");
    }

    #[test]
    fn exact_match_beats_patterns_and_longest_pattern_wins() {
        let config = Config::default()
            .with_rule(rule("http_*", 10))
            .with_rule(rule("http_server_*", 20))
            .with_rule(rule("*_total", 30))
            .with_rule(rule("http_server_requests_total", 40));
        assert_eq!(
            config
                .policy_for("http_server_requests_total")
                .max_series
                .get(),
            40
        );
        assert_eq!(
            config
                .policy_for("http_server_errors_total")
                .max_series
                .get(),
            20
        );
        // "*_total" is longer than "http_*".
        assert_eq!(config.policy_for("http_client_total").max_series.get(), 30);
        assert_eq!(
            config.policy_for("http_client_seconds").max_series.get(),
            10
        );
        assert_eq!(config.policy_for("db_total").max_series.get(), 30);
        assert_eq!(config.policy_for("db_seconds").max_series.get(), 2000);
    }

    #[test]
    fn equal_length_patterns_go_to_the_first_in_file_order() {
        let config = Config::default()
            .with_rule(rule("ab_*", 1))
            .with_rule(rule("*_cd", 2));
        assert_eq!(config.policy_for("ab_cd").max_series.get(), 1);
    }

    #[test]
    fn buckets_must_be_sorted_and_finite() {
        assert!(Buckets::new(vec![]).is_err());
        assert!(Buckets::new(vec![1.0, 1.0]).is_err());
        assert!(Buckets::new(vec![2.0, 1.0]).is_err());
        assert!(Buckets::new(vec![1.0, f64::INFINITY]).is_err());
        assert!(Buckets::new(vec![f64::NAN]).is_err());
        assert!(Buckets::new(vec![0.1, 1.0]).is_ok());
    }
}
