//! Expositions fed into a real guard, read back from its render.

use std::collections::BTreeMap;
use std::time::Duration;

use cardinality_guard_core::{Config, ManualClock, PrometheusGuard};

use super::*;

/// A guard (no upkeep thread) with `toml`, the state per input, and a way
/// to feed one exposition and read the render back.
struct Harness {
    exporter: PrometheusGuard,
    ingest: cardinality_guard_core::Ingest,
    inputs: Inputs<cardinality_guard_core::Ingest>,
}

impl Harness {
    fn new(toml: &str) -> Harness {
        let config = Config::from_toml(toml, "guard.toml").expect("config");
        let (recorder, exporter) = PrometheusGuard::builder(config)
            .upkeep_interval(None)
            .build()
            .expect("guard");
        let clock = ManualClock::new();
        Harness {
            exporter,
            ingest: recorder.ingest(),
            inputs: Inputs::new(clock.into(), Duration::from_secs(600), 1000),
        }
    }

    /// Checks and feeds `text`; the render's samples (not the self-report)
    /// by `name{labels}`, and the render.
    fn scrape(&mut self, text: &str, format: Format) -> (BTreeMap<String, f64>, String) {
        check(text, format, Deadline::after(Duration::from_secs(60))).expect("valid");
        self.inputs.begin();
        feed(text, format, &mut self.inputs, &self.ingest);
        let render = self.exporter.render();
        let mut samples = BTreeMap::new();
        let mut parser = Parser::new(Format::Prometheus);
        for line in render.lines() {
            if let Line::Sample(s) = parser.line(line).expect("the render parses") {
                if !s.name.starts_with("cardinality_guard_") {
                    let labels: Vec<String> =
                        s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    samples.insert(format!("{}{{{}}}", s.name, labels.join(",")), s.value);
                }
            }
        }
        (samples, render)
    }
}

