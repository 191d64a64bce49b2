//! The tables of a suggested `guard.toml`: `[global]`, a policy
//! (`[defaults]` or a `[[metrics]]` entry) and `[histograms]`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::toml::{Table, Value};
use crate::config::{Keep, Mode, OnOverflow};

/// The `[global]` table of a [`SuggestedConfig`](super::SuggestedConfig): the keys given, in the
/// order given (the others stay the embedded default's).
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedGlobal {
    pub(super) table: Table,
}

impl Default for SuggestedGlobal {
    fn default() -> Self {
        SuggestedGlobal {
            table: Table::new("[global]"),
        }
    }
}

impl SuggestedGlobal {
    /// A `[global]` with no key yet.
    #[must_use]
    pub fn new() -> Self {
        SuggestedGlobal::default()
    }

    /// A comment on the line of the key given last, or on the `[global]`
    /// line when none is given yet. One line trails it; more go above it.
    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.table.note(text.into());
        self
    }

    /// `max_series`.
    #[must_use]
    pub fn max_series(mut self, n: u64) -> Self {
        self.table.set("max_series", Value::Int(n));
        self
    }

    /// `max_metrics`.
    #[must_use]
    pub fn max_metrics(mut self, n: usize) -> Self {
        self.table.set("max_metrics", Value::Int(n as u64));
        self
    }

    /// `max_labels_per_metric`.
    #[must_use]
    pub fn max_labels_per_metric(mut self, n: usize) -> Self {
        self.table
            .set("max_labels_per_metric", Value::Int(n as u64));
        self
    }

    /// `warn_interval`.
    #[must_use]
    pub fn warn_interval(mut self, interval: Duration) -> Self {
        self.table.set("warn_interval", Value::duration(interval));
        self
    }

    /// `max_label_value_length`.
    #[must_use]
    pub fn max_label_value_length(mut self, bytes: usize) -> Self {
        self.table
            .set("max_label_value_length", Value::Int(bytes as u64));
        self
    }

    /// `max_metric_name_length`.
    #[must_use]
    pub fn max_metric_name_length(self, bytes: usize) -> Self {
        self.int("max_metric_name_length", bytes)
    }

    /// `max_label_key_length`.
    #[must_use]
    pub fn max_label_key_length(self, bytes: usize) -> Self {
        self.int("max_label_key_length", bytes)
    }

    /// `max_labels`.
    #[must_use]
    pub fn max_labels(self, n: usize) -> Self {
        self.int("max_labels", n)
    }

    /// `max_description_length`.
    #[must_use]
    pub fn max_description_length(self, bytes: usize) -> Self {
        self.int("max_description_length", bytes)
    }

    /// `max_alias_bytes`.
    #[must_use]
    pub fn max_alias_bytes(self, bytes: usize) -> Self {
        self.int("max_alias_bytes", bytes)
    }

    fn int(mut self, key: &'static str, n: usize) -> Self {
        self.table.set(key, Value::Int(n as u64));
        self
    }

    /// `labels`: the labels added to every series.
    #[must_use]
    pub fn labels<K: Into<String>, V: Into<String>>(
        mut self,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.table.set("labels", Value::Texts(labels));
        self
    }
}

/// The keys of a policy: the `[defaults]` table of a [`SuggestedConfig`](super::SuggestedConfig)
/// or one of its `[[metrics]]` entries ([`SuggestedConfig::metric`](super::SuggestedConfig::metric)). The
/// keys given, in the order given; a key given twice keeps its place and
/// takes the last value.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedPolicy {
    pub(super) table: Table,
}

impl Default for SuggestedPolicy {
    fn default() -> Self {
        SuggestedPolicy {
            table: Table::new("[[metrics]]"),
        }
    }
}

impl SuggestedPolicy {
    /// A policy with no key yet.
    #[must_use]
    pub fn new() -> Self {
        SuggestedPolicy::default()
    }

