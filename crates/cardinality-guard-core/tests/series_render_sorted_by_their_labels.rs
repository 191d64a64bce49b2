//! The series of a metric render sorted by their labels, whatever the order
//! user code gave them in, the global labels included: a label set
//! registered in key order and one registered out of it sort alike.

mod support;

use metrics::{Key, Label, Level, Metadata, Recorder};
use support::{parse, samples_named};

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn key(labels: &[(&str, String)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(k.to_string(), v.clone()))
        .collect();
    Key::from_parts("jobs_total", labels)
}

/// The label pairs of each `jobs_total` row, in render order, sorted.
fn rows(text: &str) -> Vec<Vec<(String, String)>> {
    samples_named(&parse(text), "jobs_total")
        .into_iter()
        .map(|s| s.labels.clone().into_iter().collect())
        .collect()
}

fn assert_sorted_rows(global: &str) {
    let toml = format!("[global]\nmax_series = 1000\n{global}");
    let (recorder, exporter) = support::guarded(&toml);
    // Values chosen so that the first label decides the order for some
    // rows and a later one for others; every other row out of key order.
    for i in 0..40u32 {
        let (a, m, z) = (format!("{}", i % 3), format!("{}", i % 7), format!("{i}"));
        let labels = match i % 4 {
            0 => vec![("a", a), ("m", m), ("z", z)],
            1 => vec![("z", z), ("a", a), ("m", m)],
            2 => vec![("m", m), ("z", z), ("a", a)],
            _ => vec![("a", a), ("z", z), ("m", m)],
        };
        recorder
            .register_counter(&key(&labels), &METADATA)
            .increment(1);
    }
    let rows = rows(&exporter.render());
    assert_eq!(rows.len(), 40, "{global}");
    let mut expected = rows.clone();
    expected.sort();
    assert_eq!(rows, expected, "rows not in label order with {global:?}");
}

#[test]
fn rows_sort_by_their_labels_in_any_order() {
    assert_sorted_rows("");
}

#[test]
fn rows_sort_by_their_labels_with_global_labels_first_or_between() {
    // "b" sorts between the key's labels, "_k" before all of them.
    assert_sorted_rows("labels = { b = \"x\" }\n");
    assert_sorted_rows("labels = { _k = \"x\" }\n");
}
