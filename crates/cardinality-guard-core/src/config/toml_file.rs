//! Loading [`Config`] from TOML, with errors that name file, line and key.

use std::collections::HashSet;
use std::num::{NonZeroU64, NonZeroUsize};
use std::ops::Range;

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    max_series: Option<Spanned<i64>>,
    on_overflow: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
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
}

/// Turns spans into errors for one source text.
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
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

    fn pattern(&self, value: &Spanned<String>, key: String) -> Result<Pattern, ConfigError> {
        Pattern::parse(value.get_ref()).map_err(|e| self.invalid(value.span(), key, e.to_string()))
    }

    /// Converts a TOML/serde error, finding the key from the line it points at.
    fn syntax(&self, err: &toml::de::Error) -> ConfigError {
        let message = err.message().trim().to_owned();
        let kind = if message.starts_with("unknown field") {
            ErrorKind::UnknownKey
        } else {
            ErrorKind::Syntax
        };
        let (line, key) = match err.span() {
            Some(span) => {
                let line = self.line_of(span.start);
                (Some(line), self.key_at(line, &message))
            }
            None => (None, None),
        };
        ConfigError::new(self.origin, line, key, kind, message)
    }

    /// The dotted key on `line`: `table.key`, `metrics[2].key`, or the table itself.
    fn key_at(&self, line: usize, message: &str) -> Option<String> {
        let lines: Vec<&str> = self.text.lines().collect();
        let here = lines.get(line.checked_sub(1)?)?.trim();
        let mut table = String::new();
        let mut counts: std::collections::HashMap<String, usize> = Default::default();
        for l in lines.iter().take(line) {
            let t = l.trim();
            if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
                let name = name.trim().to_owned();
                let n = counts.entry(name.clone()).or_insert(0);
                table = format!("{name}[{n}]");
                *n += 1;
            } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
                table = name.trim().to_owned();
            }
        }
        // An unknown field names itself in the message: "unknown field `x`, ...".
        let from_message = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next());
        let from_line = here
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))
            .filter(|k| !k.is_empty() && !k.starts_with('['));
        let leaf = from_message.or(from_line);
        match leaf {
            Some(leaf) if table.is_empty() => Some(leaf.to_owned()),
            Some(leaf) => Some(format!("{table}.{leaf}")),
            None => Some(table).filter(|t| !t.is_empty()),
        }
    }
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
        config.metrics.push(rule);
    }
    Ok(config)
}