    /// A comment above the table (one `#` line per line of `text`).
    #[must_use]
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.table.comment(text.into());
        self
    }

    /// A comment on the line of the key given last, or on the table's
    /// header line when none is given yet. One line trails it; more go
    /// above it.
    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.table.note(text.into());
        self
    }

    /// `max_series`: the budget in series.
    #[must_use]
    pub fn max_series(mut self, n: u64) -> Self {
        self.table.set("max_series", Value::Int(n));
        self
    }

    /// `on_overflow`.
    #[must_use]
    pub fn on_overflow(mut self, on_overflow: OnOverflow) -> Self {
        let value = Value::Str(on_overflow.as_str().to_owned());
        self.table.set("on_overflow", value);
        self
    }

    /// `keep`: what the budget holds when demand exceeds it.
    #[must_use]
    pub fn keep(mut self, keep: Keep) -> Self {
        self.table.set("keep", Value::Str(keep.as_str().to_owned()));
        self
    }

    /// `mode`.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.table.set("mode", Value::Str(mode.as_str().to_owned()));
        self
    }

    /// `label_limits`, all of them (`{}` when empty).
    #[must_use]
    pub fn label_limits<K: Into<String>>(
        mut self,
        limits: impl IntoIterator<Item = (K, u64)>,
    ) -> Self {
        let limits = limits.into_iter().map(|(k, v)| (k.into(), v)).collect();
        self.table.set("label_limits", Value::Counts(limits));
        self
    }

    /// Adds `label = limit` to `label_limits`.
    #[must_use]
    pub fn label_limit(mut self, label: impl Into<String>, limit: u64) -> Self {
        let mut limits = match self.table.get_mut("label_limits") {
            Some(Value::Counts(limits)) => std::mem::take(limits),
            _ => BTreeMap::new(),
        };
        limits.insert(label.into(), limit);
        self.table.set("label_limits", Value::Counts(limits));
        self
    }

    /// `pinned`, all of it (`{}` when empty): each label's values always
    /// admitted.
    #[must_use]
    pub fn pinned<K, I>(mut self, pinned: impl IntoIterator<Item = (K, I)>) -> Self
    where
        K: Into<String>,
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let pinned = pinned
            .into_iter()
            .map(|(k, values)| (k.into(), values.into_iter().map(Into::into).collect()))
            .collect();
        self.table.set("pinned", Value::Lists(pinned));
        self
    }

    /// `idle_timeout`; `None` writes `"off"`.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        let value = timeout.map_or_else(|| Value::Str("off".to_owned()), Value::duration);
        self.table.set("idle_timeout", value);
        self
    }

    /// Shows where to pin values of `label`, commented out:
    /// `# pinned = { "label" = ["..."] }`.
    #[must_use]
    pub fn pin_hint(mut self, label: impl Into<String>) -> Self {
        let example = BTreeMap::from([(label.into(), vec!["...".to_owned()])]);
        self.table.show("pinned", Value::Lists(example));
        self.table
            .note("values always admitted (they use up the limit)".to_owned());
        self
    }
}

/// The `[histograms]` table of a [`SuggestedConfig`](super::SuggestedConfig) and its
/// `[[histograms.per_metric]]` entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedHistograms {
    pub(super) table: Table,
    pub(super) per_metric: Vec<Table>,
}

impl Default for SuggestedHistograms {
    fn default() -> Self {
        SuggestedHistograms {
            table: Table::new("[histograms]"),
            per_metric: Vec::new(),
        }
    }
}

impl SuggestedHistograms {
    /// A `[histograms]` with no key yet.
    #[must_use]
    pub fn new() -> Self {
        SuggestedHistograms::default()
    }

    /// A comment on the `buckets` line once given, else on the
    /// `[histograms]` line. One line trails it; more go above it.
    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.table.note(text.into());
        self
    }

    /// `buckets`: the upper bounds of every histogram without an entry of
    /// its own, as the config takes them: sorted, each once (`-0.0` is
    /// `0.0`), the infinite and NaN ones left out (the exporter adds
    /// `+Inf`). When none is left, the key is left out (the embedded
    /// default's buckets stand).
    #[must_use]
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        if let Some(bounds) = normalized(bounds) {
            self.table.set("buckets", Value::Floats(bounds));
        }
        self
    }

    /// `buckets = "summary"`: histograms without an entry of their own
    /// render as summaries.
    #[must_use]
    pub fn summaries(mut self) -> Self {
        self.table.set("buckets", Value::Str("summary".to_owned()));
        self
    }

    /// A `[[histograms.per_metric]]` entry: histograms matching `pattern`
    /// render with `bounds`, normalized as [`buckets`](Self::buckets)
    /// does. When none is left, no entry.
    #[must_use]
    pub fn per_metric(mut self, pattern: impl Into<String>, bounds: &[f64]) -> Self {
        if let Some(bounds) = normalized(bounds) {
            let mut table = Table::new("[[histograms.per_metric]]");
            table.set("match", Value::Str(pattern.into()));
            table.set("buckets", Value::Floats(bounds));
            self.per_metric.push(table);
        }
        self
    }
}

/// Bucket bounds as [`Buckets::new`](crate::Buckets::new) takes them: the
/// finite ones, `-0.0` as `0.0`, sorted, each once; `None` when none is left.
fn normalized(bounds: &[f64]) -> Option<Vec<f64>> {
    let mut bounds: Vec<f64> = bounds
        .iter()
        .filter(|b| b.is_finite())
        .map(|b| b + 0.0)
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    (!bounds.is_empty()).then_some(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, SuggestedConfig};

    #[test]
    fn bucket_bounds_are_written_as_the_config_takes_them() {
        let hostile = [2.0, -0.0, f64::NAN, 0.0, f64::INFINITY, 1.0, 2.0, -1.0];
        let histograms = SuggestedHistograms::new()
            .buckets(&hostile)
            .per_metric("h", &hostile)
            .per_metric("none", &[f64::NAN, f64::NEG_INFINITY]);
        let toml = SuggestedConfig::new().histograms(histograms).to_toml();
        let config = Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{e}"));
        let bounds = [-1.0, 0.0, 1.0, 2.0];
        assert_eq!(config.histograms.buckets.as_ref().unwrap().bounds(), bounds);
        assert_eq!(config.histograms.buckets_for("h").unwrap().bounds(), bounds);
        assert!(!toml.contains("\"none\""), "{toml}");
        assert_eq!(normalized(&[-0.0]).unwrap()[0].to_bits(), 0.0f64.to_bits());
    }
}
