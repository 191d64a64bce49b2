//! Memory and scrape size are bounded by the budgets, whatever the label
//! values: huge values are replaced (`max_label_value_length`) or, when
//! allowed, kept only for the label sets the budget admits; histogram
//! samples never pile up, whether an upkeep thread runs or not, and nobody
//! scrapes.
//!
//! The heap is measured with the per-thread counting allocator (everything
//! runs on the test thread there), the upkeep thread by the resident set
//! size of a child process (that allocator can't see frees made by another
//! thread). Everything else runs on the test thread.

#[path = "support/heap.rs"]
mod heap;
mod support;

use std::fmt::Write;
use std::time::{Duration, Instant};

use cardinality_guard_core::{Config, GuardRecorder, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Each flooded label value: 60 KB.
const VALUE_LEN: usize = 60 * KIB;
/// Distinct users in a flood: 1,500 x 60 KB is 88 MiB of distinct values
/// per metric. (In debug, building a `Key` of a 60 KB value costs ~0.6 ms
/// of hashing: more users would not fit the file's 10 s.)
const USERS: usize = 1_500;
const COUNTER: &str = "huge_total";
const HISTOGRAM: &str = "huge_seconds";
/// Series per label set of `HISTOGRAM` (`buckets = [0.1, 1]`).
const HISTOGRAM_COST: usize = 5;

fn build(toml: &str, upkeep: Option<Duration>) -> (GuardRecorder, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    PrometheusGuard::builder(config)
        .upkeep_interval(upkeep)
        .build()
        .expect("guard builds")
}

/// User `i`'s id: distinct, `VALUE_LEN` bytes.
fn huge_id(i: usize, filler: &str) -> String {
    let mut id = String::with_capacity(VALUE_LEN);
    let _ = write!(id, "{i:08}");
    id.push_str(&filler[..VALUE_LEN - 8]);
    id
}

/// Users `range` log in once each (counter) and take 0.5 s (histogram),
/// each with a label value of its own, `VALUE_LEN` bytes long. The
/// histogram samples are drained now and then, as the upkeep would.
fn flood(guard: &GuardRecorder, exporter: &PrometheusGuard, range: std::ops::Range<usize>) {
    let filler = "x".repeat(VALUE_LEN);
    for i in range {
        let id = huge_id(i, &filler);
        let counter = Key::from_parts(COUNTER, vec![Label::new("user", id.clone())]);
        guard.register_counter(&counter, &METADATA).increment(1);
        drop(counter);
        let histogram = Key::from_parts(HISTOGRAM, vec![Label::new("user", id)]);
        guard.register_histogram(&histogram, &METADATA).record(0.5);
        if i % 1_000 == 999 {
            exporter.run_upkeep();
        }
    }
    exporter.run_upkeep();
}

/// Bytes of the lines of metric `m` in `text` (newlines included).
fn bytes_of(text: &str, m: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let name = l.split(['{', ' ']).next().unwrap_or("");
            name == m
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(m))
        })
        .map(|l| l.len() + 1)
        .sum()
}

#[test]
fn huge_label_values_become_overflow_and_nothing_of_them_is_kept() {
    let started = Instant::now();
    // The default max_label_value_length (1024 bytes) and budgets.
    let (guard, exporter) = build("[histograms]\nbuckets = [0.1, 1]\n", None);
    // One user first: the metrics and their one series exist.
    flood(&guard, &exporter, 0..1);
    drop(exporter.render());
    let before = heap::held();
    flood(&guard, &exporter, 1..USERS);
    let text = exporter.render();
    let render_bytes = text.len();
    let grown = heap::held() - before - text.capacity() as isize;
    eprintln!(
        "default limit: {USERS} users x {VALUE_LEN} B: render {render_bytes} B, heap grown {grown} B, in {:?}",
        started.elapsed()
    );

    assert!(
        grown < MIB as isize,
        "{grown} bytes held after {USERS} label values of {VALUE_LEN} bytes"
    );
    assert!(render_bytes < 64 * KIB, "render of {render_bytes} bytes");
    let overflow = [("user", "__overflow__")];
    assert_eq!(
        label_sets_of(&text, COUNTER),
        [[("user".to_owned(), "__overflow__".to_owned())].into()].into(),
        "every value replaced:\n{text}"
    );
    assert_eq!(
        label_sets_of(&text, HISTOGRAM),
        label_sets_of(&text, COUNTER)
    );
    assert_eq!(value_exact(&text, COUNTER, &overflow), Some(USERS as f64));
    assert_eq!(sum_of(&text, COUNTER), USERS as f64, "totals conserved");
    let count = format!("{HISTOGRAM}_count");
    assert_eq!(value_exact(&text, &count, &overflow), Some(USERS as f64));
    assert_eq!(sum_of(&text, &count), USERS as f64);
    for m in [COUNTER, HISTOGRAM] {
        assert_eq!(
            overflow_total(&text, m, "value_too_long"),
            USERS as f64,
            "{m}: every registration counted once:\n{text}"
        );
    }
    assert_series_accounting(&text, &exporter.report());
}

