//! The guard's configuration: budgets, overflow policy, histogram shapes.
//!
//! Usually loaded from TOML ([`Config::from_file`], [`Config::from_toml`]) or
//! taken from the embedded default ([`Config::embedded`]); every value can also
//! be set in code. Budgets are [`NonZeroU64`]/[`NonZeroUsize`], bucket lists
//! are [`Buckets`] and patterns are [`Pattern`]s, so an invalid configuration
//! cannot be built in code either.

mod duration;
mod error;
mod file;
mod global;
mod histograms;
mod locate;
mod notes;
mod pattern;
mod policy;
mod toml_file;
mod values;

use std::collections::BTreeMap;
use std::num::NonZeroU64;
#[cfg(doc)]
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

pub use duration::{parse_duration, DurationError};
pub use error::{ConfigError, ErrorKind};
pub use global::GlobalLimits;
pub use histograms::{Buckets, BucketsError, HistogramConfig, DEFAULT_BUCKETS};
pub use pattern::{Pattern, PatternError};
pub use policy::{Keep, MetricPolicy, MetricRule, Mode, OnOverflow, PinnedValues};

/// The embedded default configuration, used when no file is given.
pub const EMBEDDED_CONFIG: &str = include_str!("default.toml");

/// The largest config file [`Config::from_file`] reads: 1 MiB.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// The whole configuration.
///
/// **One default.** A config file starts from the embedded default
/// ([`EMBEDDED_CONFIG`], also [`Config::default`]) and says only what differs:
/// inside `[global]` and `[defaults]` each key it gives replaces the default's
/// key; a table or list it gives (`[histograms] buckets`,
/// `[[histograms.per_metric]]`, `[[metrics]]`, `labels`, `label_limits`,
/// `pinned`) replaces the default's whole, and what it leaves out stays the
/// default's. So a file without `[histograms]` keeps the seconds-scale
/// buckets, and a file without `[[metrics]]` keeps the default's
/// `http_server_request_duration_seconds` rule (a file with `[[metrics]]`
/// that wants it restates it).
///
/// ```
/// use cardinality_guard_core::Config;
///
/// let config = Config::from_toml("[defaults]\nmax_series = 100\n", "guard.toml")?;
/// assert_eq!(config.policy_for("jobs_total").max_series.get(), 100);
/// // What the file leaves out is the embedded default's.
/// assert_eq!(config.histograms, Config::default().histograms);
/// assert_eq!(config.policy_for("http_server_request_duration_seconds").max_series.get(), 5000);
/// # Ok::<(), cardinality_guard_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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
    /// What loading noticed (see [`Config::notes`]).
    notes: Vec<String>,
}

/// What a [`Config`] configures (all but its notes).
type ConfiguredParts<'a> = (
    GlobalLimits,
    &'a MetricPolicy,
    &'a HistogramConfig,
    &'a Vec<MetricRule>,
    &'a BTreeMap<String, String>,
);

impl PartialEq for Config {
    /// Configs are equal when they configure the same: their
    /// [`notes`](Config::notes), about how each was loaded, are not compared.
    fn eq(&self, other: &Self) -> bool {
        fn configured(c: &Config) -> ConfiguredParts<'_> {
            (
                c.global,
                &c.defaults,
                &c.histograms,
                &c.metrics,
                &c.global_labels,
            )
        }
        configured(self) == configured(other)
    }
}

impl Default for Config {
    /// The embedded default: [`Config::embedded`].
    fn default() -> Self {
        Config::embedded()
    }
}

