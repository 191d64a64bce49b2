//! A render read back with core's parser ([`cardinality_guard_core::text`]),
//! and the questions the tests ask of it: shared by the test suites of both
//! crates (the axum tests include this file with `#[path]`).
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::{BTreeMap, BTreeSet};

use cardinality_guard_core::text::{Format, Line, Parser};

/// One sample line of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, or "".
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).map_or("", String::as_str)
    }
}

/// Reads every line of `text` as Prometheus text, handing each to `each`;
/// panics on a line the parser refuses (a render must never hold one).
fn read(text: &str, mut each: impl FnMut(Line<'_>)) {
    let mut parser = Parser::new(Format::Prometheus);
    for line in text.lines() {
        match parser.line(line) {
            Ok(line) => each(line),
            Err(e) => panic!("not Prometheus text: {e}\n--- text ---\n{text}"),
        }
    }
}

/// The sample lines of `text` (escapes undone).
pub fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    read(text, |line| {
        if let Line::Sample(s) = line {
            samples.push(Sample {
                name: s.name.to_owned(),
                labels: s
                    .labels
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.into_owned()))
                    .collect(),
                value: s.value,
            });
        }
    });
    samples
}

/// The samples named exactly `name`.
pub fn samples_named<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.name == name).collect()
}

/// Samples that belong to metric `m`: `m`, and for histograms and summaries
/// `m_bucket`, `m_sum`, `m_count`.
pub fn samples_of<'a>(samples: &'a [Sample], m: &str) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == m
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| s.name.strip_suffix(suffix) == Some(m))
        })
        .collect()
}

/// How many series the exporter renders for `m`.
pub fn rendered_series(text: &str, m: &str) -> usize {
    samples_of(&parse(text), m).len()
}

/// The distinct values label `key` takes in samples of metric `m`
/// (`m`, `m_bucket`, `m_sum`, `m_count`).
pub fn label_values(text: &str, m: &str, key: &str) -> BTreeSet<String> {
    samples_of(&parse(text), m)
        .into_iter()
        .filter_map(|s| s.labels.get(key).cloned())
        .collect()
}

/// The value of the one sample named `name` whose labels are exactly `labels`.
pub fn value_exact(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    parse(text)
        .into_iter()
        .find(|s| s.name == name && s.labels == wanted)
        .map(|s| s.value)
}

/// The sum of the values of every sample named exactly `name`.
pub fn sum_of(text: &str, name: &str) -> f64 {
    parse(text)
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// The metric names the render declares (`# TYPE name kind`), in render order.
pub fn declared_metrics(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    read(text, |line| {
        if let Line::Type(name, _) = line {
            names.push(name.to_owned());
        }
    });
    names
}