/// The samples of `text` named `name` whose labels are exactly `labels`.
fn value_in(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels.iter().all(|(k, v)| s.label(k) == *v)
        })
        .map(|s| s.value)
}

fn sum_in(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

#[test]
fn long_values_allowed_cost_at_most_the_budget_in_render_and_heap() {
    const BUDGET: usize = 100;
    const MAX_VALUE: usize = 65_536;
    const FILL: usize = 200;
    let started = Instant::now();
    let (guard, exporter) = build(
        &format!(
            "[global]\nmax_label_value_length = {MAX_VALUE}\n\
             [histograms]\nbuckets = [0.1, 1]\n\
             [[metrics]]\nmatch = \"{COUNTER}\"\nmax_series = {BUDGET}\n\
             [[metrics]]\nmatch = \"{HISTOGRAM}\"\nmax_series = {BUDGET}\n"
        ),
        None,
    );
    let empty = heap::held();
    // Fold mode: 99 counter label sets, 19 histogram ones, and the
    // overflow series' room. The first 200 users fill both budgets.
    flood(&guard, &exporter, 0..FILL);
    drop(exporter.render());
    let filled = heap::held();
    flood(&guard, &exporter, FILL..USERS);
    let text = exporter.render();
    let grown = heap::held() - filled - text.capacity() as isize;
    let counter_bytes = bytes_of(&text, COUNTER);
    let histogram_bytes = bytes_of(&text, HISTOGRAM);
    let label_sets = exporter.guard().tracked_label_sets();
    let admitted_values = (label_sets - 2) * VALUE_LEN;
    eprintln!(
        "max_label_value_length {MAX_VALUE}: filling the budgets held {} B ({} label sets of {VALUE_LEN} B values: {:.2} B per value byte); \
         {} more users grew it by {grown} B; render {} B (counter {counter_bytes} B, histogram {histogram_bytes} B); {:?}",
        filled - empty,
        label_sets - 2,
        (filled - empty) as f64 / admitted_values as f64,
        USERS - FILL,
        text.len(),
        started.elapsed()
    );

    let line_bound = BUDGET * (MAX_VALUE + 200);
    assert!(
        counter_bytes <= line_bound,
        "{counter_bytes} > {line_bound}"
    );
    assert!(
        histogram_bytes <= line_bound,
        "{histogram_bytes} > {line_bound}"
    );
    assert!(text.len() <= 2 * line_bound + 64 * KIB, "{}", text.len());
    assert!(
        grown < MIB as isize,
        "{grown} bytes held past the budgets after {} more values of {VALUE_LEN} bytes",
        USERS - FILL
    );
    // The budgets hold the admitted values, a few copies each (key,
    // rendered text, identity, hot-path key): bounded by the budget.
    assert_eq!(
        label_sets,
        (BUDGET - 1) + (BUDGET / HISTOGRAM_COST - 1) + 2,
        "99 + 19 label sets and 2 overflow series"
    );
    assert!(
        ((filled - empty) as usize) < 8 * admitted_values,
        "{} bytes held for {admitted_values} bytes of admitted values",
        filled - empty
    );

    // One parse of the 12 MB render (the shared helpers parse per call).
    let samples = parse(&text);
    assert_eq!(samples_of(&samples, COUNTER).len(), BUDGET);
    assert_eq!(samples_of(&samples, HISTOGRAM).len(), BUDGET);
    for m in [COUNTER, HISTOGRAM] {
        let series = [("metric", m)];
        assert_eq!(
            value_in(&samples, "cardinality_guard_series", &series),
            Some(BUDGET as f64),
            "{m}: the self-report equals the lines rendered"
        );
    }
    assert_eq!(
        value_in(&samples, "cardinality_guard_global_series", &[]),
        Some(2.0 * BUDGET as f64)
    );
    assert_eq!(sum_in(&samples, COUNTER), USERS as f64, "totals conserved");
    let count = format!("{HISTOGRAM}_count");
    assert_eq!(sum_in(&samples, &count), USERS as f64);
    let overflow = [("otel_metric_overflow", "true")];
    assert_eq!(
        value_in(&samples, COUNTER, &overflow),
        Some((USERS - (BUDGET - 1)) as f64)
    );
    assert_eq!(
        value_in(&samples, &count, &overflow),
        Some((USERS - (BUDGET / HISTOGRAM_COST - 1)) as f64)
    );
    let too_long = [("metric", COUNTER), ("reason", "value_too_long")];
    assert_eq!(
        value_in(&samples, "cardinality_guard_overflow_total", &too_long),
        None,
        "no value was too long"
    );
}

/// Resident set size of this process in bytes (from /proc/self/status).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<usize>().ok())
        })
        .map_or(0, |kib| kib * KIB)
}

