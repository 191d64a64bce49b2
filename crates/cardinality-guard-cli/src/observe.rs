//! What the suggestion engine reads of a scrape: one
//! [`Observation`] per metric, filled as the guard fills its own from its
//! report ([`MetricReport::observation`]), so that for a guarded service
//! `audit --suggest` and the report's `?format=toml` give the same advice;
//! and the running config they were observed under, as far as the scrape
//! tells it.
//!
//! Per metric (a counter by its `_total` sample name, the name metrics-rs
//! registers; `_created` samples and `x_created` gauge families are never
//! metrics of their own):
//!
//! - `limit`: `cardinality_guard_series_limit{metric}` on a guarded target,
//!   else the embedded default's `max_series` for the name;
//! - `series_per_label_set`: a histogram's buckets seen + 3, a summary's
//!   quantiles seen + 2 (what the guard would render when none were seen),
//!   else 1;
//! - `label_sets`: the distinct label sets, the overflow series left out;
//! - `folded`: `cardinality_guard_overflow_total{reason=~"series_limit|global_limit"}`
//!   (0 unguarded);
//! - `updates`: the sum of the counter values (histograms' and summaries'
//!   `_count`) over all its series, the overflow series included (none for
//!   a gauge); `admitted_share`: the part of them its admitted series carry;
//! - per label: `demand` = `cardinality_guard_label_values{metric,label}`
//!   when exported, else the distinct values seen (`__overflow__` left out);
//!   `limit` = `cardinality_guard_label_limit{metric,label}` when exported,
//!   else, on a guarded target where the label shows `__overflow__`, the
//!   distinct values it kept (the limit it reached); `folded_updates` = the
//!   updates of the series whose value of the label is `__overflow__`.
//!
//! [`MetricReport::observation`]: cardinality_guard_core::MetricReport::observation

use std::num::{NonZeroU64, NonZeroUsize};

use cardinality_guard_core::config::{MetricRule, Pattern};
use cardinality_guard_core::text::Kind;
use cardinality_guard_core::{Config, Observation, ObservedLabel, DEFAULT_QUANTILES};

use crate::growth::Growth;
use crate::inventory::{Family, Inventory};
use crate::self_report::is_self_report;

/// A label "grows" when one scrape shows at least this many distinct values
/// of it (or a `--watch` saw it gain values). On a target without the guard,
/// only the metrics with a growing label get an entry.
pub(crate) const GROWING_VALUES: u64 = 20;

/// The largest number the config takes.
const MAX_NUMBER: u64 = i64::MAX as u64;

/// One metric as observed, and the family it was read from.
pub(crate) struct Observed<'a> {
    pub(crate) family: &'a Family,
    pub(crate) observation: Observation,
}