impl Config {
    /// The embedded default configuration: what [`EMBEDDED_CONFIG`] says
    /// (a unit test checks that the file and this agree), and what every
    /// file starts from.
    #[must_use]
    pub fn embedded() -> Config {
        Config {
            global: GlobalLimits::default(),
            defaults: MetricPolicy::default(),
            histograms: HistogramConfig::default(),
            metrics: vec![MetricRule::new(Pattern::Exact(
                "http_server_request_duration_seconds".into(),
            ))
            .with_max_series(nonzero_u64(5000))],
            global_labels: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    /// Parses TOML text over the embedded default (see [`Config`]); `origin`
    /// names the source in errors (a path, or `<string>`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming `origin`, the line and the key when the text
    /// is not valid TOML, has an unknown key, or holds a value that is not
    /// allowed (a zero budget, unsorted buckets, a malformed pattern, ...),
    /// or sets a `[[metrics]]` or `[defaults]` `max_series` above the
    /// `[global] max_series` it also sets (one of them inherited from the
    /// embedded default is a note instead: [`Config::notes`]).
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml_file::parse(text, origin, Config::embedded())
    }

    /// Reads and parses a TOML file over the embedded default.
    ///
    /// The path must be a regular file of at most [`MAX_CONFIG_FILE_BYTES`]:
    /// a directory, a FIFO or a device (`/dev/zero`) is refused without
    /// being read, a larger file without being read past the limit. The
    /// check is made on what was opened, and the open never waits (on Unix
    /// it is non-blocking): a path swapped to a FIFO is refused at once.
    ///
    /// # Errors
    /// A [`ConfigError`] of kind [`ErrorKind::Io`] naming the path when it
    /// can't be read, is not a regular file or is too large (its
    /// [`source`](std::error::Error::source) is the I/O error, if any);
    /// otherwise as [`Config::from_toml`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = file::read(path)?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// What loading the file noticed that is allowed but likely not meant,
    /// one sentence each, for the guard's report
    /// ([`Report::notes`](crate::Report::notes)): a budget above
    /// `global.max_series` where one of the two is the embedded default's
    /// (when the file sets both, loading fails instead), and a `[[metrics]]`
    /// list that drops the default's `http_server_request_duration_seconds`
    /// rule. Empty for a config built in code.
    ///
    /// ```
    /// use cardinality_guard_core::Config;
    ///
    /// let config = Config::from_toml("[[metrics]]\nmatch = \"app_*\"\nmax_series = 300\n", "guard.toml")?;
    /// assert!(config.notes()[0].starts_with("the [[metrics]] list of guard.toml replaces the default's"));
    /// # Ok::<(), cardinality_guard_core::ConfigError>(())
    /// ```
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The index in [`Config::metrics`] of the rule that decides the policy
    /// of `name` (as [`Config::policy_for`] chooses it), if any.
    pub(crate) fn rule_index(&self, name: &str) -> Option<usize> {
        let exact = self
            .metrics
            .iter()
            .position(|r| matches!(&r.pattern, Pattern::Exact(s) if s == name));
        exact.or_else(|| {
            let patterns = self.metrics.iter().enumerate().filter(|(_, r)| {
                !matches!(r.pattern, Pattern::Exact(_)) && r.pattern.matches(name)
            });
            patterns
                .fold(None::<(usize, &MetricRule)>, |best, (i, r)| match best {
                    Some((_, b)) if b.pattern.fragment().len() >= r.pattern.fragment().len() => {
                        best
                    }
                    _ => Some((i, r)),
                })
                .map(|(i, _)| i)
        })
    }

    /// The policy for a (sanitized) metric name: an exact `[[metrics]]` match
    /// wins, then the longest matching pattern (the first in file order on a
    /// tie), then `[defaults]`.
    pub fn policy_for(&self, name: &str) -> MetricPolicy {
        self.policy_of_rule(self.rule_index(name))
    }

    /// The policy the rule at `index` (`None`: no rule) gives over `[defaults]`.
    pub(crate) fn policy_of_rule(&self, index: Option<usize>) -> MetricPolicy {
        let rule = index.and_then(|i| self.metrics.get(i));
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
                keep: r.keep.unwrap_or(d.keep),
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

    /// Adds a `[[metrics]]` rule after the others (builder style).
    #[must_use]
    pub fn with_rule(mut self, rule: MetricRule) -> Self {
        self.metrics.push(rule);
        self
    }

    /// Replaces every `[[metrics]]` rule, the embedded default's included
    /// (builder style).
    #[must_use]
    pub fn with_rules(mut self, rules: impl IntoIterator<Item = MetricRule>) -> Self {
        self.metrics = rules.into_iter().collect();
        self
    }

    /// Sets `[defaults]` (builder style).
    #[must_use]
    pub fn with_defaults(mut self, defaults: MetricPolicy) -> Self {
        self.defaults = defaults;
        self
    }

    /// Sets `[global]` (builder style).
    #[must_use]
    pub fn with_global(mut self, global: GlobalLimits) -> Self {
        self.global = global;
        self
    }

    /// Sets `[histograms]` (builder style).
    #[must_use]
    pub fn with_histograms(mut self, histograms: HistogramConfig) -> Self {
        self.histograms = histograms;
        self
    }

    /// Adds a `[global] labels` entry (builder style). Unlike a file, code
    /// is not checked: use a label name that is not reserved and a value
    /// no longer than `max_label_value_length`.
    #[must_use]
    pub fn with_global_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.global_labels.insert(key.into(), value.into());
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
        MetricRule::new(Pattern::parse(pattern).unwrap()).with_max_series(nonzero_u64(max))
    }

    #[test]
    fn the_embedded_file_says_exactly_the_embedded_default() {
        // Over a blank base (no rules, summaries), so the file must state
        // every rule and bucket the default holds.
        let blank = Config::embedded()
            .with_rules([])
            .with_histograms(HistogramConfig::summaries());
        let parsed = toml_file::parse(EMBEDDED_CONFIG, "<embedded>", blank).unwrap();
        assert_eq!(parsed, Config::embedded());
        assert_eq!(Config::default(), Config::embedded());
    }

    #[test]
    fn exact_match_beats_patterns_and_longest_pattern_wins() {
        let config = Config::default()
            .with_rules([])
            .with_rule(rule("http_*", 10))
            .with_rule(rule("http_server_*", 20))
            .with_rule(rule("*_total", 30))
            .with_rule(rule("http_server_requests_total", 40));
        let limit = |name: &str| config.policy_for(name).max_series.get();
        assert_eq!(limit("http_server_requests_total"), 40);
        assert_eq!(limit("http_server_errors_total"), 20);
        // "*_total" is longer than "http_*".
        assert_eq!(limit("http_client_total"), 30);
        assert_eq!(limit("http_client_seconds"), 10);
        assert_eq!(limit("db_total"), 30);
        assert_eq!(limit("db_seconds"), 2000);
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
        assert_eq!(Buckets::new(vec![]), Err(BucketsError::Empty));
        assert!(Buckets::new(vec![1.0, 1.0]).is_err());
        assert_eq!(
            Buckets::new(vec![2.0, 1.0]),
            Err(BucketsError::NotIncreasing {
                before: 2.0,
                after: 1.0
            })
        );
        assert!(matches!(
            Buckets::new(vec![1.0, f64::INFINITY]),
            Err(BucketsError::NotFinite(_))
        ));
        assert!(Buckets::new(vec![f64::NAN]).is_err());
        assert!(Buckets::new(vec![0.1, 1.0]).is_ok());
    }
}
