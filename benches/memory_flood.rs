//! Memory under a flood: 1,000,000 unique label values into a counter and
//! into a bucketed histogram (11 buckets, 14 series per label set), each with
//! a budget of 1,000 series, guarded vs unguarded; then the same counter
//! flood with a budget above it (`admitted`: every label set is stored), so
//! the guard's cost per stored series stands beside the exporter's.
//!
//! ```text
//! cargo bench --bench memory_flood            # all four runs, ~1 minute
//! cargo bench --bench memory_flood -- 100000  # a smaller flood
//! ```
//!
//! Each run is a child process of its own (this program started again), so
//! its resident set size (RSS) growth is its alone. Every 10,000 values both
//! arms run their upkeep (`run_upkeep`), as a service's upkeep thread would:
//! the bare exporter drains its histogram samples into their distributions
//! then (they pile up otherwise); the guard's samples went straight into
//! theirs, so its upkeep only samples the series history.

#[path = "../examples/shared/rss.rs"]
mod rss;

use std::process::{Command, ExitCode};

use cardinality_guard::{prometheus_builder, Config, PrometheusGuard};
use metrics::Recorder;

const CONFIG: &str = r#"
[global]
max_series = 2000000

[histograms]
buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

[[metrics]]
match = "flood_*"
max_series = 1000

[[metrics]]
match = "admitted_*"
max_series = 2000000
"#;

const DEFAULT_FLOOD: u64 = 1_000_000;

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Histogram,
    /// A counter whose budget admits the whole flood.
    Admitted,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [role, kind, guarded, n] = args.as_slice() {
        if role == "--child" {
            let kind = match kind.as_str() {
                "histogram" => Kind::Histogram,
                "admitted" => Kind::Admitted,
                _ => Kind::Counter,
            };
            let n = n.parse().unwrap_or(DEFAULT_FLOOD);
            child(kind, guarded == "guarded", n);
            return ExitCode::SUCCESS;
        }
    }
    // `cargo bench` passes `--bench`; a number sets the flood size.
    let n = args
        .iter()
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(DEFAULT_FLOOD);
    parent(n)
}

fn parent(n: u64) -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("error: cannot find this program to start it again");
        return ExitCode::FAILURE;
    };
    println!("{n} unique label values per run, budget 1,000 series per metric");
    println!("(admitted: a counter whose budget is above the flood)\n");
    println!(
        "{:<10} {:<10} {:>16} {:>18} {:>14} {:>14}",
        "metric",
        "recorder",
        "rendered series",
        "RSS growth (MB)",
        "B per series",
        "flood time (s)"
    );
    for kind in ["counter", "histogram", "admitted"] {
        for arm in ["unguarded", "guarded"] {
            let out = Command::new(&exe)
                .args(["--child", kind, arm, &n.to_string()])
                .output();
            match out {
                Ok(out) if out.status.success() => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let f: Vec<&str> = text.split_whitespace().collect();
                    if let [series, kb, secs] = f.as_slice() {
                        let kb = kb.parse::<f64>().unwrap_or(f64::NAN);
                        let mb = kb / 1024.0;
                        let per = kb * 1024.0 / n as f64;
                        println!(
                            "{kind:<10} {arm:<10} {series:>16} {mb:>18.1} {per:>14.0} {secs:>14}"
                        );
                    }
                }
                Ok(out) => {
                    eprintln!(
                        "{kind} {arm} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// What renders and runs upkeep, for either arm.
type Render = Box<dyn Fn() -> String>;
type Upkeep = Box<dyn Fn()>;

/// One flood; prints "rendered-series rss-growth-kib seconds".
fn child(kind: Kind, guarded: bool, n: u64) {
    let config = Config::from_toml(CONFIG, "benches/memory_flood.rs").expect("valid config");
    let (recorder, render, upkeep): (Box<dyn Recorder>, Render, Upkeep) = if guarded {
        let (recorder, handle) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .expect("guard builds");
        let upkeep = handle.clone();
        (
            Box::new(recorder),
            Box::new(move || handle.render()),
            Box::new(move || upkeep.run_upkeep()),
        )
    } else {
        let exporter = prometheus_builder(&config)
            .expect("valid buckets")
            .build_recorder();
        let (handle, upkeep) = (exporter.handle(), exporter.handle());
        (
            Box::new(exporter),
            Box::new(move || handle.render()),
            Box::new(move || upkeep.run_upkeep()),
        )
    };
    let before = rss::rss_kib();
    let start = std::time::Instant::now();
    metrics::with_local_recorder(&*recorder, || flood(kind, n, &*upkeep));
    let seconds = start.elapsed().as_secs_f64();
    let growth = rss::rss_kib() - before;
    let series = count_series(&render());
    println!("{series} {growth} {seconds:.2}");
}

fn flood(kind: Kind, n: u64, upkeep: &dyn Fn()) {
    for i in 0..n {
        let user = format!("user-{i}");
        match kind {
            Kind::Counter => metrics::counter!("flood_logins_total", "user" => user).increment(1),
            Kind::Admitted => {
                metrics::counter!("admitted_logins_total", "user" => user).increment(1)
            }
            Kind::Histogram => {
                metrics::histogram!("flood_latency_seconds", "user" => user).record(0.042)
            }
        }
        if i % 10_000 == 9_999 {
            upkeep();
        }
    }
}

/// Series of the flooded metric in a render (the guard's self-report aside).
fn count_series(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("flood_") || l.starts_with("admitted_"))
        .count()
}
