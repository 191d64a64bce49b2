//! `--suggest`: a complete `guard.toml` for the service that was audited.
//!
//! - Every metric seen gets a `[[metrics]]` entry with an exact match and a
//!   budget of what was observed, times the headroom, plus room for its
//!   overflow series, counted in the series the guard renders (a histogram
//!   label set costs its buckets + 3, a summary 7 quantiles + 2).
//! - A label with more distinct values than the label limit gets
//!   `label_limits = { label = limit }`, and the budget is sized for the
//!   capped label sets, so the guard folds the exploding label alone and
//!   keeps the others.
//! - Histograms keep the buckets they were observed with
//!   (`[[histograms.per_metric]]`). A summary has no buckets to keep: when one
//!   is seen, `[histograms] buckets = "summary"`, so histograms without an
//!   entry render as summaries (7 quantiles) as they did (leaving `buckets`
//!   out would keep the embedded default's buckets).
//! - The guard's own metric names (`cardinality_guard_*`) are left out.
//!
//! The file is written by the core's [`SuggestedConfig`], the writer of the
//! guard's own suggestion too: valid, escaped TOML whatever the names, bucket
//! bounds as the config takes them. Every number saturates at what the
//! config takes (`i64::MAX`), and the file fits the config's 1 MiB cap
//! ([`MAX_CONFIG_FILE_BYTES`]): when the comment above each entry would
//! make it larger, the entries go without; when it is still larger, there
//! is no suggestion but an error.

use std::collections::BTreeMap;

use cardinality_guard_core::config::MAX_CONFIG_FILE_BYTES;
use cardinality_guard_core::{
    Config, Mode, OnOverflow, SuggestedConfig, SuggestedGlobal, SuggestedHistograms,
    SuggestedPolicy, DEFAULT_QUANTILES,
};

use crate::inventory::{Family, Inventory};
use crate::read_error::human_bytes;
use crate::report::{plural, thousands};
use cardinality_guard_core::text::Kind;

/// The headroom `--headroom` takes: from 1 (what was observed) to 1,000.
pub(crate) const HEADROOM: std::ops::RangeInclusive<f64> = 1.0..=1000.0;

/// The largest number the config takes.
const MAX_NUMBER: u64 = i64::MAX as u64;

/// Settings of the suggestion.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SuggestOptions {
    /// Budgets are what was observed times this (within [`HEADROOM`]; a
    /// number outside is taken as its nearest end).
    pub(crate) headroom: f64,
    /// A label with more distinct values than this gets a label limit of this.
    pub(crate) label_limit: u64,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        SuggestOptions {
            headroom: 1.5,
            label_limit: 100,
        }
    }
}

struct Entry {
    budget: u64,
    label_limits: Vec<(String, u64)>,
    note: String,
}

/// Checks `--headroom`: a number within [`HEADROOM`].
pub(crate) fn parse_headroom(text: &str) -> Result<f64, String> {
    let headroom: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if HEADROOM.contains(&headroom) {
        Ok(headroom)
    } else {
        Err(format!(
            "{text:?}: the headroom must be a number from {} to {}",
            HEADROOM.start(),
            HEADROOM.end()
        ))
    }
}

/// The guard.toml for what `inventory` holds: with a comment above each
/// entry if that fits [`MAX_CONFIG_FILE_BYTES`], else without; an error
/// when even that does not fit.
pub(crate) fn suggest(
    inventory: &Inventory,
    source: &str,
    options: &SuggestOptions,
) -> Result<String, String> {
    let fits = |toml: &String| toml.len() as u64 <= MAX_CONFIG_FILE_BYTES;
    let commented = write(inventory, source, options, true);
    if fits(&commented) {
        return Ok(commented);
    }
    let bare = write(inventory, source, options, false);
    if fits(&bare) {
        return Ok(bare);
    }
    Err(format!(
        "the suggested guard.toml would be {} ({} [[metrics]] entries), more than the {} a \
         config file may hold (1 MiB); no suggestion written",
        human_bytes(bare.len() as u64),
        thousands(inventory.families.len() as u64),
        human_bytes(MAX_CONFIG_FILE_BYTES),
    ))
}

