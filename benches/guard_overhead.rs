//! What the guard costs: every group measures the guard's recorder (the
//! Prometheus path: `PrometheusGuard`, which stores and renders its series)
//! next to the bare `PrometheusRecorder`, in the same run.
//!
//! ```text
//! cargo bench --bench guard_overhead
//! ```
//!
//! H1..H5 are the hot paths of an already admitted label set (H1e and H4e
//! with idle expiry on: the bare exporter with its own idle timeout, the
//! guard with its own expiry), O1 the overflow path (unseen label values
//! after the budget is full), R1 a render of 10,000 series (R1e with idle
//! expiry on: a sweep of every series, then the render). `python3 benches/summarize.py` prints the medians and
//! ratios of the last run; the README's "Performance" section holds one run.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cardinality_guard::{prometheus_builder, Config, GuardRecorder, PrometheusGuard};
use criterion::{criterion_main, BenchmarkGroup, Criterion};
use metrics::Recorder;
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;

/// Budgets far above what the hot-path benches register: nothing folds there.
const ROOMY: &str = r#"
[global]
max_series = 1000000
[defaults]
max_series = 100000
[histograms]
buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
[[metrics]]
match = "o1_total"
max_series = 1000
"#;

fn config() -> Config {
    Config::from_toml(ROOMY, "benches/guard_overhead.rs").expect("bench config is valid")
}

/// The same budgets, with idle expiry on (the bare exporter gets the same
/// idle timeout of its own).
fn expiring_config() -> Config {
    let text = ROOMY.replace("[defaults]\n", "[defaults]\nidle_timeout = \"10m\"\n");
    Config::from_toml(&text, "benches/guard_overhead.rs").expect("bench config is valid")
}

fn unguarded() -> PrometheusRecorder {
    prometheus_builder(&config())
        .expect("buckets are valid")
        .build_recorder()
}

/// The guard's recorder and its handle, built from `config` (no upkeep
/// thread: nothing in the background during a measurement).
fn guard_with(config: Config) -> (GuardRecorder, PrometheusGuard) {
    PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("guard builds")
}

fn guarded() -> GuardRecorder {
    guard_with(config()).0
}

type MakeRecorder = fn() -> Box<dyn Recorder>;

/// Both arms as recorder factories, for benches that want a fresh recorder per sample.
fn arms() -> [(&'static str, MakeRecorder); 2] {
    [
        ("unguarded", || Box::new(unguarded())),
        ("guarded", || Box::new(guarded())),
    ]
}

/// Runs `op` as a benchmark named `name` with `recorder` current.
fn bench_with<M, R>(group: &mut BenchmarkGroup<'_, M>, name: &str, recorder: &R, op: impl Fn())
where
    M: criterion::measurement::Measurement,
    R: Recorder,
{
    metrics::with_local_recorder(recorder, || group.bench_function(name, |b| b.iter(&op)));
}

/// Both arms of one group: the same `op` over the bare exporter, then the guard.
fn side_by_side(c: &mut Criterion, group: &str, op: impl Fn()) {
    compare(c, group, (unguarded(), guarded()), op);
}

/// `op` over each of the `arms`, bare exporter first, in one group.
fn compare(
    c: &mut Criterion,
    group: &str,
    (bare, guard): (PrometheusRecorder, GuardRecorder),
    op: impl Fn(),
) {
    let mut g = c.benchmark_group(group);
    bench_with(&mut g, "unguarded", &bare, &op);
    bench_with(&mut g, "guarded", &guard, &op);
    g.finish();
}

fn h1_literal_labels(c: &mut Criterion) {
    side_by_side(c, "H1 counter! literal labels", || {
        metrics::counter!("h1_total", "method" => "GET", "status" => "200").increment(1);
    });
}

/// Two threads increment the same series; the time per operation of one thread.
fn h2_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("H2 counter! literal labels, 2 threads");
    let (bare, guard) = (unguarded(), guarded());
    for (name, recorder) in [
        ("unguarded", &bare as &(dyn Recorder + Sync)),
        ("guarded", &guard),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Barrier::new(2);
                let elapsed = std::thread::scope(|s| {
                    let worker = || {
                        metrics::with_local_recorder(recorder, || {
                            start.wait();
                            let t = Instant::now();
                            for _ in 0..iters {
                                metrics::counter!("h2_total", "method" => "GET", "status" => "200")
                                    .increment(1);
                            }
                            t.elapsed()
                        })
                    };
                    let other = s.spawn(worker);
                    let mine = worker();
                    mine.max(other.join().unwrap_or_default())
                });
                elapsed
            })
        });
    }
    g.finish();
}

fn h3_variable_label(c: &mut Criterion) {
    let user = String::from("user-42");
    side_by_side(c, "H3 counter! label from a String", || {
        metrics::counter!("h3_total", "user" => user.clone()).increment(1);
    });
}

fn h4_cached_handle(c: &mut Criterion) {
    held_handle(c, "H4 cached handle increment", (unguarded(), guarded()));
}

