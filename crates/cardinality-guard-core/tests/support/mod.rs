//! Shared helpers for the integration tests: build a guard over the real
//! `PrometheusRecorder` and read its rendered text back.
#![allow(dead_code)] // each test binary uses a different subset of the helpers
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::BTreeMap;
use std::sync::Barrier;

mod exposition;
mod rng;
pub use exposition::*;
#[allow(unused_imports)] // each test binary uses a different subset
pub use rng::Rng;

use cardinality_guard_core::{Config, GuardRecorder, ManualClock, PrometheusGuard};
use metrics::Recorder;

/// A guard over a real Prometheus recorder, built from TOML text (no upkeep thread).
pub fn guarded(toml: &str) -> (GuardRecorder, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("exporter builds")
}

/// A guard on a manual clock, with no upkeep thread: sweeps run only at
/// `render()` and `run_upkeep()`, and time moves only when the test says.
pub fn on_manual_clock(config: Config) -> (GuardRecorder, PrometheusGuard, ManualClock) {
    let clock = ManualClock::new();
    let (guard, exporter) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .clock(clock.clone().into())
        .build()
        .expect("exporter builds");
    (guard, exporter, clock)
}

/// [`on_manual_clock`] from TOML text.
pub fn expiring(toml: &str) -> (GuardRecorder, PrometheusGuard, ManualClock) {
    on_manual_clock(Config::from_toml(toml, "<test>").expect("test config is valid"))
}

/// The value of `cardinality_guard_series{metric=m}` in the render.
pub fn self_reported_series(text: &str, m: &str) -> Option<f64> {
    labeled_value(text, "cardinality_guard_series", &[("metric", m)])
}

/// The value of the one sample named `name` carrying all `labels`.
pub fn labeled_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    parse(text)
        .into_iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// The distinct label sets metric `m` renders (each without the `le` and
/// `quantile` labels the exporter adds to histogram and summary lines).
pub fn label_sets_of(text: &str, m: &str) -> std::collections::BTreeSet<BTreeMap<String, String>> {
    samples_of(&parse(text), m)
        .into_iter()
        .map(|s| {
            let mut labels = s.labels.clone();
            labels.remove("le");
            labels.remove("quantile");
            labels
        })
        .collect()
}

/// `cardinality_guard_overflow_total{metric=m, reason}` in the render; 0 when absent.
pub fn overflow_total(text: &str, m: &str, reason: &str) -> f64 {
    let labels = [("metric", m), ("reason", reason)];
    labeled_value(text, "cardinality_guard_overflow_total", &labels).unwrap_or(0.0)
}

/// Checks the self-report's promise against the real render: for every
/// guarded metric, the series the exporter renders equal both
/// `cardinality_guard_series{metric}` and the report's `series`; every
/// rendered metric other than the guard's own `cardinality_guard_*` is
/// guarded; and `cardinality_guard_global_series` (and the report's global
/// figure) is the sum of the guarded metrics' rendered series.
pub fn assert_series_accounting(text: &str, report: &cardinality_guard_core::Report) {
    let samples = parse(text);
    let own = |name: &str| name.starts_with("cardinality_guard_");
    for m in &report.metrics {
        let rendered = samples_of(&samples, &m.name).len() as u64;
        assert_eq!(rendered, m.series, "report.series of {}:\n{text}", m.name);
        assert_eq!(
            self_reported_series(text, &m.name),
            Some(rendered as f64),
            "cardinality_guard_series of {}:\n{text}",
            m.name
        );
    }
    let mut declared = declared_metrics(text);
    declared.retain(|name| !own(name));
    declared.sort();
    declared.dedup();
    for name in &declared {
        assert!(
            report.metric(name).is_some(),
            "{name} is rendered but not guarded:\n{text}"
        );
    }
    let rendered: usize = declared.iter().map(|m| samples_of(&samples, m).len()).sum();
    assert_eq!(
        labeled_value(text, "cardinality_guard_global_series", &[]),
        Some(rendered as f64),
        "cardinality_guard_global_series:\n{text}"
    );
    assert_eq!(
        report.global.series, rendered as u64,
        "report.global.series"
    );
}

/// Whether a rendered sample belongs to the guard's self-report.
pub fn is_self_report(sample: &Sample) -> bool {
    sample.name.starts_with("cardinality_guard_")
}

/// The samples of the guarded metrics (everything but the self-report).
pub fn guarded_samples(text: &str) -> Vec<Sample> {
    parse(text)
        .into_iter()
        .filter(|s| !is_self_report(s))
        .collect()
}

/// The samples of the guard's self-report (`cardinality_guard_*`).
pub fn self_report_samples(text: &str) -> Vec<Sample> {
    parse(text).into_iter().filter(is_self_report).collect()
}

/// Whether a sample is a metric's overflow series (`otel_metric_overflow="true"`).
pub fn is_overflow(sample: &Sample) -> bool {
    sample
        .labels
        .get("otel_metric_overflow")
        .map(String::as_str)
        == Some("true")
}

/// Threads in a race: more than the cores of a small CI machine, so they interleave.
pub const THREADS: usize = 8;

/// Runs `work(thread)` on `THREADS` threads, each with `recorder` as its
/// local recorder, all released at once by a barrier.
pub fn race<R: Recorder + Sync>(recorder: &R, work: impl Fn(usize) + Sync) {
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (start, work) = (&start, &work);
            s.spawn(move || {
                metrics::with_local_recorder(recorder, || {
                    start.wait();
                    work(t);
                })
            });
        }
    });
}

/// Thread `t`'s walk over `0..n`: every item once, from a thread-specific
/// start, odd threads backwards, so threads collide both on the same items
/// and on different ones.
pub fn walk(t: usize, n: usize) -> impl Iterator<Item = usize> {
    let start = t * n / THREADS;
    (0..n).map(move |i| {
        let v = (start + i) % n;
        if t % 2 == 1 {
            n - 1 - v
        } else {
            v
        }
    })
}
