//! Loading [`Config`] from TOML, with errors that name file, line and key.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::num::{NonZeroU64, NonZeroUsize};
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{
    Buckets, Config, ConfigError, ErrorKind, GlobalLimits, HistogramConfig, MetricPolicy,
    MetricRule, Mode, OnOverflow, Pattern,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    global: Option<RawGlobal>,
    defaults: Option<RawPolicy>,
    histograms: Option<RawHistograms>,
    #[serde(default)]
    metrics: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    max_series: Option<Spanned<i64>>,
    max_metrics: Option<Spanned<i64>>,
    max_labels_per_metric: Option<Spanned<i64>>,
    warn_interval: Option<Spanned<String>>,
    max_label_value_length: Option<Spanned<i64>>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHistograms {
    buckets: Option<Spanned<Vec<f64>>>,
    #[serde(default)]
    per_metric: Vec<RawBucketRule>,
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
}

/// Label limits and pinned values as read, before checking.
type RawLabels<'a> = (
    &'a Option<BTreeMap<String, Spanned<i64>>>,
    &'a Option<BTreeMap<String, Spanned<Vec<String>>>>,
);

/// Turns spans into errors for one source text.
pub(super) struct Source<'a> {
    pub(super) text: &'a str,
    pub(super) origin: &'a str,
}

impl Source<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn invalid(&self, span: Range<usize>, key: String, message: impl Into<String>) -> ConfigError {
        ConfigError::new(
            self.origin,
            Some(self.line_of(span.start)),
            Some(key),
            ErrorKind::InvalidValue,
            message,
        )
    }

    fn budget(&self, value: &Spanned<i64>, key: String) -> Result<NonZeroU64, ConfigError> {
        u64::try_from(*value.get_ref())
            .ok()
            .and_then(NonZeroU64::new)
            .ok_or_else(|| {
                self.invalid(
                    value.span(),
                    key,
                    format!(
                        "a budget must be a positive whole number, got {}",
                        value.get_ref()
                    ),
                )
            })
    }

    fn on_overflow(&self, value: &Spanned<String>, key: String) -> Result<OnOverflow, ConfigError> {
        match value.get_ref().as_str() {
            "fold" => Ok(OnOverflow::Fold),
            "drop" => Ok(OnOverflow::Drop),
            other => Err(self.invalid(
                value.span(),
                key,
                format!("unknown value {other:?}: expected \"fold\" or \"drop\""),
            )),
        }
    }

    fn mode(&self, value: &Spanned<String>, key: String) -> Result<Mode, ConfigError> {
        match value.get_ref().as_str() {
            "enforce" => Ok(Mode::Enforce),
            "shadow" => Ok(Mode::Shadow),
            other => Err(self.invalid(
                value.span(),
                key,
                format!("unknown value {other:?}: expected \"enforce\" or \"shadow\""),
            )),
        }
    }

    fn buckets(&self, value: &Spanned<Vec<f64>>, key: String) -> Result<Buckets, ConfigError> {
        Buckets::new(value.get_ref().clone()).map_err(|m| self.invalid(value.span(), key, m))
    }

    fn duration(&self, value: &Spanned<String>, key: String) -> Result<Duration, ConfigError> {
        parse_duration(value.get_ref()).ok_or_else(|| {
            self.invalid(
                value.span(),
                key,
                format!(
                    "{:?} is not a duration: write a whole number and a unit, e.g. \"90s\", \"10m\", \"1h\" (units ms, s, m, h)",
                    value.get_ref()
                ),
            )
        })
    }

    /// `"10m"`, or `"off"` (`None`).
    fn idle_timeout(
        &self,
        value: &Spanned<String>,
        key: String,
    ) -> Result<Option<Duration>, ConfigError> {
        match value.get_ref().trim() {
            "off" => Ok(None),
            _ => parse_duration(value.get_ref()).map(Some).ok_or_else(|| {
                self.invalid(
                    value.span(),
                    key,
                    format!(
                        "{:?} is not an idle timeout: write \"off\" or a whole number and a unit, e.g. \"90s\", \"10m\", \"1h\" (units ms, s, m, h)",
                        value.get_ref()
                    ),
                )
            }),
        }
    }

    /// `label_limits` and `pinned` of one table (`at` names it, e.g.
    /// `metrics[1]`), checked against the limits they will be merged with.
    fn labels(
        &self,
        (limits, pinned): RawLabels<'_>,
        inherited: &BTreeMap<String, NonZeroU64>,
        at: &str,
    ) -> Result<LabelSettings, ConfigError> {
        let mut out = LabelSettings::default();
        for (label, v) in limits.iter().flatten() {
            let key = format!("{at}.label_limits.{label}");
            check_label_name(label).map_err(|m| self.invalid(v.span(), key.clone(), m))?;
            out.0.insert(label.clone(), self.budget(v, key)?);
        }
        for (label, values) in pinned.iter().flatten() {
            let key = format!("{at}.pinned.{label}");
            check_label_name(label).map_err(|m| self.invalid(values.span(), key.clone(), m))?;
            let set: BTreeSet<String> = values.get_ref().iter().cloned().collect();
            if set.len() != values.get_ref().len() {
                return Err(self.invalid(values.span(), key, "a pinned value is listed twice"));
            }
            let limit = out.0.get(label).or_else(|| inherited.get(label));
            if let Some(limit) = limit.filter(|l| set.len() as u64 > l.get()) {
                return Err(self.invalid(
                    values.span(),
                    key,
                    format!(
                        "{} pinned values do not fit in the label limit of {limit}",
                        set.len()
                    ),
                ));
            }
            out.1.insert(label.clone(), set);
        }
        Ok(out)
    }

    fn pattern(&self, value: &Spanned<String>, key: String) -> Result<Pattern, ConfigError> {
        Pattern::parse(value.get_ref()).map_err(|e| self.invalid(value.span(), key, e.to_string()))
    }
}

