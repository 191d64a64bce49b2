//! A suggested `guard.toml` in the making, and its parts.

use std::fmt;

use super::tables::{SuggestedGlobal, SuggestedHistograms, SuggestedPolicy};
use super::toml::{self, Block, Value};

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
