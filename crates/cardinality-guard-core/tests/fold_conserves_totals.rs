//! Folding moves updates into the overflow series without losing any: summed
//! over all its rendered series, a metric holds what the code recorded, and
//! the overflow series never pushes it past its budget.

mod support;

use std::collections::BTreeMap;

use support::{assert_series_accounting, guarded, label_sets_of, rendered_series, sum_of};

/// Label values recorded per metric: far more than any budget below.
const USERS: u64 = 200;

/// The value recorded for user `u`'s `i`th update: varied, and exact in
/// binary floating point so sums compare exactly.
fn value(u: u64, i: u64) -> f64 {
    ((u * 7 + i) % 16) as f64 * 0.25
}

/// Checks what folding must leave behind for metric `m`: exactly one
/// overflow series whose only label is `otel_metric_overflow="true"`, the
/// other label sets unmarked, and no more rendered series than `max_series`.
fn assert_folded(text: &str, m: &str, max_series: usize) {
    let overflow = BTreeMap::from([("otel_metric_overflow".to_owned(), "true".to_owned())]);
    let marked: Vec<_> = label_sets_of(text, m)
        .into_iter()
        .filter(|labels| labels.contains_key("otel_metric_overflow"))
        .collect();
    assert_eq!(marked, [overflow], "{m}'s overflow series:\n{text}");
    let rendered = rendered_series(text, m);
    assert!(
        rendered <= max_series,
        "{m}: {rendered} series > {max_series}:\n{text}"
    );
}

#[test]
fn counter_sums_to_what_was_recorded() {
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\n");
    let mut recorded = 0;
    metrics::with_local_recorder(&guard, || {
        // Each user twice, through fresh registrations, so folded label sets
        // are folded again.
        for round in 0..2 {
            for u in 0..USERS {
                let n = u % 5 + round + 1;
                metrics::counter!("logins_total", "user" => u.to_string()).increment(n);
                recorded += n;
            }
        }
    });
    let text = exporter.render();
    assert_eq!(sum_of(&text, "logins_total"), recorded as f64, "{text}");
    assert_folded(&text, "logins_total", 5);
    assert_eq!(
        rendered_series(&text, "logins_total"),
        5,
        "the budget is used up"
    );
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn gauge_increments_and_decrements_sum_to_the_net() {
    let (guard, exporter) = guarded("[[metrics]]\nmatch = \"queue_depth\"\nmax_series = 4\n");
    let mut net = 0.0;
    metrics::with_local_recorder(&guard, || {
        for u in 0..USERS {
            let gauge = metrics::gauge!("queue_depth", "queue" => u.to_string());
            gauge.increment(value(u, 0) + 1.0);
            gauge.decrement(value(u, 1));
            net += value(u, 0) + 1.0 - value(u, 1);
        }
    });
    let text = exporter.render();
    assert_eq!(sum_of(&text, "queue_depth"), net, "{text}");
    assert_folded(&text, "queue_depth", 4);
    assert_series_accounting(&text, &exporter.report());
}

/// Records `USERS` label sets of histogram `m` (three values each) under a
/// budget of `max_series`, with global `buckets` (a TOML array) or as a
/// summary, and checks `_count`, `_sum`, the `+Inf` buckets and the budget.
fn check_histogram(buckets: Option<&str>, m: &'static str, max_series: usize) {
    let histograms = buckets.map_or(String::new(), |b| format!("[histograms]\nbuckets = {b}\n"));
    let rule = format!("[[metrics]]\nmatch = \"{m}\"\nmax_series = {max_series}\n");
    let (guard, exporter) = guarded(&format!("{histograms}{rule}"));
    let (mut count, mut sum) = (0, 0.0);
    metrics::with_local_recorder(&guard, || {
        for u in 0..USERS {
            let histogram = metrics::histogram!(m, "user" => u.to_string());
            for i in 0..3 {
                histogram.record(value(u, i));
                count += 1;
                sum += value(u, i);
            }
        }
    });
    let text = exporter.render();
    assert_eq!(sum_of(&text, &format!("{m}_count")), count as f64, "{text}");
    assert_eq!(sum_of(&text, &format!("{m}_sum")), sum, "{text}");
    if buckets.is_some() {
        // Every `+Inf` bucket holds its label set's count.
        let inf: f64 = support::parse(&text)
            .iter()
            .filter(|s| s.name == format!("{m}_bucket") && s.labels["le"] == "+Inf")
            .map(|s| s.value)
            .sum();
        assert_eq!(inf, count as f64, "{text}");
    }
    assert_folded(&text, m, max_series);
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn bucketed_histogram_count_and_sum_are_conserved() {
    // 3 bounds: 6 series per label set; a budget of 20 holds 2 label sets
    // and the overflow series.
    check_histogram(Some("[0.5, 1.0, 2.0]"), "request_seconds", 20);
}

#[test]
fn summary_count_and_sum_are_conserved() {
    // 9 series per label set; a budget of 30 holds 2 label sets and the
    // overflow series.
    check_histogram(None, "request_seconds", 30);
}

#[test]
fn folding_at_the_global_limit_conserves_totals() {
    // 10 series for everything: each counter reserves its overflow series,
    // and the rest goes to whichever registers first.
    let (guard, exporter) = guarded("[global]\nmax_series = 10\n");
    let mut recorded = [0, 0];
    let names = ["a_total", "b_total"];
    metrics::with_local_recorder(&guard, || {
        for u in 0..USERS {
            for (name, total) in names.iter().zip(&mut recorded) {
                metrics::counter!(*name, "user" => u.to_string()).increment(u + 1);
                *total += u + 1;
            }
        }
    });
    let text = exporter.render();
    let report = exporter.report();
    for (name, total) in names.iter().zip(recorded) {
        assert_eq!(sum_of(&text, name), total as f64, "{name}:\n{text}");
        assert_folded(&text, name, 10);
        assert!(
            report.metric(name).unwrap().overflow.global_limit > 0,
            "{report:?}"
        );
    }
    let all = rendered_series(&text, "a_total") + rendered_series(&text, "b_total");
    assert!(all <= 10, "{all} series > the global 10:\n{text}");
    assert_series_accounting(&text, &report);
}
