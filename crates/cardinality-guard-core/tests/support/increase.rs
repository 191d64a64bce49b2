//! What Prometheus reads from a sequence of renders: the increase of every
//! series, summed. Shared by the tests that check that no increment is lost
//! (or counted twice) when series are evicted, expire or fold.
#![allow(dead_code)] // each test binary uses a different subset
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::collections::{BTreeMap, HashMap};

use super::exposition::{parse, samples_of};

/// One series: its sample name and its labels.
type SeriesId = (String, BTreeMap<String, String>);

/// The increase over the renders of metric `metric`, read as Prometheus
/// would: a series absent from the render before starts from zero when it
/// (re)appears, and a value below the last one is a reset (the new value
/// is all increase).
#[derive(Debug)]
pub struct Increase {
    metric: String,
    last: HashMap<SeriesId, f64>,
    total: f64,
}

impl Increase {
    /// Nothing rendered yet.
    pub fn of(metric: &str) -> Increase {
        Increase {
            metric: metric.to_owned(),
            last: HashMap::new(),
            total: 0.0,
        }
    }

    /// Reads one more render.
    pub fn add(&mut self, text: &str) {
        let samples = parse(text);
        let mut now = HashMap::new();
        for s in samples_of(&samples, &self.metric) {
            let id = (s.name.clone(), s.labels.clone());
            let before = self.last.get(&id).copied().unwrap_or(0.0);
            self.total += if s.value >= before {
                s.value - before
            } else {
                s.value
            };
            now.insert(id, s.value);
        }
        self.last = now;
    }

    /// The increase over every render read so far, all series together.
    pub fn total(&self) -> f64 {
        self.total
    }
}
