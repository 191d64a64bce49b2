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

use std::collections::BTreeMap;

use crate::support::{parse, samples_of};

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
    /// The last render's series and values.
    last: BTreeMap<LabelSet, f64>,
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
            last: BTreeMap::new(),
            renders: 0,
            total_increase: 0.0,
        }
    }

    /// Reads the next render.
    pub fn read(&mut self, text: &str) -> Scrape {
        let samples = parse(text);
        let mut now = BTreeMap::new();
        for s in samples_of(&samples, &self.metric) {
            let repeated = now.insert(s.labels.clone(), s.value);
            assert!(
                repeated.is_none(),
                "render {}: {} {:?} rendered twice",
                self.renders,
                self.metric,
                s.labels
            );
        }
        let mut scrape = Scrape {
            series: now.len(),
            ..Scrape::default()
        };
        for (labels, &value) in &now {
            let increase = match self.last.get(labels) {
                Some(&before) => {
                    assert!(
                        value >= before,
                        "render {}: {} {labels:?} went from {before} down to {value}: a silent reset",
                        self.renders,
                        self.metric
                    );
                    value - before
                }
                None => {
                    if !is_overflow_set(labels) {
                        scrape.created.push(labels.clone());
                    }
                    value
                }
            };
            if is_overflow_set(labels) {
                scrape.overflow_increase += increase;
            } else {
                scrape.admitted_increase += increase;
            }
        }
        scrape.ended = self.last.keys().filter(|l| !now.contains_key(*l)).count();
        self.last = now;
        self.renders += 1;
        self.total_increase += scrape.increase();
        scrape
    }

    /// The last render's series and their values.
    pub fn current(&self) -> &BTreeMap<LabelSet, f64> {
        &self.last
    }

    /// The values label `key` takes in the last render's own series (the
    /// overflow series excluded).
    pub fn values_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.last
            .keys()
            .filter(|labels| !is_overflow_set(labels))
            .filter_map(move |labels| labels.get(key).map(String::as_str))
    }
}
