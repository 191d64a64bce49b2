//! A flood of unique label values (the classic leak: a user id, a raw path)
//! costs the guard no memory beyond its budgets: only admitted label sets are
//! kept, and the exporter never sees the rest.

#[path = "support/heap.rs"]
mod heap;
mod support;

use cardinality_guard_core::{GuardRecorder, PrometheusGuard};
use support::{guarded, parse, samples_of, sum_of};

const FLOOD: usize = 200_000;
const COUNTER: &str = "flood_total";
const COUNTER_BUDGET: usize = 1_000;
const HISTOGRAM: &str = "flood_seconds";
const HISTOGRAM_BUDGET: usize = 100;
const BUCKETS: [f64; 3] = [0.1, 1.0, 10.0];
/// Exported series per label set of the histogram: buckets, `+Inf`, sum, count.
const HISTOGRAM_COST: usize = BUCKETS.len() + 3;

fn flood_guard(on_overflow: &str) -> (GuardRecorder, PrometheusGuard) {
    guarded(&format!(
        "[histograms]\nbuckets = {BUCKETS:?}\n\
         [defaults]\non_overflow = \"{on_overflow}\"\n\
         [[metrics]]\nmatch = \"{COUNTER}\"\nmax_series = {COUNTER_BUDGET}\n\
         [[metrics]]\nmatch = \"{HISTOGRAM}\"\nmax_series = {HISTOGRAM_BUDGET}\n"
    ))
}

/// Records one update for each user id in `users` to both metrics.
fn flood(users: std::ops::Range<usize>) {
    for user in users {
        let user = user.to_string();
        metrics::counter!(COUNTER, "user" => user.clone()).increment(1);
        metrics::histogram!(HISTOGRAM, "user" => user).record(0.5);
    }
}

/// The most label-set entries the budgets allow: one per series of the
/// counter, one per `HISTOGRAM_COST` series of the histogram.
fn budgeted_label_sets() -> usize {
    COUNTER_BUDGET + HISTOGRAM_BUDGET / HISTOGRAM_COST
}

#[test]
fn the_guard_keeps_at_most_the_budget_of_label_sets() {
    for on_overflow in ["fold", "drop"] {
        let (guard, exporter) = flood_guard(on_overflow);
        metrics::with_local_recorder(&guard, || flood(0..FLOOD / 10));
        let early = exporter.guard().tracked_label_sets();
        metrics::with_local_recorder(&guard, || flood(FLOOD / 10..FLOOD));
        let tracked = exporter.guard().tracked_label_sets();
        assert!(tracked <= budgeted_label_sets(), "{on_overflow}: {tracked}");
        assert_eq!(
            tracked, early,
            "{on_overflow}: nothing kept after the budgets filled"
        );
        assert_eq!(exporter.report().global.tracked_label_sets, tracked);

        let text = exporter.render();
        let samples = parse(&text);
        let counter_series = samples_of(&samples, COUNTER).len();
        let histogram_series = samples_of(&samples, HISTOGRAM).len();
        assert!(
            counter_series <= COUNTER_BUDGET,
            "{on_overflow}: {counter_series}"
        );
        assert!(
            histogram_series <= HISTOGRAM_BUDGET,
            "{on_overflow}: {histogram_series}"
        );
        // Kept entries are exactly the label sets that render (the
        // overflow series included).
        let rendered_label_sets = counter_series + histogram_series / HISTOGRAM_COST;
        assert_eq!(tracked, rendered_label_sets, "{on_overflow}");
    }
}

#[test]
fn a_folded_flood_is_still_counted_in_full() {
    let (guard, exporter) = flood_guard("fold");
    metrics::with_local_recorder(&guard, || flood(0..FLOOD));
    let text = exporter.render();
    assert_eq!(sum_of(&text, COUNTER), FLOOD as f64);
    assert_eq!(sum_of(&text, "flood_seconds_count"), FLOOD as f64);
}

/// Registers every user id in `users` with both metrics, counting on the
/// counter but recording nothing in the histogram: the exporter keeps each
/// histogram sample until its upkeep drains it (its own, bounded-by-time
/// backlog), and this is about what a label set costs.
fn register_only(users: std::ops::Range<usize>) {
    for user in users {
        let user = user.to_string();
        metrics::counter!(COUNTER, "user" => user.clone()).increment(1);
        drop(metrics::histogram!(HISTOGRAM, "user" => user));
    }
}

/// Past the budgets, more unique label values hold no more memory at all:
/// not in the guard, not in the exporter.
#[test]
fn the_heap_does_not_grow_with_the_flood() {
    for on_overflow in ["fold", "drop"] {
        let (guard, exporter) = flood_guard(on_overflow);
        metrics::with_local_recorder(&guard, || register_only(0..FLOOD / 10));
        let before = heap::held();
        metrics::with_local_recorder(&guard, || register_only(FLOOD / 10..FLOOD));
        let grown = heap::held() - before;
        // Keeping anything per label value would cost megabytes here.
        let flooded = FLOOD - FLOOD / 10;
        assert!(
            grown < 4096,
            "{on_overflow}: {grown} bytes held after {flooded} more unique label values"
        );
        assert!(exporter.guard().tracked_label_sets() <= budgeted_label_sets());
    }
}
