//! A long `[defaults] pinned` list is held once, shared by every metric it
//! applies to: 100,000 pinned values and 1,000 metrics take the memory of
//! one list plus a small, fixed cost per metric, not 1,000 lists.

#[path = "support/heap.rs"]
mod heap;

use std::num::NonZeroUsize;

use cardinality_guard_core::{Config, GlobalLimits, MetricPolicy, PrometheusGuard};

const PINNED: usize = 100_000;
const METRICS: usize = 1_000;
/// What one metric may cost beyond the shared list: its tables, its label
/// state (a 2 KiB demand sketch) and its series, with room to spare.
const PER_METRIC: isize = 32 * 1024;

#[test]
fn a_pinned_list_is_held_once_for_all_metrics() {
    let before_list = heap::held();
    let values: Vec<String> = (0..PINNED).map(|i| format!("/route/{i}")).collect();
    let defaults = MetricPolicy::default().with_pinned("route", values);
    let list = heap::held() - before_list;

    let config = Config::default().with_defaults(defaults).with_global(
        GlobalLimits::default().with_max_metrics(NonZeroUsize::new(4 * METRICS).unwrap()),
    );
    let (recorder, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .unwrap();

    let before = heap::held();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..METRICS {
            metrics::counter!(format!("metric_{i}_total"), "route" => "/route/7").increment(1);
            // Checked as it grows, so a copy per metric fails early (not
            // after a thousand copies have exhausted the machine).
            let grown = heap::held() - before;
            let allowed = list + (i as isize + 1) * PER_METRIC;
            assert!(
                grown <= allowed,
                "after {} metrics the guard holds {grown} bytes more; one pinned list is {list} bytes",
                i + 1
            );
        }
    });
    let report = exporter.report();
    assert_eq!(
        report.metric("metric_999_total").unwrap().labels[0].pinned,
        PINNED
    );
}