const SAMPLES: usize = 2_000_000;
const CHUNKS: usize = 100;
const LATENCY: &str = "upkept_seconds";

/// Records `SAMPLES` samples of 0.5 into one histogram series in `CHUNKS`
/// chunks, pausing `pause` after each: the most the resident set grew
/// meanwhile.
fn record_samples(guard: &GuardRecorder, pause: Duration) -> usize {
    let key = Key::from_parts(LATENCY, vec![Label::new("route", "/users/{id}")]);
    let histogram = guard.register_histogram(&key, &METADATA);
    let base = rss();
    let mut peak = base;
    for _ in 0..CHUNKS {
        for _ in 0..SAMPLES / CHUNKS {
            histogram.record(0.5);
        }
        std::thread::sleep(pause);
        peak = peak.max(rss());
    }
    peak - base
}

/// Set in the child process that measures its own resident set.
const CHILD: &str = "CARDINALITY_GUARD_UPKEEP_RSS_CHILD";

/// Runs test `name` of this binary alone in a child process (its resident
/// set is then this test's alone) and checks that it passed.
fn in_a_child_process(name: &str) {
    let started = Instant::now();
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}child: {:?}", started.elapsed());
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child ran it:\n{stdout}");
}

/// Histogram samples go straight into their distribution (a sample buffer
/// drained beside writers loses samples: `AtomicBucket::clear_with` races
/// `push`), so memory stays flat with no scrape at all, with or without an
/// upkeep thread, and every sample is counted.
#[test]
fn histogram_samples_never_pile_up_with_no_render() {
    if std::env::var_os(CHILD).is_none() {
        return in_a_child_process("histogram_samples_never_pile_up_with_no_render");
    }
    let config = "[histograms]\nbuckets = [0.1, 1]\n";
    let route = [("route", "/users/{id}")];
    for upkeep in [Some(Duration::from_millis(20)), None] {
        let (guard, exporter) = build(config, upkeep);
        let grown = record_samples(&guard, Duration::from_millis(10));
        let text = exporter.render();
        let count = value_exact(&text, &format!("{LATENCY}_count"), &route);
        let sum = value_exact(&text, &format!("{LATENCY}_sum"), &route);
        eprintln!("{SAMPLES} samples, upkeep {upkeep:?}: resident set grew {grown} B");
        assert!(
            grown < 8 * MIB,
            "upkeep {upkeep:?}: {grown} bytes resident after {SAMPLES} samples (16 MB if kept)"
        );
        assert_eq!(count, Some(SAMPLES as f64), "every sample counted:\n{text}");
        assert_eq!(sum, Some(0.5 * SAMPLES as f64));
    }
}

/// Samples recorded by one thread while another runs upkeep and renders
/// are all counted (a drained sample buffer loses some).
#[test]
fn samples_recorded_during_upkeep_and_renders_are_all_counted() {
    let (guard, exporter) = build("[histograms]\nbuckets = [1]\n", None);
    let key = Key::from_parts(LATENCY, vec![Label::new("route", "/")]);
    let histogram = guard.register_histogram(&key, &METADATA);
    const N: usize = 300_000;
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                exporter.run_upkeep();
                drop(exporter.render());
            }
        });
        for _ in 0..N {
            histogram.record(0.5);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let text = exporter.render();
    let count = value_exact(&text, &format!("{LATENCY}_count"), &[("route", "/")]);
    assert_eq!(count, Some(N as f64), "{text}");
}
