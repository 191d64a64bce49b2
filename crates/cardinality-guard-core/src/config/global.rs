//! Limits over all guarded metrics together (`[global]`): the global
//! budget, and the bounds on every byte that comes from outside (names,
//! label keys and values, labels per label set, descriptions, and the
//! cache of other spellings of a key).

use std::num::{NonZeroU64, NonZeroUsize};
use std::time::Duration;

/// Limits over all guarded metrics together (`[global]`).
///
/// ```
/// use cardinality_guard_core::GlobalLimits;
/// use std::num::{NonZeroU64, NonZeroUsize};
///
/// let global = GlobalLimits::default()
///     .with_max_series(NonZeroU64::new(10_000).unwrap())
///     .with_max_metrics(NonZeroUsize::new(200).unwrap())
///     .with_max_labels(NonZeroUsize::new(16).unwrap());
/// assert_eq!((global.max_series.get(), global.max_metrics.get()), (10_000, 200));
/// assert_eq!(global.max_labels.get(), 16);
/// ```
///
/// **Bounds.** Whatever user code (or an upstream, through the proxy)
/// registers, the guard's memory and scrape size stay bounded: a name or
/// label key longer than its bound is refused (reason `invalid`), a label
/// value longer than its bound renders as `__overflow__` (reason
/// `value_too_long`), a label set with more labels than `max_labels` is
/// folded or dropped whole (reason `too_many_labels`), and a description
/// is shortened. The defaults sit well above what real services register
/// (and at or above what Prometheus-compatible databases accept by
/// default) and far below what a hostile or buggy input sends. Lengths are
/// in bytes, as registered (before sanitizing).
///
/// The config types are `#[non_exhaustive]` (they may grow): outside this
/// crate they are built with `default()` and the `with_*` methods, not with
/// struct literals.
///
/// ```compile_fail,E0639
/// use cardinality_guard_core::GlobalLimits;
/// use std::num::NonZeroU64;
///
/// let global = GlobalLimits { max_series: NonZeroU64::MIN, ..GlobalLimits::default() };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GlobalLimits {
    /// The most exported series all guarded metrics may hold together. Default: 50,000.
    pub max_series: NonZeroU64,
    /// The most distinct metric names the guard tracks; registrations of
    /// further names are dropped (reason `max_metrics`). Default: 1000.
    pub max_metrics: NonZeroUsize,
    /// The most label keys per metric whose demand (distinct values) the
    /// guard estimates, each in a 2 KiB sketch; labels with a `label_limits`
    /// entry come first. (Not to be confused with [`max_labels`](Self::max_labels),
    /// the labels of one label set.) Default: 8.
    pub max_labels_per_metric: NonZeroUsize,
    /// After the first warning that a metric folds, at most one reminder
    /// per metric per this interval. Default: 10 minutes.
    pub warn_interval: Duration,
    /// The longest label value (in bytes) that renders; a longer one becomes
    /// `__overflow__` in that label only (reason `value_too_long`). Default: 1024.
    pub max_label_value_length: NonZeroUsize,
    /// The longest metric name (in bytes, as registered); a longer name is
    /// refused like a reserved one (reason `invalid`, under
    /// `metric="__invalid__"`). Default: 256 (OpenTelemetry caps instrument
    /// names at 255 characters; VictoriaMetrics' `-maxLabelNameLen` is 256).
    pub max_metric_name_length: NonZeroUsize,
    /// The longest label key (in bytes, as registered); a longer key is
    /// removed from the label set like a reserved one (reason `invalid`).
    /// Default: 256 (VictoriaMetrics' `-maxLabelNameLen`; Mimir allows 1024).
    pub max_label_key_length: NonZeroUsize,
    /// The most labels one label set may have (as registered, before
    /// reserved keys are removed; `[global] labels` not counted); a label
    /// set with more is folded into the metric's overflow series, or
    /// dropped under `on_overflow = "drop"` (reason `too_many_labels`), in
    /// shadow mode too. Default: 64 (twice the 30 that Mimir's
    /// `max_label_names_per_series` and VictoriaMetrics'
    /// `-maxLabelsPerTimeseries` accept by default).
    pub max_labels: NonZeroUsize,
    /// The longest description (`# HELP` text, in bytes) the guard keeps;
    /// a longer one is shortened to at most this, on a character boundary.
    /// Default: 1024 (Mimir's `max_metadata_length`).
    pub max_description_length: NonZeroUsize,
    /// The most bytes the guard spends remembering other spellings of
    /// stored label sets (`http.requests` for `http_requests`, `user-id`
    /// for `user_id`), so that their later registrations are one lookup.
    /// Each spelling costs its key's bytes plus a fixed overhead (about 160
    /// bytes and 48 per label). Past it, a new spelling is not remembered:
    /// its registrations still find their series, through admission, at
    /// the cost of a sanitize each. Default: 8 MiB (some 20,000 spellings
    /// of a typical key).
    pub max_alias_bytes: NonZeroUsize,
}

