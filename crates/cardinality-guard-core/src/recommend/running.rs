//! What the suggested `guard.toml` keeps of the running config: its
//! `[defaults]`, its `[histograms]` (the series counts depend on them), and
//! its rules for the metrics not seen yet.

use super::tables::{SuggestedHistograms, SuggestedPolicy};
use crate::config::{Config, Keep, MetricPolicy, MetricRule, Mode};

pub(super) fn defaults(d: &MetricPolicy) -> SuggestedPolicy {
    let policy = SuggestedPolicy::new()
        .note("for metrics not seen yet")
        .max_series(d.max_series.get())
        .on_overflow(d.on_overflow)
        .mode(Mode::Enforce);
    let policy = match d.mode {
        Mode::Shadow => policy.note("was shadow"),
        Mode::Enforce => policy,
    };
    let policy = policy
        .label_limits(d.label_limits.iter().map(|(k, v)| (k.as_str(), v.get())))
        .pinned(pinned(d))
        .idle_timeout(d.idle_timeout);
    match d.keep {
        Keep::First => policy,
        keep => policy.keep(keep),
    }
}

pub(super) fn histograms(running: &Config) -> SuggestedHistograms {
    let h = &running.histograms;
    let mut histograms =
        SuggestedHistograms::new().note("as they rendered: the series counts depend on it");
    histograms = match &h.buckets {
        Some(b) => histograms.buckets(b.bounds()),
        None => histograms.summaries(),
    };
    for (pattern, buckets) in &h.per_metric {
        histograms = histograms.per_metric(pattern.to_string(), buckets.bounds());
    }
    histograms
}

/// A rule of the running config, as it is.
pub(super) fn kept(rule: &MetricRule) -> SuggestedPolicy {
    let mut policy = SuggestedPolicy::new();
    if let Some(max) = rule.max_series {
        policy = policy.max_series(max.get());
    }
    if let Some(o) = rule.on_overflow {
        policy = policy.on_overflow(o);
    }
    if let Some(mode) = rule.mode {
        policy = policy.mode(mode);
    }
    if let Some(keep) = rule.keep {
        policy = policy.keep(keep);
    }
    if !rule.label_limits.is_empty() {
        policy = policy.label_limits(rule.label_limits.iter().map(|(k, v)| (k.as_str(), v.get())));
    }
    if !rule.pinned.is_empty() {
        policy = policy.pinned(rule.pinned.iter().map(|(k, v)| (k.as_str(), v.iter())));
    }
    match rule.idle_timeout {
        Some(timeout) => policy.idle_timeout(timeout),
        None => policy,
    }
}

pub(super) fn pinned(
    policy: &MetricPolicy,
) -> impl Iterator<Item = (&str, impl Iterator<Item = &String>)> {
    policy.pinned.iter().map(|(k, v)| (k.as_str(), v.iter()))
}
