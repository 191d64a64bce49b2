//! What a hostile key costs at registration: the guard's recorder next to
//! the bare `PrometheusRecorder`, in the same run.
//!
//! ```text
//! cargo bench --bench hostile_keys -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! K1: a key of 2,000 labels registered again and again (user code that
//! builds its key per call does this). The guard folds it
//! (`too_many_labels`, default `max_labels = 64`) after one comparison; the
//! bare exporter stores it and finds it again by its hash.
//! K2: the same key with `max_labels` raised past it, into a metric whose
//! budget is full: the whole fold path (labels as they render, label
//! limits, the closed budget), linear in the key. It was quadratic before
//! issue 19: 9.6 ms a registration in this bench (81 µs after; the bare
//! exporter's own registration of the key: 270 µs).
//! K3: a name of 64 KiB, refused (`max_metric_name_length`) by its length.

use std::hint::black_box;

use cardinality_guard::{prometheus_builder, Config, GuardRecorder, PrometheusGuard};
use criterion::{criterion_main, Criterion};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// K2's config: a label set of 2,000 labels is not too many, and
/// `wide_total` has room for one label set (and its overflow series).
const FULL: &str = r#"
[global]
max_labels = 5000
[[metrics]]
match = "wide_total"
max_series = 2
"#;

fn guard(config: Config) -> GuardRecorder {
    let (recorder, _exporter): (GuardRecorder, PrometheusGuard) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("guard builds");
    recorder
}

fn unguarded() -> PrometheusRecorder {
    prometheus_builder(&Config::default())
        .expect("buckets are valid")
        .build_recorder()
}

fn wide_key(labels: usize) -> Key {
    let labels: Vec<Label> = (0..labels)
        .map(|i| Label::new(format!("label_{i}"), format!("value_{i}")))
        .collect();
    Key::from_parts("wide_total", labels)
}

fn register(recorder: &dyn Recorder, key: &Key) {
    recorder.register_counter(key, &METADATA).increment(1);
}

fn hostile_keys(c: &mut Criterion) {
    let key = wide_key(2_000);

    let mut group = c.benchmark_group("K1_2000_labels_folded");
    let bare = unguarded();
    group.bench_function("unguarded", |b| b.iter(|| register(&bare, black_box(&key))));
    let guarded = guard(Config::default());
    group.bench_function("guarded", |b| {
        b.iter(|| register(&guarded, black_box(&key)))
    });
    group.finish();

    let mut group = c.benchmark_group("K2_2000_labels_full_budget");
    let bare = unguarded();
    group.bench_function("unguarded", |b| b.iter(|| register(&bare, black_box(&key))));
    let guarded = guard(Config::from_toml(FULL, "benches/hostile_keys.rs").expect("valid"));
    register(&guarded, &wide_key(1)); // fills the budget
    group.bench_function("guarded", |b| {
        b.iter(|| register(&guarded, black_box(&key)))
    });
    group.finish();

    let long = Key::from_parts(format!("n{}", "x".repeat(64 * 1024)), vec![]);
    let mut group = c.benchmark_group("K3_64_KiB_name_refused");
    let bare = unguarded();
    group.bench_function("unguarded", |b| {
        b.iter(|| register(&bare, black_box(&long)))
    });
    let guarded = guard(Config::default());
    group.bench_function("guarded", |b| {
        b.iter(|| register(&guarded, black_box(&long)))
    });
    group.finish();
}

/// The group (a module of its own: `criterion_group!` writes an
/// undocumented `pub fn`).
mod groups {
    criterion::criterion_group!(benches, super::hostile_keys);
}
criterion_main!(groups::benches);
