//! The audit of one exposition: what each family costs, the top offenders,
//! what Prometheus pays for it, and (when watched) how fast it grows. Rendered
//! as JSON here, as a text table in `table.rs`.
//!
//! A guarded target (one that exports the guard's self-report) is audited
//! for what the service exports: the `cardinality_guard_*` families are
//! left out of `metrics` and `top_offenders` and summed up in `self_report`;
//! they still count in `total_series` (Prometheus stores them too).

use serde::Serialize;

use crate::growth::{hours_to_budget, Growth};
use crate::inventory::{Family, Inventory};
use crate::self_report::{is_self_report, SelfReport};
use cardinality_guard_core::text::{Format, Kind};

/// Memory one series costs a Prometheus server in its head block, in bytes:
/// Robust Perception's rule of thumb, "around 3kB per series in the head" as
/// of Prometheus 2.20 (Brian Brazil, "Why does Prometheus use so much RAM?").
pub(crate) const PROMETHEUS_BYTES_PER_SERIES: u64 = 3_000;

/// How many offenders the report names.
const TOP_OFFENDERS: usize = 5;

/// One label of a metric.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelAudit {
    /// The label name.
    pub name: String,
    /// Its distinct values (`__overflow__` is a fold, not a value: left out).
    pub values: u64,
    /// The guard's estimate of its distinct values, folded ones included
    /// (`cardinality_guard_label_values`; guarded targets only, else null).
    pub demand: Option<u64>,
    /// Its running label limit (`cardinality_guard_label_limit`; guarded
    /// targets only, else null).
    pub label_limit: Option<u64>,
    /// New distinct values per hour (with `--watch`, else null).
    pub new_values_per_hour: Option<f64>,
}

/// One metric family.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricAudit {
    /// The family name.
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// Sample lines: the series Prometheus stores.
    pub series: u64,
    /// Distinct label sets (without `le` / `quantile`), the overflow series
    /// left out.
    pub label_sets: u64,
    /// Sample lines of its overflow series (`otel_metric_overflow="true"`,
    /// where a guard folds what its budget can't hold): counted in `series`,
    /// not as a label set.
    pub overflow_series: u64,
    /// Label sets with a value `__overflow__` (where a guard's label limit
    /// folds the values beyond it): counted as label sets, the value not as
    /// a value.
    pub folded_values: u64,
    /// Its budget, `cardinality_guard_series_limit` (guarded targets only,
    /// else null).
    pub series_limit: Option<u64>,
    /// Its labels, most distinct values first.
    pub labels: Vec<LabelAudit>,
    /// Finite bucket bounds seen (histograms), else null.
    pub buckets: Option<Vec<f64>>,
    /// New series per hour (with `--watch`, else null).
    pub growth_per_hour: Option<f64>,
    /// Hours until `series` reaches the budget at that rate (with `--watch`;
    /// null when it does not grow; 0 when it is there already).
    pub hours_to_budget: Option<f64>,
}

/// A metric that holds many series and the label that makes it so.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Offender {
    /// The metric.
    pub metric: String,
    /// Its series.
    pub series: u64,
    /// Its share of all series.
    pub share: f64,
    /// Its label with the most distinct values, if it has labels.
    pub label: Option<String>,
    /// That label's distinct values.
    pub values: u64,
}

/// How long and how often the service was watched.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WatchSummary {
    /// Scrapes taken.
    pub scrapes: usize,
    /// Seconds from the first scrape to the last.
    pub seconds: f64,
    /// The budget `hours_to_budget` is computed for.
    pub budget: u64,
}

/// One `cardinality_guard_*` family of a guarded target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SelfReportFamily {
    /// The family name.
    pub name: String,
    /// Its series (sample lines).
    pub series: u64,
}

/// A metric the guard folds for lack of budget.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoldingMetric {
    /// The metric.
    pub metric: String,
    /// Its series, `cardinality_guard_series`.
    pub series: u64,
    /// Its budget, `cardinality_guard_series_limit`.
    pub series_limit: Option<u64>,
    /// Registrations folded or dropped for lack of budget (its own or the
    /// global one), `cardinality_guard_overflow_total`.
    pub folded: u64,
}

/// The guard's self-report of a guarded target, summed up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SelfReportAudit {
    /// Its families (`cardinality_guard_*`), most series first.
    pub families: Vec<SelfReportFamily>,
    /// Their series together.
    pub series: u64,
    /// `cardinality_guard_global_series`: all guarded series.
    pub global_series: Option<u64>,
    /// `cardinality_guard_global_series_limit`: `global.max_series`.
    pub global_series_limit: Option<u64>,
    /// The metrics that folded for lack of budget, most folds first.
    pub metrics_folding: Vec<FoldingMetric>,
}

/// The whole audit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Audit {
    /// Whether the target runs cardinality-guard: it exports the guard's
    /// self-report (`cardinality_guard_series_limit` / `cardinality_guard_series`).
    pub guarded: bool,
    /// What was read: the file, `<stdin>`, or the URL read in the end
    /// (after its redirects).
    pub source: String,
    /// The URL asked for, when it redirected elsewhere (else null).
    pub redirected_from: Option<String>,
    /// `prometheus-0.0.4` or `openmetrics-1.0.0`.
    pub format: &'static str,
    /// Bytes of the (last) exposition.
    pub bytes: u64,
    /// All series (sample lines).
    pub total_series: u64,
    /// `total_series` × `prometheus_bytes_per_series`.
    pub prometheus_memory_bytes: u64,
    /// The per-series figure used: about 3 kB, Robust Perception's rule of
    /// thumb for a series in a Prometheus 2.20+ head block.
    pub prometheus_bytes_per_series: u64,
    /// Families, most series first; the guard's own (`cardinality_guard_*`)
    /// left out.
    pub metrics: Vec<MetricAudit>,
    /// The top offenders.
    pub top_offenders: Vec<Offender>,
    /// With `--watch`.
    pub watch: Option<WatchSummary>,
    /// The guard's self-report, on a guarded target (else null).
    pub self_report: Option<SelfReportAudit>,
}

