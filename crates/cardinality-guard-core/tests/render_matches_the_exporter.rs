//! On the Prometheus path the guard renders its own series. Wherever
//! `metrics-exporter-prometheus` is correct, the guard must write the same
//! lines: a differential test over randomized workloads (seeded, printed on
//! failure). Each workload goes both to the real `PrometheusRecorder` (built
//! by `prometheus_builder(&config)`) and to the guard's `GuardRecorder`,
//! with budgets far above the workload so nothing folds, then the two
//! renders are compared family by family: the same `# HELP` and `# TYPE`
//! lines, the same sample lines (the exporter's order follows a hash map, so
//! lines are compared per series), the guard's `cardinality_guard_*`
//! families aside.
//!
//! The workloads stay within what the exporter renders correctly: valid
//! names and label keys, label values without `\` or `"`, non-empty values,
//! one label order per label set, one kind per name, no `_sum`/`_count`/
//! `_bucket` names, no reserved label keys, finite values. They mix
//! counters (increment, absolute), gauges (set, increment, decrement),
//! histograms with global buckets and `[[histograms.per_metric]]` overrides
//! (overlapping exact, prefix and suffix patterns: the exporter's precedence),
//! summaries (no buckets configured; recorded and rendered while the clock
//! stands still, all inside the rolling window), `[global] labels` (a key
//! label of the same name overriding one), and descriptions (`# HELP`; one text per name).
//!
//! The guard's render is also checked on its own: strictly valid, its
//! accounting matching the self-report, byte-identical across two renders of
//! an unchanged guard, families sorted by name before the self-report, and
//! within a family each series' lines together, series sorted by identity
//! (their labels sorted by key, global labels aside).

#[path = "support/strict_exposition.rs"]
mod strict_exposition;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use cardinality_guard_core::{prometheus_builder, Config, PrometheusGuard};
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use strict_exposition::{assert_strictly_valid, StrictFamily};
use support::{assert_series_accounting, Rng};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const WORKLOADS: u64 = 200;

impl Rng {
    /// A finite value of any scale and sign, now and then a bucket bound.
    fn value(&mut self, bounds: &[f64]) -> f64 {
        match self.below(9) {
            0 => self.below(100) as f64,
            1 => self.unit() * 1000.0 - 500.0,
            2 => self.unit() * 1e-9,
            3 => (self.unit() - 0.5) * 1e15,
            4 if !bounds.is_empty() => *self.pick(bounds),
            5 => *self.pick(&[0.0, -0.0, 0.1, 0.2, 0.3, 1.0 / 3.0, 1e-300, 1e300]),
            6 => self.unit(),
            7 => -(self.below(1000) as f64) / 8.0,
            _ => self.unit() * 10.0,
        }
    }
}

