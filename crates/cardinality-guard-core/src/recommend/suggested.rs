//! A suggested `guard.toml` in the making, and its parts.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::toml::{self, Block, Table, Value};
use crate::config::{Mode, OnOverflow};

/// A suggested `guard.toml`: a header comment, `[global]`, `[defaults]`,
/// `[histograms]`, then `[[metrics]]` entries and comments in the order
/// given, each part with the comments that say why. Its
/// [`to_toml`](SuggestedConfig::to_toml) (and [`Display`](fmt::Display))
/// is valid TOML whatever the text it holds: strings are escaped, comments
/// stay on comment lines. It is the one writer of both suggestions: the
/// guard's own ([`Report::suggested_config`](crate::Report::suggested_config),
/// from what it observed) and `cardinality-guard audit --suggest` (from a
/// scrape).
///
/// ```
/// use cardinality_guard_core::{Config, SuggestedConfig, SuggestedGlobal, SuggestedPolicy};
///
/// let toml = SuggestedConfig::new()
///     .header("suggested from one scrape of /metrics")
///     .global(SuggestedGlobal::new().max_series(50_000))
///     .metric(
///         "http_requests_total",
///         SuggestedPolicy::new()
///             .comment("counter http_requests_total: 700 label sets; path=700, method=2")
///             .max_series(304)
///             .note("202 label sets once path is limited, x 1.5")
///             .label_limit("path", 100)
///             .pin_hint("path"),
///     )
///     .to_toml();
/// assert!(toml.contains("max_series = 304  # 202 label sets once path is limited, x 1.5\n"));
/// let config = Config::from_toml(&toml, "suggested.toml")?;
/// let policy = config.policy_for("http_requests_total");
/// assert_eq!((policy.max_series.get(), policy.label_limits["path"].get()), (304, 100));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuggestedConfig {
    aligned: bool,
    header: Option<String>,
    global: Option<SuggestedGlobal>,
    defaults: Option<SuggestedPolicy>,
    histograms: Option<SuggestedHistograms>,
    entries: Vec<Block>,
}

impl SuggestedConfig {
    /// An empty suggestion: it says nothing, so the embedded default stands.
    #[must_use]
    pub fn new() -> Self {
        SuggestedConfig::default()
    }

    /// With `true`, the `=` of each table's keys line up (`match        =`);
    /// default `false` (`match =`).
    #[must_use]
    pub fn align_keys(mut self, aligned: bool) -> Self {
        self.aligned = aligned;
        self
    }

    /// The comment the file starts with (one `#` line per line of `text`).
    #[must_use]
    pub fn header(mut self, text: impl Into<String>) -> Self {
        self.header = Some(text.into());
        self
    }

    /// The `[global]` table (replacing one given before).
    #[must_use]
    pub fn global(mut self, global: SuggestedGlobal) -> Self {
        self.global = Some(global);
        self
    }

    /// The `[defaults]` table (replacing one given before).
    #[must_use]
    pub fn defaults(mut self, defaults: SuggestedPolicy) -> Self {
        self.defaults = Some(defaults);
        self
    }

    /// The `[histograms]` table and its `[[histograms.per_metric]]` entries
    /// (replacing those given before).
    #[must_use]
    pub fn histograms(mut self, histograms: SuggestedHistograms) -> Self {
        self.histograms = Some(histograms);
        self
    }

    /// A comment on its own, after the entries given so far.
    #[must_use]
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.entries.push(Block::Comment(text.into()));
        self
    }

    /// A `[[metrics]]` entry: `match = pattern` (a name, `prefix*` or
    /// `*suffix`), then the keys of `policy`.
    #[must_use]
    pub fn metric(mut self, pattern: impl Into<String>, policy: SuggestedPolicy) -> Self {
        let mut table = policy.table;
        table.lead("match", Value::Str(pattern.into()));
        self.entries.push(Block::Table(table));
        self
    }

    /// The `guard.toml` text.
    #[must_use]
    pub fn to_toml(&self) -> String {
        let mut blocks: Vec<&Block> = Vec::new();
        let header = self.header.clone().map(Block::Comment);
        let global = self.global.clone().map(|g| Block::Table(g.table));
        let defaults = self.defaults.clone().map(|d| {
            let mut table = d.table;
            table.retitle("[defaults]");
            Block::Table(table)
        });
        blocks.extend(header.iter().chain(&global).chain(&defaults));
        let histograms: Vec<Block> = self
            .histograms
            .iter()
            .flat_map(|h| std::iter::once(&h.table).chain(&h.per_metric))
            .cloned()
            .map(Block::Table)
            .collect();
        blocks.extend(&histograms);
        blocks.extend(&self.entries);
        toml::write(blocks, self.aligned)
    }
}

impl fmt::Display for SuggestedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_toml())
    }
}

/// The `[global]` table of a [`SuggestedConfig`]: the keys given, in the
/// order given (the others stay the embedded default's).
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedGlobal {
    table: Table,
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

/// The keys of a policy: the `[defaults]` table of a [`SuggestedConfig`]
/// or one of its `[[metrics]]` entries ([`SuggestedConfig::metric`]). The
/// keys given, in the order given; a key given twice keeps its place and
/// takes the last value.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedPolicy {
    table: Table,
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

/// The `[histograms]` table of a [`SuggestedConfig`] and its
/// `[[histograms.per_metric]]` entries.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedHistograms {
    table: Table,
    per_metric: Vec<Table>,
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
    /// its own.
    #[must_use]
    pub fn buckets(mut self, bounds: &[f64]) -> Self {
        self.table.set("buckets", Value::Floats(bounds.to_vec()));
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
    /// render with `bounds`.
    #[must_use]
    pub fn per_metric(mut self, pattern: impl Into<String>, bounds: &[f64]) -> Self {
        let mut table = Table::new("[[histograms.per_metric]]");
        table.set("match", Value::Str(pattern.into()));
        table.set("buckets", Value::Floats(bounds.to_vec()));
        self.per_metric.push(table);
        self
    }
}
