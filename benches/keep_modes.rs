//! What each `keep` mode costs on a full metric (issue 20), side by side in
//! one run, next to the bare `PrometheusRecorder`:
//!
//! - K1, the fold path: the registration (`counter!`) of a label set the
//!   budget does not hold, and its increment: a fresh user each iteration,
//!   from a precomputed list. The guard folds it into the overflow series
//!   (`busiest` counts it into its heavy-hitter summary, `consistent` into
//!   its demand); the bare exporter creates a series for it.
//! - K2, the admitted path: the registration of a label set that holds a
//!   series, and its increment.
//! - K3: the increment of a handle of an admitted label set, kept by user
//!   code.
//!
//! ```text
//! cargo bench --bench keep_modes
//! ```
//!
//! Each guard holds 1,000 series of `k_total` (its budget), filled by 10,000
//! label sets, then three renders and upkeeps (a manual clock, 5 s apart, no
//! upkeep thread: nothing runs in the background during a measurement).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cardinality_guard::{prometheus_builder, Config, GuardRecorder, ManualClock, PrometheusGuard};
use criterion::{criterion_main, Criterion};
use metrics::{Recorder, SharedString};
use metrics_exporter_prometheus::PrometheusRecorder;

const METRIC: &str = "k_total";
/// The metric's budget in series (the overflow series included).
const BUDGET: usize = 1_000;
/// Label sets registered to fill it (ten budgets: `consistent` sees demand).
const FILL: usize = 10_000;
/// Fresh users for the fold path; past the end of the list, they come again
/// (the guard folds them again; the bare exporter gets a fresh recorder).
const FRESH: usize = 1 << 16;
const KEEPS: [&str; 3] = ["first", "busiest", "consistent"];

fn config(keep: &str) -> Config {
    let text =
        format!("[[metrics]]\nmatch = \"{METRIC}\"\nmax_series = {BUDGET}\nkeep = \"{keep}\"\n");
    Config::from_toml(&text, "benches/keep_modes.rs").expect("bench config is valid")
}

fn unguarded() -> PrometheusRecorder {
    prometheus_builder(&config("first"))
        .expect("the default buckets are valid")
        .build_recorder()
}

/// A guard whose `k_total` is full under `keep`, and a user it admitted.
struct Full {
    recorder: GuardRecorder,
    /// Kept alive with the recorder (it stores the series).
    _exporter: PrometheusGuard,
    admitted: SharedString,
}

fn full(keep: &str) -> Full {
    let clock = ManualClock::new();
    let (recorder, exporter) = PrometheusGuard::builder(config(keep))
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .expect("guard builds");
    metrics::with_local_recorder(&recorder, || {
        for i in 0..FILL {
            metrics::counter!(METRIC, "user" => format!("fill-{i}")).increment(1);
        }
    });
    let mut text = String::new();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(5));
        text = exporter.render();
        exporter.run_upkeep();
    }
    let admitted = text
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(METRIC)?.strip_prefix("{user=\"")?;
            Some(rest.split_once('"')?.0.to_owned())
        })
        .unwrap_or_else(|| panic!("keep = {keep}: no admitted user in the render:\n{text}"));
    let report = exporter.report();
    let m = report.metric(METRIC).expect("tracked");
    assert!(
        m.overflow_series,
        "keep = {keep}: the metric is not full: {m:?}"
    );
    Full {
        recorder,
        _exporter: exporter,
        admitted: SharedString::from(Arc::<str>::from(admitted)),
    }
}

/// Users no guard has seen.
fn fresh_users() -> Vec<SharedString> {
    (0..FRESH)
        .map(|i| SharedString::from(Arc::<str>::from(format!("fresh-{i}"))))
        .collect()
}

/// The guards, one per `keep` mode.
fn guards() -> Vec<(&'static str, Full)> {
    KEEPS.iter().map(|&keep| (keep, full(keep))).collect()
}

/// Times `iters` registrations of the next fresh users through `recorder`,
/// `next` carrying the position in `users` across samples; `renew` gives
/// the recorder for each pass over the list (made and dropped untimed).
fn fold_iters<R: Recorder>(
    iters: u64,
    users: &[SharedString],
    next: &mut usize,
    mut renew: impl FnMut() -> R,
) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        if *next == users.len() {
            *next = 0;
        }
        let chunk = left.min((users.len() - *next) as u64) as usize;
        let recorder = renew();
        metrics::with_local_recorder(&recorder, || {
            let t = Instant::now();
            for user in &users[*next..*next + chunk] {
                metrics::counter!(METRIC, "user" => user.clone()).increment(1);
            }
            elapsed += t.elapsed();
        });
        *next += chunk;
        left -= chunk as u64;
    }
    elapsed
}

fn k1_fold_path(c: &mut Criterion) {
    let users = fresh_users();
    let guards = guards();
    let mut g = c.benchmark_group("K1 counter! of an unseen label set (guard: budget full)");
    g.sample_size(30).measurement_time(Duration::from_secs(6));
    // The bare exporter: a new series each time, a fresh recorder per pass.
    let mut next = 0;
    g.bench_function("unguarded", |b| {
        b.iter_custom(|iters| fold_iters(iters, &users, &mut next, unguarded))
    });
    for (keep, full) in &guards {
        let mut next = 0;
        g.bench_function(*keep, |b| {
            b.iter_custom(|iters| fold_iters(iters, &users, &mut next, || &full.recorder))
        });
    }
    g.finish();
}

/// The same `op` over the bare exporter (its own admitted label set) and
/// over each guard, in one group.
fn admitted_group(
    c: &mut Criterion,
    group: &str,
    op: impl Fn(&dyn Recorder, &SharedString) -> Box<dyn FnMut()>,
) {
    let bare = unguarded();
    let bare_user = SharedString::from(Arc::<str>::from("bare"));
    let guards = guards();
    let mut g = c.benchmark_group(group);
    let mut arms: Vec<(&str, &dyn Recorder, &SharedString)> =
        vec![("unguarded", &bare, &bare_user)];
    for (keep, full) in &guards {
        arms.push((keep, &full.recorder, &full.admitted));
    }
    for (name, recorder, user) in arms {
        let mut op = op(recorder, user);
        metrics::with_local_recorder(recorder, || {
            g.bench_function(name, |b| b.iter(&mut op));
        });
    }
    g.finish();
}

fn k2_admitted_path(c: &mut Criterion) {
    admitted_group(c, "K2 counter! of an admitted label set", |_, user| {
        let user = user.clone();
        Box::new(move || metrics::counter!(METRIC, "user" => user.clone()).increment(1))
    });
}

fn k3_cached_handle(c: &mut Criterion) {
    admitted_group(
        c,
        "K3 cached handle of an admitted label set",
        |recorder, user| {
            let counter = metrics::with_local_recorder(
                recorder,
                || metrics::counter!(METRIC, "user" => user.clone()),
            );
            Box::new(move || counter.increment(1))
        },
    );
}

/// The groups, in the order they run (a module of its own: `criterion_group!`
/// writes an undocumented `pub fn`).
mod groups {
    criterion::criterion_group!(
        benches,
        super::k1_fold_path,
        super::k2_admitted_path,
        super::k3_cached_handle,
    );
}
criterion_main!(groups::benches);
