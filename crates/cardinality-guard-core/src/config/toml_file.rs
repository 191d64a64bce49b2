//! Loading [`Config`] from TOML over a base (the embedded default), with
//! errors that name file, line and key.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use toml::Spanned;

use super::notes::{self, SetByFile, HTTP_DURATION};
use super::values::Source;
use super::values::{check_global_label, RawBuckets};
use super::{Config, ConfigError, MetricRule};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    global: Option<RawGlobal>,
    defaults: Option<RawPolicy>,
    histograms: Option<RawHistograms>,
    metrics: Option<Vec<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    max_series: Option<Spanned<i64>>,
    max_metrics: Option<Spanned<i64>>,
    max_labels_per_metric: Option<Spanned<i64>>,
    warn_interval: Option<Spanned<String>>,
    max_label_value_length: Option<Spanned<i64>>,
    max_metric_name_length: Option<Spanned<i64>>,
    max_label_key_length: Option<Spanned<i64>>,
    max_labels: Option<Spanned<i64>>,
    max_description_length: Option<Spanned<i64>>,
    max_alias_bytes: Option<Spanned<i64>>,
    labels: Option<BTreeMap<String, Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    max_series: Option<Spanned<i64>>,
    on_overflow: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    label_limits: Option<BTreeMap<String, Spanned<i64>>>,
    pinned: Option<BTreeMap<String, Spanned<Vec<String>>>>,
    idle_timeout: Option<Spanned<String>>,
    keep: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistograms {
    buckets: Option<Spanned<RawBuckets>>,
    per_metric: Option<Vec<RawBucketRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucketRule {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    buckets: Spanned<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    max_series: Option<Spanned<i64>>,
    on_overflow: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    label_limits: Option<BTreeMap<String, Spanned<i64>>>,
    pinned: Option<BTreeMap<String, Spanned<Vec<String>>>>,
    idle_timeout: Option<Spanned<String>>,
    keep: Option<Spanned<String>>,
}

/// `text` over `base`: each key of `[global]` and `[defaults]` the text
/// gives replaces the base's; each table or list it gives (`labels`,
/// `label_limits`, `pinned`, `[histograms] buckets`,
/// `[[histograms.per_metric]]`, `[[metrics]]`) replaces the base's whole.
pub(super) fn parse(text: &str, origin: &str, base: Config) -> Result<Config, ConfigError> {
    let src = Source { text, origin };
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.syntax(&e))?;
    let base_http = base
        .rule_index(HTTP_DURATION)
        .map(|_| base.policy_for(HTTP_DURATION).max_series);
    let mut set = SetByFile::default();
    let mut config = base;

    if let Some(g) = raw.global {
        if let Some(v) = &g.max_series {
            config.global.max_series = src.budget(v, "global.max_series".into())?;
            set.global = Some(v.span());
        }
        let global = &mut config.global;
        // Each with what its error calls it (as the budgets before them).
        let sizes = [
            (
                &g.max_metrics,
                "max_metrics",
                "a budget",
                &mut global.max_metrics,
            ),
            (
                &g.max_labels_per_metric,
                "max_labels_per_metric",
                "a budget",
                &mut global.max_labels_per_metric,
            ),
            (
                &g.max_label_value_length,
                "max_label_value_length",
                "a budget",
                &mut global.max_label_value_length,
            ),
            (
                &g.max_metric_name_length,
                "max_metric_name_length",
                "a length in bytes",
                &mut global.max_metric_name_length,
            ),
            (
                &g.max_label_key_length,
                "max_label_key_length",
                "a length in bytes",
                &mut global.max_label_key_length,
            ),
            (
                &g.max_labels,
                "max_labels",
                "a number of labels",
                &mut global.max_labels,
            ),
            (
                &g.max_description_length,
                "max_description_length",
                "a length in bytes",
                &mut global.max_description_length,
            ),
            (
                &g.max_alias_bytes,
                "max_alias_bytes",
                "a size in bytes",
                &mut global.max_alias_bytes,
            ),
        ];
        for (value, name, what, slot) in sizes {
            if let Some(v) = value {
                *slot = src.size(v, format!("global.{name}"), what)?;
            }
        }
        if let Some(v) = &g.warn_interval {
            config.global.warn_interval = src.duration(v, "global.warn_interval".into())?;
        }
        if g.labels.is_some() {
            config.global_labels.clear();
        }
        for (label, value) in g.labels.iter().flatten() {
            let key = format!("global.labels.{label}");
            check_global_label(label, value.get_ref(), &config.global)
                .map_err(|m| src.invalid(value.span(), key, m))?;
            config
                .global_labels
                .insert(label.clone(), value.get_ref().clone());
        }
    }

    if let Some(d) = raw.defaults {
        let policy = &mut config.defaults;
        if let Some(v) = &d.max_series {
            policy.max_series = src.budget(v, "defaults.max_series".into())?;
            set.defaults = Some(v.span());
        }
        if let Some(v) = &d.on_overflow {
            policy.on_overflow = src.on_overflow(v, "defaults.on_overflow".into())?;
        }
        if let Some(v) = &d.mode {
            policy.mode = src.mode(v, "defaults.mode".into())?;
        }
        let labels = src.labels(
            (&d.label_limits, &d.pinned),
            &policy.label_limits,
            "defaults",
        )?;
        if d.label_limits.is_some() {
            policy.label_limits = labels.0;
        }
        if d.pinned.is_some() {
            policy.pinned = labels.1;
        }
        if let Some(v) = &d.idle_timeout {
            policy.idle_timeout = src.idle_timeout(v, "defaults.idle_timeout".into())?;
        }
        if let Some(v) = &d.keep {
            policy.keep = src.keep(v, "defaults.keep".into())?;
        }
    }

    if let Some(h) = raw.histograms {
        let histograms = &mut config.histograms;
        if let Some(v) = &h.buckets {
            histograms.buckets = src.default_buckets(v, "histograms.buckets".into())?;
        }
        if h.per_metric.is_some() {
            histograms.per_metric.clear();
        }
        let mut seen = HashSet::new();
        for (i, r) in h.per_metric.iter().flatten().enumerate() {
            let key = |leaf: &str| format!("histograms.per_metric[{i}].{leaf}");
            let pattern = src.pattern(&r.pattern, key("match"))?;
            if !seen.insert(pattern.clone()) {
                return Err(src.invalid(
                    r.pattern.span(),
                    key("match"),
                    format!("pattern {pattern} appears twice in [[histograms.per_metric]]"),
                ));
            }
            histograms
                .per_metric
                .push((pattern, src.buckets(&r.buckets, key("buckets"))?));
        }
    }

    if let Some(rules) = &raw.metrics {
        config.metrics.clear();
        set.rules = Some(
            rules
                .iter()
                .map(|r| r.max_series.as_ref().map(Spanned::span))
                .collect(),
        );
    }
    let mut seen = HashSet::new();
    for (i, r) in raw.metrics.iter().flatten().enumerate() {
        let key = |leaf: &str| format!("metrics[{i}].{leaf}");
        let pattern = src.pattern(&r.pattern, key("match"))?;
        if !seen.insert(pattern.clone()) {
            return Err(src.invalid(
                r.pattern.span(),
                key("match"),
                format!("pattern {pattern} appears twice in [[metrics]]"),
            ));
        }
        let mut rule = MetricRule::new(pattern);
        if let Some(v) = &r.max_series {
            rule.max_series = Some(src.budget(v, key("max_series"))?);
        }
        if let Some(v) = &r.on_overflow {
            rule.on_overflow = Some(src.on_overflow(v, key("on_overflow"))?);
        }
        if let Some(v) = &r.mode {
            rule.mode = Some(src.mode(v, key("mode"))?);
        }
        let at = format!("metrics[{i}]");
        let labels = src.labels(
            (&r.label_limits, &r.pinned),
            &config.defaults.label_limits,
            &at,
        )?;
        // Pinned values inherited from [defaults] must fit this rule's limits too.
        for (label, limit) in &labels.0 {
            let inherited = config.defaults.pinned.get(label).map_or(0, |p| p.len());
            if !labels.1.contains_key(label) && inherited as u64 > limit.get() {
                let span = r
                    .label_limits
                    .as_ref()
                    .and_then(|m| m.get(label))
                    .map(|v| v.span());
                return Err(src.invalid(
                    span.unwrap_or(r.pattern.span()),
                    format!("{at}.label_limits.{label}"),
                    format!(
                        "{inherited} values pinned in [defaults] do not fit in a limit of {limit}"
                    ),
                ));
            }
        }
        rule.label_limits = labels.0;
        rule.pinned = labels.1;
        if let Some(v) = &r.idle_timeout {
            rule.idle_timeout = Some(src.idle_timeout(v, key("idle_timeout"))?);
        }
        if let Some(v) = &r.keep {
            rule.keep = Some(src.keep(v, key("keep"))?);
        }
        config.metrics.push(rule);
    }
    config.notes = notes::check(&src, &config, &set, base_http)?;
    Ok(config)
}
