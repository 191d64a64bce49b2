//! `cardinality_guard_label_values{metric, label}` and `LabelReport.demand`
//! estimate the distinct values seen per label (the demand, folded values
//! included) within a few percent, at 10k and at 1M distinct values, through
//! the guard and while it folds; a label of a few values is counted exactly;
//! and `max_labels_per_metric` bounds the labels tracked.

mod support;

use cardinality_guard_core::{LabelReport, Report};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::{guarded, label_values, labeled_value, overflow_total, parse, race, THREADS};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// Folds at stage 1: `user` has a limit of 10.
const LIMITED: &str = "logins_total";
/// Folds at stage 2: no label limits, a budget of 50 series.
const BUDGETED: &str = "visits_total";
const METHODS: [&str; 3] = ["GET", "POST", "PUT"];
/// The stated error: "within a few percent" at 10k and 1M.
const TOLERANCE: f64 = 0.05;

fn config() -> String {
    format!(
        "[[metrics]]\nmatch = \"{LIMITED}\"\nlabel_limits = {{ user = 10 }}\n\
         [[metrics]]\nmatch = \"{BUDGETED}\"\nmax_series = 50\n"
    )
}

fn key(name: &'static str, user: u64) -> Key {
    Key::from_parts(
        name,
        vec![
            Label::from_static_parts("method", METHODS[(user % 3) as usize]),
            Label::new("user", format!("u{user}")),
        ],
    )
}

fn label<'a>(report: &'a Report, metric: &str, label: &str) -> &'a LabelReport {
    report
        .metric(metric)
        .and_then(|m| m.labels.iter().find(|l| l.name == label))
        .unwrap_or_else(|| panic!("{label} of {metric} is tracked: {report:?}"))
}

fn gauge(text: &str, metric: &str, label: &str) -> Option<f64> {
    labeled_value(
        text,
        "cardinality_guard_label_values",
        &[("metric", metric), ("label", label)],
    )
}

fn relative_error(estimate: f64, truth: u64) -> f64 {
    (estimate - truth as f64).abs() / truth as f64
}

/// Checks the demand of `user` (against `truth`) and of `method` (exact) for
/// both metrics, in the render and the report; returns the errors.
fn check_demand(text: &str, report: &Report, truth: u64) -> Vec<(String, f64)> {
    let mut errors = Vec::new();
    for metric in [LIMITED, BUDGETED] {
        let user = label(report, metric, "user");
        let rendered = gauge(text, metric, "user").expect("the user demand gauge renders");
        assert_eq!(rendered, user.demand as f64, "{metric}: gauge = report");
        let error = relative_error(rendered, truth);
        assert!(
            error < TOLERANCE,
            "{metric}: estimated {rendered} distinct users of {truth}: error {error:.4}"
        );
        errors.push((metric.to_owned(), error));
        let method = label(report, metric, "method");
        assert_eq!(method.demand, 3, "{metric}: {method:?}");
        assert_eq!(gauge(text, metric, "method"), Some(3.0), "{metric}");
        // Demand, not admissions: far more than what renders.
        assert!(label_values(text, metric, "user").len() <= 50, "{metric}");
        assert_eq!(
            report.metric(metric).unwrap().blame.as_deref(),
            Some("user")
        );
    }
    errors
}

#[test]
fn demand_is_within_five_percent_at_ten_thousand_and_a_million_values_while_folding() {
    let (guard, exporter) = guarded(&config());
    let mut sent = 0;
    let mut feed = |upto: u64| {
        for user in sent..upto {
            guard
                .register_counter(&key(LIMITED, user), &METADATA)
                .increment(1);
            guard
                .register_counter(&key(BUDGETED, user), &METADATA)
                .increment(1);
        }
        sent = upto;
    };

    feed(10_000);
    let text = exporter.render();
    let report = exporter.report();
    let at_10k = check_demand(&text, &report, 10_000);
    // Both metrics fold, each at its own stage.
    let limited = report.metric(LIMITED).unwrap();
    assert_eq!(limited.overflow.label_limit, 10_000 - 10, "{limited:?}");
    assert_eq!(label(&report, LIMITED, "user").values, Some(10));
    let budgeted = report.metric(BUDGETED).unwrap();
    assert_eq!(budgeted.overflow.series_limit, 10_000 - 49, "{budgeted:?}");
    assert_eq!(label(&report, BUDGETED, "user").limit, None);
    assert_eq!(
        overflow_total(&text, LIMITED, "label_limit"),
        (10_000 - 10) as f64
    );

    feed(1_000_000);
    let text = exporter.render();
    let report = exporter.report();
    let at_1m = check_demand(&text, &report, 1_000_000);
    assert_eq!(
        report.metric(LIMITED).unwrap().overflow.label_limit,
        1_000_000 - 10
    );
    eprintln!("relative errors at 10k: {at_10k:?}; at 1M: {at_1m:?}");
}

