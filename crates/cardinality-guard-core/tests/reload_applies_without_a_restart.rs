//! `PrometheusGuard::reload` (and `GuardHandle::reload`) put a new config in
//! force without a restart: raised budgets reopen at once; lowered ones and
//! new label limits cut nothing until the next upkeep after a render, which
//! evicts what the new config would not admit (issue 20; the details are in
//! a_reload_applies_at_once.rs); pinned values, modes and idle timeouts
//! change in place; what can't apply (new buckets for a histogram with
//! series, new global labels, a bad file) is refused whole, and the
//! self-report says so. Checked on the real render.

mod support;

use std::time::Duration;

use cardinality_guard_core::{Config, GuardLayer, PrometheusGuard, ReloadError};
use metrics::{Key, Label, Level, Metadata, Recorder};
use support::*;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

const SUCCESSFUL: &str = "cardinality_guard_config_last_reload_successful";
const SUCCESS_TIMESTAMP: &str = "cardinality_guard_config_last_reload_success_timestamp_seconds";

fn config(toml: &str) -> Config {
    Config::from_toml(toml, "<test>").expect("test config is valid")
}

fn budget(metric: &str, max_series: u64) -> Config {
    config(&format!(
        "[[metrics]]\nmatch = \"{metric}\"\nmax_series = {max_series}\n"
    ))
}

fn login(recorder: &impl Recorder, user: impl ToString) {
    let key = Key::from_parts("logins_total", vec![Label::new("user", user.to_string())]);
    recorder.register_counter(&key, &METADATA).increment(1);
}

fn label_sets(exporter: &PrometheusGuard, metric: &str) -> u64 {
    exporter.report().metric(metric).map_or(0, |m| m.label_sets)
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_raised_budget_reopens_the_metric_at_once() {
    let (recorder, exporter) = guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\n");
    (0..10).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 4); // + the overflow series

    exporter.reload(budget("logins_total", 20)).unwrap();
    (10..20).for_each(|u| login(&recorder, u));
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!((logins.label_sets, logins.limit), (14, 20));
    let text = exporter.render();
    assert_series_accounting(&text, &report);
    assert_eq!(
        labeled_value(
            &text,
            "cardinality_guard_series_limit",
            &[("metric", "logins_total")]
        ),
        Some(20.0)
    );
    // Admitted after the reload: users 10..=19; the first fold's users stay folded.
    let users = label_values(&text, "logins_total", "user");
    assert!(
        users.contains("19") && users.contains("3") && !users.contains("4"),
        "{users:?}"
    );
    // Filled exactly to the new budget, no further.
    (20..40).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 19);
}

/// A lowered budget cuts nothing before an upkeep, and admits nothing new
/// while the metric is over it; the next upkeep (its series rendered)
/// evicts down to it, keeping the first admitted (`keep = "first"`); idle
/// expiry then frees room as before.
#[test]
fn a_lowered_budget_cuts_nothing_before_an_upkeep_then_evicts_down_to_it() {
    let (recorder, exporter, clock) = expiring(
        "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 40\nidle_timeout = \"10s\"\n",
    );
    (0..20).for_each(|u| login(&recorder, u));
    exporter
        .reload(config(
            "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 6\nidle_timeout = \"10s\"\n",
        ))
        .unwrap();
    // Nothing admitted is cut by the reload itself...
    let text = exporter.render();
    assert_eq!(rendered_series(&text, "logins_total"), 20);
    // ...and nothing new is admitted while the metric is over its budget.
    (100..110).for_each(|u| login(&recorder, u));
    let text = exporter.render();
    assert_eq!(label_sets(&exporter, "logins_total"), 20);
    assert_eq!(overflow_total(&text, "logins_total", "series_limit"), 10.0);
    assert!(parse(&text).iter().any(is_overflow), "{text}");

    // The next upkeep evicts down to the budget (5 label sets + the
    // overflow series' room): the first five admitted stay, the overflow
    // series keeps what it counted (evicted values move nowhere).
    exporter.run_upkeep();
    let logins = exporter.report().metric("logins_total").cloned().unwrap();
    assert_eq!(
        (logins.label_sets, logins.evicted.reload, logins.expired),
        (5, 15, 0)
    );
    let text = exporter.render();
    assert_eq!(
        label_values(&text, "logins_total", "user"),
        (0..5).map(|u| u.to_string()).collect()
    );
    assert_eq!(
        value_exact(&text, "logins_total", &[("otel_metric_overflow", "true")]),
        Some(10.0)
    );
    // Exactly full: a new user folds.
    login(&recorder, 150);
    assert_eq!(label_sets(&exporter, "logins_total"), 5);

    // Users 0, 1 and 2 stay active; users 3 and 4 go idle and expire.
    for _ in 0..3 {
        clock.advance(Duration::from_secs(4));
        (0..3).for_each(|u| login(&recorder, u));
        let _ = exporter.render();
    }
    exporter.run_upkeep();
    let logins = exporter.report().metric("logins_total").cloned().unwrap();
    assert_eq!(
        (logins.label_sets, logins.evicted.reload, logins.expired),
        (3, 15, 2)
    );
    // Under its budget (5 label sets + the overflow series' room): admits again.
    (200..210).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 5);
    let report = exporter.report();
    assert_series_accounting(&exporter.render(), &report);
}

