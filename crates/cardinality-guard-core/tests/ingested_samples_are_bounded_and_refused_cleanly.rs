//! What an upstream may send that the guard must not take: a name another
//! storage renders, NaN, infinite and negative deltas, bounds and quantiles
//! that can't render, thousands of names, huge label values. Each is
//! refused or bounded, counted where the library counts it, and the render
//! stays valid; nothing panics.

#[path = "support/strict_exposition.rs"]
mod strict_exposition;
mod support;

use cardinality_guard_core::LABEL_OVERFLOW;
use strict_exposition::assert_strictly_valid;
use support::{guarded, label_values, value_exact};

#[test]
fn a_metrics_rs_counter_and_an_ingested_counter_never_share_a_name() {
    let (recorder, exporter) = guarded("");
    let ingest = recorder.ingest();
    // metrics-rs first: the ingested counter is refused.
    metrics::with_local_recorder(&recorder, || metrics::counter!("logins_total").increment(2));
    let refused = ingest.counter("logins_total", &[]);
    refused.add(0.5);
    // Ingested first: the metrics-rs counter is refused.
    ingest.counter("bytes_total", &[]).add(1.5);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("bytes_total").increment(7);
        metrics::counter!("bytes_total", "k" => "v").increment(7);
    });
    let text = exporter.render();
    assert_strictly_valid(&text);
    assert_eq!(value_exact(&text, "logins_total", &[]), Some(2.0));
    assert_eq!(value_exact(&text, "bytes_total", &[]), Some(1.5));
    assert_eq!(value_exact(&text, "bytes_total", &[("k", "v")]), None);
    assert_eq!(exporter.report().global.invalid_registrations, 3);
    let invalid = [("metric", "__invalid__"), ("reason", "invalid")];
    assert_eq!(
        value_exact(&text, "cardinality_guard_overflow_total", &invalid),
        Some(3.0)
    );
    // A gauge shares the library's storage: one metric, one series.
    ingest.gauge("queue_depth", &[]).set(4.0);
    metrics::with_local_recorder(&recorder, || metrics::gauge!("queue_depth").increment(1.0));
    assert_eq!(
        value_exact(&exporter.render(), "queue_depth", &[]),
        Some(5.0)
    );
}

#[test]
fn an_ingested_histogram_keeps_the_upstreams_bounds_across_a_reload() {
    let (recorder, exporter) = guarded("");
    let latency = recorder
        .ingest()
        .histogram("rpc_seconds", &[], &["0.25", "2.5"]);
    latency.add(&[1.0, 2.0, 0.0], 1.5, 3.0);
    // `[histograms]` now gives that name other buckets: the reload applies
    // (the guard did not shape it), and the upstream's bounds stay.
    let other = "[histograms]\nbuckets = [0.1, 1.0, 10.0]\n";
    exporter
        .reload(cardinality_guard_core::Config::from_toml(other, "<test>").unwrap())
        .expect("an ingested histogram does not block a reload");
    latency.add(&[0.0, 1.0, 1.0], 4.0, 2.0);
    // A metrics-rs histogram of that name is another storage: refused.
    metrics::with_local_recorder(&recorder, || metrics::histogram!("rpc_seconds").record(0.2));
    let text = exporter.render();
    assert_strictly_valid(&text);
    let bucket = |le| value_exact(&text, "rpc_seconds_bucket", &[("le", le)]);
    assert_eq!(
        [bucket("0.25"), bucket("2.5"), bucket("+Inf"), bucket("1.0")],
        [Some(1.0), Some(4.0), Some(5.0), None]
    );
    assert_eq!(value_exact(&text, "rpc_seconds_sum", &[]), Some(5.5));
    assert_eq!(value_exact(&text, "rpc_seconds_count", &[]), Some(5.0));
    assert_eq!(exporter.report().global.invalid_registrations, 1);
}

