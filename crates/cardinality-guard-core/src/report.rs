//! A typed snapshot of the guard's state, for tests, endpoints and tools.

use serde::Serialize;

use crate::config::{Config, Keep, Mode, OnOverflow};
use crate::recommend::{Observation, ObservedLabel, Recommendation, SuggestedConfig};
use crate::vocabulary::{EvictedCounts, MetricKind, OverflowCounts};

/// One guarded metric: an entry of [`Report::metrics`].
///
/// ```
/// use cardinality_guard_core::{Config, OverflowReason, PrometheusGuard};
///
/// let config = Config::from_toml("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 3\n", "guard.toml")?;
/// let (recorder, exporter) = PrometheusGuard::builder(config).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     for user in 0..10 {
///         metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
///     }
/// });
/// let logins = exporter.report().metric("logins_total").cloned().unwrap();
/// assert_eq!((logins.series, logins.label_sets, logins.overflow_series), (3, 2, true));
/// assert_eq!(logins.overflow.get(OverflowReason::SeriesLimit), 8);
/// assert_eq!(logins.blame.as_deref(), Some("user")); // the label with the highest demand
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricReport {
    /// The metric name as rendered (sanitized).
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Exported series it holds now, overflow series included.
    pub series: u64,
    /// Its budget in series (`max_series`).
    pub limit: u64,
    /// `series / limit`.
    pub utilization: f64,
    /// Distinct label sets admitted (each costs `series_per_label_set`).
    pub label_sets: u64,
    /// Exported series one label set costs (1, buckets + 3 or quantiles + 2).
    pub series_per_label_set: u64,
    /// Whether the overflow series exists (something was folded into it).
    pub overflow_series: bool,
    /// Registrations folded or dropped, by reason (`label_limit`,
    /// `value_too_long` and `invalid` rewrite one label and go on;
    /// `too_many_labels` folds or drops the label set whole).
    pub overflow: OverflowCounts,
    /// Label sets admitted so far (new series created, re-admissions after
    /// expiry included): the growth.
    pub admitted: u64,
    /// Its series over the last hour, one point per minute
    /// ([`HISTORY_STEP`](crate::HISTORY_STEP)), oldest first, the minute of
    /// the report last; at most [`HISTORY_POINTS`](crate::HISTORY_POINTS)
    /// points, fewer while the metric is younger than that. A point is the
    /// latest count sampled in its minute (the guard samples at every upkeep
    /// and every report); a minute nobody sampled carries the point before
    /// it forward. Minutes are read on the guard's clock.
    pub history: Vec<u64>,
    /// Its overflow policy.
    pub on_overflow: OnOverflow,
    /// Enforce or shadow.
    pub mode: Mode,
    /// Its tracked labels, highest demand first.
    pub labels: Vec<LabelReport>,
    /// When the metric overflowed: the label with the highest demand, the
    /// likely culprit.
    pub blame: Option<String>,
    /// Its idle timeout in seconds, if its label sets expire.
    pub idle_timeout_seconds: Option<f64>,
    /// Label sets expired so far (their budget given back): `evicted.idle`.
    pub expired: u64,
    /// Series evicted so far, by reason (`idle`, `reload`, `outranked`,
    /// `rank`): their series ended, their value moved nowhere.
    pub evicted: EvictedCounts,
    /// What its budget keeps when demand exceeds it.
    pub keep: Keep,
    /// The share (0 to 1) of its recent traffic (counter increments,
    /// histogram observations, over the last upkeeps, decayed) that its
    /// admitted series carry rather than the overflow series; `None` for a
    /// gauge, over another recorder, or before upkeep measured any traffic.
    pub admitted_share: Option<f64>,
    /// Expired label sets brought back by an update through a handle user
    /// code kept (a registration after expiry admits a new series).
    pub revived: u64,
    /// Its updates so far, as a scrape shows them: the sum over the series
    /// it holds now, the overflow series included, of a counter's values
    /// (the increments, not their number) or a histogram's (or summary's)
    /// `_count`; `None` for a gauge, and over another recorder (which keeps
    /// the values). Read from the stored series when the report is taken
    /// (nothing is added to an update), so a series that expired or was
    /// evicted no longer counts, as it no longer renders.
    pub updates: Option<u64>,
    /// What to do about it, in one line ([`MetricReport::recommend`]);
    /// `None` when it is comfortably within its budget: nothing to do.
    pub recommendation: Option<Recommendation>,
}

