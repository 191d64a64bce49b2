//! Evictions race updates and lose nothing: while four threads count into
//! registered label sets and into handles they keep, the main thread
//! renders, reloads between a small and a large budget, a label limit and
//! none, and `keep` modes, and runs upkeep. Read as Prometheus would (a
//! series absent from a render starts again from zero when it comes back),
//! the renders account for every increment sent: none lost, none counted
//! twice. Fixed work, no timing.

#[path = "support/scrapes.rs"]
mod scrapes;
mod support;

use std::sync::{Arc, Barrier};

use cardinality_guard_core::{Config, PrometheusGuard};
use metrics::{Counter, Key, Label, Level, Metadata, Recorder};
use scrapes::Scrapes;
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const THREADS: usize = 4;
const PHASES: usize = 100;
/// Events per thread and phase.
const EVENTS: usize = 300;
const USERS: usize = 400;

fn config(step: usize) -> Config {
    let keep = ["first", "busiest", "consistent"][step / 3 % 3];
    let budget = [30, 500, 120][step % 3];
    let limit = match step % 4 {
        0 => "label_limits = { user = 20 }\n",
        _ => "",
    };
    let toml = format!(
        "[[metrics]]\nmatch = \"logins_total\"\nmax_series = {budget}\nkeep = \"{keep}\"\n{limit}"
    );
    Config::from_toml(&toml, "<test>").expect("test config is valid")
}

fn key(user: usize) -> Key {
    Key::from_parts(
        "logins_total",
        vec![Label::new("user", format!("user-{user}"))],
    )
}

#[test]
fn renders_account_for_every_increment_through_evictions() {
    let (recorder, exporter, _clock) = on_manual_clock(config(1));
    let recorder = Arc::new(recorder);
    let exporter: Arc<PrometheusGuard> = Arc::new(exporter);
    let phases = Barrier::new(THREADS + 1);
    let mut scrapes = Scrapes::new("logins_total");
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let recorder = recorder.clone();
            let phases = &phases;
            scope.spawn(move || {
                let mut rng = Rng::new(t as u64 + 1);
                // A few handles kept for good, as user code caches them.
                let kept: Vec<Counter> = (0..20)
                    .map(|i| recorder.register_counter(&key(t * 20 + i), &METADATA))
                    .collect();
                for _ in 0..PHASES {
                    for _ in 0..EVENTS {
                        match rng.below(3) {
                            0 => kept[rng.below(kept.len())].increment(1),
                            _ => recorder
                                .register_counter(&key(rng.below(USERS)), &METADATA)
                                .increment(1),
                        }
                    }
                    phases.wait();
                }
            });
        }
        // Each phase, while the threads count: a render, perhaps a reload,
        // an upkeep.
        for phase in 0..PHASES {
            scrapes.read(&exporter.render());
            if phase % 5 == 0 {
                exporter.reload(config(phase / 5)).expect("reload applies");
            }
            exporter.run_upkeep();
            phases.wait();
        }
    });
    // Two more rounds: what was kept for a render is evicted, and shown.
    for _ in 0..2 {
        scrapes.read(&exporter.render());
        exporter.run_upkeep();
    }
    scrapes.read(&exporter.render());
    let sent = (THREADS * PHASES * EVENTS) as f64;
    assert_eq!(
        scrapes.total_increase, sent,
        "every increment in some render, once"
    );
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    eprintln!("evicted: {:?}", logins.evicted);
    // (Uniform users give `busiest` little to swap: outranked may be 0.)
    let e = logins.evicted;
    assert!(e.reload > 0 && e.rank > 0, "evictions happened: {e:?}");
}
