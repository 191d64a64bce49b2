//! The Prometheus text format (0.0.4), written from the guard's own tables.
//!
//! The lines are those `metrics-exporter-prometheus` writes wherever it is
//! correct (same names, suffixes, `le` and `quantile` labels, number
//! formatting), with label values escaped losslessly, in a stable order:
//! families sorted by name, each family's series sorted by their labels,
//! then the guard's self-report, computed from what was just written.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use metrics_exporter_prometheus::Distribution;

use crate::flavor::Flavor;
use crate::metric::Metric;
use crate::problem::{Problem, PROBLEM_LABEL};
use crate::report::GlobalReport;
use crate::self_report::{
    ReloadStatus, ADMITTED_TOTAL, CONFIG_LAST_RELOAD_SUCCESSFUL,
    CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP, CONFIG_UNMATCHED_RULES, COUNTERS, EVICTED_TOTAL, GAUGES,
    GLOBAL_SERIES, GLOBAL_SERIES_LIMIT, INVALID_METRIC, LABEL_LIMIT, LABEL_VALUES, METRICS,
    OVERFLOW_TOTAL, PROBLEMS, SERIES, SERIES_LIMIT, UNTRACKED_METRIC,
};
use crate::series::{Series, Storage};
use crate::text::{escape_help_into, write_f64, write_labels};
use crate::vocabulary::{EvictionReason, OverflowReason};

/// `name[_suffix]{labels[,extra]} ` (the value follows).
fn write_start(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &str,
    extra: Option<(&str, &str)>,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        out.push_str(labels);
        if let Some((key, value)) = extra {
            if !labels.is_empty() {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{value}\"");
        }
        out.push('}');
    }
    out.push(' ');
}

fn write_header(out: &mut String, name: &str, type_name: &str, help: Option<&str>) {
    if let Some(help) = help {
        let _ = write!(out, "# HELP {name} ");
        escape_help_into(out, help);
        out.push('\n');
    }
    let _ = writeln!(out, "# TYPE {name} {type_name}");
}

/// What a render wrote of one metric, for its self-report lines.
pub(crate) struct Rendered {
    pub(crate) metric: Arc<Metric>,
    pub(crate) series: u64,
}

/// Writes the family of `metric` (nothing while it has no series) and
/// returns the series written. Marks every series as scraped first.
pub(crate) fn write_metric(
    out: &mut String,
    metric: &Metric,
    help: Option<&str>,
    now: quanta::Instant,
) -> u64 {
    let mut table = metric.lock();
    metric.rendered();
    if table.is_empty() {
        return 0;
    }
    let type_name = match (metric.flavor, &metric.histogram) {
        (Flavor::Counter | Flavor::FloatCounter, _) => "counter",
        (Flavor::Gauge, _) => "gauge",
        (Flavor::Histogram, Some(h)) => h.type_name(),
        (Flavor::Histogram | Flavor::Buckets, _) => "histogram",
        (Flavor::Summary, _) => "summary",
    };
    write_header(out, &metric.name, type_name, help);
    // Sorted by their labels (in any order, global labels included): the
    // same order whatever spelling admitted them.
    let mut rows: Vec<&Series> = table.iter().map(|s| &**s).collect();
    rows.sort_by_cached_key(|s| s.sort_key());
    let mut retired = false;
    let mut rendered = 0;
    for series in rows {
        // What upkeep may evict or expire: only what a render has shown.
        series.scraped();
        write_series(out, &metric.name, series, now);
        write_ingested(out, &metric.name, series, &metric.family.texts);
        rendered += metric.cost(series.overflow);
        // A series upkeep evicts while updates keep coming: its last value
        // is shown now, and it ends here (unless an update raced the line).
        if series.retiring.load(Ordering::Relaxed) {
            retired |= series.evict();
        }
    }
    out.push('\n');
    if retired {
        metric.remove_retired(&mut table);
    }
    rendered
}

