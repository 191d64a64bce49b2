//! Samples from outside metrics-rs (`GuardRecorder::ingest`, the proxy's
//! foundation) go through the library's admission and render: float
//! counters, classic histograms with the upstream's bounds and summaries
//! with the upstream's quantiles are budgeted by what they render, fold into
//! the overflow series with their totals conserved, and follow evictions
//! and idle expiry without losing an update. Every render is checked by the
//! strict validator (and by `promtool check metrics` when it is installed).

#[path = "support/strict_exposition.rs"]
mod strict_exposition;
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use cardinality_guard_core::{Config, MetricKind};
use strict_exposition::assert_strictly_valid;
use support::{expiring, parse, rendered_series, self_reported_series, value_exact};

const OVERFLOW: (&str, &str) = ("otel_metric_overflow", "true");

/// Feeds `text` to `promtool check metrics` and asserts it has nothing to
/// say; says it skipped when promtool is not installed (outside CI).
fn promtool_agrees(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_none() => {
            println!("SKIPPED promtool check metrics: cannot run promtool: {e}");
            return;
        }
        Err(e) => panic!("promtool is required in CI: {e}"),
    };
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("feed promtool");
    drop(stdin);
    let output = child.wait_with_output().expect("promtool finishes");
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && complaints.trim().is_empty(),
        "promtool check metrics: {complaints}\n--- text ---\n{text}"
    );
}

/// Prometheus' `increase()` over every render seen, per series of one
/// sample name: a value lower than the last is a reset.
#[derive(Default)]
struct Increase {
    last: BTreeMap<String, f64>,
    before_resets: f64,
}

impl Increase {
    fn observe(&mut self, text: &str, name: &str) {
        for s in parse(text).into_iter().filter(|s| s.name == name) {
            let id = format!("{:?}", s.labels);
            let last = self.last.insert(id, s.value).unwrap_or(0.0);
            if s.value < last {
                self.before_resets += last;
            }
        }
    }

    fn total(&self) -> f64 {
        self.before_resets + self.last.values().sum::<f64>()
    }
}