impl Rng {
    /// A histogram sample: a multiple of 2^-10 of at most 1e9 (so any sum
    /// of a few thousand is exact, whatever the grouping: the exporter sums
    /// each drained batch apart, the guard adds sample by sample), now and
    /// then a bucket bound that is such a number (to hit `le` exactly).
    fn sample(&mut self, bounds: &[f64]) -> f64 {
        let exact: Vec<f64> = bounds
            .iter()
            .copied()
            .filter(|b| (b * 1024.0).fract() == 0.0 && b.abs() <= 1e9)
            .collect();
        match self.below(6) {
            0 if !exact.is_empty() => *self.pick(&exact),
            1 => (self.below(1 << 21) as f64 - (1 << 20) as f64) / 1024.0,
            2 => self.below(100) as f64,
            3 => self.below(1_000_000_000) as f64,
            4 => *self.pick(&[0.0, -0.0, 0.5, -0.25]),
            _ => self.below(800) as f64 / 8.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Valid names, none ending in `_sum`, `_count` or `_bucket`, none the
/// `_sum`/`_count` of another.
const NAMES: [&str; 14] = [
    "app_requests_total",
    "app_latency_seconds",
    "app_queue",
    "db_query_seconds",
    "db_rows",
    "db_pool_size",
    "http_server_active",
    "http_request_size_bytes",
    "queue:depth",
    "jobs_total",
    "temp_celsius",
    "x",
    "_private",
    "Mixed_Case_seconds",
];

const KEYS: [&str; 9] = [
    "method", "route", "status", "user", "region", "a1", "_k", "Z", "zone",
];

/// Label values the exporter renders correctly (no `\`, no `"`), none
/// equal to a global label's value.
const VALUES: [&str; 18] = [
    "GET",
    "POST",
    "/users/{id}",
    "/",
    "200",
    "404",
    "ada",
    "é",
    "日本語",
    "🦀 crab",
    "a b",
    "x=y,z",
    "{}",
    "line\nbreak",
    "0",
    "-1",
    "eu-east",
    "tab\there",
];

const GLOBALS: [(&str, &str); 3] = [("region", "eu-west"), ("zone", "z1"), ("service", "api")];

const BUCKETS: [&[f64]; 5] = [
    &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ],
    &[1.0, 2.0, 5.0],
    &[-1.0, 0.0, 1.5, 1000.0],
    &[0.1],
    &[1e-6, 0.3, 7.0, 1e9],
];

const OVERRIDE_PATTERNS: [&str; 7] = [
    "db_query_seconds",
    "db_*",
    "d*",
    "*_seconds",
    "*seconds",
    "app_*",
    "x",
];

const DESCRIPTIONS: [&str; 6] = [
    "Requests served.",
    "Latency in seconds, with unicode: é 日本 🦀.",
    "Line one\nline two",
    "Quotes \"are\" fine, and {braces} = too",
    "",
    "Trailing space ",
];

fn toml_list(bounds: &[f64]) -> String {
    let items: Vec<String> = bounds.iter().map(|b| format!("{b:?}")).collect();
    format!("[{}]", items.join(", "))
}

struct MetricSpec {
    name: &'static str,
    kind: Kind,
    keys: Vec<&'static str>,
    /// Its labels take `values` of `VALUES`, from `offset` on.
    offset: usize,
    values: usize,
    /// What it is described with, if it is.
    description: &'static str,
}

struct Workload {
    toml: String,
    metrics: Vec<MetricSpec>,
    /// Every bucket bound in the config (values to hit exactly).
    bounds: Vec<f64>,
}

fn workload(rng: &mut Rng) -> Workload {
    let mut toml = String::from("[global]\nmax_series = 10000000\nmax_metrics = 10000\n");
    if rng.chance(75) {
        // Fewer label-demand sketches (2 KiB each, slow to build in debug).
        toml.push_str("max_labels_per_metric = 2\n");
    }
    let mut globals: Vec<(&str, &str)> =
        GLOBALS.iter().copied().filter(|_| rng.chance(35)).collect();
    globals.sort();
    if !globals.is_empty() {
        let items: Vec<String> = globals
            .iter()
            .map(|(k, v)| format!("{k} = \"{v}\""))
            .collect();
        toml.push_str(&format!("labels = {{ {} }}\n", items.join(", ")));
    }
    toml.push_str("[defaults]\nmax_series = 1000000\n");
    let mut bounds = Vec::new();
    toml.push_str("[histograms]\n");
    if rng.chance(50) {
        let b = *rng.pick(&BUCKETS);
        bounds.extend_from_slice(b);
        toml.push_str(&format!("buckets = {}\n", toml_list(b)));
    } else {
        toml.push_str("buckets = \"summary\"\n");
    }
    let mut patterns: Vec<&str> = OVERRIDE_PATTERNS
        .iter()
        .copied()
        .filter(|_| rng.chance(30))
        .collect();
    patterns.truncate(4);
    for p in patterns {
        let b = *rng.pick(&BUCKETS);
        bounds.extend_from_slice(b);
        toml.push_str(&format!(
            "[[histograms.per_metric]]\nmatch = \"{p}\"\nbuckets = {}\n",
            toml_list(b)
        ));
    }
    let mut names: Vec<&'static str> = NAMES.to_vec();
    let count = 2 + rng.below(6);
    let mut metrics = Vec::new();
    for _ in 0..count {
        let name = names.remove(rng.below(names.len()));
        let kind = *rng.pick(&[Kind::Counter, Kind::Gauge, Kind::Histogram]);
        let mut keys: Vec<&'static str> = KEYS.to_vec();
        let n = rng.below(4);
        let mut chosen = Vec::new();
        for _ in 0..n {
            chosen.push(keys.remove(rng.below(keys.len())));
        }
        metrics.push(MetricSpec {
            name,
            kind,
            keys: chosen,
            offset: rng.below(VALUES.len()),
            values: 1 + rng.below(5),
            description: DESCRIPTIONS[rng.below(DESCRIPTIONS.len())],
        });
    }
    Workload {
        toml,
        metrics,
        bounds,
    }
}

/// Every this many operations both sides drain their histogram samples.
/// The exporter's summaries open their rolling window at the timestamp of
/// the first sample of a drain, and a drain reads the newest block of 64
/// samples first (32 on 32-bit targets): a series with more samples per
/// drain loses the older ones from its quantiles (its `_count` keeps them),
/// an exporter bug. Draining at most 30 samples per series at a time (6
/// operations of at most 5 samples) keeps the exporter correct.
const DRAIN_EVERY: usize = 6;

/// Runs one workload of `ops` operations against `recorder`, drawing from
/// `rng` (run it twice from the same seed: both recorders get the same ops),
/// calling `drain` every `DRAIN_EVERY` operations.
fn drive(recorder: &dyn Recorder, w: &Workload, rng: &mut Rng, ops: usize, drain: &dyn Fn()) {
    for op in 0..ops {
        if op % DRAIN_EVERY == 0 {
            drain();
        }
        if rng.chance(4) {
            // A description: of a metric (through its kind or another), or
            // of a name that never registers. One text per name: between
            // two renders the exporter keeps the last one given (its
            // "if missing" check reads the published map only), the guard
            // the first.
            let (name, text) = if rng.chance(85) {
                let m = rng.pick(&w.metrics);
                (m.name, m.description)
            } else {
                ("never_registered", DESCRIPTIONS[0])
            };
            let text = SharedString::from(text);
            let key = KeyName::from(name);
            match rng.below(3) {
                0 => recorder.describe_counter(key, None, text),
                1 => recorder.describe_gauge(key, None, text),
                _ => recorder.describe_histogram(key, None, text),
            }
            continue;
        }
        let m = rng.pick(&w.metrics);
        let mut labels: Vec<Label> = Vec::new();
        for k in &m.keys {
            if rng.chance(80) {
                let value = VALUES[(m.offset + rng.below(m.values)) % VALUES.len()];
                labels.push(Label::new(*k, value));
            }
        }
        let key = Key::from_parts(m.name, labels);
        match m.kind {
            Kind::Counter => {
                let c = recorder.register_counter(&key, &METADATA);
                match rng.below(10) {
                    0..=5 => c.increment(rng.below(1000) as u64),
                    6..=7 => c.absolute(rng.below(100_000) as u64),
                    8 => c.increment(u64::from(u32::MAX) * rng.below(4) as u64),
                    _ => {} // registered only
                }
            }
            Kind::Gauge => {
                let g = recorder.register_gauge(&key, &METADATA);
                match rng.below(10) {
                    0..=3 => g.set(rng.value(&w.bounds)),
                    4..=5 => g.increment(rng.value(&w.bounds)),
                    6..=7 => g.decrement(rng.value(&w.bounds)),
                    8 => g.increment(1.0),
                    _ => {}
                }
            }
            Kind::Histogram => {
                let h = recorder.register_histogram(&key, &METADATA);
                match rng.below(10) {
                    0..=6 => h.record(rng.sample(&w.bounds)),
                    7..=8 => h.record_many(rng.sample(&w.bounds), 1 + rng.below(5)),
                    _ => {}
                }
            }
        }
    }
}

/// One family as rendered: its HELP and TYPE lines, and its sample lines
/// grouped by series (label set without `le`/`quantile`), in render order.
#[derive(Debug, Default, PartialEq)]
struct Family {
    help: Option<String>,
    type_line: String,
    kind: String,
    /// Series label text (as rendered, extra label removed) in render
    /// order, each with its lines in render order.
    series: Vec<(String, Vec<String>)>,
}

/// The label text of a sample line with the histogram's `le` or the
/// summary's `quantile` removed (both renderers write it last).
fn series_text(family: &str, kind: &str, line: &str) -> String {
    let (head, _) = line.rsplit_once(' ').expect("sample line has a value");
    let labels = head.find('{').map_or("", |at| &head[at..]);
    let name = head.find('{').map_or(head, |at| &head[..at]);
    let extra = match (kind, name.strip_prefix(family)) {
        ("histogram", Some("_bucket")) => Some("le=\""),
        ("summary", Some("")) => Some("quantile=\""),
        _ => None,
    };
    let Some(extra) = extra else {
        return labels.to_owned();
    };
    let at = labels.rfind(extra).expect("the extra label is there");
    match &labels[..at] {
        "{" => String::new(),
        rest => format!("{}}}", rest.trim_end_matches(',')),
    }
}

/// The families of a render by name (the guard's own aside), and their order.
fn families(text: &str) -> (BTreeMap<String, Family>, Vec<String>) {
    let mut out: BTreeMap<String, Family> = BTreeMap::new();
    let mut order = Vec::new();
    let mut help: Option<String> = None;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("# HELP ") {
            help = Some(line.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            order.push(name.to_owned());
            let family = Family {
                help: help.take(),
                type_line: line.to_owned(),
                kind: kind.to_owned(),
                series: Vec::new(),
            };
            assert!(
                out.insert(name.to_owned(), family).is_none(),
                "{name} twice"
            );
            current = Some(name.to_owned());
            continue;
        }
        let name = current.as_ref().expect("a sample follows a TYPE");
        let family = out.get_mut(name).expect("current family");
        let series = series_text(name, &family.kind, line);
        match family.series.last_mut() {
            Some((s, lines)) if *s == series => lines.push(line.to_owned()),
            _ => family.series.push((series, vec![line.to_owned()])),
        }
    }
    out.retain(|name, _| !name.starts_with("cardinality_guard_"));
    (out, order)
}

/// The identity the guard sorts series by: the key's labels (global labels
/// aside: no key value in these workloads equals a global value) sorted by
/// key, as `k="v"` text.
fn identity(family: &StrictFamily, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in labels {
        let extra = (family.kind == "histogram" && k == "le")
            || (family.kind == "summary" && k == "quantile");
        // The identity is the label set as rendered, global labels
        // included (a key label repeating a global one is one series).
        if extra {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

/// The guard's render on its own: strictly valid, sorted, stable.
fn check_guard_render(seed: u64, text: &str, again: &str) {
    assert_eq!(
        text, again,
        "seed {seed}: two renders of an unchanged guard differ"
    );
    let strict = assert_strictly_valid(text);
    let names: Vec<&str> = strict.iter().map(|f| f.name.as_str()).collect();
    let own = |n: &&str| n.starts_with("cardinality_guard_");
    let user: Vec<&str> = names.iter().copied().filter(|n| !own(n)).collect();
    let first_own = names.iter().position(own).unwrap_or(names.len());
    assert!(
        names[first_own..].iter().all(own),
        "seed {seed}: a user family after the self-report: {names:?}"
    );
    assert!(
        user.windows(2).all(|p| p[0] < p[1]),
        "seed {seed}: user families not sorted by name: {user:?}"
    );
    let reported: Vec<&str> = names[first_own..].to_vec();
    assert!(
        reported.windows(2).all(|p| p[0] < p[1]),
        "seed {seed}: self-report families not sorted: {reported:?}"
    );
    for family in strict.iter().filter(|f| !own(&f.name.as_str())) {
        // Each series' lines together, series in identity order.
        let mut seen: Vec<String> = Vec::new();
        for s in &family.samples {
            let id = identity(family, &s.labels);
            if seen.last() != Some(&id) {
                assert!(
                    !seen.contains(&id),
                    "seed {seed}: the lines of {} {{{id}}} are not together:\n{text}",
                    family.name
                );
                seen.push(id);
            }
        }
        assert!(
            seen.windows(2).all(|p| p[0] < p[1]),
            "seed {seed}: series of {} not sorted by identity: {seen:#?}",
            family.name
        );
    }
}

fn compare(seed: u64, w: &Workload, exporter_text: &str, guard_text: &str) {
    let context = || {
        format!(
            "seed {seed}\n--- config ---\n{}\n--- exporter ---\n{exporter_text}\n--- guard ---\n{guard_text}",
            w.toml
        )
    };
    // The workload is one the exporter renders correctly.
    strict_exposition::validate(exporter_text)
        .unwrap_or_else(|e| panic!("the exporter's render is invalid ({e}): {}", context()));
    let (expected, _) = families(exporter_text);
    let (actual, _) = families(guard_text);
    let expected_names: BTreeSet<&String> = expected.keys().collect();
    let actual_names: BTreeSet<&String> = actual.keys().collect();
    assert_eq!(actual_names, expected_names, "families: {}", context());
    for (name, want) in &expected {
        let got = &actual[name];
        assert_eq!(got.help, want.help, "# HELP of {name}: {}", context());
        assert_eq!(
            got.type_line,
            want.type_line,
            "# TYPE of {name}: {}",
            context()
        );
        let lines = |f: &Family| -> BTreeSet<String> {
            f.series
                .iter()
                .flat_map(|(_, l)| l.iter().cloned())
                .collect()
        };
        let (want_lines, got_lines) = (lines(want), lines(got));
        let missing: Vec<_> = want_lines.difference(&got_lines).collect();
        let extra: Vec<_> = got_lines.difference(&want_lines).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "lines of {name}: missing from the guard {missing:#?}, only in the guard {extra:#?}: {}",
            context()
        );
        // And each series' lines in the same order (buckets by `le`, then
        // `_sum`, `_count`; quantiles, then `_sum`, `_count`).
        let by_series = |f: &Family| -> BTreeMap<String, Vec<String>> {
            let mut map = BTreeMap::new();
            for (series, lines) in &f.series {
                assert!(
                    map.insert(series.clone(), lines.clone()).is_none(),
                    "lines of {name}{series} not together: {}",
                    context()
                );
            }
            map
        };
        assert_eq!(
            by_series(got),
            by_series(want),
            "series of {name}: {}",
            context()
        );
    }
}

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let w = workload(&mut rng);
    let ops = 100 + rng.below(200);
    let config = Config::from_toml(&w.toml, "<workload>")
        .unwrap_or_else(|e| panic!("seed {seed}: config {e}\n{}", w.toml));
    let exporter = prometheus_builder(&config)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"))
        .build_recorder();
    let (recorder, guard): (_, PrometheusGuard) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("guard builds");
    let ops_seed = rng.next();
    // Both sides read the time of their summaries' rolling windows from
    // quanta: on this thread it stands still, so every sample stays in view
    // however long a loaded machine takes to record and render.
    let (frozen, _time) = quanta::Clock::mock();
    let (exporter_text, guard_text, again) = quanta::with_clock(&frozen, || {
        let handle = exporter.handle();
        drive(&exporter, &w, &mut Rng::from_state(ops_seed), ops, &|| {
            handle.run_upkeep()
        });
        drive(&recorder, &w, &mut Rng::from_state(ops_seed), ops, &|| {
            guard.run_upkeep()
        });
        (handle.render(), guard.render(), guard.render())
    });
    compare(seed, &w, &exporter_text, &guard_text);
    check_guard_render(seed, &guard_text, &again);
    let report = guard.report();
    if seed.is_multiple_of(4) {
        // (slow in debug builds: it parses the text once per metric)
        assert_series_accounting(&guard_text, &report);
    }
    for m in &report.metrics {
        assert_eq!(
            m.overflow.total(),
            0,
            "seed {seed}: {} folded: {m:?}",
            m.name
        );
    }
}

#[test]
fn the_strict_validator_refuses_what_it_must() {
    strict_exposition::self_test();
}

/// Runs `run(seed)` for every seed, on a few threads (the workloads are
/// independent); panics with the first failing seed.
fn for_every_seed(seeds: std::ops::RangeInclusive<u64>, run: fn(u64)) {
    let threads = 4;
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..threads {
            let (seeds, failed) = (seeds.clone(), &failed);
            s.spawn(move || {
                for seed in seeds.filter(|seed| seed % threads == t) {
                    if let Err(panic) = std::panic::catch_unwind(|| run(seed)) {
                        eprintln!("failing seed {seed}");
                        failed.lock().unwrap().push((seed, panic));
                        return;
                    }
                }
            });
        }
    });
    let mut failed = failed.into_inner().unwrap();
    failed.sort_by_key(|(seed, _)| *seed);
    if let Some((seed, panic)) = failed.into_iter().next() {
        eprintln!("render_matches_the_exporter: first failing seed {seed}");
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn the_guard_renders_the_exporters_lines_for_random_workloads() {
    for_every_seed(1..=WORKLOADS, run);
}

/// The exporter's precedence of bucket overrides (exact, then prefixes,
/// then suffixes, each by text) is the guard's: one name matched by every
/// kind of pattern, with distinct buckets each.
#[test]
fn overlapping_bucket_overrides_pick_the_exporters_buckets() {
    let toml = "[histograms]\nbuckets = \"summary\"\n\
        [[histograms.per_metric]]\nmatch = \"*_seconds\"\nbuckets = [1.0]\n\
        [[histograms.per_metric]]\nmatch = \"db_*\"\nbuckets = [2.0]\n\
        [[histograms.per_metric]]\nmatch = \"d*\"\nbuckets = [3.0]\n\
        [[histograms.per_metric]]\nmatch = \"db_query_seconds\"\nbuckets = [4.0]\n";
    let config = Config::from_toml(toml, "<test>").expect("valid");
    let exporter = prometheus_builder(&config)
        .expect("builds")
        .build_recorder();
    let (recorder, guard) = PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("builds");
    for name in [
        "db_query_seconds",
        "db_rows_seconds",
        "dx_seconds",
        "q_seconds",
        "other",
    ] {
        for r in [&exporter as &dyn Recorder, &recorder] {
            r.register_histogram(&Key::from_name(name), &METADATA)
                .record(2.0);
        }
    }
    let w = Workload {
        toml: toml.to_owned(),
        metrics: Vec::new(),
        bounds: Vec::new(),
    };
    let guard_text = guard.render();
    compare(0, &w, &exporter.handle().render(), &guard_text);
    assert!(
        guard_text.contains("db_query_seconds_bucket{le=\"4\"} 1\n"),
        "{guard_text}"
    );
    assert!(
        guard_text.contains("# TYPE other summary\n"),
        "{guard_text}"
    );
}