#[test]
fn values_seen_again_do_not_raise_the_demand() {
    let (guard, exporter) = guarded(&config());
    for _ in 0..3 {
        for user in 0..2_000 {
            guard
                .register_counter(&key(LIMITED, user), &METADATA)
                .increment(1);
            guard
                .register_counter(&key(BUDGETED, user), &METADATA)
                .increment(1);
        }
    }
    let text = exporter.render();
    let report = exporter.report();
    check_demand(&text, &report, 2_000);
}

#[test]
fn a_label_of_a_few_values_is_counted_exactly() {
    let (guard, exporter) = guarded(&config());
    metrics::with_local_recorder(&guard, || {
        for user in 0..500 {
            for status in ["200", "404", "500"] {
                metrics::counter!(BUDGETED, "status" => status, "user" => user.to_string())
                    .increment(1);
            }
        }
    });
    let text = exporter.render();
    let report = exporter.report();
    assert_eq!(label(&report, BUDGETED, "status").demand, 3);
    assert_eq!(gauge(&text, BUDGETED, "status"), Some(3.0), "{text}");
    let user = label(&report, BUDGETED, "user");
    assert!(
        relative_error(user.demand as f64, 500) < TOLERANCE,
        "{user:?}"
    );
}

#[test]
fn max_labels_per_metric_bounds_the_labels_tracked_limited_ones_first() {
    let toml = "[global]\nmax_labels_per_metric = 2\n\
                [[metrics]]\nmatch = \"wide_total\"\nlabel_limits = { user = 5 }\n";
    let (guard, exporter) = guarded(toml);
    metrics::with_local_recorder(&guard, || {
        for i in 0..200 {
            let v = |k: u64| (i % k).to_string();
            // `user` comes last in the key: its limit still gets it tracked.
            metrics::counter!("wide_total", "a" => v(2), "b" => v(3), "c" => v(5), "d" => v(7), "user" => i.to_string())
                .increment(1);
            metrics::counter!("plain_total", "a" => v(2), "b" => v(3), "c" => v(5), "d" => v(7), "e" => i.to_string())
                .increment(1);
        }
    });
    let text = exporter.render();
    let report = exporter.report();
    for metric in ["wide_total", "plain_total"] {
        let labels = &report.metric(metric).unwrap().labels;
        assert_eq!(labels.len(), 2, "{metric}: {labels:?}");
        let gauges: Vec<_> = parse(&text)
            .into_iter()
            .filter(|s| s.name == "cardinality_guard_label_values" && s.label("metric") == metric)
            .collect();
        assert_eq!(gauges.len(), 2, "{metric}: {gauges:?}");
    }
    let wide = report.metric("wide_total").unwrap();
    assert!(
        wide.labels
            .iter()
            .any(|l| l.name == "user" && l.limit == Some(5)),
        "{wide:?}"
    );
    // The limit is enforced on the tracked label.
    assert_eq!(label_values(&text, "wide_total", "user").len(), 6, "{text}");
    assert_eq!(wide.blame.as_deref(), Some("user"), "{wide:?}");
    assert!(
        gauge(&text, "wide_total", "user").is_some_and(|g| relative_error(g, 200) < 0.05),
        "{text}"
    );
}

/// The labels tracked are bounded by `max_labels_per_metric`, but the bound
/// is filled by distinct labels: threads racing to track the same label
/// must not take two places for it.
#[test]
fn racing_threads_fill_the_tracked_labels_with_distinct_labels() {
    let mut short = Vec::new();
    for round in 0..100 {
        let (guard, exporter) = guarded("[global]\nmax_labels_per_metric = 2\n");
        race(&guard, |t| {
            for i in 0..20 {
                let key = Key::from_parts(
                    "raced_total",
                    vec![
                        Label::new("a", format!("{t}-{i}")),
                        Label::new("b", (i % 4).to_string()),
                    ],
                );
                guard.register_counter(&key, &METADATA).increment(1);
            }
        });
        let report = exporter.report();
        let labels: Vec<String> = report
            .metric("raced_total")
            .unwrap()
            .labels
            .iter()
            .map(|l| l.name.clone())
            .collect();
        if labels.len() != 2 {
            short.push((round, labels));
        }
    }
    assert!(
        short.is_empty(),
        "rounds where `a` and `b` were not both tracked: {short:?}"
    );
}

/// The rendered gauge is the demand the report shows, also after threads
/// raced to raise it: no thread may leave an older estimate behind.
#[test]
fn the_rendered_demand_is_the_latest_estimate_after_threads_race() {
    let mut stale = Vec::new();
    for round in 0..20 {
        let (guard, exporter) = guarded(&config());
        race(&guard, |t| {
            for i in 0..2_000 {
                let user = (i * THREADS + t) as u64;
                guard
                    .register_counter(&key(LIMITED, user), &METADATA)
                    .increment(1);
            }
        });
        let text = exporter.render();
        let report = exporter.report();
        let demand = label(&report, LIMITED, "user").demand as f64;
        let rendered = gauge(&text, LIMITED, "user");
        if rendered != Some(demand) {
            stale.push((round, rendered, demand));
        }
        assert!(relative_error(demand, 16_000) < TOLERANCE, "{demand}");
    }
    assert!(
        stale.is_empty(),
        "rounds whose gauge (left) is not the report's demand (right): {stale:?}"
    );
}
