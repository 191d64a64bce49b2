//! What a hot reload costs, and what it costs admission, on a metric that
//! holds 1,000, 10,000 or 100,000 admitted values of its `user` label (its
//! budgets far above them, so everything is admitted):
//!
//! - RC1: one `reload` of the metric's `label_limits`: one that changes the
//!   `user` entry (between two limits above the stored values), one that
//!   adds an entry for another label, one that adds the `user` entry back
//!   (each, every other time, goes back to the config before);
//! - RC2: how long one registration of a new label set of that metric takes
//!   while another thread reloads (changing the `user` limit, or adding it
//!   back; back to back, or `RELOAD_PAUSE` apart): the median, the 99th
//!   percentile and the worst of `REGISTRATIONS` registrations, one every
//!   `PACE`, next to the same registrations with no reload running. Printed as a table; wall-clock
//!   times on a possibly busy machine (the worst case especially), so
//!   compare the rows of one run.
//!
//! ```text
//! cargo bench --bench reload_cost
//! ```
//!
//! Only the public API: `PrometheusGuard::builder(..).clock(..).build()`,
//! `metrics::with_local_recorder` and `PrometheusGuard::reload`. The guard
//! runs on a manual clock with no upkeep thread, so nothing else runs in
//! the background.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cardinality_guard::{Config, GuardRecorder, ManualClock, PrometheusGuard};
use criterion::{criterion_main, BatchSize, Criterion};

/// Label values the metric holds before anything is measured.
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Registrations timed one by one in RC2, and the pause after each.
const REGISTRATIONS: usize = 2_000;
const PACE: Duration = Duration::from_millis(1);
/// The pause between two reloads in RC2's paced rows (the other rows reload
/// back to back).
const RELOAD_PAUSE: Duration = Duration::from_millis(10);
const METRIC: &str = "reload_total";

/// The metric's rule: budgets far above the biggest size, `label_limits`
/// as given (without braces).
fn config(label_limits: &str) -> Config {
    let toml = format!(
        "[global]\nmax_series = 10000000\n\
         [[metrics]]\nmatch = \"{METRIC}\"\nmax_series = 1000000\n\
         label_limits = {{ {label_limits} }}\n"
    );
    Config::from_toml(&toml, "benches/reload_cost.rs").expect("bench config is valid")
}

/// The two configs a reload alternates between: the `user` limit changed.
fn changed_limit() -> [Config; 2] {
    [config("user = 2000000"), config("user = 3000000")]
}

/// The two configs a reload alternates between: a `region` limit added,
/// then taken away (the `user` limit unchanged).
fn added_entry() -> [Config; 2] {
    [
        config("user = 2000000, region = 10"),
        config("user = 2000000"),
    ]
}

/// The two configs a reload alternates between: no `user` limit, then the
/// `user` limit again (its values admitted anew).
fn restored_entry() -> [Config; 2] {
    [config(""), config("user = 2000000")]
}

/// A guard (manual clock, no upkeep thread) whose metric holds `values`
/// values of `user`, each in a series of its own.
fn holding(values: usize) -> (GuardRecorder, PrometheusGuard) {
    let (recorder, exporter) = PrometheusGuard::builder(config("user = 2000000"))
        .clock(ManualClock::new().into())
        .upkeep_interval(None)
        .build()
        .expect("guard builds");
    metrics::with_local_recorder(&recorder, || {
        for i in 0..values {
            metrics::counter!(METRIC, "user" => format!("held-{i}")).increment(1);
        }
    });
    let held = exporter.report().metric(METRIC).map(|m| m.label_sets);
    assert_eq!(held, Some(values as u64), "every value admitted");
    (recorder, exporter)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rc1_reload(c: &mut Criterion) {
    for (what, configs) in [
        ("changes the user limit", changed_limit()),
        ("adds a limit for another label", added_entry()),
        ("adds the user limit back", restored_entry()),
    ] {
        let mut g = c.benchmark_group(format!("RC1 a reload that {what}"));
        g.sample_size(20).measurement_time(Duration::from_secs(10));
        for values in SIZES {
            let (_recorder, exporter) = holding(values);
            let next = Cell::new(0_usize);
            g.bench_function(format!("{} values", thousands(values)), |b| {
                b.iter_batched(
                    || {
                        next.set(next.get() + 1);
                        configs[next.get() % 2].clone()
                    },
                    |config| exporter.reload(config).expect("reload applies"),
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

/// The time each of `REGISTRATIONS` registrations of a new label set took
/// (one every `PACE`, so that they land all over the reloads), sorted, and
/// how many reloads between `configs` another thread finished meanwhile,
/// pausing `pause` after each (`None`: no reloads).
fn registration_waits(
    values: usize,
    reloads_of: Option<(&[Config; 2], Duration)>,
) -> (Vec<Duration>, usize) {
    let (recorder, exporter) = holding(values);
    let (done, reloads) = (AtomicBool::new(false), AtomicUsize::new(0));
    let start = Barrier::new(2);
    let mut waits = Vec::with_capacity(REGISTRATIONS);
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            let Some((configs, pause)) = reloads_of else {
                return;
            };
            while !done.load(Ordering::Acquire) {
                let config = configs[reloads.load(Ordering::Relaxed) % 2].clone();
                exporter.reload(config).expect("reload applies");
                reloads.fetch_add(1, Ordering::Relaxed);
                if !pause.is_zero() {
                    std::thread::sleep(pause);
                }
            }
        });
        start.wait();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..REGISTRATIONS {
                let user = format!("new-{i}");
                let t = Instant::now();
                metrics::counter!(METRIC, "user" => user).increment(1);
                waits.push(t.elapsed());
                std::thread::sleep(PACE);
            }
        });
        done.store(true, Ordering::Release);
    });
    waits.sort_unstable();
    (waits, reloads.into_inner())
}

fn rc2_waits(_: &mut Criterion) {
    let at = |w: &[Duration], q: f64| w[((w.len() - 1) as f64 * q) as usize];
    let row = |w: &[Duration]| format!("{:?} | {:?} | {:?}", at(w, 0.5), at(w, 0.99), at(w, 1.0));
    println!(
        "\nRC2 one registration of a new label set, {REGISTRATIONS} timed, one every {PACE:?}:"
    );
    println!(
        "| values held | reloads that | reloads run | reloads meanwhile | median | p99 | worst |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|");
    for values in SIZES {
        let (waits, _) = registration_waits(values, None);
        let held = thousands(values);
        println!("| {held} | (none) | | 0 | {} |", row(&waits));
        for (what, configs) in [
            ("change the user limit", changed_limit()),
            ("add the user limit back", restored_entry()),
        ] {
            for pause in [Duration::ZERO, RELOAD_PAUSE] {
                let (waits, reloads) = registration_waits(values, Some((&configs, pause)));
                let every = if pause.is_zero() {
                    "back to back".to_owned()
                } else {
                    format!("{pause:?} apart")
                };
                println!(
                    "| {held} | {what} | {every} | {reloads} | {} |",
                    row(&waits)
                );
            }
        }
    }
}

/// The groups, in the order they run (a module of its own: `criterion_group!`
/// writes an undocumented `pub fn`).
mod groups {
    criterion::criterion_group!(benches, super::rc1_reload, super::rc2_waits);
}
criterion_main!(groups::benches);