#[test]
fn a_float_counter_over_budget_keeps_exact_sums_and_folds_the_rest() {
    let (recorder, exporter, _clock) =
        expiring("[[metrics]]\nmatch = \"cpu_seconds_total\"\nmax_series = 3\n");
    let ingest = recorder.ingest();
    ingest.describe("cpu_seconds_total", "CPU time, by core.");
    let cores: Vec<String> = (0..6).map(|c| c.to_string()).collect();
    let handles: Vec<_> = cores
        .iter()
        .map(|c| ingest.counter("cpu_seconds_total", &[("core", c)]))
        .collect();
    let mut added = vec![0.0; cores.len()];
    for round in 0..3 {
        for (i, handle) in handles.iter().enumerate() {
            let delta = 0.25 * (i + 1) as f64 + 0.5 * f64::from(round);
            handle.add(delta);
            added[i] += delta;
        }
    }
    let text = exporter.render();
    assert_strictly_valid(&text);
    promtool_agrees(&text);
    assert!(text.contains(
        "# HELP cpu_seconds_total CPU time, by core.\n# TYPE cpu_seconds_total counter\n"
    ));
    // The first two cores hold their series; the other four fold.
    for (i, core) in cores.iter().enumerate().take(2) {
        let value = value_exact(&text, "cpu_seconds_total", &[("core", core)]);
        assert_eq!(value, Some(added[i]), "core {core}");
    }
    for core in &cores[2..] {
        assert_eq!(
            value_exact(&text, "cpu_seconds_total", &[("core", core)]),
            None
        );
    }
    let folded: f64 = added[2..].iter().sum();
    let overflow = value_exact(&text, "cpu_seconds_total", &[OVERFLOW]);
    assert_eq!(overflow, Some(folded));
    assert!(text.contains(&format!(
        "cpu_seconds_total{{otel_metric_overflow=\"true\"}} {folded}\n"
    )));
    let rendered: f64 = parse(&text)
        .iter()
        .filter(|s| s.name == "cpu_seconds_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(rendered, added.iter().sum::<f64>());
    let report = exporter.report();
    let m = report.metric("cpu_seconds_total").expect("tracked");
    assert_eq!(
        (m.kind, m.series, m.label_sets, m.limit),
        (MetricKind::Counter, 3, 2, 3)
    );
    assert_eq!(m.overflow.series_limit, 4);
    assert_eq!(self_reported_series(&text, "cpu_seconds_total"), Some(3.0));
}

#[test]
fn a_histogram_keeps_the_upstreams_bounds_costs_them_and_folds_whole() {
    let (recorder, exporter, _clock) =
        expiring("[[metrics]]\nmatch = \"latency_seconds\"\nmax_series = 10\n");
    let ingest = recorder.ingest();
    ingest.describe("latency_seconds", "Request latency.");
    let bounds = ["0.1", "1.0"];
    let a = ingest.histogram("latency_seconds", &[("path", "/a")], &bounds);
    let b = ingest.histogram("latency_seconds", &[("path", "/b")], &bounds);
    let c = ingest.histogram("latency_seconds", &[("path", "/c")], &bounds);
    a.add(&[1.0, 2.0, 0.0], 1.5, 3.0);
    b.add(&[0.0, 1.0, 1.0], 4.5, 2.0);
    c.add(&[2.0, 0.0, 0.0], 0.125, 2.0);
    c.add(&[1.0, 0.0, 0.0], -0.5, 1.0); // observations may be negative
    let text = exporter.render();
    assert_strictly_valid(&text);
    promtool_agrees(&text);
    assert!(text.contains("# TYPE latency_seconds histogram\n"));
    // The upstream's `le` text as written, then +Inf, _sum, _count.
    for line in [
        "latency_seconds_bucket{path=\"/a\",le=\"0.1\"} 1\n",
        "latency_seconds_bucket{path=\"/a\",le=\"1.0\"} 3\n",
        "latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 3\n",
        "latency_seconds_sum{path=\"/a\"} 1.5\n",
        "latency_seconds_count{path=\"/a\"} 3\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"0.1\"} 3\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"1.0\"} 4\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"+Inf\"} 5\n",
        "latency_seconds_sum{otel_metric_overflow=\"true\"} 4.125\n",
        "latency_seconds_count{otel_metric_overflow=\"true\"} 5\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert_eq!(rendered_series(&text, "latency_seconds"), 10);
    assert_eq!(self_reported_series(&text, "latency_seconds"), Some(10.0));
    let m = exporter
        .report()
        .metric("latency_seconds")
        .cloned()
        .expect("tracked");
    assert_eq!(
        (m.kind, m.series_per_label_set, m.series),
        (MetricKind::Histogram, 5, 10)
    );

    // Another storage under its name: refused as invalid, without effect.
    let invalid_before = exporter.report().global.invalid_registrations;
    let summary = ingest.summary("latency_seconds", &[("path", "/a")], &["0.5"]);
    let counter = ingest.counter("latency_seconds", &[("path", "/a")]);
    summary.add(1.0, 1.0);
    counter.add(1.0);
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("latency_seconds", "path" => "/a").record(0.2);
    });
    assert_eq!(
        exporter.report().global.invalid_registrations,
        invalid_before + 3
    );
    let families = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("latency_seconds"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        families(&exporter.render()),
        families(&text),
        "refused registrations changed nothing"
    );

    // Other bounds (an upstream that changed its buckets, for a new label
    // set and for one the metric holds; one that writes 1 for 1.0): each
    // bucket counts in the metric's smallest bound at or above its own, so
    // counts, sums and counts stay true, the metric keeps its bounds.
    let other = ingest.histogram("latency_seconds", &[("path", "/d")], &["0.1", "2.0"]);
    let rebucketed = ingest.histogram("latency_seconds", &[("path", "/a")], &["0.5", "1.0"]);
    let respelled = ingest.histogram("latency_seconds", &[("path", "/a")], &["1e-1", "1"]);
    other.add(&[1.0, 1.0, 1.0], 1.0, 3.0); // 0.1 -> 0.1, 2.0 and +Inf -> +Inf
    rebucketed.add(&[1.0, 1.0, 1.0], 1.0, 3.0); // 0.5 and 1.0 -> 1.0
    respelled.add(&[1.0, 0.0, 0.0], 0.05, 1.0);
    let after = exporter.render();
    assert_strictly_valid(&after);
    promtool_agrees(&after);
    for line in [
        "latency_seconds_bucket{path=\"/a\",le=\"0.1\"} 2\n",
        "latency_seconds_bucket{path=\"/a\",le=\"1.0\"} 6\n",
        "latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 7\n",
        "latency_seconds_sum{path=\"/a\"} 2.55\n",
        "latency_seconds_count{path=\"/a\"} 7\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"0.1\"} 4\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"1.0\"} 5\n",
        "latency_seconds_bucket{otel_metric_overflow=\"true\",le=\"+Inf\"} 8\n",
        "latency_seconds_sum{otel_metric_overflow=\"true\"} 5.125\n",
        "latency_seconds_count{otel_metric_overflow=\"true\"} 8\n",
    ] {
        assert!(after.contains(line), "{line} missing from\n{after}");
    }
    assert!(!after.contains("le=\"0.5\"") && !after.contains("le=\"2.0\""));
    assert_eq!(
        exporter.report().global.invalid_registrations,
        invalid_before + 3,
        "other bounds are not invalid"
    );
}

