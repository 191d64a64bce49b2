//! Growth between scrapes: new series and new label values per hour.
//!
//! The first scrape is the baseline; every later scrape adds the series and
//! label values it holds to a running union. Growth is what the union gained
//! over the baseline, divided by the time since the baseline: a series that
//! comes and goes still counts once, as it does for the TSDB's index.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::inventory::{HashIds, Inventory};

#[derive(Debug, Default)]
struct Seen {
    /// Series identities at the baseline, then the union.
    series_first: usize,
    series: HashIds,
    /// Per label: (values at the baseline, the union).
    labels: BTreeMap<String, (usize, HashIds)>,
}

/// The growth seen over a watch.
#[derive(Debug, Default)]
pub(crate) struct Growth {
    families: BTreeMap<String, Seen>,
    elapsed: Duration,
    scrapes: usize,
}

/// Growth of one family, per hour.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FamilyGrowth {
    /// New series per hour.
    pub(crate) series_per_hour: f64,
    /// New distinct values per hour, per label.
    pub(crate) label_values_per_hour: BTreeMap<String, f64>,
}

impl Growth {
    /// Starts from the baseline scrape (read with series identities kept).
    pub(crate) fn new(baseline: &Inventory) -> Growth {
        let mut growth = Growth::default();
        growth.add(baseline, Duration::ZERO);
        for seen in growth.families.values_mut() {
            seen.series_first = seen.series.len();
            for (first, values) in seen.labels.values_mut() {
                *first = values.len();
            }
        }
        growth
    }

    /// Adds a later scrape, taken `elapsed` after the baseline.
    pub(crate) fn add(&mut self, scrape: &Inventory, elapsed: Duration) {
        self.scrapes += 1;
        self.elapsed = self.elapsed.max(elapsed);
        for family in scrape.families.values() {
            let seen = self.families.entry(family.name.clone()).or_default();
            seen.series.extend(family.series_ids.iter().copied());
            for (label, stats) in &family.labels {
                let entry = seen.labels.entry(label.clone()).or_default();
                entry.1.extend(stats.values.iter().copied());
            }
        }
    }

    /// Time from the baseline to the last scrape.
    pub(crate) fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Scrapes taken, the baseline included.
    pub(crate) fn scrapes(&self) -> usize {
        self.scrapes
    }

    /// Growth of `family` per hour; `None` before any time has passed.
    pub(crate) fn of(&self, family: &str) -> Option<FamilyGrowth> {
        let hours = self.elapsed.as_secs_f64() / 3600.0;
        if hours <= 0.0 {
            return None;
        }
        let Some(seen) = self.families.get(family) else {
            return Some(FamilyGrowth {
                series_per_hour: 0.0,
                label_values_per_hour: BTreeMap::new(),
            });
        };
        let per_hour = |now: usize, first: usize| now.saturating_sub(first) as f64 / hours;
        Some(FamilyGrowth {
            series_per_hour: per_hour(seen.series.len(), seen.series_first),
            label_values_per_hour: seen
                .labels
                .iter()
                .map(|(label, (first, values))| (label.clone(), per_hour(values.len(), *first)))
                .collect(),
        })
    }
}

/// Hours until `series` reaches `budget` growing at `per_hour`: `Some(0.0)`
/// when it is there already, `None` when it does not grow.
pub(crate) fn hours_to_budget(series: u64, budget: u64, per_hour: f64) -> Option<f64> {
    if series >= budget {
        Some(0.0)
    } else if per_hour > 0.0 {
        Some((budget - series) as f64 / per_hour)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::Deadline;
    use crate::source::{read_from, ReadOptions};
    use cardinality_guard_core::text::Format;

    fn inventory(text: &str) -> Inventory {
        let options = ReadOptions {
            track_series: true,
            ..ReadOptions::default()
        };
        let forever = Deadline::after(Duration::MAX);
        read_from(text.as_bytes(), Format::Prometheus, &options, forever)
            .unwrap()
            .inventory
    }

    #[test]
    fn new_series_and_values_per_hour() {
        let first = inventory("a{u=\"1\"} 1\na{u=\"2\"} 1\nb 1\n");
        let mut growth = Growth::new(&first);
        let later = inventory("a{u=\"2\"} 1\na{u=\"3\"} 1\na{u=\"4\"} 1\nb 1\n");
        growth.add(&later, Duration::from_secs(1800));
        let a = growth.of("a").unwrap();
        assert_eq!(a.series_per_hour, 4.0); // u=3, u=4 in half an hour
        assert_eq!(a.label_values_per_hour["u"], 4.0);
        assert_eq!(growth.of("b").unwrap().series_per_hour, 0.0);
        assert_eq!(growth.scrapes(), 2);
        assert_eq!(hours_to_budget(4, 10, 4.0), Some(1.5));
        assert_eq!(hours_to_budget(12, 10, 4.0), Some(0.0));
        assert_eq!(hours_to_budget(4, 10, 0.0), None);
    }
}
