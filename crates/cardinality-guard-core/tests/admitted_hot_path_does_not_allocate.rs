//! Once a label set has been decided, registering it again through the guard
//! allocates nothing: an admitted one gets a clone of the handle it keeps, a
//! folded or dropped one the overflow series (or a no-op) of its closed
//! metric. The unguarded exporter is the baseline that proves the
//! allocation counter counts.

#[path = "support/heap.rs"]
mod heap;
mod support;

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusBuilder;
use support::{guarded, labeled_value, overflow_total, sum_of};

const REPEATS: usize = 1_000;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

static GET: [Label; 2] = [
    Label::from_static_parts("method", "GET"),
    Label::from_static_parts("route", "/users/{id}"),
];
static POST: [Label; 2] = [
    Label::from_static_parts("method", "POST"),
    Label::from_static_parts("route", "/orders/{id}"),
];
static PUT: [Label; 1] = [Label::from_static_parts("method", "PUT")];

static COUNTER: Key = Key::from_static_parts("hot_total", &GET);
static GAUGE: Key = Key::from_static_parts("hot_active", &GET);
static HISTOGRAM: Key = Key::from_static_parts("hot_seconds", &GET);

/// What `counter!("hot_total", "user" => id.to_string())` builds: a key that
/// owns its label value.
fn owned_key(name: &'static str, user: usize) -> Key {
    Key::from_parts(name, vec![Label::new("user", user.to_string())])
}

#[test]
fn registering_an_admitted_label_set_again_allocates_nothing() {
    let (guard, exporter) = guarded("");
    // Admission itself may allocate (the table entry, the exporter's series).
    guard.register_counter(&COUNTER, &METADATA).increment(1);
    guard.register_gauge(&GAUGE, &METADATA).set(1.0);
    drop(guard.register_histogram(&HISTOGRAM, &METADATA));

    let allocations = heap::allocations_in(|| {
        for i in 0..REPEATS {
            guard.register_counter(&COUNTER, &METADATA).increment(1);
            guard.register_gauge(&GAUGE, &METADATA).set(i as f64);
            drop(guard.register_histogram(&HISTOGRAM, &METADATA));
        }
    });
    assert_eq!(allocations, 0);

    // The registrations reached the admitted series, not a no-op.
    let text = exporter.render();
    let labels = [("method", "GET"), ("route", "/users/{id}")];
    assert_eq!(
        labeled_value(&text, "hot_total", &labels),
        Some((REPEATS + 1) as f64)
    );
    assert_eq!(
        labeled_value(&text, "hot_active", &labels),
        Some((REPEATS - 1) as f64)
    );
}

#[test]
fn a_key_that_owns_its_labels_costs_the_exporter_allocations_but_not_the_guard() {
    let plain = PrometheusBuilder::new().build_recorder();
    let (guard, exporter) = guarded("");
    let key = owned_key("owned_total", 42);
    plain.register_counter(&key, &METADATA).increment(1);
    guard.register_counter(&key, &METADATA).increment(1);

    // The exporter copies the key on every registration.
    let baseline = heap::allocations_in(|| {
        for _ in 0..REPEATS {
            plain.register_counter(&key, &METADATA).increment(1);
        }
    });
    assert!(baseline >= REPEATS, "the counter counts: {baseline}");

    let guarded = heap::allocations_in(|| {
        for _ in 0..REPEATS {
            guard.register_counter(&key, &METADATA).increment(1);
        }
    });
    assert_eq!(guarded, 0, "the exporter made {baseline}");
    let text = exporter.render();
    assert_eq!(
        labeled_value(&text, "owned_total", &[("user", "42")]),
        Some((REPEATS + 1) as f64)
    );
}

/// Registrations of label sets that do not fit, once the metric is closed
/// (and, with `fold`, its overflow series exists).
fn over_budget_allocations(on_overflow: &str) -> (usize, String) {
    let toml = format!(
        "[[metrics]]\nmatch = \"hot_total\"\nmax_series = 2\non_overflow = \"{on_overflow}\"\n"
    );
    let (guard, exporter) = guarded(&toml);
    let over = [
        Key::from_static_parts("hot_total", &POST),
        Key::from_static_parts("hot_total", &PUT),
    ];
    let users: Vec<Key> = (0..REPEATS).map(|u| owned_key("hot_total", u)).collect();
    // `drop` admits two label sets, `fold` one beside the overflow series.
    guard.register_counter(&COUNTER, &METADATA).increment(1);
    guard
        .register_counter(&owned_key("hot_total", REPEATS), &METADATA)
        .increment(1);
    guard.register_counter(&over[0], &METADATA).increment(1);

    let allocations = heap::allocations_in(|| {
        for (i, user) in users.iter().enumerate() {
            guard.register_counter(&over[i % 2], &METADATA).increment(1);
            guard.register_counter(user, &METADATA).increment(1);
        }
    });
    (allocations, exporter.render())
}

#[test]
fn registering_a_folded_label_set_allocates_nothing() {
    let (allocations, text) = over_budget_allocations("fold");
    assert_eq!(allocations, 0);
    // Every registration reached the overflow series: sent = 3 + 2 per repeat.
    let folded = labeled_value(&text, "hot_total", &[("otel_metric_overflow", "true")]);
    assert_eq!(folded, Some((2 + 2 * REPEATS) as f64), "{text}");
    assert_eq!(
        sum_of(&text, "hot_total"),
        (3 + 2 * REPEATS) as f64,
        "{text}"
    );
}

#[test]
fn registering_a_dropped_label_set_allocates_nothing() {
    let (allocations, text) = over_budget_allocations("drop");
    assert_eq!(allocations, 0);
    let dropped = overflow_total(&text, "hot_total", "series_limit");
    assert_eq!(dropped, (1 + 2 * REPEATS) as f64, "{text}");
}
