//! Arbitrary sequences of reloads, registrations, updates through kept
//! handles (reviving expired series), time passing, sweeps and renders, from
//! seeded random numbers (`support::Rng`: no dependency). After every step the
//! render, the report and the self-report agree (`assert_series_accounting`),
//! no metric in enforce mode holds more than the largest budget in force
//! since its series were admitted, and at the end, under one stable config,
//! every metric fills exactly to its budget (in fold mode, then in drop).

mod support;

use std::time::Duration;

use cardinality_guard_core::{Config, PrometheusGuard};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const SEEDS: u64 = 24;
const STEPS: usize = 250;
/// Every config keeps these (a reload can't change a stored histogram's buckets).
const HISTOGRAMS: &str = "[histograms]\nbuckets = [0.1, 1.0]\n";
/// Series per label set of `latency_seconds`: 2 buckets + `+Inf`, `_sum`, `_count`.
const HISTOGRAM_COST: u64 = 5;

/// A metric's random policy, and its `max_series` (at most `global`: a file
/// can't set a metric's budget above the global one it sets).
fn rule(rng: &mut Rng, name: &str, cost: u64, global: u64) -> (String, u64) {
    let max = (cost * *rng.pick(&[1, 2, 3, 5, 8, 20])).min(global);
    let mut toml = format!("[[metrics]]\nmatch = \"{name}\"\nmax_series = {max}\n");
    toml += &format!("on_overflow = \"{}\"\n", rng.pick(&["fold", "drop"]));
    toml += &format!(
        "mode = \"{}\"\n",
        rng.pick(&["enforce", "enforce", "shadow"])
    );
    match rng.below(4) {
        0 => toml += "label_limits = { user = 2 }\n",
        1 => toml += "label_limits = { user = 5 }\npinned = { user = [\"0\"] }\n",
        _ => {}
    }
    if rng.below(3) > 0 {
        toml += "idle_timeout = \"10s\"\n";
    }
    (toml, max)
}

/// A random config, and the `max_series` it gives each metric.
fn random_config(rng: &mut Rng) -> (Config, [u64; 2]) {
    let global = *rng.pick(&[15, 40, 1_000]);
    let (logins, logins_max) = rule(rng, "logins_total", 1, global);
    let (latency, latency_max) = rule(rng, "latency_seconds", HISTOGRAM_COST, global);
    let toml = format!("{HISTOGRAMS}[global]\nmax_series = {global}\n{logins}{latency}");
    let config = Config::from_toml(&toml, "<random>").expect("random config is valid");
    (config, [logins_max, latency_max])
}

fn logins_key(user: usize, path: usize) -> Key {
    Key::from_parts(
        "logins_total",
        vec![
            Label::new("user", user.to_string()),
            Label::new("path", path.to_string()),
        ],
    )
}

fn latency_key(user: usize) -> Key {
    Key::from_parts(
        "latency_seconds",
        vec![Label::new("user", user.to_string())],
    )
}