const fn nonzero_usize(n: usize) -> NonZeroUsize {
    match NonZeroUsize::new(n) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    }
}

impl Default for GlobalLimits {
    /// The embedded default's `[global]`.
    fn default() -> Self {
        GlobalLimits {
            max_series: super::nonzero_u64(50_000),
            max_metrics: nonzero_usize(1000),
            max_labels_per_metric: nonzero_usize(8),
            warn_interval: Duration::from_secs(600),
            max_label_value_length: nonzero_usize(1024),
            max_metric_name_length: nonzero_usize(256),
            max_label_key_length: nonzero_usize(256),
            max_labels: nonzero_usize(64),
            max_description_length: nonzero_usize(1024),
            max_alias_bytes: nonzero_usize(8 * 1024 * 1024),
        }
    }
}

impl GlobalLimits {
    /// Sets [`GlobalLimits::max_series`].
    #[must_use]
    pub fn with_max_series(mut self, max_series: NonZeroU64) -> Self {
        self.max_series = max_series;
        self
    }

    /// Sets [`GlobalLimits::max_metrics`].
    #[must_use]
    pub fn with_max_metrics(mut self, max_metrics: NonZeroUsize) -> Self {
        self.max_metrics = max_metrics;
        self
    }

    /// Sets [`GlobalLimits::max_labels_per_metric`].
    #[must_use]
    pub fn with_max_labels_per_metric(mut self, max: NonZeroUsize) -> Self {
        self.max_labels_per_metric = max;
        self
    }

    /// Sets [`GlobalLimits::warn_interval`].
    #[must_use]
    pub fn with_warn_interval(mut self, interval: Duration) -> Self {
        self.warn_interval = interval;
        self
    }

    /// Sets [`GlobalLimits::max_label_value_length`].
    #[must_use]
    pub fn with_max_label_value_length(mut self, bytes: NonZeroUsize) -> Self {
        self.max_label_value_length = bytes;
        self
    }

    /// Sets [`GlobalLimits::max_metric_name_length`].
    #[must_use]
    pub fn with_max_metric_name_length(mut self, bytes: NonZeroUsize) -> Self {
        self.max_metric_name_length = bytes;
        self
    }

    /// Sets [`GlobalLimits::max_label_key_length`].
    #[must_use]
    pub fn with_max_label_key_length(mut self, bytes: NonZeroUsize) -> Self {
        self.max_label_key_length = bytes;
        self
    }

    /// Sets [`GlobalLimits::max_labels`].
    #[must_use]
    pub fn with_max_labels(mut self, max: NonZeroUsize) -> Self {
        self.max_labels = max;
        self
    }

    /// Sets [`GlobalLimits::max_description_length`].
    #[must_use]
    pub fn with_max_description_length(mut self, bytes: NonZeroUsize) -> Self {
        self.max_description_length = bytes;
        self
    }

    /// Sets [`GlobalLimits::max_alias_bytes`].
    #[must_use]
    pub fn with_max_alias_bytes(mut self, bytes: NonZeroUsize) -> Self {
        self.max_alias_bytes = bytes;
        self
    }
}