/// A label limit added by a reload keeps the values of the first admitted
/// label sets (`keep = "first"`), as many as its room (the limit less the
/// pinned values, which are always admitted); the stored label sets
/// holding other values keep their series until the next upkeep after a
/// render, then are evicted, and their later registrations fold into
/// `user="__overflow__"` like new values.
#[test]
fn a_label_limit_added_by_a_reload_keeps_the_first_values_and_evicts_the_others_at_upkeep() {
    let (recorder, exporter) =
        guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 1000\n");
    let visit = |user: u32, method: &str| {
        let key = Key::from_parts(
            "logins_total",
            vec![
                Label::new("method", method.to_owned()),
                Label::new("user", user.to_string()),
            ],
        );
        recorder.register_counter(&key, &METADATA).increment(1);
    };
    (0..30).for_each(|u| visit(u, "GET"));
    exporter
        .reload(config(
            "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 1000\nlabel_limits = { user = 10 }\npinned = { user = [\"admin\"] }\n",
        ))
        .unwrap();
    (30..40).for_each(|u| visit(u, "POST"));
    (0..30).for_each(|u| visit(u, "GET")); // stored: their own series until an upkeep
    let admin = Key::from_parts(
        "logins_total",
        vec![Label::new("method", "GET"), Label::new("user", "admin")],
    );
    recorder.register_counter(&admin, &METADATA).increment(1);

    let text = exporter.render();
    let has = |text: &str, u: &str, m: &str| {
        label_sets_of(text, "logins_total").iter().any(|s| {
            s.get("user").map(String::as_str) == Some(u)
                && s.get("method").map(String::as_str) == Some(m)
        })
    };
    assert!((0..30).all(|u| has(&text, &u.to_string(), "GET")), "{text}");
    assert!(
        !has(&text, "35", "POST") && has(&text, "__overflow__", "POST"),
        "{text}"
    );
    assert!(
        has(&text, "admin", "GET"),
        "a pinned value is always admitted: {text}"
    );
    assert_eq!(
        labeled_value(
            &text,
            "logins_total",
            &[("user", "__overflow__"), ("method", "POST")]
        ),
        Some(10.0)
    );
    assert_eq!(overflow_total(&text, "logins_total", "label_limit"), 10.0);
    let report = exporter.report();
    let user_label = &report.metric("logins_total").unwrap().labels;
    let user_label = user_label.iter().find(|l| l.name == "user").unwrap();
    assert_eq!((user_label.limit, user_label.pinned), (Some(10), 1));
    assert_series_accounting(&text, &report);

    // The upkeep after that render evicts the label sets of users 9..29:
    // the limit of 10 holds "admin" and nine more values.
    exporter.run_upkeep();
    (0..30).for_each(|u| visit(u, "GET"));
    let text = exporter.render();
    assert!((0..9).all(|u| has(&text, &u.to_string(), "GET")), "{text}");
    assert!(
        (9..30).all(|u| !has(&text, &u.to_string(), "GET")),
        "{text}"
    );
    assert!(has(&text, "admin", "GET"), "pinned: kept: {text}");
    assert_eq!(
        labeled_value(&text, "logins_total", &[("user", "0"), ("method", "GET")]),
        Some(3.0)
    );
    assert_eq!(
        labeled_value(
            &text,
            "logins_total",
            &[("user", "__overflow__"), ("method", "GET")]
        ),
        Some(21.0)
    );
    assert_eq!(overflow_total(&text, "logins_total", "label_limit"), 31.0);
    let report = exporter.report();
    assert_eq!(report.metric("logins_total").unwrap().evicted.reload, 21);
    assert_series_accounting(&text, &report);
}