#[test]
fn nan_infinite_and_negative_updates_are_ignored() {
    let (recorder, exporter) = guarded("");
    let ingest = recorder.ingest();
    let counter = ingest.counter("c_total", &[]);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
        counter.add(bad);
    }
    counter.add(2.5);
    let histogram = ingest.histogram("h_seconds", &[], &["1"]);
    histogram.add(&[1.0, f64::NAN], 1.0, 1.0);
    histogram.add(&[-1.0, 2.0], 1.0, 1.0);
    histogram.add(&[1.0, 1.0], f64::INFINITY, 2.0);
    histogram.add(&[1.0, 1.0], 1.0, f64::NAN);
    histogram.add(&[1.0], 1.0, 1.0); // one bucket short
    histogram.add(&[1.0, 0.0, 0.0], 1.0, 1.0); // one too many
    histogram.add(&[1.0, 2.0], 4.0, 3.0);
    let summary = ingest.summary("s_seconds", &[], &["0.5"]);
    summary.add(f64::NAN, 1.0);
    summary.add(1.0, -1.0);
    summary.set_quantiles(&[1.0, 2.0]); // two values for one quantile
    summary.set_quantiles(&[0.25]);
    summary.add(-3.0, 2.0); // a sum may go down
    let gauge = ingest.gauge("g", &[]);
    gauge.set(f64::NEG_INFINITY); // a gauge takes any value, as metrics-rs' does
    let text = exporter.render();
    assert_strictly_valid(&text);
    for (name, labels, value) in [
        ("c_total", &[][..], 2.5),
        ("h_seconds_bucket", &[("le", "1")][..], 1.0),
        ("h_seconds_bucket", &[("le", "+Inf")][..], 3.0),
        ("h_seconds_sum", &[][..], 4.0),
        ("h_seconds_count", &[][..], 3.0),
        ("s_seconds", &[("quantile", "0.5")][..], 0.25),
        ("s_seconds_sum", &[][..], -3.0),
        ("s_seconds_count", &[][..], 2.0),
        ("g", &[][..], f64::NEG_INFINITY),
    ] {
        assert_eq!(
            value_exact(&text, name, labels),
            Some(value),
            "{name} {labels:?}"
        );
    }
}

#[test]
fn bounds_and_quantiles_that_cannot_render_are_refused() {
    let (recorder, exporter) = guarded("");
    let ingest = recorder.ingest();
    let huge = "1".repeat(1 << 20);
    let many: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let bad_bounds: [&[&str]; 6] = [
        &["1", "0.5"],
        &["1", "1"],
        &["+Inf"],
        &["1\"} 0\nevil 1"],
        &[&huge],
        &many,
    ];
    for bounds in bad_bounds {
        ingest
            .histogram("h", &[], bounds)
            .add(&[1.0, 1.0], 1.0, 2.0);
    }
    for quantiles in [&["0.5", "0.5"][..], &["2"], &["NaN"], &["-0.5"]] {
        ingest.summary("s", &[], quantiles).set_quantiles(&[1.0]);
    }
    let text = exporter.render();
    assert_strictly_valid(&text);
    assert!(!text.contains("\nh_") && !text.contains("\ns_"), "{text}");
    assert_eq!(exporter.report().global.invalid_registrations, 10);
    assert_eq!(exporter.report().global.metrics, 0);
}

#[test]
fn ten_thousand_names_stay_within_max_metrics() {
    let (recorder, exporter) = guarded("[global]\nmax_metrics = 50\n");
    let ingest = recorder.ingest();
    for i in 0..10_000 {
        let name = format!("upstream_{i}_total");
        ingest.describe(&name, "An upstream counter.");
        ingest.counter(&name, &[]).add(1.0);
        ingest
            .histogram(&format!("upstream_{i}_seconds"), &[], &["1"])
            .add(&[1.0, 0.0], 0.5, 1.0);
    }
    let text = exporter.render();
    assert_strictly_valid(&text);
    let report = exporter.report();
    assert_eq!(report.global.metrics, 50);
    assert_eq!(report.global.untracked_registrations, 20_000 - 50);
    let helps = text
        .lines()
        .filter(|l| l.starts_with("# HELP upstream_"))
        .count();
    assert!(helps <= 50, "{helps} HELP lines");
}

#[test]
fn huge_label_values_fold_to_the_overflow_value_and_never_render() {
    let (recorder, exporter) = guarded("");
    let ingest = recorder.ingest();
    let huge = "x".repeat(1 << 20);
    let quoted = format!("\"}}\n{}", "\\".repeat(100));
    ingest.counter("paths_total", &[("path", &huge)]).add(1.0);
    ingest.counter("paths_total", &[("path", &quoted)]).add(2.0);
    let h = ingest.histogram(
        "paths_seconds",
        &[("path", &huge), ("code", "200")],
        &["0.5"],
    );
    h.add(&[1.0, 1.0], 0.75, 2.0);
    let text = exporter.render();
    assert_strictly_valid(&text);
    assert!(text.len() < 64 * 1024, "render of {} bytes", text.len());
    let values = label_values(&text, "paths_total", "path");
    assert!(
        values.contains(LABEL_OVERFLOW) && values.len() == 2,
        "{values:?}"
    );
    assert_eq!(
        value_exact(
            &text,
            "paths_seconds_count",
            &[("path", LABEL_OVERFLOW), ("code", "200")]
        ),
        Some(2.0)
    );
    let report = exporter.report();
    assert_eq!(
        report
            .metric("paths_total")
            .unwrap()
            .overflow
            .value_too_long,
        1
    );
}
