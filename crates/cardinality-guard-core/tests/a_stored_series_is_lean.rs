//! A stored series keeps its label text once and no `Key`: the heap it
//! holds per admitted label set is small and does not grow with the number
//! of spellings that reach it; and a label set is found by its text
//! whatever the order of its labels, the bytes its values escape, or the
//! global labels it repeats.

#[path = "support/heap.rs"]
mod heap;
mod support;

use cardinality_guard_core::{Config, GuardRecorder, PrometheusGuard};
use metrics::{Key, Label, Level, Metadata, Recorder};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn build(toml: &str) -> (GuardRecorder, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("guard builds")
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.to_string()))
        .collect();
    Key::from_parts(name.to_owned(), labels)
}

fn count(recorder: &GuardRecorder, key: &Key) {
    recorder.register_counter(key, &METADATA).increment(1);
}

#[test]
fn an_admitted_counter_series_holds_under_200_bytes_of_heap() {
    const SERIES: usize = 100_000;
    let (recorder, exporter) = build(
        "[global]\nmax_series = 1000000\n[[metrics]]\nmatch = \"logins_total\"\nmax_series = 1000000\n",
    );
    // Warm up: the metric, its label state and the lookup's shards exist.
    count(&recorder, &key("logins_total", &[("user", "warm")]));
    let keys: Vec<Key> = (0..SERIES)
        .map(|i| key("logins_total", &[("user", &format!("user-{i:06}"))]))
        .collect();
    let before = heap::held();
    for key in &keys {
        count(&recorder, key);
    }
    let per_series = (heap::held() - before) as f64 / SERIES as f64;
    drop(keys);
    eprintln!("{per_series:.0} bytes of heap per admitted counter series");
    assert_eq!(
        exporter.report().metric("logins_total").unwrap().label_sets,
        SERIES as u64 + 1
    );
    // The series (value, flags, hash, text pointer), its 20-byte text, and
    // its place in the lookup and in the metric's table.
    assert!(
        per_series <= 200.0,
        "{per_series:.0} bytes of heap per admitted series"
    );
}

#[test]
fn a_label_set_whose_values_escape_is_found_by_its_text_alone() {
    let (recorder, _exporter) = build("");
    // The metric and its label states exist before measuring.
    count(
        &recorder,
        &key("odd_total", &[("path", "warm"), ("z", "1")]),
    );
    let created = |labels: &[(&str, &str)]| {
        let key = key("odd_total", labels);
        let before = heap::held();
        for _ in 0..1_000 {
            count(&recorder, &key);
        }
        heap::held() - before
    };
    // Same length of text once escaped: `a\"b\\c\nd` and `a1234567d`.
    let plain = created(&[("path", "a1234567d")]);
    let escaped = created(&[("path", "a\"b\\c\nd")]);
    // No second copy of the key is kept for it (an alias would hold one).
    assert!(
        escaped <= plain + 16,
        "{escaped} bytes for the escaped label set, {plain} for the plain one"
    );
}

#[test]
fn a_closed_metric_finds_its_label_sets_in_any_label_order() {
    let (recorder, exporter) = build("[[metrics]]\nmatch = \"jobs_total\"\nmax_series = 3\n");
    count(&recorder, &key("jobs_total", &[("a", "1"), ("b", "2")]));
    count(&recorder, &key("jobs_total", &[("a", "2"), ("b", "2")]));
    // Full: two label sets and the overflow series' room.
    count(&recorder, &key("jobs_total", &[("a", "3"), ("b", "2")]));
    count(&recorder, &key("jobs_total", &[("b", "2"), ("a", "1")]));
    count(&recorder, &key("jobs_total", &[("b", "2"), ("a", "2")]));
    let text = exporter.render();
    assert!(text.contains("jobs_total{a=\"1\",b=\"2\"} 2\n"), "{text}");
    assert!(text.contains("jobs_total{a=\"2\",b=\"2\"} 2\n"), "{text}");
    assert!(
        text.contains("jobs_total{otel_metric_overflow=\"true\"} 1\n"),
        "{text}"
    );
}

#[test]
fn a_label_repeating_a_global_one_is_that_global_label() {
    let (recorder, exporter) = build(
        "[global]\nlabels = { region = \"eu\" }\n[[metrics]]\nmatch = \"hits_total\"\nmax_series = 3\n",
    );
    count(&recorder, &key("hits_total", &[("path", "/")]));
    count(
        &recorder,
        &key("hits_total", &[("region", "eu"), ("path", "/")]),
    );
    count(
        &recorder,
        &key("hits_total", &[("path", "/"), ("region", "us")]),
    );
    // Full now: each spelling of the admitted label sets still finds its own.
    count(
        &recorder,
        &key("hits_total", &[("path", "/"), ("region", "eu")]),
    );
    count(
        &recorder,
        &key("hits_total", &[("region", "us"), ("path", "/")]),
    );
    count(&recorder, &key("hits_total", &[("path", "/x")]));
    let text = exporter.render();
    assert!(
        text.contains("hits_total{region=\"eu\",path=\"/\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("hits_total{region=\"us\",path=\"/\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("hits_total{region=\"eu\",otel_metric_overflow=\"true\"} 1\n"),
        "{text}"
    );
    let sets = exporter.guard().label_sets(
        cardinality_guard_core::MetricKind::Counter,
        "hits_total",
        10,
    );
    assert!(
        sets.contains(&vec![("path".to_owned(), "/".to_owned())]),
        "{sets:?}"
    );
    assert!(
        sets.contains(&vec![
            ("region".to_owned(), "us".to_owned()),
            ("path".to_owned(), "/".to_owned())
        ]),
        "{sets:?}"
    );
}