/// Label limits and pinned values, checked.
#[derive(Default)]
struct LabelSettings(
    BTreeMap<String, NonZeroU64>,
    BTreeMap<String, BTreeSet<String>>,
);

/// A label name as code writes it: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn check_label_name(label: &str) -> Result<(), String> {
    if crate::grammar::is_label_name(label) {
        Ok(())
    } else {
        Err(format!(
            "{label:?} is not a label name (letters, digits and `_`)"
        ))
    }
}

/// A `[global] labels` entry: a label name that renders as written and is
/// not reserved, with a value that renders.
pub(crate) fn check_global_label(label: &str, value: &str, max_len: usize) -> Result<(), String> {
    check_label_name(label)?;
    if label.starts_with("__") || ["le", "quantile", "otel_metric_overflow"].contains(&label) {
        return Err(format!(
            "{label:?} is reserved (`__` prefix, `le`, `quantile`, `otel_metric_overflow`)"
        ));
    }
    if value.is_empty() {
        return Err("a global label needs a value (an empty value is an absent label)".into());
    }
    if value.len() > max_len {
        return Err(format!(
            "the value is {} bytes, longer than max_label_value_length ({max_len})",
            value.len()
        ));
    }
    Ok(())
}

/// `"500ms"`, `"90s"`, `"10m"`, `"1h"`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    (millis > 0).then(|| Duration::from_millis(millis))
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let src = Source { text, origin };
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.syntax(&e))?;
    let mut config = Config::default();

    if let Some(g) = raw.global {
        if let Some(v) = &g.max_series {
            config.global.max_series = src.budget(v, "global.max_series".into())?;
        }
        if let Some(v) = &g.max_metrics {
            let n = src.budget(v, "global.max_metrics".into())?;
            config.global.max_metrics = usize::try_from(n.get())
                .ok()
                .and_then(NonZeroUsize::new)
                .unwrap_or(GlobalLimits::default().max_metrics);
        }
        if let Some(v) = &g.max_labels_per_metric {
            let n = src.budget(v, "global.max_labels_per_metric".into())?;
            config.global.max_labels_per_metric = usize::try_from(n.get())
                .ok()
                .and_then(NonZeroUsize::new)
                .unwrap_or(GlobalLimits::default().max_labels_per_metric);
        }
        if let Some(v) = &g.warn_interval {
            config.global.warn_interval = src.duration(v, "global.warn_interval".into())?;
        }
        if let Some(v) = &g.max_label_value_length {
            let n = src.budget(v, "global.max_label_value_length".into())?;
            config.global.max_label_value_length = usize::try_from(n.get())
                .ok()
                .and_then(NonZeroUsize::new)
                .unwrap_or(GlobalLimits::default().max_label_value_length);
        }
        for (label, value) in g.labels.iter().flatten() {
            let key = format!("global.labels.{label}");
            check_global_label(
                label,
                value.get_ref(),
                config.global.max_label_value_length.get(),
            )
            .map_err(|m| src.invalid(value.span(), key, m))?;
            config
                .global_labels
                .insert(label.clone(), value.get_ref().clone());
        }
    }

    if let Some(d) = raw.defaults {
        let mut policy = MetricPolicy::default();
        if let Some(v) = &d.max_series {
            policy.max_series = src.budget(v, "defaults.max_series".into())?;
        }
        if let Some(v) = &d.on_overflow {
            policy.on_overflow = src.on_overflow(v, "defaults.on_overflow".into())?;
        }
        if let Some(v) = &d.mode {
            policy.mode = src.mode(v, "defaults.mode".into())?;
        }
        let labels = src.labels((&d.label_limits, &d.pinned), &BTreeMap::new(), "defaults")?;
        policy.label_limits = labels.0;
        policy.pinned = labels.1;
        if let Some(v) = &d.idle_timeout {
            policy.idle_timeout = src.idle_timeout(v, "defaults.idle_timeout".into())?;
        }
        config.defaults = policy;
    }

    if let Some(h) = raw.histograms {
        let mut histograms = HistogramConfig::default();
        if let Some(v) = &h.buckets {
            histograms.buckets = Some(src.buckets(v, "histograms.buckets".into())?);
        }
        let mut seen = HashSet::new();
        for (i, r) in h.per_metric.iter().enumerate() {
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
        config.histograms = histograms;
    }

    let mut seen = HashSet::new();
    for (i, r) in raw.metrics.iter().enumerate() {
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
            let inherited = config.defaults.pinned.get(label).map_or(0, BTreeSet::len);
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
        config.metrics.push(rule);
    }
    Ok(config)
}