/// Shadow mode evicts nothing at upkeep; enforce keeps what shadow stored
/// until an upkeep after a render, which evicts down to the budget.
#[test]
fn shadow_to_enforce_keeps_what_shadow_stored_until_an_upkeep_and_enforces_from_then_on() {
    let (recorder, exporter) =
        guarded("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\nmode = \"shadow\"\n");
    (0..10).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 10);
    let _ = exporter.render();
    exporter.run_upkeep();
    assert_eq!(
        label_sets(&exporter, "logins_total"),
        10,
        "shadow alters nothing"
    );
    let before = exporter
        .report()
        .metric("logins_total")
        .unwrap()
        .overflow
        .series_limit;
    assert!(before > 0, "shadow mode counts what it would fold");

    exporter.reload(budget("logins_total", 5)).unwrap();
    (0..10).for_each(|u| login(&recorder, u)); // the stored ones: no new counts
    (10..15).for_each(|u| login(&recorder, u)); // new: folded for real
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!(logins.label_sets, 10);
    assert!(logins.overflow_series);
    assert_eq!(logins.overflow.series_limit, before + 5);
    let text = exporter.render();
    assert_eq!(
        parse(&text)
            .iter()
            .filter(|s| s.name == "logins_total" && is_overflow(s))
            .map(|s| s.value)
            .sum::<f64>(),
        5.0
    );
    assert_series_accounting(&text, &report);

    // Enforce counts what shadow stored: a raised budget of 20 admits 9 more
    // label sets (10 stored + 9 + the overflow series), not 16.
    exporter.reload(budget("logins_total", 20)).unwrap();
    (100..130).for_each(|u| login(&recorder, u));
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!((logins.label_sets, logins.series), (19, 20));
    assert_eq!(logins.evicted.reload, 0, "no upkeep since shadow");
    assert_series_accounting(&exporter.render(), &report);

    // Back to 5, and an upkeep after that render: the first four stored
    // (by shadow) stay.
    exporter.reload(budget("logins_total", 5)).unwrap();
    exporter.run_upkeep();
    let report = exporter.report();
    let logins = report.metric("logins_total").unwrap();
    assert_eq!((logins.label_sets, logins.evicted.reload), (4, 15));
    let text = exporter.render();
    assert_eq!(
        label_values(&text, "logins_total", "user"),
        (0..4).map(|u| u.to_string()).collect()
    );
    assert_series_accounting(&text, &report);
}

#[test]
fn an_idle_timeout_set_by_a_reload_expires_series() {
    let (recorder, exporter, clock) = expiring("");
    (0..5).for_each(|u| login(&recorder, u));
    let _ = exporter.render();
    clock.advance(Duration::from_secs(60));
    exporter.run_upkeep();
    assert_eq!(label_sets(&exporter, "logins_total"), 5, "no timeout yet");

    exporter
        .reload(config("[defaults]\nidle_timeout = \"30s\"\n"))
        .unwrap();
    let _ = exporter.render();
    clock.advance(Duration::from_secs(31));
    exporter.run_upkeep();
    let logins = exporter.report().metric("logins_total").cloned().unwrap();
    assert_eq!((logins.label_sets, logins.expired), (0, 5));
    assert_eq!(logins.idle_timeout_seconds, Some(30.0));
}

