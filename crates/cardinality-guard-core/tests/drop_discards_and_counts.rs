//! With `on_overflow = "drop"`, what does not fit vanishes, and
//! `cardinality_guard_overflow_total` counts every rejected registration.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use support::{
    assert_series_accounting, declared_metrics, guarded, label_sets_of, labeled_value,
    overflow_total, rendered_series, sum_of,
};

/// A `[[metrics]]` rule that drops what exceeds `max_series`.
fn dropping(m: &str, max_series: u64) -> String {
    format!("[[metrics]]\nmatch = \"{m}\"\nmax_series = {max_series}\non_overflow = \"drop\"\n")
}

#[test]
fn counter_updates_beyond_the_budget_vanish_and_every_registration_counts() {
    const BUDGET: u64 = 5;
    const USERS: u64 = 40;
    const ROUNDS: u64 = 3;
    let (guard, exporter) = guarded(&dropping("logins_total", BUDGET));
    metrics::with_local_recorder(&guard, || {
        for _ in 0..ROUNDS {
            for u in 0..USERS {
                metrics::counter!("logins_total", "user" => u.to_string()).increment(1);
            }
        }
    });
    let text = exporter.render();
    // The first BUDGET users keep their series and every update to them.
    let first: BTreeSet<_> = (0..BUDGET)
        .map(|u| BTreeMap::from([("user".to_owned(), u.to_string())]))
        .collect();
    assert_eq!(label_sets_of(&text, "logins_total"), first, "{text}");
    assert_eq!(
        sum_of(&text, "logins_total"),
        (BUDGET * ROUNDS) as f64,
        "{text}"
    );
    // One macro call, one registration: each rejected one is counted.
    let rejected = (USERS - BUDGET) * ROUNDS;
    assert_eq!(
        overflow_total(&text, "logins_total", "series_limit"),
        rejected as f64
    );
    let report = exporter.report();
    assert_eq!(
        report.metric("logins_total").unwrap().overflow.series_limit,
        rejected
    );
    assert_series_accounting(&text, &report);
}

#[test]
fn a_stored_handle_registers_once() {
    let (guard, exporter) = guarded(&dropping("logins_total", 2));
    metrics::with_local_recorder(&guard, || {
        for u in 0..2 {
            metrics::counter!("logins_total", "user" => u.to_string()).increment(1);
        }
        let late = metrics::counter!("logins_total", "user" => "late");
        for _ in 0..100 {
            late.increment(1);
        }
    });
    let text = exporter.render();
    assert_eq!(
        overflow_total(&text, "logins_total", "series_limit"),
        1.0,
        "{text}"
    );
    assert_eq!(sum_of(&text, "logins_total"), 2.0, "{text}");
    assert_eq!(rendered_series(&text, "logins_total"), 2, "{text}");
}

/// Records two values for each of 10 label sets of histogram `m` with global
/// `buckets` (a TOML array, or `"summary"`); `cost` is the series one label
/// set renders as. Only whole label sets fit in the budget.
fn check_histogram(buckets: &str, cost: u64) {
    const BUDGET: u64 = 20;
    const USERS: u64 = 10;
    let m = "request_seconds";
    let histograms = format!("[histograms]\nbuckets = {buckets}\n");
    let (guard, exporter) = guarded(&format!("{histograms}{}", dropping(m, BUDGET)));
    metrics::with_local_recorder(&guard, || {
        for u in 0..USERS {
            let histogram = metrics::histogram!(m, "user" => u.to_string());
            histogram.record(1.0);
            histogram.record(2.0);
        }
    });
    let text = exporter.render();
    let fit = BUDGET / cost;
    assert_eq!(rendered_series(&text, m) as u64, fit * cost, "{text}");
    assert_eq!(
        sum_of(&text, &format!("{m}_count")),
        (fit * 2) as f64,
        "{text}"
    );
    assert_eq!(
        sum_of(&text, &format!("{m}_sum")),
        (fit * 3) as f64,
        "{text}"
    );
    let rejected = (USERS - fit) as f64;
    assert_eq!(overflow_total(&text, m, "series_limit"), rejected, "{text}");
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn bucketed_histograms_drop_whole_label_sets() {
    check_histogram("[1.0, 2.0, 4.0]", 3 + 3);
}

#[test]
fn summaries_drop_whole_label_sets() {
    check_histogram("\"summary\"", 7 + 2);
}

#[test]
fn the_global_budget_drops_with_reason_global_limit() {
    const GLOBAL: u64 = 7;
    let toml = format!("[global]\nmax_series = {GLOBAL}\n[defaults]\non_overflow = \"drop\"\n");
    let (guard, exporter) = guarded(&toml);
    let users = |m: &'static str, range: std::ops::Range<u64>| {
        for u in range {
            metrics::counter!(m, "user" => u.to_string()).increment(1);
        }
    };
    metrics::with_local_recorder(&guard, || {
        users("a_total", 0..5);
        users("b_total", 0..5); // 2 fit
        users("a_total", 5..8); // none fit
    });
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "a_total"), 5, "{text}");
    assert_eq!(rendered_series(&text, "b_total"), 2, "{text}");
    for (m, rejected) in [("a_total", 3.0), ("b_total", 3.0)] {
        assert_eq!(
            overflow_total(&text, m, "global_limit"),
            rejected,
            "{m}:\n{text}"
        );
        assert_eq!(
            overflow_total(&text, m, "series_limit"),
            0.0,
            "{m}:\n{text}"
        );
    }
    assert_eq!(exporter.report().global.series, GLOBAL);
    assert_series_accounting(&text, &exporter.report());
}

#[test]
fn names_beyond_max_metrics_are_dropped_and_counted_as_untracked() {
    // Dropped whatever `on_overflow` says: the default folds.
    let (guard, exporter) = guarded("[global]\nmax_metrics = 2\n");
    let registrations = 4 + 3 + 2;
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("one_total").increment(1);
        metrics::counter!("two_total").increment(1);
        for u in 0..4 {
            metrics::counter!("three_total", "user" => u.to_string()).increment(1);
        }
        for _ in 0..3 {
            metrics::gauge!("four").set(1.0);
        }
        for _ in 0..2 {
            metrics::histogram!("five_seconds").record(1.0);
        }
        // Names already tracked still take new label sets.
        metrics::counter!("one_total", "user" => "new").increment(1);
    });
    let text = exporter.render();
    let mut rendered: Vec<_> = declared_metrics(&text);
    rendered.retain(|m| !m.starts_with("cardinality_guard_"));
    rendered.sort();
    assert_eq!(rendered, ["one_total", "two_total"], "{text}");
    assert_eq!(rendered_series(&text, "one_total"), 2, "{text}");
    let untracked = overflow_total(&text, "__untracked__", "max_metrics");
    assert_eq!(untracked, registrations as f64, "{text}");
    let report = exporter.report();
    assert_eq!(report.global.untracked_registrations, registrations);
    assert_eq!(
        labeled_value(&text, "cardinality_guard_metrics", &[]),
        Some(2.0)
    );
    assert_series_accounting(&text, &report);
}