impl Audit {
    /// Builds the audit of `inventory` (the last scrape), with the growth of a watch.
    pub(crate) fn new(
        source: &str,
        format: Format,
        bytes: u64,
        inventory: &Inventory,
        growth: Option<(&Growth, u64)>,
    ) -> Audit {
        let metrics: Vec<MetricAudit> = inventory
            .by_series()
            .into_iter()
            .filter(|f| !is_self_report(&f.name))
            .map(|f| metric(f, &inventory.self_report, growth))
            .collect();
        let total = inventory.total_series;
        // The few metrics that hold most series: at most five, each at least
        // 1% of the total (the first always).
        let top_offenders = metrics
            .iter()
            .take(TOP_OFFENDERS)
            .enumerate()
            .filter(|(i, m)| m.series > 0 && (*i == 0 || m.series * 100 >= total))
            .map(|(_, m)| {
                let top = m.labels.first();
                Offender {
                    metric: m.name.clone(),
                    series: m.series,
                    share: if total == 0 {
                        0.0
                    } else {
                        m.series as f64 / total as f64
                    },
                    label: top.map(|l| l.name.clone()),
                    values: top.map_or(0, |l| l.values),
                }
            })
            .collect();
        Audit {
            guarded: inventory.self_report.guarded,
            self_report: self_report_audit(inventory),
            source: source.to_owned(),
            redirected_from: None,
            format: match format {
                Format::OpenMetrics => "openmetrics-1.0.0",
                _ => "prometheus-0.0.4",
            },
            bytes,
            total_series: total,
            prometheus_memory_bytes: total * PROMETHEUS_BYTES_PER_SERIES,
            prometheus_bytes_per_series: PROMETHEUS_BYTES_PER_SERIES,
            metrics,
            top_offenders,
            watch: growth.map(|(g, budget)| WatchSummary {
                scrapes: g.scrapes(),
                seconds: g.elapsed().as_secs_f64(),
                budget,
            }),
        }
    }

    /// The metric named `name`.
    pub fn metric(&self, name: &str) -> Option<&MetricAudit> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// As JSON.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The `self_report` object of a guarded target.
fn self_report_audit(inventory: &Inventory) -> Option<SelfReportAudit> {
    let report = &inventory.self_report;
    if !report.guarded {
        return None;
    }
    let families: Vec<SelfReportFamily> = inventory
        .by_series()
        .into_iter()
        .filter(|f| is_self_report(&f.name))
        .map(|f| SelfReportFamily {
            name: f.name.clone(),
            series: f.series,
        })
        .collect();
    let mut metrics_folding: Vec<FoldingMetric> = report
        .folded
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(metric, n)| FoldingMetric {
            metric: metric.clone(),
            series: report.series.get(metric).copied().unwrap_or(0),
            series_limit: report.series_limit.get(metric).copied(),
            folded: *n,
        })
        .collect();
    metrics_folding.sort_by(|a, b| {
        b.folded
            .cmp(&a.folded)
            .then_with(|| a.metric.cmp(&b.metric))
    });
    Some(SelfReportAudit {
        series: families.iter().map(|f| f.series).sum(),
        families,
        global_series: report.global_series,
        global_series_limit: report.global_series_limit,
        metrics_folding,
    })
}

fn metric(f: &Family, report: &SelfReport, growth: Option<(&Growth, u64)>) -> MetricAudit {
    let family_growth = growth.and_then(|(g, _)| g.of(&f.name));
    let guard_name = f.guard_name.as_deref().unwrap_or(&f.name);
    let key = |label: &str| (guard_name.to_owned(), label.to_owned());
    let mut labels: Vec<LabelAudit> = f
        .labels
        .iter()
        .map(|(name, stats)| LabelAudit {
            name: name.clone(),
            values: stats.values.len() as u64,
            demand: report.label_values.get(&key(name)).copied(),
            label_limit: report.label_limits.get(&key(name)).copied(),
            new_values_per_hour: family_growth
                .as_ref()
                .map(|g| g.label_values_per_hour.get(name).copied().unwrap_or(0.0)),
        })
        .collect();
    labels.sort_by(|a, b| b.values.cmp(&a.values).then_with(|| a.name.cmp(&b.name)));
    let growth_per_hour = family_growth.as_ref().map(|g| g.series_per_hour);
    MetricAudit {
        name: f.name.clone(),
        kind: f.kind,
        series: f.series,
        label_sets: f.label_sets.len() as u64,
        overflow_series: f.overflow_series,
        folded_values: f.folded_sets.len() as u64,
        series_limit: report.series_limit.get(guard_name).copied(),
        labels,
        buckets: matches!(f.kind, Kind::Histogram | Kind::GaugeHistogram)
            .then(|| f.buckets.iter().map(|b| b.0).collect()),
        growth_per_hour,
        hours_to_budget: growth
            .zip(growth_per_hour)
            .and_then(|((_, budget), r)| hours_to_budget(f.series, budget, r)),
    }
}

/// `1 metric family`, `12,345 metric families`
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `12,345`
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
