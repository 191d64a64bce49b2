//! The demand of a label is kept in a sketch of bounded memory: a guard
//! flooded with 200,000 distinct values of a limited label holds no more heap
//! than one flooded with 20,000, while it folds them and still counts them.

#[path = "support/heap.rs"]
mod heap;
mod support;

use cardinality_guard_core::LABEL_OVERFLOW;
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::{guarded, label_values, labeled_value, sum_of};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// `user` has a limit: the flood folds at stage 1.
const LIMITED: &str = "logins_total";
/// No label limit, a small budget: the flood folds at stage 2.
const BUDGETED: &str = "visits_total";
const SMALL: u64 = 20_000;
const LARGE: u64 = 200_000;
/// Heap difference allowed between the two floods (hash-map growth steps of
/// the bounded tables, the exporter's bookkeeping).
const SLACK: isize = 16 * 1024;

const CONFIG: &str = "[[metrics]]\nmatch = \"logins_total\"\nlabel_limits = { user = 10 }\n\
                      [[metrics]]\nmatch = \"visits_total\"\nmax_series = 20\n";

fn key(name: &'static str, user: u64) -> Key {
    let method = ["GET", "POST", "PUT"][(user % 3) as usize];
    Key::from_parts(
        name,
        vec![
            Label::from_static_parts("method", method),
            Label::new("user", format!("user-{user}")),
        ],
    )
}

/// Builds a guard, floods both metrics with `n` distinct users, and returns
/// the bytes this thread holds afterwards beyond what it held before the
/// guard existed (the guard, the exporter and their sketches included),
/// after checking the flood was folded and counted.
fn heap_after_flood(n: u64) -> isize {
    let before = heap::held();
    let (guard, exporter) = guarded(CONFIG);
    for user in 0..n {
        guard
            .register_counter(&key(LIMITED, user), &METADATA)
            .increment(1);
        guard
            .register_counter(&key(BUDGETED, user), &METADATA)
            .increment(1);
    }
    let held = heap::held() - before;

    // The flood folded (10 users + __overflow__; 19 label sets + the
    // overflow series), was counted in full, and its demand is known.
    let text = exporter.render();
    assert_eq!(label_values(&text, LIMITED, "user").len(), 11, "{n}");
    assert!(label_values(&text, LIMITED, "user").contains(LABEL_OVERFLOW));
    assert_eq!(sum_of(&text, LIMITED), n as f64, "{n}");
    assert_eq!(sum_of(&text, BUDGETED), n as f64, "{n}");
    for metric in [LIMITED, BUDGETED] {
        let demand = labeled_value(
            &text,
            "cardinality_guard_label_values",
            &[("metric", metric), ("label", "user")],
        )
        .expect("the demand renders");
        let error = (demand - n as f64).abs() / n as f64;
        assert!(error < 0.05, "{metric}: {demand} of {n}");
    }
    drop((guard, exporter, text));
    held
}

#[test]
fn heap_is_the_same_after_twenty_thousand_and_two_hundred_thousand_values() {
    // Warm up whatever the process keeps once (tracing's callsite registry,
    // lazily built statics), so both measurements start equal.
    heap_after_flood(1_000);
    let small = heap_after_flood(SMALL);
    let large = heap_after_flood(LARGE);
    eprintln!(
        "heap held by a guard after a flood: {small} bytes at {SMALL} values, \
         {large} bytes at {LARGE} values"
    );
    assert!(
        (large - small).abs() < SLACK,
        "heap grew with the flood: {small} bytes after {SMALL} values, {large} after {LARGE}"
    );
    // Keeping anything per value (even 8 bytes) would cost > 1.4 MB here.
    let per_value = (large - small) as f64 / (LARGE - SMALL) as f64;
    assert!(per_value < 0.1, "{per_value} bytes per flooded value");
}

/// Measured from a guard already holding its sketches: the flood itself adds
/// (almost) nothing, whatever its size.
#[test]
fn flooding_a_live_guard_further_holds_no_more_heap() {
    let (guard, exporter) = guarded(CONFIG);
    let flood = |users: std::ops::Range<u64>| {
        for user in users {
            guard
                .register_counter(&key(LIMITED, user), &METADATA)
                .increment(1);
            guard
                .register_counter(&key(BUDGETED, user), &METADATA)
                .increment(1);
        }
    };
    flood(0..SMALL);
    let before = heap::held();
    flood(SMALL..LARGE);
    let grown = heap::held() - before;
    assert!(
        grown.abs() < SLACK,
        "{grown} bytes held after {} more distinct values",
        LARGE - SMALL
    );
    let report = exporter.report();
    let user = report
        .metric(LIMITED)
        .and_then(|m| m.labels.iter().find(|l| l.name == "user"))
        .expect("user is tracked");
    assert_eq!(user.folded, LARGE - 10, "{user:?}");
    eprintln!(
        "a live guard grew by {grown} bytes over {} more values",
        LARGE - SMALL
    );
}