/// Increments of a handle registered once, through each of the `arms`.
fn held_handle(c: &mut Criterion, group: &str, (bare, guard): (PrometheusRecorder, GuardRecorder)) {
    let mut g = c.benchmark_group(group);
    for (name, recorder) in [("unguarded", &bare as &dyn Recorder), ("guarded", &guard)] {
        let counter = metrics::with_local_recorder(
            recorder,
            || metrics::counter!("h4_total", "method" => "GET"),
        );
        g.bench_function(name, |b| b.iter(|| counter.increment(1)));
    }
    g.finish();
}

/// Expiring arms: the bare exporter with a 10 min idle timeout of its own,
/// and the guard with `idle_timeout = "10m"`, whose handles note activity.
fn expiring_arms() -> (PrometheusRecorder, GuardRecorder) {
    let bare = prometheus_builder(&expiring_config())
        .expect("buckets are valid")
        .idle_timeout(MetricKindMask::ALL, Some(Duration::from_secs(600)))
        .build_recorder();
    (bare, guard_with(expiring_config()).0)
}

fn h1e_literal_labels_expiring(c: &mut Criterion) {
    compare(
        c,
        "H1e counter! literal labels, idle expiry on",
        expiring_arms(),
        || metrics::counter!("h1_total", "method" => "GET", "status" => "200").increment(1),
    );
}

fn h4e_cached_handle_expiring(c: &mut Criterion) {
    held_handle(
        c,
        "H4e cached handle increment, idle expiry on",
        expiring_arms(),
    );
}

/// Histogram samples wait in the bare exporter until its upkeep drains them
/// (the guard's go straight into their distributions); a fresh
/// recorder per sample keeps that backlog (and its page faults) from piling
/// up across samples and drowning the difference being measured.
fn h5_histogram(c: &mut Criterion) {
    let mut g = c.benchmark_group("H5 histogram! literal labels");
    for (name, make) in arms() {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let recorder = make();
                metrics::with_local_recorder(&*recorder, || {
                    metrics::histogram!("h5_seconds", "route" => "/users/{id}").record(0.042);
                    let t = Instant::now();
                    for _ in 0..iters {
                        metrics::histogram!("h5_seconds", "route" => "/users/{id}").record(0.042);
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// Unseen label values: the unguarded exporter creates a series for each;
/// the guard (budget full) folds each into the overflow series. A fresh
/// recorder per sample keeps the unguarded arm's memory in check.
fn o1_overflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("O1 unseen label values (guard: budget full)");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    for (name, make) in arms() {
        let mut next = 0_u64;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let recorder = make();
                metrics::with_local_recorder(&*recorder, || {
                    // Fill the guard's budget first (no-op cost for the bare exporter's timing).
                    for i in 0..1_000 {
                        metrics::counter!("o1_total", "id" => format!("fill-{i}")).increment(1);
                    }
                    let t = Instant::now();
                    for _ in 0..iters {
                        next += 1;
                        metrics::counter!("o1_total", "id" => next.to_string()).increment(1);
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

/// `render()` of 10,000 counter series, the guard's self-report included.
/// 10,000 counter series through `recorder`.
fn fill(recorder: &dyn Recorder) {
    metrics::with_local_recorder(recorder, || {
        for i in 0..10_000 {
            metrics::counter!("r1_total", "id" => i.to_string()).increment(1);
        }
    })
}

fn r1_render(c: &mut Criterion) {
    let mut g = c.benchmark_group("R1 render 10,000 series");
    g.sample_size(30);
    let bare = unguarded();
    let bare_handle: PrometheusHandle = bare.handle();
    fill(&bare);
    let (guard, handle) = guard_with(config());
    fill(&guard);
    assert_eq!(
        handle.report().metric("r1_total").map(|m| m.series),
        Some(10_000)
    );
    g.bench_function("unguarded", |b| b.iter(|| black_box(bare_handle.render())));
    g.bench_function("guarded", |b| b.iter(|| black_box(handle.render())));
    g.finish();
}

/// A render with idle expiry on: the guard sweeps every series (none idle)
/// before it renders; the bare exporter checks its own idle timeout.
fn r1e_render_expiring(c: &mut Criterion) {
    let mut g = c.benchmark_group("R1e render 10,000 series, idle expiry on (sweep + render)");
    g.sample_size(30);
    let bare = prometheus_builder(&expiring_config())
        .expect("buckets are valid")
        .idle_timeout(MetricKindMask::ALL, Some(Duration::from_secs(600)))
        .build_recorder();
    let bare_handle: PrometheusHandle = bare.handle();
    fill(&bare);
    let (guard, handle) = guard_with(expiring_config());
    fill(&guard);
    assert_eq!(
        handle.report().metric("r1_total").map(|m| m.series),
        Some(10_000)
    );
    g.bench_function("unguarded", |b| b.iter(|| black_box(bare_handle.render())));
    g.bench_function("guarded", |b| b.iter(|| black_box(handle.render())));
    g.finish();
}

/// The groups, in the order they run (a module of its own: `criterion_group!`
/// writes an undocumented `pub fn`).
mod groups {
    criterion::criterion_group!(
        benches,
        super::h1_literal_labels,
        super::h2_two_threads,
        super::h3_variable_label,
        super::h4_cached_handle,
        super::h1e_literal_labels_expiring,
        super::h4e_cached_handle_expiring,
        super::h5_histogram,
        super::o1_overflow,
        super::r1_render,
        super::r1e_render_expiring,
    );
}
criterion_main!(groups::benches);