#[test]
fn a_summary_renders_quantiles_only_for_its_own_series() {
    let (recorder, exporter, _clock) =
        expiring("[[metrics]]\nmatch = \"rpc_seconds\"\nmax_series = 6\n");
    let ingest = recorder.ingest();
    ingest.describe("rpc_seconds", "RPC latency.");
    ingest.describe("py_seconds", "A Python summary.");
    let quantiles = ["0.5", "0.9"];
    let m1 = ingest.summary("rpc_seconds", &[("method", "m1")], &quantiles);
    let m2 = ingest.summary("rpc_seconds", &[("method", "m2")], &quantiles);
    let m3 = ingest.summary("rpc_seconds", &[("method", "m3")], &quantiles);
    m1.set_quantiles(&[0.2, 0.7]);
    m1.add(3.5, 7.0);
    m2.set_quantiles(&[9.0, 9.0]); // folded: dropped
    m2.add(1.0, 2.0);
    m3.add(0.5, 1.0);
    // A summary without quantiles (Python's): _sum and _count only.
    ingest.summary("py_seconds", &[], &[]).add(1.25, 1.0);
    let text = exporter.render();
    assert_strictly_valid(&text);
    promtool_agrees(&text);
    for line in [
        "# TYPE rpc_seconds summary\n",
        "rpc_seconds{method=\"m1\",quantile=\"0.5\"} 0.2\n",
        "rpc_seconds{method=\"m1\",quantile=\"0.9\"} 0.7\n",
        "rpc_seconds_sum{method=\"m1\"} 3.5\n",
        "rpc_seconds_count{method=\"m1\"} 7\n",
        "rpc_seconds_sum{otel_metric_overflow=\"true\"} 1.5\n",
        "rpc_seconds_count{otel_metric_overflow=\"true\"} 3\n",
        "# HELP py_seconds A Python summary.\n# TYPE py_seconds summary\npy_seconds_sum 1.25\npy_seconds_count 1\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(!text.contains("rpc_seconds{otel_metric_overflow=\"true\",quantile"));
    assert!(
        !text.contains(" 9\n"),
        "a folded series' quantiles are dropped"
    );
    // The overflow series costs what it renders: 2, beside 4 for m1.
    assert_eq!(rendered_series(&text, "rpc_seconds"), 6);
    assert_eq!(self_reported_series(&text, "rpc_seconds"), Some(6.0));
    assert_eq!(self_reported_series(&text, "py_seconds"), Some(2.0));
    let report = exporter.report();
    let m = report.metric("rpc_seconds").expect("tracked");
    assert_eq!((m.series, m.series_per_label_set, m.label_sets), (6, 4, 1));

    // Registered again with other quantiles (an upstream that changed
    // them): its sum and count add, its quantile values can't map and are
    // dropped; the same quantiles written otherwise (0.50) still set.
    let changed = ingest.summary("rpc_seconds", &[("method", "m1")], &["0.5", "0.99"]);
    changed.set_quantiles(&[5.0, 6.0]);
    changed.add(1.0, 1.0);
    let respelled = ingest.summary("rpc_seconds", &[("method", "m1")], &["0.50", "0.9"]);
    respelled.set_quantiles(&[0.25, 0.75]);
    let text = exporter.render();
    assert_strictly_valid(&text);
    for line in [
        "rpc_seconds{method=\"m1\",quantile=\"0.5\"} 0.25\n",
        "rpc_seconds{method=\"m1\",quantile=\"0.9\"} 0.75\n",
        "rpc_seconds_sum{method=\"m1\"} 4.5\n",
        "rpc_seconds_count{method=\"m1\"} 8\n",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    let rpc: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("rpc_seconds"))
        .collect();
    assert_eq!(rpc.len(), 6, "{rpc:?}");
    assert!(
        rpc.iter()
            .all(|l| !l.contains("0.99") && !l.ends_with(" 5") && !l.ends_with(" 6")),
        "{rpc:?}"
    );
}