/// The guard.toml, with or without the comment above each entry.
fn write(inventory: &Inventory, source: &str, options: &SuggestOptions, commented: bool) -> String {
    // `max` and `min` take a number over NaN.
    let headroom = options.headroom.max(*HEADROOM.start()).min(*HEADROOM.end());
    let limit = options.label_limit.max(1);
    let families: Vec<&Family> = inventory
        .by_series()
        .into_iter()
        .filter(|f| !f.name.starts_with("cardinality_guard_"))
        .collect();
    let any_summary = families.iter().any(|f| f.kind == Kind::Summary);
    let embedded = Config::embedded();
    let default_buckets: Option<Vec<f64>> = (!any_summary)
        .then(|| embedded.histograms.buckets.map(|b| b.bounds().to_vec()))
        .flatten();
    let default_cost = match &default_buckets {
        Some(b) => b.len() as u64 + 3,
        None => DEFAULT_QUANTILES as u64 + 2,
    };

    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut per_metric: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for f in &families {
        let buckets: Vec<f64> = f.buckets.iter().map(|b| b.0).collect();
        let cost = match f.kind {
            Kind::Histogram | Kind::GaugeHistogram if !buckets.is_empty() => {
                per_metric.insert(f.name.clone(), buckets.clone());
                buckets.len() as u64 + 3
            }
            Kind::Histogram | Kind::GaugeHistogram | Kind::Summary => default_cost,
            _ => 1,
        };
        let sets = f.label_sets.len() as u64;
        let exploding: Vec<(String, u64)> = f
            .labels
            .iter()
            .filter(|(_, s)| s.values.len() as u64 > limit)
            .map(|(name, _)| (name.clone(), limit))
            .collect();
        // Label sets once the exploding labels are capped: at most the
        // product of each label's values (limit + `__overflow__` for a capped
        // one, one more where a label is sometimes absent).
        let capped = if exploding.is_empty() {
            sets
        } else {
            let product = f.labels.values().fold(1u64, |acc, s| {
                let values = s.values.len() as u64;
                let factor = if values > limit {
                    limit.saturating_add(1)
                } else {
                    values
                }
                .saturating_add(u64::from(s.label_sets < sets));
                acc.saturating_mul(factor)
            });
            sets.min(product)
        };
        // `as` saturates a float; the config takes at most `i64::MAX`.
        let label_sets_budget = ((capped.max(1) as f64) * headroom).ceil() as u64;
        let budget = label_sets_budget
            .saturating_mul(cost)
            .saturating_add(cost)
            .min(MAX_NUMBER);
        let labels: Vec<String> = f
            .labels
            .iter()
            .map(|(n, s)| format!("{n}={}", thousands(s.values.len() as u64)))
            .collect();
        let note = format!(
            "{} {}: {}, {}{}{}",
            f.kind,
            f.name,
            plural(f.series, "series", "series"),
            plural(sets, "label set", "label sets"),
            if labels.is_empty() { "" } else { "; " },
            labels.join(", ")
        );
        let name = match f.kind {
            Kind::Counter => f.guard_name.clone().unwrap_or_else(|| f.name.clone()),
            _ => f.name.clone(),
        };
        let entry = entries.entry(name).or_insert(Entry {
            budget: 0,
            label_limits: Vec::new(),
            note: String::new(),
        });
        entry.budget = entry.budget.max(budget);
        entry.label_limits.extend(exploding);
        if !entry.note.is_empty() {
            entry.note.push('\n');
        }
        entry.note.push_str(&note);
    }

    let sum = entries
        .values()
        .fold(0u64, |sum, e| sum.saturating_add(e.budget))
        .min(MAX_NUMBER);
    let header = format!(
        "guard.toml suggested by `cardinality-guard audit --suggest` from {source}\n\
         ({} series in {}; headroom x{headroom}, label limit {limit}).\n\
         Budgets count the series the guard renders, overflow series included.",
        thousands(inventory.total_series),
        plural(
            inventory.families.len() as u64,
            "metric family",
            "metric families"
        ),
    );
    let global = SuggestedGlobal::new()
        .max_series(sum.max(50_000))
        .max_metrics((entries.len() * 2).max(1000));
    let defaults = SuggestedPolicy::new()
        .note("metrics not seen in the audit")
        .max_series(2000)
        .on_overflow(OnOverflow::Fold)
        .mode(Mode::Enforce);
    let mut histograms = match &default_buckets {
        Some(b) => SuggestedHistograms::new().buckets(b),
        None => SuggestedHistograms::new().summaries().note(
            "A summary was seen, so histograms without an entry below render as\n\
             summaries (7 quantiles, 9 series per label set).",
        ),
    };
    for (name, buckets) in &per_metric {
        histograms = histograms.per_metric(name, buckets);
    }
    let mut config = SuggestedConfig::new()
        .align_keys(commented)
        .header(header)
        .global(global)
        .defaults(defaults)
        .histograms(histograms);
    for (name, e) in entries {
        let mut policy = SuggestedPolicy::new();
        if commented {
            policy = policy.comment(e.note);
        }
        policy = policy.max_series(e.budget);
        for (label, n) in &e.label_limits {
            policy = policy.label_limit(label, *n);
        }
        if let Some((label, _)) = e.label_limits.first() {
            policy = policy.pin_hint(label);
        }
        config = config.metric(name, policy);
    }
    config.to_toml()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::read_str;
    use cardinality_guard_core::text::Format;

    #[test]
    fn caps_the_exploding_label_and_keeps_buckets() {
        let mut text = String::from("# TYPE h histogram\n");
        for i in 0..300 {
            for le in ["0.1", "1", "+Inf"] {
                text.push_str(&format!(
                    "h_bucket{{path=\"/p/{i}\",method=\"GET\",le=\"{le}\"}} 1\n"
                ));
            }
            text.push_str(&format!("h_sum{{path=\"/p/{i}\",method=\"GET\"}} 1\n"));
            text.push_str(&format!("h_count{{path=\"/p/{i}\",method=\"GET\"}} 1\n"));
        }
        text.push_str("# TYPE c counter\nc_total{m=\"a\"} 1\nc_total{m=\"b\"} 1\n");
        let scrape = read_str(&text, Format::Prometheus).unwrap();
        let toml = suggest(&scrape.inventory, "test", &SuggestOptions::default()).unwrap();
        let config =
            Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let h = config.policy_for("h");
        assert_eq!(h.label_limits.get("path").map(|n| n.get()), Some(100));
        // 101 capped label sets x 1.5, 5 series each, plus the overflow series.
        assert_eq!(h.max_series.get(), 152 * 5 + 5);
        assert!(toml.contains("[[histograms.per_metric]]\nmatch   = \"h\"\nbuckets = [0.1, 1.0]"));
        assert_eq!(config.policy_for("c_total").max_series.get(), 3 + 1);
    }

    #[test]
    fn a_summary_leaves_the_default_buckets_out() {
        let text = "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n";
        let scrape = read_str(text, Format::Prometheus).unwrap();
        let toml = suggest(&scrape.inventory, "test", &SuggestOptions::default()).unwrap();
        let config = Config::from_toml(&toml, "suggested.toml").unwrap();
        assert!(config.histograms.buckets.is_none());
        assert_eq!(config.policy_for("s").max_series.get(), 2 * 9 + 9);
    }

    #[test]
    fn numbers_saturate_at_what_the_config_takes() {
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("a_total{{u=\"{i}\"}} 1\nb_total{{u=\"{i}\"}} 1\n"));
        }
        let scrape = read_str(&text, Format::Prometheus).unwrap();
        for (headroom, label_limit) in [(1e30, 100), (f64::NAN, u64::MAX), (1000.0, 1)] {
            let options = SuggestOptions {
                headroom,
                label_limit,
            };
            let toml = suggest(&scrape.inventory, "test", &options).unwrap();
            Config::from_toml(&toml, "suggested.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
        }
        assert!(parse_headroom("1e30").is_err());
        assert!(parse_headroom("NaN").is_err());
        assert_eq!(parse_headroom("2.5"), Ok(2.5));
    }
}
