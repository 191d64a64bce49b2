//! Checked values of a config file: each raw value becomes its typed form,
//! or an error naming the file, line and key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::num::{NonZeroU64, NonZeroUsize};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::duration::{parse_duration, DurationError};
use super::{
    Buckets, ConfigError, ErrorKind, GlobalLimits, Keep, Mode, OnOverflow, Pattern, PinnedValues,
};

/// `[histograms] buckets`: a list of bounds, or `"summary"`.
pub(super) enum RawBuckets {
    Bounds(Vec<f64>),
    Summary,
}

impl<'de> Deserialize<'de> for RawBuckets {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Expect;
        impl<'de> Visitor<'de> for Expect {
            type Value = RawBuckets;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of bucket bounds or \"summary\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawBuckets, E> {
                match v {
                    "summary" => Ok(RawBuckets::Summary),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawBuckets, A::Error> {
                let mut bounds = Vec::new();
                while let Some(bound) = seq.next_element::<f64>()? {
                    bounds.push(bound);
                }
                Ok(RawBuckets::Bounds(bounds))
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

/// Label limits and pinned values as read, before checking.
pub(super) type RawLabels<'a> = (
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

    pub(super) fn invalid(
        &self,
        span: Range<usize>,
        key: String,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(
            self.origin,
            Some(self.line_of(span.start)),
            Some(key),
            ErrorKind::InvalidValue,
            message,
        )
    }

    pub(super) fn budget(
        &self,
        value: &Spanned<i64>,
        key: String,
    ) -> Result<NonZeroU64, ConfigError> {
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

    /// A length, count or size: a positive whole number (`what` names it
    /// in the error: "a length in bytes").
    pub(super) fn size(
        &self,
        value: &Spanned<i64>,
        key: String,
        what: &str,
    ) -> Result<NonZeroUsize, ConfigError> {
        u64::try_from(*value.get_ref())
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(NonZeroUsize::new)
            .ok_or_else(|| {
                self.invalid(
                    value.span(),
                    key,
                    format!(
                        "{what} must be a positive whole number, got {}",
                        value.get_ref()
                    ),
                )
            })
    }

    pub(super) fn on_overflow(
        &self,
        value: &Spanned<String>,
        key: String,
    ) -> Result<OnOverflow, ConfigError> {
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

    pub(super) fn keep(&self, value: &Spanned<String>, key: String) -> Result<Keep, ConfigError> {
        match value.get_ref().as_str() {
            "first" => Ok(Keep::First),
            "busiest" => Ok(Keep::Busiest),
            "consistent" => Ok(Keep::Consistent),
            other => Err(self.invalid(
                value.span(),
                key,
                format!(
                    "unknown value {other:?}: expected \"first\", \"busiest\" or \"consistent\""
                ),
            )),
        }
    }

    pub(super) fn mode(&self, value: &Spanned<String>, key: String) -> Result<Mode, ConfigError> {
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

    pub(super) fn buckets(
        &self,
        value: &Spanned<Vec<f64>>,
        key: String,
    ) -> Result<Buckets, ConfigError> {
        Buckets::new(value.get_ref().clone()).map_err(|e| {
            self.invalid(value.span(), key, e.to_string())
                .with_source(e)
        })
    }

    /// `[histograms] buckets`: a list of bounds, or `"summary"` (`None`).
    pub(super) fn default_buckets(
        &self,
        value: &Spanned<RawBuckets>,
        key: String,
    ) -> Result<Option<Buckets>, ConfigError> {
        match value.get_ref() {
            RawBuckets::Bounds(bounds) => Buckets::new(bounds.clone()).map(Some).map_err(|e| {
                self.invalid(value.span(), key, e.to_string())
                    .with_source(e)
            }),
            RawBuckets::Summary => Ok(None),
        }
    }

    pub(super) fn duration(
        &self,
        value: &Spanned<String>,
        key: String,
    ) -> Result<Duration, ConfigError> {
        parse_duration(value.get_ref()).map_err(|e| {
            let message = match e {
                DurationError::TooLarge => too_large(value.get_ref()),
                DurationError::Malformed => format!(
                    "{:?} is not a duration: write a whole number and a unit, e.g. \"90s\", \"10m\", \"1h\" (units ms, s, m, h)",
                    value.get_ref()
                ),
            };
            self.invalid(value.span(), key, message)
        })
    }

    /// `"10m"`, or `"off"` (`None`).
    pub(super) fn idle_timeout(
        &self,
        value: &Spanned<String>,
        key: String,
    ) -> Result<Option<Duration>, ConfigError> {
        match value.get_ref().trim() {
            "off" => Ok(None),
            _ => parse_duration(value.get_ref()).map(Some).map_err(|e| {
                let message = match e {
                    DurationError::TooLarge => too_large(value.get_ref()),
                    DurationError::Malformed => format!(
                        "{:?} is not an idle timeout: write \"off\" or a whole number and a unit, e.g. \"90s\", \"10m\", \"1h\" (units ms, s, m, h)",
                        value.get_ref()
                    ),
                };
                self.invalid(value.span(), key, message)
            }),
        }
    }

    /// `label_limits` and `pinned` of one table (`at` names it, e.g.
    /// `metrics[1]`), checked against the limits they will be merged with.
    pub(super) fn labels(
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
            out.1.insert(label.clone(), Arc::new(set));
        }
        Ok(out)
    }

    pub(super) fn pattern(
        &self,
        value: &Spanned<String>,
        key: String,
    ) -> Result<Pattern, ConfigError> {
        Pattern::parse(value.get_ref()).map_err(|e| {
            self.invalid(value.span(), key, e.to_string())
                .with_source(e)
        })
    }
}

/// Label limits and pinned values, checked.
#[derive(Default)]
pub(super) struct LabelSettings(
    pub(super) BTreeMap<String, NonZeroU64>,
    pub(super) BTreeMap<String, PinnedValues>,
);

/// A label name as code writes it: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn check_label_name(label: &str) -> Result<(), String> {
    if crate::text::is_label_name(label) {
        Ok(())
    } else {
        Err(format!(
            "{label:?} is not a label name (letters, digits and `_`)"
        ))
    }
}

/// A `[global] labels` entry: a label name that renders as written and is
/// not reserved, with a value that renders.
pub(crate) fn check_global_label(
    label: &str,
    value: &str,
    bounds: &GlobalLimits,
) -> Result<(), String> {
    check_label_name(label)?;
    let max_key = bounds.max_label_key_length.get();
    if label.len() > max_key {
        return Err(format!(
            "the label name is {} bytes, longer than max_label_key_length ({max_key})",
            label.len()
        ));
    }
    let max_len = bounds.max_label_value_length.get();
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

fn too_large(text: &str) -> String {
    format!(
        "{text:?} is too large: the longest duration is {} ms (about 584 million years)",
        u64::MAX
    )
}
