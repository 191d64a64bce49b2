//! Spellings and descriptions over the exporter (`GuardLayer`): raw names and
//! repeated labels reach the exporter only in rendered form, so no update is
//! lost to two handles of one line; describes are bounded.

mod support;

use cardinality_guard_core::{prometheus_builder, Config, GuardLayer, MetricKind};
use metrics::Recorder;
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_util::layers::Layer;
use support::{guarded, labeled_value, parse};

fn config(toml: &str) -> Config {
    Config::from_toml(toml, "<test>").expect("test config is valid")
}

/// A raw spelling (`http.requests`) reaches the exporter as it renders
/// (`http_requests`): one counter, not two handles of one line.
#[test]
fn a_raw_name_spelling_is_one_series() {
    let config = Config::embedded();
    let recorder = prometheus_builder(&config).unwrap().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).layer(recorder);
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
fn a_repeated_label_spelling_is_one_series() {
    let config = Config::embedded();
    let recorder = prometheus_builder(&config).unwrap().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).layer(recorder);
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

/// Over the exporter too, a description reaches it shortened to
/// `max_description_length` (on a character boundary), and a name longer
/// than `max_metric_name_length` reaches it not at all.
#[test]
fn descriptions_reach_the_exporter_shortened_and_long_names_not_at_all() {
    let config = config("[global]\nmax_description_length = 9\nmax_metric_name_length = 20\n");
    let recorder = prometheus_builder(&config).unwrap().build_recorder();
    let render = recorder.handle();
    let guard = GuardLayer::new(config).layer(recorder);
    let long = "a_name_longer_than_20_bytes_total";
    metrics::with_local_recorder(&guard, || {
        metrics::describe_counter!("jobs_total", "Jobs runé, by queue");
        metrics::counter!("jobs_total").increment(1);
        metrics::describe_counter!(long, "help");
        metrics::counter!(long).increment(1);
    });
    let text = render.render();
    // "Jobs runé" is 10 bytes: the cut falls inside "é".
    assert!(text.contains("# HELP jobs_total Jobs run\n"), "{text}");
    assert!(!text.contains(long), "{text}");
}