#[test]
fn evicted_ingested_series_send_later_updates_to_the_overflow_series() {
    let budgets = |counter: u32, histogram: u32| {
        format!(
            "[[metrics]]\nmatch = \"jobs_total\"\nmax_series = {counter}\n\
             [[metrics]]\nmatch = \"job_seconds\"\nmax_series = {histogram}\n"
        )
    };
    let (recorder, exporter, _clock) = expiring(&budgets(4, 12));
    let ingest = recorder.ingest();
    let queues = ["a", "b", "c"];
    let counters: Vec<_> = queues
        .iter()
        .map(|q| ingest.counter("jobs_total", &[("queue", q)]))
        .collect();
    let histograms: Vec<_> = queues
        .iter()
        .map(|q| ingest.histogram("job_seconds", &[("queue", q)], &["1"]))
        .collect();
    let (mut counted, mut observed, mut summed) = (0.0, 0.0, 0.0);
    let mut update = |i: usize, delta: f64| {
        counters[i].add(delta);
        histograms[i].add(&[delta, 1.0], delta * 2.0, delta + 1.0);
        counted += delta;
        observed += delta + 1.0;
        summed += delta * 2.0;
    };
    let (mut total, mut count, mut sum) = (
        Increase::default(),
        Increase::default(),
        Increase::default(),
    );
    let scrape = |total: &mut Increase, count: &mut Increase, sum: &mut Increase| {
        let text = exporter.render();
        assert_strictly_valid(&text);
        total.observe(&text, "jobs_total");
        count.observe(&text, "job_seconds_count");
        sum.observe(&text, "job_seconds_sum");
        text
    };
    for i in 0..3 {
        update(i, 1.5);
    }
    scrape(&mut total, &mut count, &mut sum);
    // Budgets lowered: one label set each, beside the overflow series.
    exporter
        .reload(Config::from_toml(&budgets(2, 8), "<test>").unwrap())
        .unwrap();
    update(2, 0.5); // unrendered: `c` retires at the next render instead
    exporter.run_upkeep();
    for round in 0..3 {
        for i in 0..3 {
            update(i, 2.25);
        }
        let text = scrape(&mut total, &mut count, &mut sum);
        if round > 0 {
            for q in ["b", "c"] {
                assert_eq!(
                    value_exact(&text, "jobs_total", &[("queue", q)]),
                    None,
                    "{q} evicted"
                );
            }
        }
        exporter.run_upkeep();
    }
    let text = exporter.render();
    assert_eq!(
        value_exact(&text, "jobs_total", &[("queue", "a")]),
        Some(1.5 + 3.0 * 2.25)
    );
    assert_eq!(self_reported_series(&text, "jobs_total"), Some(2.0));
    assert_eq!(self_reported_series(&text, "job_seconds"), Some(8.0));
    // Nothing lost: what the renders showed increase by is what was added.
    assert_eq!(total.total(), counted);
    assert_eq!(count.total(), observed);
    assert_eq!(sum.total(), summed);
    let report = exporter.report();
    assert_eq!(report.metric("jobs_total").unwrap().evicted.reload, 2);
    assert_eq!(report.metric("job_seconds").unwrap().evicted.reload, 1);
}