#[test]
fn new_buckets_for_a_histogram_with_series_are_refused_and_nothing_changes() {
    let (recorder, exporter) = guarded(
        "[histograms]\nbuckets = [0.1, 1.0]\n[[metrics]]\nmatch = \"logins_total\"\nmax_series = 5\n",
    );
    let latency = Key::from_name("latency_seconds");
    recorder.register_histogram(&latency, &METADATA).record(0.5);
    let running = exporter.guard().config();
    let loaded_at = labeled_value(&exporter.render(), SUCCESS_TIMESTAMP, &[]).unwrap();
    assert!((now_unix() - loaded_at).abs() < 60.0, "{loaded_at}");
    assert_eq!(
        labeled_value(&exporter.render(), SUCCESSFUL, &[]),
        Some(1.0)
    );

    let refused = exporter
        .reload(config(
            "[histograms]\nbuckets = [0.1, 0.5, 1.0]\n[[metrics]]\nmatch = \"logins_total\"\nmax_series = 50\n",
        ))
        .unwrap_err();
    match &refused {
        ReloadError::HistogramChanged { metric, .. } => assert_eq!(metric, "latency_seconds"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(refused.to_string().contains("restart"), "{refused}");
    // All or nothing: the budget change in the same file did not apply.
    assert_eq!(*exporter.guard().config(), *running);
    (0..10).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 4);
    let text = exporter.render();
    assert_eq!(labeled_value(&text, SUCCESSFUL, &[]), Some(0.0));
    assert_eq!(
        labeled_value(&text, SUCCESS_TIMESTAMP, &[]),
        Some(loaded_at)
    );
    assert!(
        text.contains("latency_seconds_bucket{le=\"0.1\"} 0\n"),
        "{text}"
    );

    // Unchanged buckets, or buckets for a histogram without series, apply.
    exporter
        .reload(config(
            "[histograms]\nbuckets = [0.1, 1.0]\n[[histograms.per_metric]]\nmatch = \"queue_seconds\"\nbuckets = [5.0]\n[[metrics]]\nmatch = \"logins_total\"\nmax_series = 50\n",
        ))
        .unwrap();
    recorder
        .register_histogram(&Key::from_name("queue_seconds"), &METADATA)
        .record(1.0);
    let text = exporter.render();
    assert!(
        text.contains("queue_seconds_bucket{le=\"5\"} 1\n"),
        "{text}"
    );
    assert_eq!(labeled_value(&text, SUCCESSFUL, &[]), Some(1.0));
    assert!(labeled_value(&text, SUCCESS_TIMESTAMP, &[]).unwrap() >= loaded_at);
    assert_eq!(exporter.report().metric("logins_total").unwrap().limit, 50);
}

#[test]
fn changed_global_labels_are_refused() {
    let (_recorder, exporter) = guarded("[global]\nlabels = { region = \"eu\" }\n");
    let refused = exporter
        .reload(config("[global]\nlabels = { region = \"us\" }\n"))
        .unwrap_err();
    assert!(
        matches!(refused, ReloadError::GlobalLabelsChanged),
        "{refused:?}"
    );
}

#[test]
fn a_bad_file_keeps_the_running_config_and_names_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("cg-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guard.toml");
    std::fs::write(
        &path,
        "[[metrics]]\nmatch = \"logins_total\"\nmax_series = 3\n",
    )
    .unwrap();
    let (recorder, exporter) = guarded("");
    exporter.reload_file(&path).unwrap();
    std::fs::write(
        &path,
        "[[metrics]]\nmatch = \"logins_total\"\nmax_series = \"many\"\n",
    )
    .unwrap();
    let refused = exporter.reload_file(&path).unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, ReloadError::Config(_)));
    assert!(
        message.contains("guard.toml") && message.contains(":3") && message.contains("max_series"),
        "{message}"
    );
    assert!(std::error::Error::source(&refused).is_some());
    (0..10).for_each(|u| login(&recorder, u));
    assert_eq!(
        label_sets(&exporter, "logins_total"),
        2,
        "the running budget of 3 holds"
    );
    assert_eq!(
        labeled_value(&exporter.render(), SUCCESSFUL, &[]),
        Some(0.0)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_raised_global_budget_reopens_metrics_it_closed() {
    let (recorder, exporter) =
        guarded("[global]\nmax_series = 10\n[defaults]\non_overflow = \"drop\"\n");
    (0..20).for_each(|u| login(&recorder, u));
    assert_eq!(label_sets(&exporter, "logins_total"), 10);
    exporter
        .reload(config(
            "[global]\nmax_series = 15\n[defaults]\non_overflow = \"drop\"\n",
        ))
        .unwrap();
    (20..40).for_each(|u| login(&recorder, u));
    let report = exporter.report();
    assert_eq!(label_sets(&exporter, "logins_total"), 15);
    assert_eq!(report.global.series_limit, 15);
    assert!(report.metric("logins_total").unwrap().overflow.global_limit > 0);
}

#[test]
fn over_another_recorder_the_layer_reloads_budgets_but_not_buckets() {
    use cardinality_guard_core::prometheus_builder;
    use metrics_util::layers::Layer;

    let first = budget("logins_total", 3);
    let layer = GuardLayer::new(first.clone());
    let handle = layer.handle();
    assert!(matches!(
        handle.reload(first.clone()),
        Err(ReloadError::NotBuilt)
    ));
    let prometheus = prometheus_builder(&first).unwrap().build_recorder();
    let exposition = prometheus.handle();
    let guard = layer.layer(prometheus);
    (0..10).for_each(|u| login(&guard, u));
    handle.reload(budget("logins_total", 8)).unwrap();
    (10..20).for_each(|u| login(&guard, u));
    let text = exposition.render();
    assert_eq!(rendered_series(&text, "logins_total"), 7 + 1);
    assert_eq!(
        labeled_value(
            &text,
            "cardinality_guard_series_limit",
            &[("metric", "logins_total")]
        ),
        Some(8.0)
    );
    assert_eq!(labeled_value(&text, SUCCESSFUL, &[]), Some(1.0));
    let refused = handle
        .reload(config("[histograms]\nbuckets = [1.0]\n"))
        .unwrap_err();
    assert!(
        matches!(refused, ReloadError::HistogramsOverAnotherRecorder),
        "{refused:?}"
    );
    assert_eq!(
        labeled_value(&exposition.render(), SUCCESSFUL, &[]),
        Some(0.0)
    );
}

/// The bounds of `[global]` apply to what is registered after a reload:
/// what is stored stays, and remembered spellings over a lowered
/// `max_alias_bytes` are forgotten at once (a cache: their registrations
/// still find their series).
#[test]
fn lowered_bounds_apply_to_the_next_registrations() {
    let (guard, exporter) = guarded("");
    let wide = |n: usize, v: &str| {
        let labels: Vec<Label> = (0..n)
            .map(|i| Label::new(format!("k{i}"), v.to_owned()))
            .collect();
        let key = Key::from_parts("wide_total", labels);
        guard.register_counter(&key, &METADATA).increment(1);
    };
    wide(10, "a");
    let spelled = Key::from_parts("spelled.total", vec![Label::new("user.id", "1")]);
    guard.register_counter(&spelled, &METADATA).increment(1);
    guard.register_counter(&spelled, &METADATA).increment(1);
    assert!(exporter.report().global.alias_bytes > 0);
    exporter
        .reload(config(
            "[global]\nmax_labels = 5\nmax_alias_bytes = 1\nmax_metric_name_length = 13\n",
        ))
        .unwrap();
    assert_eq!(exporter.report().global.alias_bytes, 0);
    // The stored label set of 10 labels stays; a new one folds.
    wide(10, "a");
    wide(10, "b");
    // The spelling still finds its series, without being remembered.
    guard.register_counter(&spelled, &METADATA).increment(1);
    assert_eq!(exporter.report().global.alias_bytes, 0);
    // A name over the lowered length is refused (names under it register).
    let long = Key::from_parts("fourteen_bytes", vec![]);
    guard.register_counter(&long, &METADATA).increment(1);
    let text = exporter.render();
    assert_eq!(
        labeled_value(&text, "wide_total", &[("k0", "a")]),
        Some(2.0)
    );
    assert_eq!(overflow_total(&text, "wide_total", "too_many_labels"), 1.0);
    assert_eq!(sum_of(&text, "spelled_total"), 3.0);
    assert_eq!(overflow_total(&text, "__invalid__", "invalid"), 1.0);
}
