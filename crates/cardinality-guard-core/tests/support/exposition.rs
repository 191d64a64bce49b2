//! The Prometheus text exposition, parsed: shared by the test suites of
//! both crates (the axum tests include this file with `#[path]`).
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::{BTreeMap, BTreeSet};

/// One line of the exposition.
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
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}")),
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
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}