fn check(exporter: &PrometheusGuard, seed: u64, step: usize, largest: &[u64; 2]) {
    let text = exporter.render();
    let report = exporter.report();
    assert_series_accounting(&text, &report);
    for (name, largest) in ["logins_total", "latency_seconds"].iter().zip(largest) {
        if let Some(m) = report.metric(name) {
            if m.mode == cardinality_guard_core::Mode::Enforce {
                assert!(
                    m.series <= *largest,
                    "seed {seed} step {step}: {name} holds {} series, over every budget \
                     it had since its series were admitted ({largest})",
                    m.series
                );
            }
        }
    }
}

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let (config, mut largest) = random_config(&mut rng);
    let (recorder, exporter, clock) = on_manual_clock(config);
    let mut counters: Vec<Counter> = Vec::new();
    let mut histograms: Vec<Histogram> = Vec::new();
    // Shadow mode stores everything: the budget bound holds from the first
    // enforce reload with nothing stored under shadow (restart the bound then).
    for step in 0..STEPS {
        match rng.below(10) {
            0 | 1 => {
                let (config, maxes) = random_config(&mut rng);
                exporter.reload(config).unwrap();
                for (l, m) in largest.iter_mut().zip(maxes) {
                    *l = (*l).max(m);
                }
            }
            2..=4 => {
                let c =
                    recorder.register_counter(&logins_key(rng.below(30), rng.below(3)), &METADATA);
                c.increment(1);
                if counters.len() < 20 {
                    counters.push(c);
                }
            }
            5 => {
                let h = recorder.register_histogram(&latency_key(rng.below(20)), &METADATA);
                h.record(0.5);
                if histograms.len() < 10 {
                    histograms.push(h);
                }
            }
            6 => {
                // Kept handles: updates revive expired series (or fold them).
                if let Some(c) = counters.get(rng.below(20)) {
                    c.increment(1);
                }
                if let Some(h) = histograms.get(rng.below(10)) {
                    h.record(0.05);
                }
            }
            7 => clock.advance(Duration::from_secs(rng.below(8) as u64)),
            8 => exporter.run_upkeep(),
            _ => {}
        }
        // Shadow mode may hold anything: the bound is for enforce. A metric
        // turned to enforce keeps what shadow stored, so raise the bound to it.
        let report = exporter.report();
        for (name, l) in ["logins_total", "latency_seconds"].iter().zip(&mut largest) {
            if let Some(m) = report.metric(name) {
                if m.mode == cardinality_guard_core::Mode::Shadow {
                    *l = (*l).max(m.series + m.series_per_label_set);
                }
            }
        }
        check(&exporter, seed, step, &largest);
    }

    // One stable config: everything expires, then each metric fills exactly.
    drop((counters, histograms));
    let stable = format!(
        "{HISTOGRAMS}[global]\nmax_series = 1000\n\
         [[metrics]]\nmatch = \"logins_total\"\nmax_series = 7\nidle_timeout = \"10s\"\n\
         [[metrics]]\nmatch = \"latency_seconds\"\nmax_series = {}\nidle_timeout = \"10s\"\n",
        4 * HISTOGRAM_COST
    );
    exporter
        .reload(Config::from_toml(&stable, "<stable>").unwrap())
        .unwrap();
    for _ in 0..3 {
        let _ = exporter.render();
        clock.advance(Duration::from_secs(11));
        exporter.run_upkeep();
    }
    let report = exporter.report();
    assert_eq!(report.global.series, 0, "seed {seed}: all expired");
    for u in 100..130 {
        recorder
            .register_counter(&logins_key(u, 0), &METADATA)
            .increment(1);
        recorder
            .register_histogram(&latency_key(u), &METADATA)
            .record(0.5);
    }
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!(
        (logins.label_sets, logins.series),
        (6, 7),
        "seed {seed}: {logins:?}"
    );
    let latency = report.metric("latency_seconds").unwrap();
    assert_eq!(
        (latency.label_sets, latency.series),
        (3, 4 * HISTOGRAM_COST),
        "seed {seed}: {latency:?}"
    );
    assert_series_accounting(&exporter.render(), &report);

    // The same budgets under drop (each overflow series renders as the
    // reload comes): once everything expired, each metric fills exactly to
    // its budget, with no room kept for an overflow series.
    let dropping = stable.replace("idle_timeout", "on_overflow = \"drop\"\nidle_timeout");
    exporter
        .reload(Config::from_toml(&dropping, "<drop>").unwrap())
        .unwrap();
    for _ in 0..3 {
        let _ = exporter.render();
        clock.advance(Duration::from_secs(11));
        exporter.run_upkeep();
    }
    assert_eq!(
        exporter.report().global.series,
        0,
        "seed {seed}: all expired"
    );
    for u in 200..230 {
        recorder
            .register_counter(&logins_key(u, 0), &METADATA)
            .increment(1);
        recorder
            .register_histogram(&latency_key(u), &METADATA)
            .record(0.5);
    }
    let report = exporter.report();
    let filled = |name: &str| {
        let m = report.metric(name).unwrap();
        (m.label_sets, m.series, m.overflow_series)
    };
    assert_eq!(filled("logins_total"), (7, 7, false), "seed {seed}");
    assert_eq!(
        filled("latency_seconds"),
        (4, 4 * HISTOGRAM_COST, false),
        "seed {seed}"
    );
    assert_series_accounting(&exporter.render(), &report);
}

#[test]
fn arbitrary_reload_sequences_keep_every_figure_in_step_with_the_render() {
    for seed in 1..=SEEDS {
        run(seed);
    }
}
