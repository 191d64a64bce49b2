//! Shared helpers for the integration tests: build a guard over the real
//! `PrometheusRecorder` and read its rendered text back.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::collections::BTreeMap;

use cardinality_guard_core::{Config, Guard, PrometheusGuard};
use metrics_exporter_prometheus::PrometheusRecorder;

/// A guard over a real Prometheus recorder, built from TOML text (no upkeep thread).
pub fn guarded(toml: &str) -> (Guard<PrometheusRecorder>, PrometheusGuard) {
    let config = Config::from_toml(toml, "<test>").expect("test config is valid");
    PrometheusGuard::builder(config)
        .upkeep_interval(None)
        .build()
        .expect("exporter builds")
}

/// One line of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the Prometheus text format (comments skipped, escapes undone).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Sample {
    let (head, value) = line.rsplit_once(' ').expect("sample line has a value");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    let Some((name, rest)) = head.split_once('{') else {
        return Sample {
            name: head.to_owned(),
            labels: BTreeMap::new(),
            value,
        };
    };
    let body = rest.strip_suffix('}').expect("labels end with }");
    let mut labels = BTreeMap::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label value is quoted in {line:?}");
        let mut val = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => val.push('\n'),
                    Some(other) => val.push(other),
                    None => break,
                },
                '"' => break,
                c => val.push(c),
            }
        }
        if chars.peek() == Some(&',') {
            chars.next();
        }
        labels.insert(key, val);
    }
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
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

/// The value of `cardinality_guard_series{metric=m}` in the render.
pub fn self_reported_series(text: &str, m: &str) -> Option<f64> {
    labeled_value(text, "cardinality_guard_series", &[("metric", m)])
}

/// The value of the one sample named `name` carrying all `labels`.
pub fn labeled_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    parse(text)
        .into_iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}