impl MetricReport {
    /// What to do about this metric, from its figures alone; `None` when it
    /// is comfortably within its budget. The report fills
    /// [`recommendation`](MetricReport::recommendation) with it. The rules
    /// and their thresholds: see [the module](crate::recommend).
    #[must_use]
    pub fn recommend(&self) -> Option<Recommendation> {
        self.observation().recommend()
    }

    /// What the suggestion engine reads of this metric (the same engine
    /// reads what `cardinality-guard audit` observes in a scrape).
    #[must_use]
    pub fn observation(&self) -> Observation {
        let mut observation = Observation::new(&self.name, self.limit, self.series_per_label_set)
            .label_sets(self.label_sets)
            .folded(self.overflow.series_limit + self.overflow.global_limit)
            .on_overflow(self.on_overflow)
            .mode(self.mode)
            .keep(self.keep);
        observation.admitted_share = self.admitted_share;
        observation.updates = self.updates;
        for l in &self.labels {
            let mut label = ObservedLabel::new(&l.name, l.demand).pinned(l.pinned as u64);
            label.limit = l.limit;
            label.folded_updates = l.folded_updates;
            observation = observation.label(label);
        }
        observation
    }
}

/// The guard as a whole: [`Report::global`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GlobalReport {
    /// All guarded series.
    pub series: u64,
    /// `global.max_series`.
    pub series_limit: u64,
    /// `series / series_limit`.
    pub utilization: f64,
    /// Distinct metrics tracked.
    pub metrics: usize,
    /// `global.max_metrics`.
    pub max_metrics: usize,
    /// Registrations of metric names beyond `max_metrics` (dropped, or passed
    /// through untracked in shadow mode).
    pub untracked_registrations: u64,
    /// Registrations refused because the name can't render as a metric of
    /// its own: empty, longer than `global.max_metric_name_length`, in the
    /// guard's reserved `cardinality_guard_` namespace, `__invalid__` or
    /// `__untracked__` (the self-report's own), or already rendered by
    /// another kind.
    pub invalid_registrations: u64,
    /// Label-set entries the guard keeps in memory (bounded by the budgets,
    /// except in shadow mode, which admits everything).
    pub tracked_label_sets: usize,
    /// Bytes spent remembering other spellings of stored label sets (at
    /// most `global.max_alias_bytes`).
    pub alias_bytes: usize,
}

/// A snapshot of the guard: global figures and one entry per metric, sorted by
/// series, most first (then by name). It serializes (serde) to the JSON of
/// the report endpoint.
///
/// ```
/// use cardinality_guard_core::{Config, PrometheusGuard};
///
/// let (recorder, exporter) = PrometheusGuard::builder(Config::default()).build()?;
/// metrics::with_local_recorder(&recorder, || {
///     metrics::counter!("jobs_total", "queue" => "a").increment(1);
///     metrics::counter!("jobs_total", "queue" => "b").increment(1);
///     metrics::gauge!("workers").set(4.0);
/// });
/// let report = exporter.report();
/// assert_eq!((report.global.series, report.global.metrics), (3, 2));
/// assert_eq!(report.metrics[0].name, "jobs_total"); // most series first
/// assert_eq!(report.metric("workers").unwrap().limit, 2000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// When the report was taken: wall-clock time (the system's, whatever
    /// clock the guard measures idleness by), in milliseconds since the
    /// Unix epoch.
    pub generated_at_unix_ms: u64,
    /// Global figures.
    pub global: GlobalReport,
    /// One entry per metric.
    pub metrics: Vec<MetricReport>,
    /// The `match` texts of the running config's `[[metrics]]` rules that
    /// decided no tracked metric's policy so far, in file order (a typo,
    /// `app_users_*` for `app_user_hits_total`, shows here; so does a rule
    /// another rule always wins over). A reload matches the new rules
    /// against the metrics tracked then. The self-report counts them:
    /// `cardinality_guard_config_unmatched_rules`.
    pub unmatched_rules: Vec<String>,
    /// Misconfigurations that load or run without an error, one sentence
    /// each: first what loading the config noticed ([`Config::notes`]: a
    /// budget above `global.max_series` where one of the two is the embedded
    /// default's, a `[[metrics]]` list that drops the default's HTTP rule),
    /// then the problems seen at run time ([`Problem`](crate::Problem): an
    /// HTTP layer around the router), which the self-report counts in
    /// `cardinality_guard_problems{problem}`.
    /// All of it is visible here without a `tracing` subscriber.
    pub notes: Vec<String>,
}

