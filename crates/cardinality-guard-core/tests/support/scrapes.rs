//! Successive renders of one counter, read as Prometheus reads them: per
//! series (label set), the increase since the render before; a series that
//! was not in the render before is a new one and counts from zero. A series
//! whose value went down between two renders is a silent reset, which the
//! guard must never produce (an evicted label set is not admitted again
//! before a render has shown it absent): reading one panics.
//!
//! Not part of `support/mod.rs`: only the binaries that include this file with
//! `#[path = "support/scrapes.rs"] mod scrapes;` use it.
#![allow(dead_code)] // each test binary uses a different subset of the helpers
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::{BTreeMap, HashMap};

use crate::support::parse;

/// A series' labels.
pub type LabelSet = BTreeMap<String, String>;

/// Whether `labels` are the overflow series' (`otel_metric_overflow="true"`).
pub fn is_overflow_set(labels: &LabelSet) -> bool {
    labels.get("otel_metric_overflow").map(String::as_str) == Some("true")
}

/// The renders of counter `metric` read so far.
#[derive(Debug)]
pub struct Scrapes {
    metric: String,
    /// The last render's series (by their text) with their labels and values.
    last: HashMap<String, (LabelSet, f64)>,
    /// Renders read.
    pub renders: usize,
    /// The increase over every render read, every series summed.
    pub total_increase: f64,
}

/// What one render adds to the ones before it.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Series of the metric in this render, the overflow series included.
    pub series: usize,
    /// Increase of the label sets' own series (everything but the overflow series).
    pub admitted_increase: f64,
    /// Increase of the overflow series.
    pub overflow_increase: f64,
    /// Label sets with a series of their own that the render before did not have.
    pub created: Vec<LabelSet>,
    /// Series of the render before that this one no longer has.
    pub ended: usize,
}

impl Scrape {
    /// The increase of every series of the metric.
    pub fn increase(&self) -> f64 {
        self.admitted_increase + self.overflow_increase
    }
}

impl Scrapes {
    pub fn new(metric: &str) -> Scrapes {
        Scrapes {
            metric: metric.to_owned(),
            last: HashMap::new(),
            renders: 0,
            total_increase: 0.0,
        }
    }

    /// Reads the next render. A series is known by its text (the sample
    /// line up to its value, as the exporter renders it, which is the same
    /// on every render); only a new series' line goes through the parser.
    pub fn read(&mut self, text: &str) -> Scrape {
        let mut before = std::mem::take(&mut self.last);
        let mut scrape = Scrape::default();
        let render = self.renders;
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(self.metric.as_str()) else {
                continue;
            };
            if !rest.starts_with(['{', ' ']) {
                continue; // another metric whose name starts with this one's
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("render {render}: no value: {line}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("render {render}: {e}: {line}"));
            let (labels, increase) = match before.remove(series) {
                Some((labels, was)) => {
                    assert!(
                        value >= was,
                        "render {render}: {series} went from {was} down to {value}: a silent reset"
                    );
                    (labels, value - was)
                }
                None => {
                    assert!(
                        !self.last.contains_key(series),
                        "render {render}: {series} rendered twice"
                    );
                    let labels = parse(line).pop().expect("a sample line").labels;
                    if !is_overflow_set(&labels) {
                        scrape.created.push(labels.clone());
                    }
                    (labels, value)
                }
            };
            if is_overflow_set(&labels) {
                scrape.overflow_increase += increase;
            } else {
                scrape.admitted_increase += increase;
            }
            self.last.insert(series.to_owned(), (labels, value));
        }
        scrape.series = self.last.len();
        scrape.ended = before.len();
        self.renders += 1;
        self.total_increase += scrape.increase();
        scrape
    }

    /// The last render's series and their values.
    pub fn current(&self) -> impl Iterator<Item = (&LabelSet, f64)> {
        self.last.values().map(|(labels, value)| (labels, *value))
    }

    /// The values label `key` takes in the last render's own series (the
    /// overflow series excluded).
    pub fn values_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.last
            .values()
            .map(|(labels, _)| labels)
            .filter(|labels| !is_overflow_set(labels))
            .filter_map(move |labels| labels.get(key).map(String::as_str))
    }
}
