//! The guard's own `cardinality_guard_*` metrics go straight to the inner
//! recorder: they take no room in the guard's budgets, are not tracked
//! metrics, and their own cardinality is bounded by the number of tracked
//! metrics, whatever the label values.

mod support;

use std::collections::BTreeSet;

use support::{
    assert_series_accounting, guarded, guarded_samples, labeled_value, overflow_total,
    self_report_samples, self_reported_series,
};

/// The self-report's series as (name, labels) pairs.
fn self_report_series(text: &str) -> BTreeSet<String> {
    self_report_samples(text)
        .into_iter()
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect()
}

/// At most, per tracked metric: `cardinality_guard_series`, `_series_limit`
/// and `_overflow_total` for each of the 4 reasons; and once: the 3 global
/// gauges, the 2 config-reload gauges, the `__untracked__` overflow counter,
/// the unmatched-rules gauge and one `cardinality_guard_problems` line per
/// known problem.
fn self_report_bound(tracked_metrics: usize) -> usize {
    6 * tracked_metrics + 7 + cardinality_guard_core::Problem::COUNT
}

#[test]
fn with_max_metrics_one_the_self_report_still_renders_and_is_not_tracked() {
    let (guard, exporter) = guarded("[global]\nmax_metrics = 1\n");
    let others = ["second_total", "third_total"];
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("first_total", "v" => "a").increment(1);
        for name in others {
            metrics::counter!(name).increment(1);
        }
    });
    let text = exporter.render();
    let report = exporter.report();
    assert_eq!(report.global.metrics, 1, "{text}");
    let names: Vec<&str> = report.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["first_total"], "{text}");
    assert_eq!(
        labeled_value(&text, "cardinality_guard_metrics", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        self_reported_series(&text, "first_total"),
        Some(1.0),
        "{text}"
    );
    let limit = labeled_value(
        &text,
        "cardinality_guard_series_limit",
        &[("metric", "first_total")],
    );
    assert!(limit.is_some(), "{text}");
    let global = labeled_value(&text, "cardinality_guard_global_series", &[]);
    assert_eq!(global, Some(1.0), "{text}");
    let dropped = overflow_total(&text, "__untracked__", "max_metrics");
    assert_eq!(dropped, others.len() as f64, "{text}");
    assert_series_accounting(&text, &report);
}

/// A global budget smaller than the self-report itself: the guarded metrics
/// fill it, and the self-report renders in full beside them.
#[test]
fn the_self_report_takes_no_room_in_the_global_budget() {
    let max_series = 3;
    let (guard, exporter) = guarded(&format!("[global]\nmax_series = {max_series}\n"));
    metrics::with_local_recorder(&guard, || {
        for v in 0..20 {
            metrics::counter!("busy_total", "v" => v.to_string()).increment(1);
        }
    });
    let text = exporter.render();
    assert_eq!(guarded_samples(&text).len(), max_series, "{text}");
    let global = labeled_value(&text, "cardinality_guard_global_series", &[]);
    assert_eq!(global, Some(max_series as f64), "{text}");
    assert!(self_report_samples(&text).len() > max_series, "{text}");
    assert_series_accounting(&text, &exporter.report());
}

/// `k` tracked metrics of every kind, each flooded with label values and
/// folding, a drop metric, and names beyond `max_metrics`: the self-report
/// stays within its bound, and more label values add nothing to it.
#[test]
fn the_self_report_is_bounded_by_the_tracked_metrics_not_the_label_values() {
    for k in [1, 2, 4, 8] {
        let (guard, exporter) = guarded(&format!(
            "[global]\nmax_metrics = {k}\nmax_series = {}\n\
             [defaults]\nmax_series = 15\n\
             [[metrics]]\nmatch = \"m1_total\"\non_overflow = \"drop\"\n",
            15 * k
        ));
        let flood = |values: std::ops::Range<usize>| {
            metrics::with_local_recorder(&guard, || {
                for v in values {
                    let v = v.to_string();
                    for m in 0..k + 2 {
                        match m % 3 {
                            0 => metrics::gauge!(format!("m{m}_total"), "v" => v.clone()).set(1.0),
                            1 => metrics::counter!(format!("m{m}_total"), "v" => v.clone())
                                .increment(1),
                            _ => metrics::histogram!(format!("m{m}_total"), "v" => v.clone())
                                .record(1.0),
                        }
                    }
                }
            })
        };
        flood(0..50);
        let text = exporter.render();
        let first = self_report_series(&text);
        assert!(
            first.len() <= self_report_bound(k),
            "k = {k}: {}\n{text}",
            first.len()
        );
        let metric_labels: BTreeSet<String> = self_report_samples(&text)
            .into_iter()
            .filter_map(|s| s.labels.get("metric").cloned())
            .collect();
        assert_eq!(
            metric_labels.len(),
            k + 1,
            "k tracked + __untracked__: {metric_labels:?}"
        );
        assert_series_accounting(&text, &exporter.report());

        flood(50..5_000);
        let text = exporter.render();
        assert_eq!(self_report_series(&text), first, "k = {k}:\n{text}");
    }
}