#[test]
fn an_expired_ingested_series_comes_back_with_its_next_update() {
    let (recorder, exporter, clock) =
        expiring("[[metrics]]\nmatch = \"pulls_total\"\nmax_series = 5\nidle_timeout = \"10s\"\n");
    let pulls = recorder.ingest().counter("pulls_total", &[("repo", "x")]);
    let mut increase = Increase::default();
    pulls.add(1.0);
    increase.observe(&exporter.render(), "pulls_total");
    clock.advance(Duration::from_secs(11));
    exporter.run_upkeep();
    clock.advance(Duration::from_secs(11));
    let gone = exporter.render();
    assert_eq!(
        value_exact(&gone, "pulls_total", &[("repo", "x")]),
        None,
        "expired"
    );
    assert_eq!(exporter.report().metric("pulls_total").unwrap().expired, 1);
    pulls.add(2.0);
    let back = exporter.render();
    assert_strictly_valid(&back);
    increase.observe(&back, "pulls_total");
    assert!(value_exact(&back, "pulls_total", &[("repo", "x")]).is_some());
    assert_eq!(increase.total(), 3.0);
}

#[test]
fn under_busiest_a_busy_folded_input_outranks_an_idle_one_through_its_updates() {
    // Budget 4: three label sets and the overflow series.
    let (recorder, exporter, clock) =
        expiring("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 4\nkeep = \"busiest\"\n");
    let ingest = recorder.ingest();
    // The first three inputs come first and then stay idle; the fourth
    // folds and then carries all the traffic, through the handle it keeps
    // (registered once, as the proxy does).
    let idle: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|q| ingest.counter("jobs_total", &[("queue", q)]))
        .collect();
    for handle in &idle {
        handle.add(1.0);
        assert!(!handle.is_folded());
    }
    let mut busy = ingest.counter("jobs_total", &[("queue", "busy")]);
    assert!(busy.is_folded());
    let (mut sent, mut promoted_at) = (3.0, None);
    for cycle in 0..40 {
        busy.add(50.0);
        sent += 50.0;
        if busy.is_folded() && ingest.folded_updates("jobs_total", &[("queue", "busy")], 50.0) {
            busy = ingest.counter("jobs_total", &[("queue", "busy")]);
            promoted_at.get_or_insert(cycle);
        }
        clock.advance(std::time::Duration::from_secs(5));
        let text = exporter.render();
        assert!(rendered_series(&text, "jobs_total") <= 4, "{text}");
        exporter.run_upkeep();
    }
    let promoted_at = promoted_at.expect("the busy input was promoted");
    assert!(!busy.is_folded());
    let text = exporter.render();
    assert!(
        text.contains("jobs_total{queue=\"busy\"} "),
        "promoted at cycle {promoted_at}:\n{text}"
    );
    // Every increment is in some series: the promoted one started at zero,
    // what came before stays in the overflow series.
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("jobs_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    // An evicted idle series' value ends with it (moved nowhere).
    let evicted = exporter
        .report()
        .metric("jobs_total")
        .expect("tracked")
        .evicted;
    assert_eq!(total + evicted.outranked as f64, sent, "{text}");
    // Without the updates counted, a kept handle never outranks anything.
    let (recorder, exporter, clock) =
        expiring("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 4\nkeep = \"busiest\"\n");
    let ingest = recorder.ingest();
    for q in ["a", "b", "c"] {
        ingest.counter("jobs_total", &[("queue", q)]).add(1.0);
    }
    let busy = ingest.counter("jobs_total", &[("queue", "busy")]);
    for _ in 0..40 {
        busy.add(50.0);
        clock.advance(std::time::Duration::from_secs(5));
        let _ = exporter.render();
        exporter.run_upkeep();
    }
    assert!(busy.is_folded());
}
