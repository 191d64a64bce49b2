//! Reloads racing registrations keep every budget exact: eight threads
//! register new label sets of two metrics while another thread reloads
//! hundreds of times, swinging the per-metric budgets, the overflow policy
//! (fold/drop, which reserves and gives back the overflow series' room) and
//! the global budget. No metric ever holds more than the largest budget it
//! was given, the accounting always matches the render, and afterwards each
//! metric fills exactly to its final budget, the global budget exactly to
//! its own: a reservation lost or counted twice in a race would leave a
//! metric one label set short or over. (A metric turned from drop to fold
//! while full gets no overflow series: its room does not fit beside what
//! it holds.)

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use cardinality_guard_core::{Config, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const RELOADS: usize = 2_000;
/// Each thread registers new users until the reloads are over, at most this many.
const PER_THREAD: usize = 200_000;

fn config(logins: u64, visits_on_overflow: &str, global: u64) -> Config {
    let toml = format!(
        "[global]\nmax_series = {global}\n\
         [[metrics]]\nmatch = \"logins_total\"\nmax_series = {logins}\n\
         [[metrics]]\nmatch = \"visits_total\"\nmax_series = 50\non_overflow = \"{visits_on_overflow}\"\n"
    );
    Config::from_toml(&toml, "<test>").expect("test config is valid")
}

fn register(recorder: &impl Recorder, metric: &'static str, user: usize) {
    let key = Key::from_parts(metric, vec![Label::new("user", user.to_string())]);
    recorder.register_counter(&key, &METADATA).increment(1);
}

fn sets(exporter: &PrometheusGuard, metric: &str) -> u64 {
    exporter.report().metric(metric).map_or(0, |m| m.label_sets)
}

#[test]
fn budgets_stay_exact_while_reloads_race_registrations() {
    let (recorder, exporter) = PrometheusGuard::builder(config(40, "fold", 1_000))
        .upkeep_interval(None)
        .build()
        .unwrap();
    let done = AtomicBool::new(false);
    let start = Barrier::new(THREADS + 1);
    let mut largest_seen = 0;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (recorder, start, done) = (&recorder, &start, &done);
            s.spawn(move || {
                start.wait();
                for i in 0..PER_THREAD {
                    if done.load(Ordering::Acquire) {
                        break;
                    }
                    let user = t * PER_THREAD + i;
                    register(recorder, "logins_total", user);
                    register(recorder, "visits_total", user);
                }
            });
        }
        start.wait();
        for round in 0..RELOADS {
            let (logins, visits, global) = match round % 4 {
                0 => (400, "drop", 2_000),
                1 => (40, "fold", 300),
                2 => (250, "fold", 2_000),
                _ => (10, "drop", 120),
            };
            exporter.reload(config(logins, visits, global)).unwrap();
            let report = exporter.report();
            let logins = report.metric("logins_total").map_or(0, |m| m.series);
            largest_seen = largest_seen.max(logins);
            assert!(
                logins <= 400,
                "logins_total holds {logins} series, over every budget it had"
            );
            let visits = report.metric("visits_total").map_or(0, |m| m.series);
            assert!(visits <= 50, "visits_total holds {visits} series");
        }
        done.store(true, Ordering::Release);
    });
    eprintln!("logins_total held at most {largest_seen} series during the race");
    let text = exporter.render();
    assert_series_accounting(&text, &exporter.report());

    // A budget under what the metric holds: nothing new is admitted.
    exporter.reload(config(20, "fold", 5_000)).unwrap();
    let held = sets(&exporter, "logins_total");
    for user in 1_000_000..1_000_500 {
        register(&recorder, "logins_total", user);
    }
    assert_eq!(sets(&exporter, "logins_total"), held.max(19));

    // Final budgets, with a global budget exactly their sum: each metric
    // fills to its own, exactly (overflow rooms included).
    exporter.reload(config(1_000, "fold", 1_050)).unwrap();
    for user in 2_000_000..2_003_000 {
        register(&recorder, "logins_total", user);
        register(&recorder, "visits_total", user);
    }
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    let visits = report.metric("visits_total").unwrap();
    assert_eq!(
        (logins.label_sets, logins.series),
        (999, 1_000),
        "{report:#?}"
    );
    assert!(logins.overflow_series);
    // 49 label sets and the overflow series; or, if the race left it full
    // in drop mode, 50 label sets and no room for an overflow series.
    assert_eq!(visits.series, 50, "{report:#?}");
    assert_eq!(
        visits.overflow_series,
        visits.label_sets == 49,
        "{report:#?}"
    );
    assert_eq!(report.global.series, 1_050);
    assert_series_accounting(&exporter.render(), &report);
}