impl Report {
    /// The entry of the metric named `name` (of any kind; the first found).
    #[must_use]
    pub fn metric(&self, name: &str) -> Option<&MetricReport> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// A complete `guard.toml` suggested from this report and the `running`
    /// config: it loads with [`Config::from_toml`], and applied to the same
    /// workload it holds every observed metric within its new budget, with
    /// values folded (`__overflow__`) only in the labels its
    /// recommendations name. What it holds: the running `[global]`,
    /// `[defaults]` and `[histograms]` (`global.max_series` raised, if need
    /// be, to the sum of the budgets and over the largest budget it writes:
    /// a file may not set a budget above its global one), one enforced
    /// `[[metrics]]` entry per metric observed, with a comment saying why
    /// each number, then the running config's other rules. See
    /// [`MetricReport::recommend`] for the rules.
    ///
    /// ```
    /// use cardinality_guard_core::{Config, PrometheusGuard};
    ///
    /// let shadow = Config::from_toml("[defaults]\nmode = \"shadow\"\nmax_series = 100\n", "guard.toml")?;
    /// let (recorder, exporter) = PrometheusGuard::builder(shadow).build()?;
    /// metrics::with_local_recorder(&recorder, || {
    ///     for user in 0..2000 {
    ///         metrics::counter!("logins_total", "user" => user.to_string()).increment(1);
    ///     }
    /// });
    /// let suggested = exporter.suggested_config();
    /// assert!(suggested.contains("match = \"logins_total\""));
    /// let config = Config::from_toml(&suggested, "suggested.toml")?;
    /// let policy = config.policy_for("logins_total");
    /// assert_eq!(policy.label_limits["user"].get(), 1); // remove the label; meanwhile, fold it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn suggested_config(&self, running: &Config) -> String {
        let observed: Vec<Observation> =
            self.metrics.iter().map(MetricReport::observation).collect();
        SuggestedConfig::from_observations(self.global.series, &observed, running).to_toml()
    }

    pub(crate) fn sort(&mut self) {
        self.metrics
            .sort_by(|a, b| b.series.cmp(&a.series).then_with(|| a.name.cmp(&b.name)));
    }
}

/// Milliseconds since the Unix epoch, by the system's wall clock (0 before it).
pub(crate) fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// What the guard knows of one label of a metric: an entry of
/// [`MetricReport::labels`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LabelReport {
    /// The label key.
    pub name: String,
    /// Estimated distinct values seen (folded ones included): the demand.
    pub demand: u64,
    /// Its `label_limits` entry, if any.
    pub limit: Option<u64>,
    /// Distinct values admitted so far, pinned ones included (with a limit).
    pub values: Option<u64>,
    /// Pinned values.
    pub pinned: usize,
    /// Registrations whose value of this label was replaced by `__overflow__`
    /// (by its label limit, or for a value too long): every rewrite, those
    /// the series budget then folded into the overflow series included
    /// (which [`MetricReport::overflow`] counts under `series_limit` or
    /// `global_limit` instead of `label_limit`).
    pub folded: u64,
    /// The updates (as [`MetricReport::updates`]) its stored label sets
    /// whose value of this label is `__overflow__` carry: what its label
    /// limit folded, as a scrape shows it (the sum of those series' counter
    /// values or `_count` lines). `None` where `updates` is.
    pub folded_updates: Option<u64>,
}