fn write_series(out: &mut String, name: &str, series: &Series, now: quanta::Instant) {
    let labels = series.text();
    match &series.storage {
        Storage::Counter(value) => {
            write_start(out, name, "", labels, None);
            let _ = writeln!(out, "{}", value.load(std::sync::atomic::Ordering::Acquire));
        }
        Storage::Gauge(bits) => {
            write_start(out, name, "", labels, None);
            write_f64(
                out,
                f64::from_bits(bits.load(std::sync::atomic::Ordering::Acquire)),
            );
            out.push('\n');
        }
        Storage::Histogram(distribution) => {
            let distribution = distribution.lock().unwrap_or_else(|p| p.into_inner());
            let (sum, count) = match &*distribution {
                Distribution::Histogram(histogram) => {
                    let mut le = String::new();
                    for (bound, count) in histogram.buckets() {
                        le.clear();
                        let _ = write!(le, "{bound}");
                        write_start(out, name, "_bucket", labels, Some(("le", &le)));
                        let _ = writeln!(out, "{count}");
                    }
                    write_start(out, name, "_bucket", labels, Some(("le", "+Inf")));
                    let _ = writeln!(out, "{}", histogram.count());
                    (histogram.sum(), histogram.count())
                }
                Distribution::Summary(rolling, quantiles, sum) => {
                    let snapshot = rolling.snapshot(now);
                    let mut q = String::new();
                    for quantile in quantiles.iter() {
                        q.clear();
                        let _ = write!(q, "{}", quantile.value());
                        write_start(out, name, "", labels, Some(("quantile", &q)));
                        write_f64(out, snapshot.quantile(quantile.value()).unwrap_or(0.0));
                        out.push('\n');
                    }
                    (*sum, rolling.count() as u64)
                }
                Distribution::NativeHistogram(_) => return,
            };
            write_start(out, name, "_sum", labels, None);
            write_f64(out, sum);
            out.push('\n');
            write_start(out, name, "_count", labels, None);
            let _ = writeln!(out, "{count}");
        }
        Storage::Inner(_)
        | Storage::FloatCounter(_)
        | Storage::Buckets(_)
        | Storage::Summary(_) => {}
    }
}

/// The lines of an ingested series (`texts`: its metric's `le` or
/// `quantile` texts); nothing for the other storages.
fn write_ingested(out: &mut String, name: &str, series: &Series, texts: &[Box<str>]) {
    let labels = series.text();
    let (sum, count) = match &series.storage {
        Storage::FloatCounter(bits) => {
            write_start(out, name, "", labels, None);
            write_f64(out, f64::from_bits(bits.load(Ordering::Acquire)));
            out.push('\n');
            return;
        }
        Storage::Buckets(values) => {
            let values = values.lock().unwrap_or_else(|p| p.into_inner());
            let bounds = texts.iter().map(|t| &**t).chain(["+Inf"]);
            for (le, count) in bounds.zip(values.cumulative()) {
                write_start(out, name, "_bucket", labels, Some(("le", le)));
                write_f64(out, *count);
                out.push('\n');
            }
            (values.sum(), values.count())
        }
        Storage::Summary(values) => {
            let values = values.lock().unwrap_or_else(|p| p.into_inner());
            // The overflow series folds sums and counts: no quantile of
            // label sets mixed together would be true.
            if !series.overflow {
                for (quantile, value) in texts.iter().zip(values.quantiles()) {
                    write_start(out, name, "", labels, Some(("quantile", quantile)));
                    write_f64(out, *value);
                    out.push('\n');
                }
            }
            (values.sum(), values.count())
        }
        _ => return,
    };
    write_start(out, name, "_sum", labels, None);
    write_f64(out, sum);
    out.push('\n');
    write_start(out, name, "_count", labels, None);
    write_f64(out, count);
    out.push('\n');
}

