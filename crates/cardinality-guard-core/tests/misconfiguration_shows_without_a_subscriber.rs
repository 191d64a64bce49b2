//! Misconfiguration that loads or runs without an error is visible without a
//! `tracing` subscriber: in the report (top-level `unmatched_rules` and
//! `notes` in its JSON) and in the self-report
//! (`cardinality_guard_config_unmatched_rules`, `cardinality_guard_problems`),
//! read from the real render on both paths (the guard's own exporter, and a
//! `GuardLayer` over the real `PrometheusRecorder`).

mod support;

use cardinality_guard_core::metrics_util::layers::Layer;
use cardinality_guard_core::{prometheus_builder, Config, GuardLayer, Problem};
use support::{guarded, labeled_value};

const UNMATCHED: &str = "cardinality_guard_config_unmatched_rules";
const PROBLEMS: &str = "cardinality_guard_problems";
const OUTSIDE: (&str, &str) = ("problem", "http_layer_outside_router");

/// A typo'd rule (`app_users_*` for `app_user_hits_total`), a rule that
/// matches, and the embedded default's HTTP rule restated (never listed: it
/// serves the HTTP layer, which an app may not use).
const TYPO: &str = "[[metrics]]\nmatch = \"app_users_*\"\nmax_series = 10\n\n\
                    [[metrics]]\nmatch = \"jobs_total\"\nmax_series = 10\n\n\
                    [[metrics]]\nmatch = \"http_server_request_duration_seconds\"\n\
                    max_series = 5000\n";

#[test]
fn a_rule_that_matched_nothing_is_listed_and_counted_until_a_reload_matches_it() {
    let (recorder, exporter) = guarded(TYPO);
    // Before any metric, no rule of the file matched.
    let text = exporter.render();
    assert_eq!(labeled_value(&text, UNMATCHED, &[]), Some(2.0), "{text}");
    assert_eq!(
        exporter.report().unmatched_rules,
        ["app_users_*", "jobs_total"]
    );
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("app_user_hits_total", "user" => "ada").increment(1);
        metrics::counter!("jobs_total").increment(1);
    });
    let report = exporter.report();
    assert_eq!(report.unmatched_rules, ["app_users_*"]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["unmatched_rules"], serde_json::json!(["app_users_*"]));
    let text = exporter.render();
    assert_eq!(labeled_value(&text, UNMATCHED, &[]), Some(1.0), "{text}");
    assert!(
        text.contains(&format!("# HELP {UNMATCHED} ")),
        "described: {text}"
    );

    // The fix, reloaded: the new rules are matched against the metrics
    // tracked already.
    let fixed = TYPO.replace("app_users_*", "app_user_*");
    exporter
        .reload(Config::from_toml(&fixed, "guard.toml").unwrap())
        .unwrap();
    assert!(exporter.report().unmatched_rules.is_empty());
    let text = exporter.render();
    assert_eq!(labeled_value(&text, UNMATCHED, &[]), Some(0.0), "{text}");
    let policy = exporter.report();
    assert_eq!(policy.metric("app_user_hits_total").unwrap().limit, 10);
}

#[test]
fn a_rule_another_rule_always_wins_over_counts_as_unmatched() {
    // `app_*` decides nothing: the longer `app_user_*` wins for the one metric.
    let toml = "[[metrics]]\nmatch = \"app_*\"\n\n[[metrics]]\nmatch = \"app_user_*\"\n";
    let (recorder, exporter) = guarded(toml);
    metrics::with_local_recorder(&recorder, || metrics::gauge!("app_user_sessions").set(1.0));
    assert_eq!(exporter.report().unmatched_rules, ["app_*"]);
}

#[test]
fn a_list_without_the_http_rule_gives_a_note() {
    let toml = "[[metrics]]\nmatch = \"app_*\"\nmax_series = 300\n";
    let (_recorder, exporter) = guarded(toml);
    let notes = exporter.report().notes;
    assert_eq!(
        notes,
        [
            "the [[metrics]] list of <test> replaces the default's, which gave \
          http_server_request_duration_seconds max_series = 5000; it now gets [defaults] \
          max_series = 2000 — add the rule back if you use the HTTP layer"
        ]
    );
    // Restated, or no list at all: no note.
    assert!(guarded(TYPO).1.report().notes.is_empty());
    assert!(guarded("").1.report().notes.is_empty());
    // A reload replaces the notes with the new config's.
    let (_recorder, exporter) = guarded(TYPO);
    exporter
        .reload(Config::from_toml(toml, "new.toml").unwrap())
        .unwrap();
    assert!(exporter.report().notes[0].contains("the [[metrics]] list of new.toml"));
}

#[test]
fn a_reported_problem_is_a_note_and_a_gauge_and_no_metric() {
    let (recorder, exporter) = guarded(TYPO);
    let text = exporter.render();
    assert_eq!(
        labeled_value(&text, PROBLEMS, &[OUTSIDE]),
        Some(0.0),
        "{text}"
    );
    assert!(exporter.report().notes.is_empty());
    metrics::with_local_recorder(&recorder, || {
        Problem::HttpLayerOutsideRouter.report();
        Problem::HttpLayerOutsideRouter.report();
    });
    let text = exporter.render();
    assert_eq!(
        labeled_value(&text, PROBLEMS, &[OUTSIDE]),
        Some(2.0),
        "{text}"
    );
    let report = exporter.report();
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].contains("Router::layer"),
        "{:?}",
        report.notes
    );
    assert!(report.notes[0].ends_with("reported 2 times)"));
    // Not a metric, not a refused name either.
    assert_eq!(
        (report.global.metrics, report.global.invalid_registrations),
        (0, 0)
    );
}

#[test]
fn an_unknown_problem_is_refused_as_a_reserved_name() {
    let (recorder, exporter) = guarded("");
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!(PROBLEMS, "problem" => "made_up").increment(1);
    });
    let text = exporter.render();
    assert!(!text.contains("made_up"), "{text}");
    assert_eq!(exporter.report().global.invalid_registrations, 1);
    assert!(exporter.report().notes.is_empty());
}

#[test]
fn over_another_recorder_the_self_report_publishes_both() {
    let config = Config::from_toml(TYPO, "guard.toml").unwrap();
    let prometheus = prometheus_builder(&config).unwrap().build_recorder();
    let render = prometheus.handle();
    let layer = GuardLayer::new(config);
    let handle = layer.handle();
    // Before the layer built its guard: every rule of the file is unmatched.
    assert_eq!(handle.report().unmatched_rules.len(), 2);
    let guard = layer.layer(prometheus);
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("jobs_total").increment(1);
        Problem::HttpLayerOutsideRouter.report();
    });
    let text = render.render();
    assert_eq!(labeled_value(&text, UNMATCHED, &[]), Some(1.0), "{text}");
    assert_eq!(
        labeled_value(&text, PROBLEMS, &[OUTSIDE]),
        Some(1.0),
        "{text}"
    );
    let report = handle.report();
    assert_eq!(report.unmatched_rules, ["app_users_*"]);
    assert_eq!(report.notes.len(), 1);
    // A reload recomputes the count the recorder renders.
    handle
        .reload(Config::from_toml("[[metrics]]\nmatch = \"jobs_*\"\n", "guard.toml").unwrap())
        .unwrap();
    let text = render.render();
    assert_eq!(labeled_value(&text, UNMATCHED, &[]), Some(0.0), "{text}");
}