fn sum_of(samples: &BTreeMap<String, f64>, prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn open_metrics_counters_are_named_by_their_total_sample_and_created_is_dropped() {
    let mut h = Harness::new("");
    let text = "# HELP jobs Jobs done.\n# TYPE jobs counter\n\
                jobs_total{queue=\"a\"} 3\njobs_created{queue=\"a\"} 1.7e9\n\
                # HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n\
                rpc_seconds_bucket{le=\"0.5\"} 1\nrpc_seconds_bucket{le=\"+Inf\"} 2\n\
                rpc_seconds_count 2\nrpc_seconds_sum 1.25\nrpc_seconds_created 1.7e9\n# EOF\n";
    let (samples, render) = h.scrape(text, Format::OpenMetrics);
    assert_eq!(samples["jobs_total{queue=a}"], 3.0);
    assert_eq!(samples["rpc_seconds_bucket{le=0.5}"], 1.0);
    assert_eq!(samples["rpc_seconds_count{}"], 2.0);
    assert_eq!(samples["rpc_seconds_sum{}"], 1.25);
    assert!(
        render.contains("# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\n"),
        "{render}"
    );
    assert!(
        render.contains("# HELP rpc_seconds RPC latency.\n"),
        "{render}"
    );
    assert!(!render.contains("_created"), "{render}");
}

#[test]
fn prometheus_text_created_gauges_of_counters_and_histograms_are_dropped() {
    let mut h = Harness::new("");
    let text = "# TYPE req_total counter\nreq_total{path=\"/\"} 2\n\
                # TYPE req_created gauge\nreq_created{path=\"/\"} 1.7e9\n\
                # TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 1\n\
                lat_count 1\nlat_sum 0.5\n\
                # TYPE lat_created gauge\nlat_created 1.7e9\n\
                # TYPE boot_created gauge\nboot_created 7\n";
    let (samples, _) = h.scrape(text, Format::Prometheus);
    assert_eq!(samples["req_total{path=/}"], 2.0);
    assert!(!samples.contains_key("req_created{path=/}"));
    assert!(!samples.contains_key("lat_created{}"));
    assert_eq!(
        samples["boot_created{}"], 7.0,
        "a gauge of no counter of its name stays"
    );
}

#[test]
fn histograms_group_their_lines_per_label_set_whatever_their_order() {
    let mut h = Harness::new("");
    let text = "# TYPE lat histogram\n\
                lat_bucket{p=\"a\",le=\"1\"} 1\nlat_bucket{p=\"b\",le=\"1\"} 4\n\
                lat_bucket{le=\"+Inf\",p=\"a\"} 2\nlat_bucket{p=\"b\",le=\"+Inf\"} 5\n\
                lat_count{p=\"b\"} 5\nlat_sum{p=\"b\"} 9\nlat_count{p=\"a\"} 2\nlat_sum{p=\"a\"} 3\n\
                # TYPE s summary\ns{quantile=\"0.5\",x=\"\"} 0.25\ns_sum 4\ns_count 8\n";
    let (samples, _) = h.scrape(text, Format::Prometheus);
    assert_eq!(samples["lat_bucket{p=a,le=1}"], 1.0);
    assert_eq!(samples["lat_bucket{p=a,le=+Inf}"], 2.0);
    assert_eq!(samples["lat_count{p=b}"], 5.0);
    assert_eq!(samples["lat_sum{p=a}"], 3.0);
    assert_eq!(
        samples["s{quantile=0.5}"], 0.25,
        "an empty label is no label"
    );
    assert_eq!(samples["s_count{}"], 8.0);
    // Next scrape: `a` grew, `b` restarted.
    let text = "# TYPE lat histogram\n\
                lat_bucket{p=\"a\",le=\"1\"} 3\nlat_bucket{p=\"a\",le=\"+Inf\"} 4\nlat_count{p=\"a\"} 4\nlat_sum{p=\"a\"} 4\n\
                lat_bucket{p=\"b\",le=\"1\"} 0\nlat_bucket{p=\"b\",le=\"+Inf\"} 1\nlat_count{p=\"b\"} 1\nlat_sum{p=\"b\"} 2\n";
    let (samples, _) = h.scrape(text, Format::Prometheus);
    assert_eq!(samples["lat_bucket{p=a,le=1}"], 3.0);
    assert_eq!(samples["lat_count{p=a}"], 4.0);
    assert_eq!(
        samples["lat_bucket{p=b,le=1}"], 4.0,
        "a reset adds the current values"
    );
    assert_eq!(samples["lat_count{p=b}"], 6.0);
    assert_eq!(samples["lat_sum{p=b}"], 11.0);
}

#[test]
fn folded_inputs_count_their_full_value_in_the_overflow_series() {
    let mut h = Harness::new("[[metrics]]\nmatch = \"hits_total\"\nmax_series = 3\n");
    let mut upstream = BTreeMap::new();
    for scrape in 0..6 {
        let mut text = String::from("# TYPE hits_total counter\n");
        for path in 0..=scrape {
            let value = upstream.entry(path).or_insert(0.0);
            *value += (path + 1) as f64;
            text.push_str(&format!("hits_total{{path=\"/{path}\"}} {value}\n"));
        }
        let (samples, _) = h.scrape(&text, Format::Prometheus);
        let series = samples
            .keys()
            .filter(|k| k.starts_with("hits_total"))
            .count();
        assert!(series <= 3, "within the budget: {samples:?}");
        let total: f64 = upstream.values().sum();
        assert_eq!(
            sum_of(&samples, "hits_total"),
            total,
            "scrape {scrape}: {samples:?}"
        );
    }
}

#[test]
fn a_malformed_line_or_a_missing_eof_is_a_parse_failure() {
    let deadline = Deadline::after(Duration::from_secs(60));
    let failure = check("ok 1\nbad{ 1\n", Format::Prometheus, deadline).unwrap_err();
    assert_eq!(failure.reason, Reason::Parse);
    assert!(failure.detail.contains("line 2"), "{}", failure.detail);
    let failure = check("a_total 1\n", Format::OpenMetrics, deadline).unwrap_err();
    assert_eq!(failure.reason, Reason::Parse);
    let failure = check("a 1\n", Format::Prometheus, Deadline::after(Duration::ZERO));
    assert!(
        failure.is_ok(),
        "the deadline is looked at every {LINES_PER_CHECK} lines"
    );
    let long = "a 1\n".repeat(2 * LINES_PER_CHECK);
    let failure = check(&long, Format::Prometheus, Deadline::after(Duration::ZERO)).unwrap_err();
    assert_eq!(failure.reason, Reason::Timeout);
}

#[test]
fn open_metrics_other_types_pass_as_gauges_named_by_their_samples() {
    let mut h = Harness::new("");
    let text = "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n\
                # TYPE feature stateset\nfeature{feature=\"a\"} 1\nfeature{feature=\"b\"} 0\n\
                # TYPE queue gaugehistogram\nqueue_bucket{le=\"1.0\"} 2\nqueue_bucket{le=\"+Inf\"} 3\n\
                queue_gcount 3\nqueue_gsum 2.5\n\
                # TYPE mystery unknown\nmystery 7\n# EOF\n";
    let (samples, render) = h.scrape(text, Format::OpenMetrics);
    assert_eq!(samples["build_info{version=1.2}"], 1.0, "{render}");
    assert_eq!(samples["feature{feature=b}"], 0.0);
    assert_eq!(samples["queue_gcount{}"], 3.0);
    assert_eq!(samples["queue_gsum{}"], 2.5);
    assert_eq!(samples["mystery{}"], 7.0);
}

#[test]
fn a_new_bucket_layout_upstream_keeps_counting_in_the_first_one() {
    let mut h = Harness::new("");
    let first = "# TYPE rpc_seconds histogram\n\
        rpc_seconds_bucket{le=\"0.1\"} 2\nrpc_seconds_bucket{le=\"1\"} 3\n\
        rpc_seconds_bucket{le=\"+Inf\"} 4\nrpc_seconds_sum 2.5\nrpc_seconds_count 4\n";
    h.scrape(first, Format::Prometheus);
    // The app is redeployed with other buckets (its counts start again).
    let redeployed = "# TYPE rpc_seconds histogram\n\
        rpc_seconds_bucket{le=\"0.05\"} 1\nrpc_seconds_bucket{le=\"0.5\"} 2\n\
        rpc_seconds_bucket{le=\"5\"} 3\nrpc_seconds_bucket{le=\"+Inf\"} 3\n\
        rpc_seconds_sum 1.5\nrpc_seconds_count 3\n";
    let (samples, render) = h.scrape(redeployed, Format::Prometheus);
    // 0.05 counts under 0.1; 0.5 under 1; 5 under +Inf: nothing goes down.
    assert_eq!(samples["rpc_seconds_bucket{le=0.1}"], 3.0, "{render}");
    assert_eq!(samples["rpc_seconds_bucket{le=1}"], 5.0);
    assert_eq!(samples["rpc_seconds_bucket{le=+Inf}"], 7.0);
    assert_eq!(samples["rpc_seconds_count{}"], 7.0);
    assert_eq!(samples["rpc_seconds_sum{}"], 4.0);
    assert!(!render.contains("le=\"0.5\""), "{render}");
    assert!(!render.contains("reason=\"invalid\"} 1"), "{render}");
}

#[test]
fn under_busiest_a_busy_folded_input_gets_its_own_series_and_totals_hold() {
    let mut h =
        Harness::new("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 4\nkeep = \"busiest\"\n");
    let mut busy = 0u64;
    let mut promoted = None;
    for scrape in 0..40u64 {
        busy += 50;
        // Three queues seen first and idle since; a fourth, folded, busy.
        let text = format!(
            "# TYPE jobs_total counter\njobs_total{{queue=\"a\"}} 1\njobs_total{{queue=\"b\"}} 1\n\
             jobs_total{{queue=\"c\"}} 1\njobs_total{{queue=\"busy\"}} {busy}\n"
        );
        let (samples, render) = h.scrape(&text, Format::Prometheus);
        assert!(samples.len() <= 4, "{render}");
        if promoted.is_none() && samples.contains_key("jobs_total{queue=busy}") {
            promoted = Some(scrape);
        }
        // Nothing is lost: an outranked idle series took its 1 with it.
        let evicted = h
            .exporter
            .report()
            .metric("jobs_total")
            .map_or(0, |m| m.evicted.outranked);
        assert_eq!(
            sum_of(&samples, "jobs_total") + evicted as f64,
            (3 + busy) as f64,
            "{render}"
        );
        h.exporter.run_upkeep();
    }
    let promoted = promoted.expect("the busy queue got its own series");
    assert!(promoted < 20, "promoted at scrape {promoted}");
}

#[test]
fn a_histogram_or_summary_written_twice_in_one_scrape_counts_its_first_copy_once() {
    let mut h = Harness::new("");
    // An upstream that writes a label set twice (two collectors of one
    // family): as for a counter, the first copy counts and the second is a
    // duplicate, not an invalid histogram or summary that vanishes.
    let twice = |c: u32| {
        format!(
            "# TYPE lat histogram\n\
             lat_bucket{{le=\"1\"}} {c}\nlat_bucket{{le=\"+Inf\"}} {c}\nlat_sum {c}\nlat_count {c}\n\
             lat_bucket{{le=\"1\"}} 100\nlat_bucket{{le=\"+Inf\"}} 100\nlat_sum 100\nlat_count 100\n\
             # TYPE rpc summary\n\
             rpc{{quantile=\"0.5\"}} 0.25\nrpc_sum {c}\nrpc_count {c}\n\
             rpc{{quantile=\"0.5\"}} 9\nrpc_sum 100\nrpc_count 100\n"
        )
    };
    for c in [2, 3, 3, 5] {
        let (samples, render) = h.scrape(&twice(c), Format::Prometheus);
        assert_eq!(
            samples.get("lat_bucket{le=1}"),
            Some(&f64::from(c)),
            "{render}"
        );
        assert_eq!(samples.get("lat_count{}"), Some(&f64::from(c)), "{render}");
        assert_eq!(samples.get("lat_sum{}"), Some(&f64::from(c)), "{render}");
        assert_eq!(samples.get("rpc{quantile=0.5}"), Some(&0.25), "{render}");
        assert_eq!(samples.get("rpc_count{}"), Some(&f64::from(c)), "{render}");
        assert!(!render.contains("reason=\"invalid\"} 1"), "{render}");
    }
    assert_eq!(h.inputs.duplicates(), 4 * 7, "7 duplicate lines a scrape");
    // Beyond --max-inputs, the first copy's lines are untracked and the
    // second copy's duplicates: each line counted once.
    h.inputs = Inputs::new(ManualClock::new().into(), Duration::from_secs(600), 0);
    h.scrape(&twice(6), Format::Prometheus);
    assert_eq!(h.inputs.untracked(), 4 + 3);
    assert_eq!(h.inputs.duplicates(), 4 + 3);
}

#[test]
fn a_summary_scrape_without_its_count_is_no_reset() {
    let mut h = Harness::new("");
    let with = "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc_sum 10\nrpc_count 2\n";
    let without = "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc_sum 11\n";
    let again = "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 1\nrpc_sum 12\nrpc_count 4\n";
    h.scrape(with, Format::Prometheus);
    h.scrape(without, Format::Prometheus);
    let (samples, render) = h.scrape(again, Format::Prometheus);
    // The upstream's summary saw 4 observations summing to 12, no restart.
    assert_eq!(samples.get("rpc_count{}"), Some(&4.0), "{render}");
    assert_eq!(samples.get("rpc_sum{}"), Some(&12.0), "{render}");
}

#[test]
fn a_histogram_or_summary_whose_sum_went_nan_keeps_counting_its_observations() {
    let mut h = Harness::new("");
    // A Go client's histogram or summary that observed a NaN once has a
    // `_sum` of NaN from then on; its buckets and count still grow.
    let scrape = |count: u32, sum: &str| {
        format!(
            "# TYPE lat histogram\nlat_bucket{{le=\"1\"}} {count}\nlat_bucket{{le=\"+Inf\"}} {count}\n\
             lat_sum {sum}\nlat_count {count}\n\
             # TYPE rpc summary\nrpc{{quantile=\"0.5\"}} 0.5\nrpc_sum {sum}\nrpc_count {count}\n"
        )
    };
    h.scrape(&scrape(2, "1.5"), Format::Prometheus);
    for count in [3, 7] {
        let (samples, render) = h.scrape(&scrape(count, "NaN"), Format::Prometheus);
        let count = f64::from(count);
        assert_eq!(samples.get("lat_count{}"), Some(&count), "{render}");
        assert_eq!(samples.get("lat_bucket{le=1}"), Some(&count), "{render}");
        assert_eq!(samples.get("rpc_count{}"), Some(&count), "{render}");
        assert!(
            samples["lat_sum{}"].is_finite() && samples["rpc_sum{}"].is_finite(),
            "{render}"
        );
    }
    // A label set whose sum is NaN from its first sight is not lost either.
    let (samples, render) = h.scrape(
        "# TYPE fresh histogram\nfresh_bucket{le=\"+Inf\"} 4\nfresh_sum NaN\nfresh_count 4\n",
        Format::Prometheus,
    );
    assert_eq!(samples.get("fresh_count{}"), Some(&4.0), "{render}");
}

#[test]
fn a_budget_raised_by_a_reload_gives_the_folded_inputs_their_own_series() {
    // A folded input keeps its overflow handle; after a reload the proxy
    // registers it again, so a raised budget admits it (before, it stayed
    // folded for as long as the upstream showed it).
    let mut h = Harness::new("[[metrics]]\nmatch = \"x_total\"\nmax_series = 2\n");
    let text = |v: u32| {
        let mut t = String::from("# TYPE x_total counter\n");
        for i in 0..5 {
            t.push_str(&format!("x_total{{a=\"{i}\"}} {v}\n"));
        }
        t
    };
    let (samples, render) = h.scrape(&text(10), Format::Prometheus);
    assert!(
        samples.contains_key("x_total{otel_metric_overflow=true}"),
        "{render}"
    );
    let roomy = Config::from_toml("[[metrics]]\nmatch = \"x_total\"\nmax_series = 10\n", "g");
    h.exporter.reload(roomy.unwrap()).unwrap();
    for v in [20, 30, 40] {
        h.exporter.run_upkeep();
        let (samples, render) = h.scrape(&text(v), Format::Prometheus);
        assert_eq!(sum_of(&samples, "x_total"), f64::from(5 * v), "{render}");
        if v == 40 {
            for i in 0..5 {
                assert!(
                    samples.contains_key(&format!("x_total{{a={i}}}")),
                    "{render}"
                );
            }
        }
    }
}

#[test]
fn a_label_limit_raised_by_a_reload_gives_the_folded_values_their_own_series() {
    let toml = |limit: u32| {
        format!("[[metrics]]\nmatch = \"x_total\"\nmax_series = 100\nlabel_limits = {{ a = {limit} }}\n")
    };
    let mut h = Harness::new(&toml(2));
    let text = |v: u32| {
        let mut t = String::from("# TYPE x_total counter\n");
        for i in 0..5 {
            t.push_str(&format!("x_total{{a=\"{i}\"}} {v}\n"));
        }
        t
    };
    let (samples, render) = h.scrape(&text(10), Format::Prometheus);
    assert!(samples.contains_key("x_total{a=__overflow__}"), "{render}");
    h.exporter
        .reload(Config::from_toml(&toml(10), "g").unwrap())
        .unwrap();
    let (samples, render) = h.scrape(&text(20), Format::Prometheus);
    for i in 0..5 {
        assert!(
            samples.contains_key(&format!("x_total{{a={i}}}")),
            "{render}"
        );
    }
    assert_eq!(sum_of(&samples, "x_total"), 100.0, "{render}");
}

#[test]
fn a_family_split_by_another_counts_its_first_part_once() {
    let mut h = Harness::new("");
    // The buckets, then another family, then the same histogram's sum and
    // count (a repeated `# TYPE` that agrees is read past): the label set's
    // second part is a duplicate, never a second input added to the first.
    let split = |c: u32| {
        format!(
            "# TYPE h histogram\n\
             h_bucket{{le=\"1\"}} {c}\nh_bucket{{le=\"+Inf\"}} {c}\n\
             # TYPE g gauge\ng 1\n\
             # TYPE h histogram\nh_sum {c}\nh_count {c}\n"
        )
    };
    for c in [2, 3, 3, 7] {
        let (samples, render) = h.scrape(&split(c), Format::Prometheus);
        assert_eq!(samples.get("h_count{}"), Some(&f64::from(c)), "{render}");
        assert_eq!(
            samples.get("h_bucket{le=+Inf}"),
            Some(&f64::from(c)),
            "{render}"
        );
        assert_eq!(samples.get("g{}"), Some(&1.0), "{render}");
    }
    assert_eq!(
        h.inputs.duplicates(),
        4 * 2,
        "the second part's 2 lines a scrape"
    );
}