/// Writes the guard's self-report from what this render wrote: every
/// figure matches the lines above it. `misconfig`: the rules that matched
/// nothing, and the reports of each run-time problem.
pub(crate) fn write_self_report(
    out: &mut String,
    rendered: &[Rendered],
    global: &GlobalReport,
    global_labels: &[(String, String)],
    reload: ReloadStatus,
    misconfig: (usize, &[(Problem, u64)]),
) {
    // Global labels on every line, but the self-report's own labels win
    // (a global `metric` would otherwise repeat the key).
    let labels = |pairs: &[(&str, &str)]| {
        let mut text = String::new();
        write_labels(
            &mut text,
            global_labels
                .iter()
                .filter(|(k, _)| pairs.iter().all(|(own, _)| own != k))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(pairs.iter().copied()),
        );
        text
    };
    let mut families: Vec<(&str, Vec<(String, String)>)> = Vec::new();
    let mut per_metric = |name: &'static str, value: &dyn Fn(&Rendered) -> Option<u64>| {
        let lines = rendered
            .iter()
            .filter_map(|r| Some((labels(&[("metric", &r.metric.name)]), value(r)?.to_string())))
            .collect();
        families.push((name, lines));
    };
    per_metric(SERIES, &|r| Some(r.series));
    per_metric(SERIES_LIMIT, &|r| Some(r.metric.policy().max_series.get()));
    per_metric(ADMITTED_TOTAL, &|r| Some(r.metric.report_admitted()));
    let mut overflow = Vec::new();
    let mut evicted = Vec::new();
    let mut demand = Vec::new();
    let mut label_limits = Vec::new();
    for r in rendered {
        let counts = r.metric.evicted_counts();
        for reason in EvictionReason::ALL {
            let n = counts.get(reason);
            if n > 0 {
                let l = labels(&[("metric", &r.metric.name), ("reason", reason.as_str())]);
                evicted.push((l, n.to_string()));
            }
        }
        let counts = r.metric.overflow_counts();
        for reason in OverflowReason::ALL {
            let n = counts.get(reason);
            if n > 0 {
                let l = labels(&[("metric", &r.metric.name), ("reason", reason.as_str())]);
                overflow.push((l, n.to_string()));
            }
        }
        for label in r.metric.label_reports() {
            let l = || labels(&[("metric", &r.metric.name), ("label", &label.name)]);
            if label.demand > 0 {
                demand.push((l(), label.demand.to_string()));
            }
            if let Some(limit) = label.limit {
                label_limits.push((l(), limit.to_string()));
            }
        }
    }
    for (metric, reason, n) in [
        (
            UNTRACKED_METRIC,
            OverflowReason::MaxMetrics,
            global.untracked_registrations,
        ),
        (
            INVALID_METRIC,
            OverflowReason::Invalid,
            global.invalid_registrations,
        ),
    ] {
        if n > 0 {
            let l = labels(&[("metric", metric), ("reason", reason.as_str())]);
            overflow.push((l, n.to_string()));
        }
    }
    families.push((OVERFLOW_TOTAL, overflow));
    families.push((EVICTED_TOTAL, evicted));
    families.push((LABEL_VALUES, demand));
    families.push((LABEL_LIMIT, label_limits));
    let series: u64 = rendered.iter().map(|r| r.series).sum();
    families.push((GLOBAL_SERIES, vec![(labels(&[]), series.to_string())]));
    let limit = global.series_limit.to_string();
    families.push((GLOBAL_SERIES_LIMIT, vec![(labels(&[]), limit)]));
    let metrics = global.metrics.to_string();
    families.push((METRICS, vec![(labels(&[]), metrics)]));
    let successful = u8::from(reload.successful).to_string();
    families.push((
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        vec![(labels(&[]), successful)],
    ));
    let loaded_at = reload.success_timestamp.to_string();
    families.push((
        CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP,
        vec![(labels(&[]), loaded_at)],
    ));

    let (unmatched_rules, problems) = misconfig;
    let unmatched_rules = vec![(labels(&[]), unmatched_rules.to_string())];
    families.push((CONFIG_UNMATCHED_RULES, unmatched_rules));
    let problems = problems
        .iter()
        .map(|(p, n)| (labels(&[(PROBLEM_LABEL, p.as_str())]), n.to_string()))
        .collect();
    families.push((PROBLEMS, problems));

    families.sort_by(|a, b| a.0.cmp(b.0));
    for (name, mut lines) in families {
        if lines.is_empty() {
            continue;
        }
        let (type_name, help) = match COUNTERS.iter().find(|(n, _)| *n == name) {
            Some((_, help)) => ("counter", *help),
            None => (
                "gauge",
                GAUGES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or("", |(_, h)| *h),
            ),
        };
        write_header(out, name, type_name, Some(help));
        lines.sort();
        for (labels, value) in lines {
            write_start(out, name, "", &labels, None);
            out.push_str(&value);
            out.push('\n');
        }
        out.push('\n');
    }
}
