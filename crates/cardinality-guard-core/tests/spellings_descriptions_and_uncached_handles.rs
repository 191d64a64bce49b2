//! Spellings, descriptions and uncached handles: raw names and repeated labels reach the exporter only in rendered form, describes are bounded, and `cache_handles(false)` re-registers overflow series too.

mod support;

use std::time::Duration;

use cardinality_guard_core::{prometheus_builder, Config, GuardLayer, MetricKind};
use metrics::Recorder;
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_util::layers::Layer;
use metrics_util::MetricKindMask;
use support::{guarded, labeled_value, parse};

fn config(toml: &str) -> Config {
    Config::from_toml(toml, "<test>").expect("test config is valid")
}

/// With `cache_handles(false)`, the second registration of a raw spelling
/// (`http.requests`) hits the alias entry and registers the *raw* key with the
/// exporter, which then holds two counters that render as the same line
/// `http_requests`: one value overwrites the other, and an update is lost.
#[test]
fn uncached_handles_lose_updates_of_a_raw_name_spelling() {
    let config = Config::embedded();
    let recorder = prometheus_builder(&config).unwrap().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).cache_handles(false).layer(recorder);
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("http.requests").increment(1);
        metrics::counter!("http.requests").increment(1);
        metrics::gauge!("in.flight").increment(1.0);
        metrics::gauge!("in.flight").increment(1.0);
    });
    let text = render.render();
    assert_eq!(
        labeled_value(&text, "http_requests", &[]),
        Some(2.0),
        "two increments of one counter:\n{text}"
    );
    assert_eq!(
        labeled_value(&text, "in_flight", &[]),
        Some(2.0),
        "two increments of one gauge:\n{text}"
    );
}

/// Same with a label name given twice: `{a="1",a="2"}` renders as `{a="2"}`.
#[test]
fn uncached_handles_lose_updates_of_a_repeated_label_spelling() {
    let config = Config::embedded();
    let recorder = prometheus_builder(&config).unwrap().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).cache_handles(false).layer(recorder);
    metrics::with_local_recorder(&guard, || {
        for _ in 0..3 {
            metrics::counter!("jobs_total", "a" => "1", "a" => "2").increment(1);
        }
    });
    let text = render.render();
    assert_eq!(
        labeled_value(&text, "jobs_total", &[("a", "2")]),
        Some(3.0),
        "three increments of one counter:\n{text}"
    );
}

/// `cache_handles(false)` is documented as the setting for a recorder that
/// forgets idle series (`PrometheusBuilder::idle_timeout`), but the overflow
/// series handle (and every self-report handle) is cached regardless. Once the
/// exporter forgets the overflow series, later folded updates go to an orphaned
/// handle and never render again: totals are no longer conserved.
#[test]
fn uncached_handles_still_cache_the_overflow_series_under_idle_timeout() {
    let config = config("[[metrics]]\nmatch = \"logins_total\"\nmax_series = 2\n");
    let recorder = prometheus_builder(&config)
        .unwrap()
        .idle_timeout(MetricKindMask::ALL, Some(Duration::from_millis(20)))
        .build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).cache_handles(false).layer(recorder);
    let record = |user: &str| {
        metrics::with_local_recorder(&guard, || {
            metrics::counter!("logins_total", "user" => user.to_owned()).increment(1);
        })
    };
    record("ada"); // admitted
    record("bob"); // folded
    let first = render.render();
    assert_eq!(
        labeled_value(&first, "logins_total", &[("otel_metric_overflow", "true")]),
        Some(1.0),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let _idle = render.render(); // the exporter forgets the idle series here
    record("ada"); // re-registered: renders again
    record("cyd"); // folded: must show up in the overflow series
    let text = render.render();
    assert!(
        labeled_value(&text, "logins_total", &[("user", "ada")]).is_some(),
        "the admitted label set is back:\n{text}"
    );
    assert!(
        labeled_value(&text, "logins_total", &[("otel_metric_overflow", "true")]).is_some(),
        "the folded update of `cyd` is lost: the overflow series no longer renders:\n{text}"
    );
}

/// `GuardHandle::label_sets` lists the raw-spelling aliases as admitted label
/// sets: one rendered series shows up twice, and a repeated label name shows
/// a value (`a="1"`) the exporter never renders.
#[test]
fn label_sets_lists_raw_spelling_aliases_as_label_sets() {
    let (guard, exporter) = guarded("");
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("http.requests", "user" => "ada").increment(1);
        metrics::counter!("jobs_total", "a" => "1", "a" => "2").increment(1);
    });
    let text = exporter.render();
    let rendered = parse(&text)
        .iter()
        .filter(|s| s.name == "http_requests")
        .count();
    assert_eq!(rendered, 1, "{text}");
    let sets = exporter
        .guard()
        .label_sets(MetricKind::Counter, "http_requests", 10);
    assert_eq!(sets.len(), 1, "one admitted label set, got {sets:?}");
    let sets = exporter
        .guard()
        .label_sets(MetricKind::Counter, "jobs_total", 10);
    assert_eq!(
        sets,
        vec![vec![("a".to_owned(), "2".to_owned())]],
        "only the rendered label set"
    );
}

/// `Guard::describe_*` forwards every name to the exporter, which keeps each
/// description forever, also for names beyond `global.max_metrics` whose
/// registrations are all dropped: a flood of distinct metric names grows the
/// process without bound although no series of them is ever rendered.
#[test]
fn describes_of_untracked_names_are_not_bounded_by_max_metrics() {
    let config = config("[global]\nmax_metrics = 1\n");
    let recorder = PrometheusBuilder::new().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).layer(recorder);
    let names = 20_000;
    for i in 0..names {
        let name = format!("tenant_{i}_requests_total");
        guard.describe_counter(name.clone().into(), None, "requests of one tenant".into());
        metrics::with_local_recorder(&guard, || {
            metrics::counter!(name).increment(1);
        });
    }
    // A description shows (`# HELP`) once a series of its name exists: register
    // a few of the untracked names straight with the exporter to look.
    // Descriptions pass for at most 3 names per tracked metric (here 3).
    let probes = [10, names / 2, names - 1];
    for i in probes {
        let key = metrics::Key::from_name(format!("tenant_{i}_requests_total"));
        static META: metrics::Metadata<'static> =
            metrics::Metadata::new("review", metrics::Level::INFO, None);
        guard.inner().register_counter(&key, &META).increment(1);
    }
    let text = render.render();
    let held: Vec<usize> = probes
        .into_iter()
        .filter(|i| text.contains(&format!("# HELP tenant_{i}_requests_total ")))
        .collect();
    assert!(
        held.is_empty(),
        "the exporter kept the descriptions of untracked names {held:?} (max_metrics = 1, \
         {names} names described): description memory is unbounded"
    );
}