/// The observations of `inventory` and the running config they were
/// observed under: the embedded default, with what a guarded target's
/// self-report tells (its global budget, each metric's budget and label
/// limits). On a target without the guard, only the metrics with a label
/// that grows (see [`GROWING_VALUES`]) are observed.
pub(crate) fn observe<'a>(
    inventory: &'a Inventory,
    growth: Option<&Growth>,
) -> (Vec<Observed<'a>>, Config) {
    let report = &inventory.self_report;
    let mut running = Config::embedded();
    let any_summary = inventory
        .families
        .values()
        .any(|f| f.kind == Kind::Summary && !is_self_report(&f.name));
    let default_cost = match (&running.histograms.buckets, any_summary) {
        (Some(b), false) => b.bounds().len() as u64 + 3,
        _ => DEFAULT_QUANTILES as u64 + 2,
    };
    let families: Vec<&Family> = inventory
        .by_series()
        .into_iter()
        .filter(|f| !is_self_report(&f.name) && !is_created_twin(inventory, f))
        .filter(|f| report.guarded || grows(f, growth))
        .collect();
    // Budgets read from a scrape are clamped so that their sum fits the
    // config's numbers.
    let cap = MAX_NUMBER / (families.len() as u64 + 1);
    let mut observed = Vec::with_capacity(families.len());
    let mut rules = Vec::new();
    for f in families {
        let Some(name) = guard_name(f) else { continue };
        let limit = match report.series_limit.get(&name) {
            Some(&limit) => limit.clamp(1, cap),
            None => running.policy_for(&name).max_series.get(),
        };
        let cost = match f.kind {
            Kind::Histogram | Kind::GaugeHistogram if !f.buckets.is_empty() => {
                f.buckets.len() as u64 + 3
            }
            Kind::Summary if !f.quantiles.is_empty() => f.quantiles.len() as u64 + 2,
            Kind::Histogram | Kind::GaugeHistogram | Kind::Summary => default_cost,
            _ => 1,
        };
        let mut observation = Observation::new(name.as_str(), limit, cost)
            .label_sets(f.label_sets.len() as u64)
            .folded(report.folded.get(&name).copied().unwrap_or(0));
        if let Some(updates) = f.updates {
            observation = observation.updates(updates as u64);
            if updates > 0.0 {
                let admitted = (updates - f.overflow_updates).max(0.0);
                observation = observation.admitted_share(admitted / updates);
            }
        }
        let mut rule = MetricRule::new(Pattern::Exact(name.clone()));
        for (label, stats) in &f.labels {
            let key = (name.clone(), label.clone());
            let seen = stats.values.len() as u64;
            let demand = report.label_values.get(&key).copied().unwrap_or(seen);
            let mut observed_label = ObservedLabel::new(label.as_str(), demand);
            // The running label limit: exported, or the values a guard's
            // label limit kept where it folded the others.
            let folding = report.label_limit_folds.get(&name).is_some_and(|n| *n > 0);
            let limit =
                report.label_limits.get(&key).copied().or_else(|| {
                    (report.guarded && folding && stats.folds && seen > 0).then_some(seen)
                });
            if let Some(limit) = limit.and_then(|l| NonZeroU64::new(l.min(cap))) {
                observed_label = observed_label.limit(limit.get());
                rule = rule.with_label_limit(label.as_str(), limit);
            }
            if f.updates.is_some() {
                observed_label = observed_label.folded_updates(stats.folded_updates as u64);
            }
            observation = observation.label(observed_label);
        }
        if report.guarded {
            if let Some(max) = NonZeroU64::new(limit) {
                rules.push(rule.with_max_series(max));
            }
        }
        observed.push(Observed {
            family: f,
            observation,
        });
    }
    if let Some(limit) = report.global_series_limit.and_then(NonZeroU64::new) {
        running.global.max_series = limit.min(NonZeroU64::MIN.saturating_add(MAX_NUMBER - 1));
    }
    let metrics = NonZeroUsize::new(observed.len()).unwrap_or(NonZeroUsize::MIN);
    running.global.max_metrics = running.global.max_metrics.max(metrics);
    let running = running.with_rules(rules.into_iter().chain(Config::embedded().metrics));
    (observed, running)
}

/// The name metrics-rs registers: a counter's sample name (`x_total`),
/// else the family's; `None` for a counter of `_created` samples only.
pub(crate) fn guard_name(f: &Family) -> Option<String> {
    match f.kind {
        Kind::Counter => f.guard_name.clone(),
        _ => Some(f.name.clone()),
    }
}

/// Whether `f` has a label that grows: [`GROWING_VALUES`] distinct values
/// in one scrape, or new values during a watch.
pub(crate) fn grows(f: &Family, growth: Option<&Growth>) -> bool {
    let watched = growth.and_then(|g| g.of(&f.name));
    f.labels.iter().any(|(name, stats)| {
        stats.values.len() as u64 >= GROWING_VALUES
            || watched
                .as_ref()
                .and_then(|g| g.label_values_per_hour.get(name))
                .is_some_and(|r| *r > 0.0)
    })
}

/// A gauge family `x_created` next to a counter, histogram or summary `x`
/// (or `x_total`): `prometheus_client`'s creation timestamps in the
/// Prometheus text format, never a metric of its own.
pub(crate) fn is_created_twin(inventory: &Inventory, f: &Family) -> bool {
    let Some(base) = f.name.strip_suffix("_created") else {
        return false;
    };
    matches!(f.kind, Kind::Gauge | Kind::Untyped)
        && [base.to_owned(), format!("{base}_total")]
            .iter()
            .filter_map(|n| inventory.families.get(n))
            .any(|twin| {
                matches!(
                    twin.kind,
                    Kind::Counter | Kind::Histogram | Kind::GaugeHistogram | Kind::Summary
                )
            })
}

#[cfg(test)]
mod tests;
